"""Swing pivots and the support/resistance levels they cluster into.

A swing high at bar t is a high above the `left` highs before it and not below the `right` highs after
it (mirror image for swing lows). That definition looks `right` bars into the future, so:

- `swing_pivots` marks pivots on the bar where they happened: right for drawing a chart of the past,
  wrong for a model feature.
- `confirmed_pivots` places each pivot on the bar where it becomes known (t + right): causal, the one
  the feature engine reuses.

`support_resistance_levels` clusters pivot prices that lie within a tolerance (a fraction of the
typical ATR) into horizontal levels and counts how often price turned there (touches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
import pandas as pd
import talib

from pinelab_core.errors import DataValidationError

__all__ = ["PriceLevel", "confirmed_pivots", "support_resistance_levels", "swing_pivots"]


@dataclass(frozen=True)
class PriceLevel:
    """A horizontal price level where swings turned more than once.

    Attributes:
        price: average price of the pivots in the cluster.
        kind: "support" when at or below the last close, "resistance" above it.
        touches: how many swing pivots (highs and lows alike: old resistance becomes support) formed there.
        first_touch: time of the earliest pivot in the cluster.
        last_touch: time of the latest pivot in the cluster.
    """

    price: float
    kind: Literal["support", "resistance"]
    touches: int
    first_touch: pd.Timestamp
    last_touch: pd.Timestamp


def _validate_window(ohlcv: pd.DataFrame, left: int, right: int) -> None:
    if left < 1 or right < 1:
        raise DataValidationError(f"Pivot windows must be at least 1 bar each side, got left={left}, right={right}.")
    missing = {"high", "low"} - set(ohlcv.columns)
    if missing:
        raise DataValidationError(f"Pivots need columns {sorted(missing)}; pass an OHLCV frame from load_ohlcv().")


@numba.njit(cache=True, inline="always")
def is_pivot(values: np.ndarray, bar: int, left: int, right: int, highs: bool) -> bool:  # pragma: no cover
    """True when values[bar] is a strict extreme over the `left` bars before it and a non-strict one over the
    `right` bars after it (a maximum for highs, a minimum otherwise); NaN anywhere in the window is no pivot.

    Strict on the left, non-strict on the right: on a flat top the first bar of the plateau is the pivot,
    so an equal high later does not hide it and the pivot is not counted twice.
    """
    sign = 1.0 if highs else -1.0
    centre = sign * values[bar]
    pivot = True
    for j in range(bar - left, bar):  # & rather than an early exit: whether a bar is a swing is a coin flip
        pivot &= centre > sign * values[j]
    for j in range(bar + 1, bar + right + 1):
        pivot &= centre >= sign * values[j]
    return pivot


@numba.njit(cache=True)
def _pivot_mask(values: np.ndarray, left: int, right: int, highs: bool) -> np.ndarray:  # pragma: no cover
    """`is_pivot` for every bar that has `left` bars before it and `right` after it."""
    mask = np.zeros(len(values), dtype=np.bool_)
    for bar in range(left, len(values) - right):
        mask[bar] = is_pivot(values, bar, left, right, highs)
    return mask


def swing_pivots(ohlcv: pd.DataFrame, left: int = 5, right: int = 5) -> pd.DataFrame:
    """Swing highs and lows marked on the bar where they occurred (looks `right` bars ahead: charts only).

    Returns:
        A frame on the input index with `pivot_high` (the bar's high at a swing high, else NaN) and
        `pivot_low` (the bar's low at a swing low, else NaN). The last `right` bars are never pivots:
        they are not confirmed yet.
    """
    _validate_window(ohlcv, left, right)
    high = ohlcv["high"].to_numpy(dtype=np.float64)
    low = ohlcv["low"].to_numpy(dtype=np.float64)
    pivot_high = np.where(_pivot_mask(high, left, right, True), high, np.nan)
    pivot_low = np.where(_pivot_mask(low, left, right, False), low, np.nan)
    return pd.DataFrame({"pivot_high": pivot_high, "pivot_low": pivot_low}, index=ohlcv.index)


def confirmed_pivots(ohlcv: pd.DataFrame, left: int = 5, right: int = 5) -> pd.DataFrame:
    """Swing highs and lows placed on the bar where they are confirmed (pivot bar + `right`): causal.

    The value at row t depends only on rows <= t, so models may use it (forward-fill it for "last
    confirmed swing high" style features).

    Returns:
        A frame on the input index with `pivot_high` and `pivot_low` prices at confirmation bars, else NaN.
    """
    return swing_pivots(ohlcv, left, right).shift(right)


#: Bars of recent ATR that set the clustering tolerance: levels are judged at today's volatility.
_RECENT_ATR_BARS = 100


def _level_tolerance(ohlcv: pd.DataFrame, atr_multiple: float) -> float:
    """Half the recent typical ATR by default: close enough that a trader would call it the same level.

    Recent, because a decade-long chart's median ATR is set by the old, lower prices and would split
    today's levels into a ladder of near-duplicates.
    """
    high = ohlcv["high"].to_numpy(dtype=np.float64)
    low = ohlcv["low"].to_numpy(dtype=np.float64)
    close = ohlcv["close"].to_numpy(dtype=np.float64)
    atr = talib.ATR(high, low, close, timeperiod=14) if len(close) > 14 else np.array([np.nan])
    recent = atr[-_RECENT_ATR_BARS:]
    typical_range = np.nanmedian(recent) if np.isfinite(recent).any() else float(np.median(high - low))
    return float(atr_multiple * typical_range)


def _cluster_bounds(prices: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """[start, stop) runs of sorted prices where each price is within `tolerance` of its neighbour and the
    run spans at most two tolerances (so a slow drift of pivots does not chain into one wide "level")."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(prices)):
        if prices[i] - prices[i - 1] > tolerance or prices[i] - prices[start] > 2 * tolerance:
            bounds.append((start, i))
            start = i
    if len(prices):
        bounds.append((start, len(prices)))
    return bounds


def support_resistance_levels(
    ohlcv: pd.DataFrame,
    left: int = 5,
    right: int = 5,
    *,
    atr_multiple: float = 0.5,
    min_touches: int = 2,
    max_levels: int = 6,
) -> list[PriceLevel]:
    """Support and resistance levels from clustered swing pivots, nearest to the last close first.

    Args:
        ohlcv: OHLCV frame.
        left: bars before a pivot that must be lower (highs) or higher (lows).
        right: bars after a pivot needed to confirm it.
        atr_multiple: pivots within this many recent typical ATR(14)s of each other form one level.
        min_touches: fewest pivots a level needs to count.
        max_levels: at most this many levels, half below and half above the last close when available.

    Returns:
        Levels sorted by price, each with its touch count and first/last touch time.
    """
    if min_touches < 1 or max_levels < 1:
        raise DataValidationError("min_touches and max_levels must be at least 1.")
    pivots = swing_pivots(ohlcv, left, right)
    stacked = pd.concat([pivots["pivot_high"].dropna(), pivots["pivot_low"].dropna()]).sort_values(kind="stable")
    if stacked.empty:
        return []
    prices = stacked.to_numpy()
    times = stacked.index
    tolerance = _level_tolerance(ohlcv, atr_multiple)
    last_close = float(ohlcv["close"].iloc[-1])
    levels = []
    for start, stop in _cluster_bounds(prices, tolerance):
        if stop - start < min_touches:
            continue
        price = float(prices[start:stop].mean())
        levels.append(PriceLevel(
            price=price,
            kind="support" if price <= last_close else "resistance",
            touches=stop - start,
            first_touch=times[start:stop].min(),
            last_touch=times[start:stop].max(),
        ))
    return _nearest_levels(levels, last_close, max_levels)


def _nearest_levels(levels: list[PriceLevel], last_close: float, max_levels: int) -> list[PriceLevel]:
    """The next supports below and resistances above the last close: the ones a trader acts on."""
    below = sorted((lv for lv in levels if lv.kind == "support"), key=lambda lv: last_close - lv.price)
    above = sorted((lv for lv in levels if lv.kind == "resistance"), key=lambda lv: lv.price - last_close)
    half = max_levels // 2
    take_below = min(len(below), max(half, max_levels - len(above)))
    take_above = min(len(above), max_levels - take_below)
    return sorted(below[:take_below] + above[:take_above], key=lambda lv: lv.price)
