"""Multi-timeframe features: a coarser timeframe's indicators aligned causally to the frame's own bars.

Each bar of the frame sees the higher-timeframe bars that had *closed* by its own close, never the one
still forming. The higher timeframes are 4x and 24x the frame's bar size (1h bars: 4h and 1d; 15m bars:
1h and 6h; daily bars: 4-day and 24-day bars), so the names and the catalog (warm-up, history) are the
same whatever the frame's bar size:

- the frame's bar size is its smallest spacing between two bars (a frame holds one timeframe);
- higher-timeframe bars are UTC epoch-aligned time buckets of `factor` x that size, aggregated from the
  frame's own bars (first open, highest high, lowest low, last close); a bucket without bars is no bar;
- a bucket counts at row t only once it has ended by bar t's close (t's open + the bar size): no later
  row can fall into it, so its open, high, low and close are final;
- the frame's first bucket is never used: the data may start in its middle, so it may be partial.

Every value is scale-free (returns, ratios, an oscillator) and start-independent; `history` is the
warm-up plus one, because every higher-timeframe window is a fixed number of complete buckets and a
bucket holds at most `factor` of the frame's bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import talib

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory, safe_divide

__all__ = ["HIGHER_TIMEFRAME_FACTORS", "SPECS", "higher_timeframe_bars"]

_f = feature_factory("mtf")

#: The higher timeframes, as multiples of the frame's own bar size.
HIGHER_TIMEFRAME_FACTORS: tuple[int, ...] = (4, 24)
_TREND_WINDOW = 20
_RSI_PERIOD = 14
_VOL_WINDOW = 20


@dataclass(frozen=True)
class _Higher:
    """One higher timeframe of a frame: its closed buckets and, per frame row, the last one closed by then."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    last_closed: np.ndarray  # per frame row: index of the newest bucket ended by its close; -1 before any
    progress: np.ndarray  # per frame row: share of its own bucket elapsed at its close, in (0, 1]


def _epoch_ns(b: Bars) -> np.ndarray:
    return b.memo("mtf_epoch_ns", lambda: pd.DatetimeIndex(b.index).as_unit("ns").asi8)


def _bar_ns(stamps: np.ndarray) -> int:
    """The frame's bar size: its smallest spacing (0 for fewer than two bars)."""
    if len(stamps) < 2:
        return 0
    return int(np.diff(stamps).min())


def higher_timeframe_bars(b: Bars, factor: int) -> _Higher:
    """The higher timeframe `factor` x the frame's bar size, aligned to the frame (memoised per build)."""
    return b.memo(("mtf_higher", factor), lambda: _aggregate(b, factor))


def _aggregate(b: Bars, factor: int) -> _Higher:
    stamps = _epoch_ns(b)
    bar = _bar_ns(stamps)
    n = len(stamps)
    if bar <= 0:
        empty = np.array([], dtype=np.float64)
        return _Higher(empty, empty, empty, empty, np.full(n, -1), np.full(n, np.nan))
    span = bar * factor
    bucket = stamps // span
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    position = np.cumsum(np.concatenate(([False], bucket[1:] != bucket[:-1])))  # bucket number of each row
    close_time = stamps + bar
    ends_by_close = (bucket + 1) * span <= close_time
    last_closed = position - 1 + ends_by_close.astype(np.int64)
    last_close_row = np.concatenate((starts[1:], [n])) - 1
    progress = (close_time - bucket * span) / span
    return _Higher(
        open=b.open[starts], high=np.maximum.reduceat(b.high, starts), low=np.minimum.reduceat(b.low, starts),
        close=b.close[last_close_row], last_closed=last_closed, progress=progress,
    )


def _aligned(b: Bars, factor: int, per_bucket: np.ndarray, needed: int) -> np.ndarray:
    """`per_bucket[k]` (computed from buckets k - needed + 1 .. k) at each frame row's last closed bucket.

    NaN where that window would reach the frame's first bucket (maybe partial) or no bucket has closed.
    """
    padded = np.append(per_bucket, np.nan)  # the index of "no closed bucket yet" points at this NaN
    padded[: max(needed, 1)] = np.nan
    return padded[_gather_index(b, factor)]


def _gather_index(b: Bars, factor: int) -> np.ndarray:
    """Per frame row, its last closed bucket's index, or one past the last bucket when none has closed."""

    def make() -> np.ndarray:
        higher = higher_timeframe_bars(b, factor)
        k = higher.last_closed
        return np.where(k >= 0, k, len(higher.close))

    return b.memo(("mtf_gather", factor), make)


