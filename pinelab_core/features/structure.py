"""Price-structure features: distance to rolling highs and lows, the last confirmed swing points, and the
nearest support and resistance among recent swings.

Swings follow `features.levels` (the definition behind `confirmed_pivots` and the chart levels), placed
on the bar where they become known (pivot bar + `right` bars), never on the pivot bar itself: a swing high
is only a swing high once the following bars failed to exceed it, and a model must not know that earlier.
"""

from __future__ import annotations

import numba
import numpy as np

from pinelab_core.features.levels import is_pivot
from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory, log_ratio, talib_lookback

__all__ = ["SPECS"]

_f = feature_factory("structure")
SWING_LEFT = 5
SWING_RIGHT = 5
RECENT_SWINGS = 10  # support/resistance: the nearest among the last 10 confirmed swing prices


def _distance_to_extreme(kind: str, period: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        if kind == "high":
            return log_ratio(b.close, b.ta_on("MAX", "high", lambda: b.high, timeperiod=period))
        return log_ratio(b.close, b.ta_on("MIN", "low", lambda: b.low, timeperiod=period))

    return compute


# Rows of the swing-state matrix `_swing_state` returns.
_HIGH_LEVEL, _HIGH_AGE, _LOW_LEVEL, _LOW_AGE, _ABOVE, _BELOW = range(6)


@numba.njit(cache=True)
def _swing_state(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, left: int, right: int, recent: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Per bar, from the swings confirmed by then: the last swing high and low (price, bars since the pivot
    bar) and the nearest of the last `recent` swing prices above and below the close (NaN where none).

    One pass: a swing at bar p is confirmed at t = p + right (`levels.is_pivot`, the definition charts use)
    and enters a ring buffer of the latest swing prices (highs and lows alike: old resistance becomes
    support) on that bar, so row t sees only swings known at t.
    """
    n = len(close)
    ring = np.full(recent, np.nan)
    count, slot = 0, 0
    high_bar, low_bar, high_price, low_price = np.nan, np.nan, np.nan, np.nan  # NaN until the first swing
    for t in range(n):
        bar = t - right
        if bar >= left and is_pivot(high, bar, left, right, True):
            high_bar, high_price, ring[slot] = bar, high[bar], high[bar]
            count, slot = count + 1, (slot + 1) % recent
        if bar >= left and is_pivot(low, bar, left, right, False):
            low_bar, low_price, ring[slot] = bar, low[bar], low[bar]
            count, slot = count + 1, (slot + 1) % recent
        out[_HIGH_LEVEL, t], out[_HIGH_AGE, t] = high_price, t - high_bar
        out[_LOW_LEVEL, t], out[_LOW_AGE, t] = low_price, t - low_bar
        above, below = np.inf, -np.inf
        for i in range(min(count, recent)):  # selects, not branches: which side a level falls on is a coin flip
            level = ring[i]
            candidate_above = level if level > close[t] else np.inf
            candidate_below = level if level < close[t] else -np.inf
            above = candidate_above if candidate_above < above else above
            below = candidate_below if candidate_below > below else below
        out[_ABOVE, t] = above if above < np.inf else np.nan
        out[_BELOW, t] = below if below > -np.inf else np.nan


def _swings(b: Bars) -> np.ndarray:
    def make() -> np.ndarray:
        out = np.empty((6, len(b)))
        _swing_state(b.high, b.low, b.close, SWING_LEFT, SWING_RIGHT, RECENT_SWINGS, out)
        return out

    return b.memo("swing_state", make)


def _swing_distance(row: int) -> ComputeFn:
    return lambda b: log_ratio(b.close, _swings(b)[row])


def _bars_since_swing(row: int) -> ComputeFn:
    return lambda b: _swings(b)[row].copy()


def _nearest_level(side: str) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        if side == "resistance":
            return log_ratio(_swings(b)[_ABOVE], b.close)
        return log_ratio(b.close, _swings(b)[_BELOW])

    return compute


_SWING = {"left": SWING_LEFT, "right": SWING_RIGHT}
_SWING_LB = SWING_LEFT + SWING_RIGHT

SPECS: list[FeatureSpec] = [
    *(_f(f"dist_high_{n}", talib_lookback("MAX", timeperiod=n), f"log(close / highest high of {n} bars), <= 0",
         _distance_to_extreme("high", n), timeperiod=n) for n in (20, 50, 100)),
    *(_f(f"dist_low_{n}", talib_lookback("MIN", timeperiod=n), f"log(close / lowest low of {n} bars), >= 0",
         _distance_to_extreme("low", n), timeperiod=n) for n in (20, 50, 100)),
    _f("dist_swing_high", _SWING_LB, "log(close / last confirmed swing high)", _swing_distance(_HIGH_LEVEL),
       event_warmup=True, **_SWING),
    _f("dist_swing_low", _SWING_LB, "log(close / last confirmed swing low)", _swing_distance(_LOW_LEVEL),
       event_warmup=True, **_SWING),
    _f("bars_since_swing_high", _SWING_LB, "Bars since the pivot bar of the last confirmed swing high",
       _bars_since_swing(_HIGH_AGE), event_warmup=True, **_SWING),
    _f("bars_since_swing_low", _SWING_LB, "Bars since the pivot bar of the last confirmed swing low",
       _bars_since_swing(_LOW_AGE), event_warmup=True, **_SWING),
    _f("dist_resistance", _SWING_LB, "log(nearest swing price above the close / close), among the last 10 swings; "
       "NaN when price is above all of them", _nearest_level("resistance"), event_warmup=True, **_SWING,
       recent_swings=RECENT_SWINGS),
    _f("dist_support", _SWING_LB, "log(close / nearest swing price below the close), among the last 10 swings; "
       "NaN when price is below all of them", _nearest_level("support"), event_warmup=True, **_SWING,
       recent_swings=RECENT_SWINGS),
]
