"""Sentiment as a feature and a signal source, point in time: a headline counts from the bar after it was
published, the daily score at bar t is the same whatever was published later, and the source earns its
weight in the consensus like the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.sentiment import import_headlines, sentiment_calls, sentiment_features
from pinelab_core.signals.desk import run_signal_desk
from pinelab_core.store import get_engine
from tests.conftest import random_walk_ohlcv

OHLCV = random_walk_ohlcv(600, seed=5)


def _headlines(times: list[str] | pd.DatetimeIndex, scores: list[float] | np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"published_at": pd.to_datetime(times, utc=True), "score": np.asarray(scores, float)})


def test_a_headline_counts_from_the_bar_after_the_one_it_broke_in() -> None:
    bars = OHLCV.iloc[:6]  # hourly from 2022-01-03 00:00
    news = _headlines(["2022-01-03 01:30", "2022-01-03 03:00"], [0.8, -0.4])
    features = sentiment_features(bars, news)
    assert list(features["sentiment_headlines_1d"]) == [0, 0, 1, 1, 2, 2]  # 01:30 -> bar 02:00; 03:00 -> bar 04:00
    assert features["sentiment_1d"].iloc[2] == pytest.approx(0.8)
    assert features["sentiment_1d"].iloc[4] == pytest.approx(0.2)
    calls = sentiment_calls(bars, news)
    assert list(calls.index) == list(bars.index[[2, 4]]) and list(calls["direction"]) == [1, 1]
    assert calls["strength"].tolist() == pytest.approx([0.8, 0.2])


def test_weekend_news_reaches_the_next_session_and_a_date_counts_from_the_day_after() -> None:
    days = pd.DatetimeIndex(["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC", name="time")
    bars = pd.DataFrame({c: 1.0 for c in ("open", "high", "low", "close", "volume")}, index=days)
    news = _headlines(["2024-01-05 15:00", "2024-01-06 10:00", "2024-01-08 00:00"], [0.6, -0.2, -0.9])
    features = sentiment_features(bars, news)
    assert list(features["sentiment_headlines_1d"]) == [0, 0, 2, 1]  # Fri + Sat on Monday; Monday's date on Tuesday
    assert features["sentiment_1d"].iloc[2:].tolist() == pytest.approx([0.2, -0.9])


@pytest.mark.parametrize("cut", [40, 199, 333, 598])
def test_the_daily_score_at_bar_t_ignores_everything_published_later(cut: int) -> None:
    rng = np.random.default_rng(cut)
    span = OHLCV.index[-1] - OHLCV.index[0]
    times = OHLCV.index[0] + pd.to_timedelta(rng.uniform(-0.05, 1.05, 400) * span.total_seconds(), unit="s")
    news = _headlines(times.floor("min"), rng.uniform(-1, 1, 400))
    full_features, full_calls = sentiment_features(OHLCV, news), sentiment_calls(OHLCV, news)
    past = OHLCV.iloc[: cut + 1]
    known = news[news["published_at"] <= past.index[-1] + pd.Timedelta(hours=1)]  # what was public at t's close
    for headlines in (known, news):  # a fresh store with data ending at t, and one that holds later news too
        pd.testing.assert_frame_equal(sentiment_features(past, headlines), full_features.iloc[: cut + 1],
                                      check_exact=True)
        pd.testing.assert_frame_equal(sentiment_calls(past, headlines), full_calls[full_calls.index <= past.index[-1]],
                                      check_exact=True)


def _news_csv(times: pd.DatetimeIndex, texts: list[str]) -> bytes:
    rows = [f"{t.isoformat()},X,{text}" for t, text in zip(times, texts, strict=True)]
    return ("published_at,symbol,headline\n" + "\n".join(rows) + "\n").encode()


def _planted_news(horizon: int) -> tuple[pd.DatetimeIndex, list[str]]:
    """Headlines 30 minutes into every 30th bar (one a day at most), their tone the move the call is judged on."""
    bars = np.arange(20, len(OHLCV) - horizon - 3, 30)
    entry = OHLCV["open"].to_numpy()[bars + 2]  # counted at bar k+1, filled at k+2's open
    exit_ = OHLCV["close"].to_numpy()[bars + 1 + horizon]
    texts = ["Demo Corp shares soar on record profits" if e > n else "Demo Corp shares plunge on a profit warning"
             for n, e in zip(entry, exit_, strict=True)]
    return OHLCV.index[bars] + pd.Timedelta(minutes=30), texts


def test_sentiment_earns_its_weight_in_the_consensus_with_its_own_track_record(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    times, texts = _planted_news(horizon=5)
    import_headlines(engine, _news_csv(times, texts), settings=settings)
    desk = run_signal_desk(OHLCV, "X", "1h", engine=engine, settings=settings, sources=["rsi", "sentiment"],
                           horizon=5)
    record = desk.performance.set_index("source")
    assert record.loc["sentiment", "resolved"] >= 18 and record.loc["sentiment", "hit_rate"] == 1.0
    assert record.loc["sentiment", "weight"] > 2 * record.loc["rsi", "weight"]
    assert "sentiment" in {c.source for c in desk.aggregate.contributions}
    assert set(desk.signals.loc[desk.signals["source"] == "sentiment", "data_source"]) == {""}


@pytest.mark.both_backends
def test_the_consensus_with_sentiment_for_a_past_bar_ignores_later_news(engine, second_store: Settings) -> None:  # type: ignore[no-untyped-def]
    times, texts = _planted_news(horizon=5)
    t = 400
    sources = ["rsi", "sentiment"]
    import_headlines(engine, _news_csv(times, texts))  # every headline, published after t or not
    run_signal_desk(OHLCV, "X", "1h", engine=engine, sources=sources)
    replayed = run_signal_desk(OHLCV.iloc[: t + 1], "X", "1h", engine=engine, sources=sources)
    fresh_engine = get_engine(second_store)
    public = times < OHLCV.index[t] + pd.Timedelta(hours=1)
    import_headlines(fresh_engine, _news_csv(times[public], [x for x, p in zip(texts, public, strict=True) if p]))
    fresh = run_signal_desk(OHLCV.iloc[: t + 1], "X", "1h", engine=fresh_engine, sources=sources)
    assert replayed.aggregate == fresh.aggregate
    pd.testing.assert_frame_equal(replayed.performance, fresh.performance)
    latest = run_signal_desk(OHLCV, "X", "1h", engine=engine, sources=sources).performance.set_index("source")
    assert latest.loc["sentiment", "resolved"] > replayed.performance.set_index("source").loc["sentiment", "resolved"]


@pytest.mark.slow
def test_the_sentiment_feature_feeds_walk_forward_and_late_news_gives_no_edge() -> None:
    from pinelab_core.training import walk_forward

    daily = random_walk_ohlcv(700, seed=3, freq="1D")
    move = np.sign(np.log(daily["close"].shift(-1) / daily["close"])).iloc[:-1].to_numpy()  # bar t's label

    def accuracy(published: pd.DatetimeIndex) -> tuple[float, float]:
        news = _headlines(published, 0.6 * move)
        report = walk_forward(daily, "lightgbm", horizon=1, features=sentiment_features(daily, news), seed=0)
        return report.metrics["accuracy"], report.metrics["baseline_accuracy"]

    # Planted: news of the coming move, published the evening before bar t opens, is found out of sample.
    found, baseline = accuracy(daily.index[:-1] - pd.Timedelta(hours=12))
    assert found > baseline + 0.15
    # The same news published while bar t is in progress counts from bar t+1 only: no edge left.
    late, baseline = accuracy(daily.index[:-1] + pd.Timedelta(hours=12))
    assert late < baseline + 0.08


def test_the_sentiment_read_of_a_bar_is_its_feature_row_and_ignores_later_news(engine, second_store: Settings) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.sentiment import sentiment_at

    times, texts = _planted_news(horizon=5)
    import_headlines(engine, _news_csv(times, texts))
    fresh_engine = get_engine(second_store)
    reads = 0
    for t in (20, 21, 50, 200, 351):  # 20: the bar a headline broke in; 21: the bar it counts from
        public = times < OHLCV.index[t] + pd.Timedelta(hours=1)
        past = OHLCV.iloc[: t + 1]
        import_headlines(fresh_engine, _news_csv(times[public], [x for x, p in zip(texts, public, strict=True) if p]))
        read, fresh = sentiment_at(engine, "X", past), sentiment_at(fresh_engine, "X", past)
        assert read == fresh, "the read at bar t is the same in a store that already holds later news"
        row = sentiment_features(OHLCV, _headlines(times, np.zeros(len(times)))).iloc[t]
        assert read.headlines == int(row["sentiment_headlines_1d"]) and read.bar_time == OHLCV.index[t]
        if read.headlines:
            reads += 1
            assert read.latest in texts and read.latest_at < OHLCV.index[t]
            assert read.label == ("positive" if "soar" in read.latest else "negative")
        else:
            assert read.latest is None and read.score == 0.0 and read.label == "neutral"
    assert sentiment_at(engine, "X", OHLCV.iloc[:21]).headlines == 0 and reads >= 1
