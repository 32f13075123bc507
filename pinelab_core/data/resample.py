"""Aggregate OHLCV bars to a coarser timeframe (1m -> 5m -> 15m -> 1h -> 4h -> 1d -> 1w)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.data.validation import TIME_UNIT
from pinelab_core.errors import DataValidationError
from pinelab_core.types import INDEX_NAME, OHLCV_COLUMNS, Timeframe

__all__ = ["closed_bars", "infer_timeframe_seconds", "resample_ohlcv"]

_NS = 1_000_000_000
# Weekly bins open on Monday 00:00 UTC: 1970-01-05 is the first Monday after the epoch.
_FIRST_MONDAY_NS = 4 * 86_400 * _NS


def infer_timeframe_seconds(frame: pd.DataFrame) -> float | None:
    """The bar spacing of `frame` in seconds: the most common gap between bars (None for < 2 bars)."""
    if len(frame.index) < 2:
        return None
    gaps = np.diff(frame.index.as_unit("ns").asi8)
    values, counts = np.unique(gaps, return_counts=True)
    return float(values[np.argmax(counts)]) / _NS


def resample_ohlcv(frame: pd.DataFrame, timeframe: str | Timeframe) -> pd.DataFrame:
    """Aggregate bars into `timeframe` bins: first open, max high, min low, last close, summed volume.

    Bins are labelled by their opening time (left-closed, left-labelled, as exchanges do), aligned
    to UTC midnight, and weekly bins open on Monday. Bins with no bars (nights, weekends) are dropped
    rather than filled, so no invented bars appear.

    Args:
        frame: a valid OHLCV frame (see `validate_ohlcv`).
        timeframe: the target bar size; must not be finer than the frame's own spacing.

    Returns:
        A new OHLCV frame; `frame.attrs` are carried over.

    Raises:
        DataValidationError: the target is finer than the source bars.
    """
    tf = Timeframe.parse(timeframe)
    spacing = infer_timeframe_seconds(frame)
    if spacing is not None and tf.seconds < spacing:
        raise DataValidationError(
            f"Cannot resample to {tf.value}: the data's bars are {_describe(spacing)} apart, and resampling "
            "only aggregates to coarser bars. Load a finer timeframe from the source instead."
        )
    stamps = frame.index.as_unit("ns").asi8
    step = tf.seconds * _NS
    origin = _FIRST_MONDAY_NS if tf is Timeframe.W1 else 0
    bins = origin + (stamps - origin) // step * step
    if np.array_equal(bins, stamps):  # every bar already opens its own bin: nothing to aggregate
        return frame.copy()
    # Bars are sorted, so each bin is a contiguous run: reduce each run in one vectorised pass
    # (pandas' resample would first materialise every empty night and weekend bin).
    starts = np.flatnonzero(np.concatenate(([True], bins[1:] != bins[:-1]))) if len(bins) else np.array([], int)
    ends = np.concatenate((starts[1:], [len(bins)])) - 1 if len(bins) else np.array([], int)
    columns = {name: frame[name].to_numpy(dtype=np.float64) for name in OHLCV_COLUMNS}
    data = {
        "open": columns["open"][starts],
        "high": np.maximum.reduceat(columns["high"], starts) if len(starts) else np.array([]),
        "low": np.minimum.reduceat(columns["low"], starts) if len(starts) else np.array([]),
        "close": columns["close"][ends],
        "volume": np.add.reduceat(columns["volume"], starts) if len(starts) else np.array([]),
    }
    index = pd.DatetimeIndex(pd.to_datetime(bins[starts], unit="ns", utc=True), name=INDEX_NAME).as_unit(TIME_UNIT)
    out = pd.DataFrame(data, index=index)
    out.attrs = dict(frame.attrs)
    return out


def closed_bars(frame: pd.DataFrame, timeframe: str | Timeframe, now: pd.Timestamp) -> pd.DataFrame:
    """The bars that have closed by `now`; a bar labelled t (its open) closes at t + timeframe.

    A live source sends the forming candle, and a resample's last bucket is incomplete until its period
    has passed. Such a bar is not a bar yet: its close, high, low and volume still change, so a feature,
    signal or prediction computed on it would be frozen on numbers that never were. The cache never
    stores it either, so the next refresh fetches the bar once it is final.
    """
    seconds = Timeframe.parse(timeframe).seconds
    closed = np.asarray(frame.index + pd.Timedelta(seconds=seconds) <= now)
    if closed.all():
        return frame
    out = frame.loc[closed]
    out.attrs = dict(frame.attrs)
    return out


def _describe(seconds: float) -> str:
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
