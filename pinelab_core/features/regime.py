"""Regime features: the volatility regime (where today's volatility ranks in the last year of bars) and
the trend regime (ADX strength with DMI direction), as numbers a model and a chart can use."""

from __future__ import annotations

import numba
import numpy as np

from pinelab_core.features.spec import (
    Bars,
    FeatureSpec,
    feature_factory,
    safe_divide,
    smoothing_history,
    talib_lookback,
    wilder_weight,
)
from pinelab_core.features.volatility import realised_volatility

__all__ = ["SPECS", "TREND_ADX_THRESHOLD", "VOL_RANK_WINDOW"]

_f = feature_factory("regime")
VOL_RANK_WINDOW = 252
VOL_PERIOD = 20
TREND_ADX_THRESHOLD = 25.0


@numba.njit(cache=True)
def _four_windows(values: np.ndarray, t: int, window: int, below: np.ndarray,
                  at_most: np.ndarray) -> None:  # pragma: no cover - compiled
    """Counts of values below / at or below values[t + j] in its trailing window, j = 0..3, into below[j] and
    at_most[j]. The four windows share all but three values, so each shared value is loaded once for four
    comparisons (branch-free, in scalars the compiler keeps in registers)."""
    c0, c1, c2, c3 = values[t], values[t + 1], values[t + 2], values[t + 3]
    b0 = b1 = b2 = b3 = a0 = a1 = a2 = a3 = np.int64(0)
    shared = values[t - window + 4 : t + 1]  # in all four windows
    for i in range(len(shared)):  # a slice from 0: no negative-index checks, so the loop vectorises
        v = shared[i]
        b0 += np.int64(v < c0)
        a0 += np.int64(v <= c0)
        b1 += np.int64(v < c1)
        a1 += np.int64(v <= c1)
        b2 += np.int64(v < c2)
        a2 += np.int64(v <= c2)
        b3 += np.int64(v < c3)
        a3 += np.int64(v <= c3)
    for e in range(3):  # the oldest three leave the windows one after another, the newest three join in turn
        old, new = values[t - window + 1 + e], values[t + 1 + e]
        b0 += np.int64(old < c0)
        a0 += np.int64(old <= c0)
        v1, v2 = (old if e >= 1 else new), (old if e >= 2 else new)
        b1 += np.int64(v1 < c1)
        a1 += np.int64(v1 <= c1)
        b2 += np.int64(v2 < c2)
        a2 += np.int64(v2 <= c2)
        b3 += np.int64(new < c3)
        a3 += np.int64(new <= c3)
    below[0], below[1], below[2], below[3] = b0, b1, b2, b3
    at_most[0], at_most[1], at_most[2], at_most[3] = a0, a1, a2, a3


@numba.njit(cache=True)
def _trailing_percentile_rank(values: np.ndarray, window: int) -> np.ndarray:  # pragma: no cover - compiled
    """Average-rank percentile of values[t] among values[t - window + 1 .. t] (pandas' rank(pct=True)).

    NaN until a full window of known values exists. O(n * window) branch-free compares over contiguous
    windows (the compiler vectorises them), four bars at a time; for windows of a few hundred bars that
    beats a sorted-window structure.
    """
    n = len(values)
    out = np.full(n, np.nan)
    below, at_most = np.zeros(4, dtype=np.int64), np.zeros(4, dtype=np.int64)
    t = window - 1
    while t < n:
        rows = 4 if t + 3 < n else 1
        if rows == 4:
            _four_windows(values, t, window, below, at_most)
        else:
            below[0] = at_most[0] = 0
            for i in range(t - window + 1, t + 1):
                below[0] += np.int64(values[i] < values[t])
                at_most[0] += np.int64(values[i] <= values[t])
        for j in range(rows):
            if not (np.isnan(values[t + j]) or np.isnan(values[t + j - window + 1])):
                out[t + j] = (below[j] + (at_most[j] - below[j] + 1) / 2.0) / window
        t += rows
    return out


def _volatility_percentile(b: Bars) -> np.ndarray:
    """Percentile rank (0-1] of rv_20 among its own last 252 values: trailing, so no future data."""
    return b.memo("vol_percentile",
                  lambda: _trailing_percentile_rank(realised_volatility(b, VOL_PERIOD), VOL_RANK_WINDOW))


def _volatility_regime(b: Bars) -> np.ndarray:
    """0 calm (bottom third), 1 normal, 2 stressed (top third) of the trailing volatility ranking."""
    pct = _volatility_percentile(b)
    with np.errstate(invalid="ignore"):  # NaN compares False; put back below
        regime = (pct >= 1 / 3).astype(np.float64) + (pct >= 2 / 3)  # np.digitize's bins, without its search
    regime[np.isnan(pct)] = np.nan
    return regime


def _trend_regime(b: Bars) -> np.ndarray:
    """+1 strong uptrend, -1 strong downtrend (ADX above the threshold, DI decides), 0 no trend."""
    adx = b.ta("ADX", "hlc", timeperiod=14)[0]
    plus_di = b.ta("PLUS_DI", "hlc", timeperiod=14)[0]
    minus_di = b.ta("MINUS_DI", "hlc", timeperiod=14)[0]
    with np.errstate(invalid="ignore"):
        regime = np.where(adx > TREND_ADX_THRESHOLD, np.sign(plus_di - minus_di), 0.0)
    regime[np.isnan(adx)] = np.nan
    return regime


def _efficiency_ratio(b: Bars, period: int = 20) -> np.ndarray:
    """Kaufman efficiency ratio: net move / sum of absolute bar moves over `period` bars (0 chop, 1 trend)."""
    net = np.abs(b.ta("MOM", "c", timeperiod=period)[0])
    path = b.ta_on("SUM", "abs_close_change", lambda: np.abs(b.ta("MOM", "c", timeperiod=1)[0]), timeperiod=period)
    return safe_divide(net, path, fill=0.0)  # no movement at all: no trend


_RANK_LB = VOL_PERIOD + VOL_RANK_WINDOW - 1
_RANK = {"vol_period": VOL_PERIOD, "rank_window": VOL_RANK_WINDOW}

SPECS: list[FeatureSpec] = [
    _f("vol_pctile_252", _RANK_LB, "Percentile of rv_20 among its last 252 values (0-1)", _volatility_percentile,
       **_RANK),
    _f("vol_regime", _RANK_LB, "Volatility regime: 0 calm, 1 normal, 2 stressed (terciles of vol_pctile_252)",
       _volatility_regime, **_RANK),
    _f("trend_regime", talib_lookback("ADX", timeperiod=14),
       "Trend regime: +1 up, -1 down when ADX(14) > 25 (direction from +DI/-DI), else 0", _trend_regime,
       history=smoothing_history(talib_lookback("ADX", timeperiod=14), wilder_weight(14), wilder_weight(14)),
       timeperiod=14, adx_threshold=TREND_ADX_THRESHOLD),
    _f("efficiency_ratio_20", 20, "Kaufman efficiency ratio over 20 bars: 0 choppy, 1 straight-line trend",
       _efficiency_ratio, timeperiod=20),
]
