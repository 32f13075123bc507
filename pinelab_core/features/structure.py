"""Price-structure features: distance to rolling highs and lows, the last confirmed swing points, and the
nearest support and resistance among recent swings.

Swings follow `features.levels` (the definition behind `confirmed_pivots` and the chart levels), placed
on the bar where they become known (pivot bar + `right` bars), never on the pivot bar itself: a swing high
is only a swing high once the following bars failed to exceed it, and a model must not know that earlier.

Every value is defined once the warm-up is over, and depends on a bounded stretch of history:

- A swing counts for `SWING_MEMORY` bars after its pivot bar. With no swing high in that span (a long
  rally), `bars_since_swing_high` reads `SWING_MEMORY` and `dist_swing_high` reads 0; likewise for lows.
- Support and resistance distances are capped at `LEVEL_CAP_ATR` ATR(14)s (as a log distance: ATR / close).
  Price above every recent swing (a breakout) has no resistance: `dist_resistance` is the cap and
  `above_all_resistance` is 1; mirrored for `dist_support` / `below_all_support`.
"""

from __future__ import annotations

import numba
import numpy as np

from pinelab_core.features.levels import is_pivot
from pinelab_core.features.spec import (
    Bars,
    ComputeFn,
    FeatureSpec,
    feature_factory,
    log_ratio,
    smoothing_history,
    talib_lookback,
    wilder_weight,
)

__all__ = ["LEVEL_CAP_ATR", "SPECS", "SWING_MEMORY"]

_f = feature_factory("structure")
SWING_LEFT = 5
SWING_RIGHT = 5
RECENT_SWINGS = 10  # support/resistance: the nearest among the last 10 confirmed swing prices
SWING_MEMORY = 250  # bars a swing stays relevant after its pivot bar (about a year of daily bars)
LEVEL_CAP_ATR = 10.0  # support/resistance further than this many ATR(14)s reads as "far": the cap