def _rolling(values: np.ndarray, window: int, reduce: str) -> np.ndarray:
    """Trailing mean or population std over `window` values (NaN before a full window)."""
    if len(values) < window:
        return np.full(len(values), np.nan)
    if reduce == "mean":
        return talib.SMA(values, timeperiod=window)
    return talib.STDDEV(values, timeperiod=window, nbdev=1.0)


def _log_returns(close: np.ndarray) -> np.ndarray:
    out = np.full(len(close), np.nan)
    out[1:] = np.diff(np.log(close))
    return out


def _return(factor: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        return _aligned(b, factor, _log_returns(higher_timeframe_bars(b, factor).close), 2)

    return compute


def _trend(factor: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        sma = _aligned(b, factor, _rolling(higher_timeframe_bars(b, factor).close, _TREND_WINDOW, "mean"),
                       _TREND_WINDOW)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(b.close / sma)

    return compute


def _rsi(factor: int) -> ComputeFn:
    """Cutler's RSI: simple (not Wilder's recursive) averages, so a fixed number of buckets fixes the value."""

    def compute(b: Bars) -> np.ndarray:
        change = np.diff(higher_timeframe_bars(b, factor).close, prepend=np.nan)
        gains = _rolling(np.where(change > 0, change, 0.0), _RSI_PERIOD, "mean")
        losses = _rolling(np.where(change < 0, -change, 0.0), _RSI_PERIOD, "mean")
        rsi = 100.0 * safe_divide(gains, gains + losses, fill=0.5)  # no move at all: neutral 50
        return _aligned(b, factor, rsi, _RSI_PERIOD + 1)

    return compute


def _range_position(factor: int) -> ComputeFn:
    """Where the close sits in the last closed higher-timeframe bar's range (below 0 / above 1: a breakout)."""

    def compute(b: Bars) -> np.ndarray:
        higher = higher_timeframe_bars(b, factor)
        low = _aligned(b, factor, higher.low, 1)
        high = _aligned(b, factor, higher.high, 1)
        return safe_divide(b.close - low, high - low, fill=0.5)

    return compute


def _volatility(factor: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        returns = _log_returns(higher_timeframe_bars(b, factor).close)
        return _aligned(b, factor, _rolling(returns, _VOL_WINDOW, "std"), _VOL_WINDOW + 1)

    return compute


def _progress(factor: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        return higher_timeframe_bars(b, factor).progress.copy()

    return compute


def _masked(compute: ComputeFn, lookback: int) -> ComputeFn:
    """NaN for the first `lookback` rows: the warm-up is as long as the catalog says on every alignment."""

    def masked(b: Bars) -> np.ndarray:
        values = np.asarray(compute(b), dtype=np.float64)
        values[:lookback] = np.nan
        return values

    return masked


def _warm_up(buckets: int, factor: int) -> int:
    """Rows after which `buckets` complete buckets (not the first) have closed, however the data is aligned:
    rows 0..t span at least ceil((t + 1) / factor) buckets, minus the first and the forming one."""
    return (buckets + 1) * factor


def _specs() -> list[FeatureSpec]:
    specs = []
    for factor in HIGHER_TIMEFRAME_FACTORS:
        table = (
            ("return_1", 2, f"Log return of the last closed bar {factor}x this frame's", _return(factor)),
            ("trend_20", _TREND_WINDOW, f"log(close / SMA of the last 20 closed {factor}x bars' closes)",
             _trend(factor)),
            ("rsi_14", _RSI_PERIOD + 1, f"Cutler's RSI (simple averages) of the last 14 closed {factor}x bars",
             _rsi(factor)),
            ("range_pos", 1, f"Close within the last closed {factor}x bar's low-high range (0 low, 1 high)",
             _range_position(factor)),
            ("vol_20", _VOL_WINDOW + 1, f"Std of the last 20 closed {factor}x bars' log returns",
             _volatility(factor)),
        )
        for name, buckets, description, compute in table:
            lookback = _warm_up(buckets, factor)
            specs.append(_f(f"htf{factor}_{name}", lookback, description, _masked(compute, lookback),
                            factor=factor, buckets=buckets))
        specs.append(_f(f"htf{factor}_progress", factor, f"Share of the forming {factor}x bar elapsed at this "
                        "bar's close (1 = this bar closes it)", _masked(_progress(factor), factor), factor=factor))
    return specs


SPECS: list[FeatureSpec] = _specs()
