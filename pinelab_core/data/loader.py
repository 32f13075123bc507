"""`load_ohlcv`: one call from a source string to a validated OHLCV frame with its provenance."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.data.resample import closed_bars, infer_timeframe_seconds, resample_ohlcv
from pinelab_core.data.sources import DataSource, make_source
from pinelab_core.data.timeparse import TimeLike, parse_when
from pinelab_core.data.validation import validate_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.types import Timeframe

__all__ = ["load_ohlcv", "provenance"]



def load_ohlcv(
    symbol: str,
    timeframe: str | Timeframe = "1d",
    start: TimeLike = None,
    end: TimeLike = None,
    source: str | DataSource = "auto",
    settings: Settings | None = None,
    refresh: bool = True,
) -> pd.DataFrame:
    """Load validated OHLCV bars of `symbol` from `source`, sliced to [start, end].

    Args:
        symbol: ticker or pair as the source spells it (AAPL, BTC/USDT, DEMO-BTC), or a file path.
        timeframe: bar size, "1m" ... "1w". A source that lacks it natively delivers a finer one,
            resampled here.
        start: first bar (a date string like "2024-01-01" or a timestamp; naive means UTC).
        end: last bar, inclusive; a bare date includes that whole day.
        source: a source string (demo, yahoo, ccxt:<exchange>, file:<path>, auto) or a `DataSource`.
        settings: configuration; default `Settings.from_env()`.
        refresh: for network sources, fetch the bars newer than the cache first. With False the
            cache alone answers when it holds data.

    Returns:
        The OHLCV frame of the contract. ``frame.attrs["provenance"]`` says where it came from:
        source, symbol, timeframe, simulated, from_cache, cached_at (ISO or None) and a `note`
        sentence for the page (empty for live data).

    Raises:
        DataValidationError: bad arguments or data that breaks the contract (fix input).
        DataFetchError: the network source failed and nothing is cached (retry later).
    """
    settings = settings or Settings.from_env()
    tf = Timeframe.parse(timeframe)
    first, last = parse_when(start, "start"), parse_when(end, "end", end_of_day=True)
    if first is not None and last is not None and first > last:
        raise DataValidationError(f"start {first} is after end {last}. Swap them or widen the range.")
    data_source = source if isinstance(source, DataSource) else make_source(source, symbol, settings)
    fetch_tf = data_source.fetch_timeframe(tf)
    if data_source.cacheable:
        from pinelab_core.data.cache import load_through_cache

        frame, meta = load_through_cache(data_source, symbol, fetch_tf, first, last, settings, refresh)
    else:
        frame = validate_ohlcv(data_source.fetch(symbol, fetch_tf, first, last), where=f"{symbol} ({data_source.name})")
        meta = {"from_cache": False, "cached_at": None, "note": ""}
    frame = _to_timeframe(frame, tf, data_source.name)
    if not data_source.simulated:  # the demo market is pinned in the past; real data may hold a forming bar
        now = pd.Timestamp(getattr(data_source, "clock", time.time)(), unit="s", tz="UTC")
        frame = closed_bars(frame, tf, now)
    frame = frame.loc[_mask(frame.index, first, last)]
    if frame.empty:
        raise DataValidationError(
            f"{data_source.name} has no {tf.value} bars of {symbol!r} between {first or 'the start'} and "
            f"{last or 'the end'}. Widen the date range or check the symbol."
        )
    frame.attrs["provenance"] = provenance(data_source, symbol, tf, **meta)
    return frame


def provenance(
    data_source: DataSource, symbol: str, timeframe: Timeframe, *, from_cache: bool, cached_at: str | None, note: str
) -> dict[str, Any]:
    """The ``attrs["provenance"]`` dict; simulated sources always get the "Simulated market data" note."""
    if data_source.simulated:
        note = (
            f"Simulated market data (offline demo): {symbol} {timeframe.value} comes from PineLab's seeded "
            "market simulator, not a real market."
        )
    return {
        "source": data_source.name,
        "symbol": symbol,
        "timeframe": timeframe.value,
        "simulated": bool(data_source.simulated),
        "from_cache": from_cache,
        "cached_at": cached_at,
        "note": note,
    }


def _to_timeframe(frame: pd.DataFrame, tf: Timeframe, source_name: str) -> pd.DataFrame:
    spacing = infer_timeframe_seconds(frame)
    if spacing is None or spacing == tf.seconds:
        return frame
    if spacing < tf.seconds:
        return resample_ohlcv(frame, tf)
    raise DataValidationError(
        f"{source_name} holds bars {spacing / 3600:g} hours apart, coarser than the {tf.value} asked for. "
        "Choose that timeframe or a coarser one."
    )


def _mask(index: pd.DatetimeIndex, first: pd.Timestamp | None, last: pd.Timestamp | None) -> np.ndarray:
    keep = np.ones(len(index), dtype=bool)
    if first is not None:
        keep &= np.asarray(index >= first)
    if last is not None:
        keep &= np.asarray(index <= last)
    return keep
