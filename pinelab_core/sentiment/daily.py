"""Headline scores per day and per bar, aligned causally: a headline counts from the bar after it was published.

For bar t (opening at o_t) the headlines that count are those published before o_t: the bar in progress when
a headline broke never sees it, because its open (and, for a date-only time, its whole day) may come first.
The daily score at bar t is the mean score of the headlines published in [min(o_t - 1 day, o_{t-1}), o_t): the
last day's news, stretched back to the previous bar's open so that a weekend's headlines reach Monday's bar.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.sentiment.scorers import NEUTRAL_BAND

__all__ = ["DAILY_COLUMNS", "SENTIMENT_FEATURES", "daily_sentiment", "sentiment_calls", "sentiment_features"]

DAILY_COLUMNS = ["score", "headlines", "positive", "negative", "neutral"]
#: The columns `sentiment_features` adds to a feature matrix.
SENTIMENT_FEATURES = ("sentiment_1d", "sentiment_headlines_1d")
_WINDOW = pd.Timedelta(days=1)


def daily_sentiment(headlines: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day of publication: the mean score, and how many headlines were positive, negative, neutral.

    Args:
        headlines: `load_headlines` output (needs `published_at`, `score`, `label`).
    """
    if headlines.empty:
        return pd.DataFrame(columns=DAILY_COLUMNS, index=pd.DatetimeIndex([], tz="UTC", name="day"))
    day = pd.to_datetime(headlines["published_at"], utc=True).dt.floor("D").rename("day")
    labels = pd.crosstab(day, headlines["label"]).reindex(columns=["positive", "negative", "neutral"], fill_value=0)
    grouped = headlines.groupby(day)["score"]
    frame = pd.concat([grouped.mean().rename("score"), grouped.size().rename("headlines"), labels], axis=1)
    return frame[DAILY_COLUMNS]


def _window_bounds(index: pd.DatetimeIndex, published: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bar, the positions [lo, hi) of the sorted publication times inside the bar's window."""
    opens = index.as_unit("ns").asi8
    previous = np.concatenate([[opens[0] - _WINDOW.value], opens[:-1]]) if len(opens) else opens
    starts = np.minimum(opens - _WINDOW.value, previous)
    return np.searchsorted(published, starts, side="left"), np.searchsorted(published, opens, side="left")


def _sorted(headlines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    times = pd.DatetimeIndex(pd.to_datetime(headlines["published_at"], utc=True)).as_unit("ns").asi8
    order = np.argsort(times, kind="stable")
    return times[order], headlines["score"].to_numpy(dtype=np.float64)[order]


def sentiment_features(ohlcv: pd.DataFrame, headlines: pd.DataFrame) -> pd.DataFrame:
    """The daily sentiment as features on the market's bars (join them to `build_features`' matrix).

    `sentiment_1d` is the mean score of the headlines counted at each bar (0.0 when there were none) and
    `sentiment_headlines_1d` how many there were. Row t uses only headlines published before bar t opened.
    """
    published, scores = _sorted(headlines)
    lo, hi = _window_bounds(ohlcv.index, published)
    cumulative = np.concatenate([[0.0], np.cumsum(scores)])
    counts = (hi - lo).astype(np.float64)
    sums = cumulative[hi] - cumulative[lo]
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return pd.DataFrame({SENTIMENT_FEATURES[0]: mean, SENTIMENT_FEATURES[1]: counts}, index=ohlcv.index)


def sentiment_calls(ohlcv: pd.DataFrame, headlines: pd.DataFrame) -> pd.DataFrame:
    """The sentiment source's calls: at each bar where a headline starts to count, the sign of the daily score.

    A call needs |daily score| >= 0.05 (else the news is neutral and no call is made); its strength is the
    |score| (capped at 1). A headline published before the frame's first bar opened makes no call (its first
    counting bar is not in the frame), so the calls on a frame do not depend on where it starts.

    Returns:
        A frame indexed by bar time with `direction` (+1/-1), `strength`, `score` and `new_headlines`.
    """
    published, _ = _sorted(headlines)
    features = sentiment_features(ohlcv, headlines)
    opens = ohlcv.index.as_unit("ns").asi8
    # A headline's first counting bar: the first bar opening after it; only when some bar opened at or before it.
    first_bar = np.searchsorted(opens, published, side="right")
    inside = (first_bar >= 1) & (first_bar < len(opens))
    new = np.bincount(first_bar[inside], minlength=len(opens))[:len(opens)]
    score = features[SENTIMENT_FEATURES[0]].to_numpy()
    fired = (new > 0) & (np.abs(score) >= NEUTRAL_BAND)
    return pd.DataFrame({"direction": np.sign(score[fired]).astype(int),
                         "strength": np.minimum(np.abs(score[fired]), 1.0), "score": score[fired],
                         "new_headlines": new[fired]}, index=ohlcv.index[fired])
