"""Market data: sources (demo simulator, files, Yahoo, ccxt), validation, resampling and the price cache.

    load_ohlcv(symbol, timeframe="1d", start=None, end=None, source="auto") -> OHLCV frame
    read_ohlcv_file(path, tz=None) -> OHLCV frame
    validate_ohlcv(frame) -> OHLCV frame
    resample_ohlcv(frame, timeframe) -> OHLCV frame
    list_sources() -> [SourceInfo]
"""

from pinelab_core.data.files import read_ohlcv_file
from pinelab_core.data.loader import load_ohlcv
from pinelab_core.data.resample import resample_ohlcv
from pinelab_core.data.simulator import ANCHOR_END, DEMO_PROFILES, simulate_ohlcv
from pinelab_core.data.sources import DataSource, SourceInfo, list_sources, make_source
from pinelab_core.data.validation import validate_ohlcv

__all__ = [
    "ANCHOR_END",
    "DEMO_PROFILES",
    "DataSource",
    "SourceInfo",
    "list_sources",
    "load_ohlcv",
    "make_source",
    "read_ohlcv_file",
    "resample_ohlcv",
    "simulate_ohlcv",
    "validate_ohlcv",
]