def _distance_to_extreme(kind: str, period: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        if kind == "high":
            return log_ratio(b.close, b.ta_on("MAX", "high", lambda: b.high, timeperiod=period), out=b.target)
        return log_ratio(b.close, b.ta_on("MIN", "low", lambda: b.low, timeperiod=period), out=b.target)

    return compute


# Rows of the swing-state matrix `_swing_state` returns.
_HIGH_LEVEL, _HIGH_AGE, _LOW_LEVEL, _LOW_AGE, _ABOVE, _BELOW = range(6)


@numba.njit(cache=True)
def _swing_state(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, left: int, right: int, recent: int, memory: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Per bar, from the swings confirmed by then whose pivot bar is less than `memory` bars back: the last
    swing high and low (price, bars since the pivot bar) and the nearest of the last `recent` swing prices
    above and below the close. NaN where there is none.

    One pass: a swing at bar p is confirmed at t = p + right (`levels.is_pivot`, the definition charts use)
    and enters a ring buffer of the latest swings (highs and lows alike: old resistance becomes support) on
    that bar, so row t sees only swings known at t.
    """
    ring_price, ring_bar = np.full(recent, np.nan), np.zeros(recent, dtype=np.int64)
    slot, stored = 0, 0  # next slot to write; swings in the ring, the oldest at (slot - stored) mod recent
    high_bar, low_bar, high_price, low_price = -memory, -memory, np.nan, np.nan
    for t in range(len(close)):
        bar = t - right
        if bar >= left and is_pivot(high, bar, left, right, True):
            high_bar, high_price = bar, high[bar]
            ring_price[slot], ring_bar[slot] = high[bar], bar
            slot, stored = (slot + 1) % recent, min(stored + 1, recent)
        if bar >= left and is_pivot(low, bar, left, right, False):
            low_bar, low_price = bar, low[bar]
            ring_price[slot], ring_bar[slot] = low[bar], bar
            slot, stored = (slot + 1) % recent, min(stored + 1, recent)
        oldest = t - memory  # a pivot on this bar or before has aged out
        while stored > 0 and ring_bar[(slot - stored) % recent] <= oldest:  # swings age out in the order they came
            ring_price[(slot - stored) % recent] = np.nan
            stored -= 1
        out[_HIGH_LEVEL, t], out[_HIGH_AGE, t] = (high_price, t - high_bar) if high_bar > oldest else (np.nan, np.nan)
        out[_LOW_LEVEL, t], out[_LOW_AGE, t] = (low_price, t - low_bar) if low_bar > oldest else (np.nan, np.nan)
        above, below = np.inf, -np.inf
        for i in range(recent):  # selects, not branches: which side a level falls on is a coin flip
            level = ring_price[i]
            candidate_above = level if level > close[t] else np.inf
            candidate_below = level if level < close[t] else -np.inf
            above = candidate_above if candidate_above < above else above
            below = candidate_below if candidate_below > below else below
        out[_ABOVE, t] = above if above < np.inf else np.nan
        out[_BELOW, t] = below if below > -np.inf else np.nan


def _swings(b: Bars) -> np.ndarray:
    def make() -> np.ndarray:
        out = np.empty((6, len(b)))
        _swing_state(b.high, b.low, b.close, SWING_LEFT, SWING_RIGHT, RECENT_SWINGS, SWING_MEMORY, out)
        out[:, :_SWING_LB] = np.nan  # no swing can be confirmed yet: warm-up
        return out

    return b.memo("swing_state", make)


def _after_warm_up(values: np.ndarray, fallback: float) -> np.ndarray:
    """`values` with NaN after the swing warm-up (no swing in memory) replaced by `fallback`."""
    out = values.copy()
    out[_SWING_LB:][np.isnan(out[_SWING_LB:])] = fallback
    return out


def _swing_distance(row: int) -> ComputeFn:
    return lambda b: _after_warm_up(log_ratio(b.close, _swings(b)[row]), 0.0)


def _bars_since_swing(row: int) -> ComputeFn:
    return lambda b: _after_warm_up(_swings(b)[row], float(SWING_MEMORY))


def _level_cap(b: Bars) -> np.ndarray:
    """`LEVEL_CAP_ATR` ATR(14)s as a log distance from the close (0 in a market that has not moved)."""
    return b.memo("level_cap", lambda: LEVEL_CAP_ATR * b.ta("ATR", "hlc", timeperiod=14)[0] / b.close)


def _nearest_level(side: str) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        if side == "resistance":
            distance = log_ratio(_swings(b)[_ABOVE], b.close)
        else:
            distance = log_ratio(b.close, _swings(b)[_BELOW])
        cap = _level_cap(b)
        return np.where(np.isnan(distance), cap, np.minimum(distance, cap))  # NaN cap (ATR warm-up) stays NaN

    return compute


def _beyond_all_levels(row: int) -> ComputeFn:
    """1 when no recent swing lies on that side of the close (a breakout), else 0."""

    def compute(b: Bars) -> np.ndarray:
        out = np.isnan(_swings(b)[row]).astype(np.float64)
        out[: min(_SWING_LB, len(out))] = np.nan
        return out

    return compute


_SWING = {"left": SWING_LEFT, "right": SWING_RIGHT}
_SWING_LB = SWING_LEFT + SWING_RIGHT

_LEVEL_LB = max(_SWING_LB, talib_lookback("ATR", timeperiod=14))
#: A swing counts while its pivot bar is within SWING_MEMORY bars, and the pivot test reads `left` bars before it.
_SWING_HISTORY = SWING_MEMORY + SWING_LEFT + SWING_RIGHT + 1
_LEVEL_HISTORY = max(_SWING_HISTORY, smoothing_history(talib_lookback("ATR", timeperiod=14), wilder_weight(14)))
_LEVELS = {**_SWING, "recent_swings": RECENT_SWINGS, "memory": SWING_MEMORY, "cap_atr": LEVEL_CAP_ATR}

SPECS: list[FeatureSpec] = [
    *(_f(f"dist_high_{n}", talib_lookback("MAX", timeperiod=n), f"log(close / highest high of {n} bars), <= 0",
         _distance_to_extreme("high", n), timeperiod=n) for n in (20, 50, 100)),
    *(_f(f"dist_low_{n}", talib_lookback("MIN", timeperiod=n), f"log(close / lowest low of {n} bars), >= 0",
         _distance_to_extreme("low", n), timeperiod=n) for n in (20, 50, 100)),
    _f("dist_swing_high", _SWING_LB, f"log(close / last confirmed swing high); 0 when none in {SWING_MEMORY} bars",
       _swing_distance(_HIGH_LEVEL), history=_SWING_HISTORY, **_SWING, memory=SWING_MEMORY),
    _f("dist_swing_low", _SWING_LB, f"log(close / last confirmed swing low); 0 when none in {SWING_MEMORY} bars",
       _swing_distance(_LOW_LEVEL), history=_SWING_HISTORY, **_SWING, memory=SWING_MEMORY),
    _f("bars_since_swing_high", _SWING_LB, f"Bars since the pivot bar of the last confirmed swing high, at most "
       f"{SWING_MEMORY}", _bars_since_swing(_HIGH_AGE), history=_SWING_HISTORY, **_SWING, memory=SWING_MEMORY),
    _f("bars_since_swing_low", _SWING_LB, f"Bars since the pivot bar of the last confirmed swing low, at most "
       f"{SWING_MEMORY}", _bars_since_swing(_LOW_AGE), history=_SWING_HISTORY, **_SWING, memory=SWING_MEMORY),
    _f("dist_resistance", _LEVEL_LB, f"log(nearest swing price above the close / close) among the last 10 swings, "
       f"capped at {LEVEL_CAP_ATR:g} ATR(14)s; the cap when there is none", _nearest_level("resistance"),
       history=_LEVEL_HISTORY, **_LEVELS),
    _f("dist_support", _LEVEL_LB, f"log(close / nearest swing price below the close) among the last 10 swings, "
       f"capped at {LEVEL_CAP_ATR:g} ATR(14)s; the cap when there is none", _nearest_level("support"),
       history=_LEVEL_HISTORY, **_LEVELS),
    _f("above_all_resistance", _SWING_LB, "1 when the close is above all of the last 10 swing prices (no "
       "resistance: a breakout), else 0", _beyond_all_levels(_ABOVE), history=_SWING_HISTORY, **_LEVELS),
    _f("below_all_support", _SWING_LB, "1 when the close is below all of the last 10 swing prices (no support: "
       "a breakdown), else 0", _beyond_all_levels(_BELOW), history=_SWING_HISTORY, **_LEVELS),
]
