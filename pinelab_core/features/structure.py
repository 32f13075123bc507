"""Price-structure features: distance to rolling highs and lows, the last confirmed swing points, and the
nearest support and resistance among recent swings.

Swings come from `features.levels.confirmed_pivots`, which places a swing on the bar where it becomes
known (pivot bar + `right` bars), never on the pivot bar itself: a swing high is only a swing high
once the following bars failed to exceed it, and a model must not know that earlier.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from pinelab_core.features.levels import confirmed_pivots
from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory, log_ratio, talib_lookback

__all__ = ["SPECS"]

_f = feature_factory("structure")
SWING_LEFT = 5
SWING_RIGHT = 5
RECENT_SWINGS = 10  # support/resistance: the nearest among the last 10 confirmed swing prices


def _pivots(b: Bars) -> pd.DataFrame:
    def make() -> pd.DataFrame:
        frame = pd.DataFrame({"high": b.high, "low": b.low}, index=b.index)
        return confirmed_pivots(frame, SWING_LEFT, SWING_RIGHT)

    return b.memo("confirmed_pivots", make)


def _distance_to_extreme(kind: str, period: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        if kind == "high":
            return log_ratio(b.close, b.ta_on("MAX", "high", lambda: b.high, timeperiod=period))
        return log_ratio(b.close, b.ta_on("MIN", "low", lambda: b.low, timeperiod=period))

    return compute


def _last_swing(b: Bars, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(price of the last confirmed swing, bars since that swing's pivot bar), NaN before the first one."""
    prices = _pivots(b)[column].to_numpy(dtype=np.float64)
    confirmed = np.isfinite(prices)
    positions = np.arange(len(prices))
    last = np.maximum.accumulate(np.where(confirmed, positions, -1)) if len(prices) else positions
    known = last >= 0
    level = np.full(len(prices), np.nan)
    level[known] = prices[last[known]]
    bars_since = np.where(known, positions - last + SWING_RIGHT, np.nan).astype(np.float64)
    return level, bars_since


def _swing_distance(column: str) -> ComputeFn:
    return lambda b: log_ratio(b.close, _last_swing(b, column)[0])


def _bars_since_swing(column: str) -> ComputeFn:
    return lambda b: _last_swing(b, column)[1]


@numba.njit(cache=True)
def _nearest_swing_levels(
    close: np.ndarray, highs: np.ndarray, lows: np.ndarray, recent: int
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Per bar: nearest of the last `recent` confirmed swing prices above and below the close (NaN if none).

    One pass with a ring buffer of the latest swing prices (highs and lows alike: old resistance becomes
    support); a swing enters the buffer on its confirmation bar, so row t sees only swings known at t.
    """
    n = len(close)
    above_out = np.full(n, np.nan)
    below_out = np.full(n, np.nan)
    ring = np.full(recent, np.nan)
    count = 0
    for t in range(n):
        if not np.isnan(highs[t]):
            ring[count % recent] = highs[t]
            count += 1
        if not np.isnan(lows[t]):
            ring[count % recent] = lows[t]
            count += 1
        above, below = np.inf, -np.inf
        for i in range(min(count, recent)):
            level = ring[i]
            if close[t] < level < above:
                above = level
            elif below < level < close[t]:
                below = level
        if above < np.inf:
            above_out[t] = above
        if below > -np.inf:
            below_out[t] = below
    return above_out, below_out


def _nearest_level(side: str) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        def make() -> tuple[np.ndarray, np.ndarray]:
            pivots = _pivots(b)
            return _nearest_swing_levels(b.close, pivots["pivot_high"].to_numpy(dtype=np.float64),
                                         pivots["pivot_low"].to_numpy(dtype=np.float64), RECENT_SWINGS)

        above, below = b.memo("nearest_swing_levels", make)
        return log_ratio(above, b.close) if side == "resistance" else log_ratio(b.close, below)

    return compute


_SWING = {"left": SWING_LEFT, "right": SWING_RIGHT}
_SWING_LB = SWING_LEFT + SWING_RIGHT

SPECS: list[FeatureSpec] = [
    *(_f(f"dist_high_{n}", talib_lookback("MAX", timeperiod=n), f"log(close / highest high of {n} bars), <= 0",
         _distance_to_extreme("high", n), timeperiod=n) for n in (20, 50, 100)),
    *(_f(f"dist_low_{n}", talib_lookback("MIN", timeperiod=n), f"log(close / lowest low of {n} bars), >= 0",
         _distance_to_extreme("low", n), timeperiod=n) for n in (20, 50, 100)),
    _f("dist_swing_high", _SWING_LB, "log(close / last confirmed swing high)", _swing_distance("pivot_high"),
       event_warmup=True, **_SWING),
    _f("dist_swing_low", _SWING_LB, "log(close / last confirmed swing low)", _swing_distance("pivot_low"),
       event_warmup=True, **_SWING),
    _f("bars_since_swing_high", _SWING_LB, "Bars since the pivot bar of the last confirmed swing high",
       _bars_since_swing("pivot_high"), event_warmup=True, **_SWING),
    _f("bars_since_swing_low", _SWING_LB, "Bars since the pivot bar of the last confirmed swing low",
       _bars_since_swing("pivot_low"), event_warmup=True, **_SWING),
    _f("dist_resistance", _SWING_LB, "log(nearest swing price above the close / close), among the last 10 swings; "
       "NaN when price is above all of them", _nearest_level("resistance"), event_warmup=True, **_SWING,
       recent_swings=RECENT_SWINGS),
    _f("dist_support", _SWING_LB, "log(close / nearest swing price below the close), among the last 10 swings; "
       "NaN when price is below all of them", _nearest_level("support"), event_warmup=True, **_SWING,
       recent_swings=RECENT_SWINGS),
]
