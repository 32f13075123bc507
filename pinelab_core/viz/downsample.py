"""Downsampling long histories to screen resolution, honestly.

A chart 1,400 pixels wide cannot show a million candles; shipping them costs tens of megabytes and
freezes the browser. Candles are merged in runs of consecutive bars (an exact OHLC resample: first
open, highest high, lowest low, last close, summed volume), so every extreme the trader could see is
still there. Lines keep the minimum and maximum point of each bucket, so spikes survive decimation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError

__all__ = ["aggregate_candles", "bars_per_candle", "minmax_indices"]


def bars_per_candle(n_bars: int, max_candles: int) -> int:
    """How many consecutive bars each drawn candle must merge so at most `max_candles` are drawn."""
    if max_candles < 1:
        raise DataValidationError(f"max_candles must be at least 1, got {max_candles}.")
    return max(1, math.ceil(n_bars / max_candles))


def aggregate_candles(ohlcv: pd.DataFrame, bars_each: int) -> pd.DataFrame:
    """Merge runs of `bars_each` consecutive bars into one candle each (the last run may be shorter).

    Each merged candle is stamped with the time of its first bar, as exchanges stamp bars.

    Args:
        ohlcv: OHLCV frame.
        bars_each: bars per merged candle; 1 returns the frame unchanged.
    """
    if bars_each <= 1 or len(ohlcv) == 0:
        return ohlcv
    starts = np.arange(0, len(ohlcv), bars_each)
    ends = np.minimum(starts + bars_each, len(ohlcv)) - 1
    high = ohlcv["high"].to_numpy(dtype=np.float64)
    low = ohlcv["low"].to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "open": ohlcv["open"].to_numpy(dtype=np.float64)[starts],
            "high": np.maximum.reduceat(high, starts),
            "low": np.minimum.reduceat(low, starts),
            "close": ohlcv["close"].to_numpy(dtype=np.float64)[ends],
            "volume": np.add.reduceat(ohlcv["volume"].to_numpy(dtype=np.float64), starts),
        },
        index=ohlcv.index[starts],
    )


def minmax_indices(values: np.ndarray, bars_each: int) -> np.ndarray:
    """Positions to keep when a line is decimated: each bucket's minimum and maximum, in time order.

    Buckets line up with `aggregate_candles(…, bars_each)`, so a line never drifts off its candles.
    An all-NaN bucket (a moving average still warming up) keeps one NaN point, which draws as a gap.
    """
    n = len(values)
    if bars_each <= 1 or n == 0:
        return np.arange(n)
    n_buckets = math.ceil(n / bars_each)
    padded = np.full(n_buckets * bars_each, np.nan)
    padded[:n] = values
    grid = padded.reshape(n_buckets, bars_each)
    missing = np.isnan(grid)
    lowest = np.where(missing, np.inf, grid).argmin(axis=1)
    highest = np.where(missing, -np.inf, grid).argmax(axis=1)
    offsets = np.arange(n_buckets) * bars_each
    keep = np.unique(np.concatenate([offsets + lowest, offsets + highest]))
    return keep[keep < n]
