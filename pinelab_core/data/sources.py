"""Data sources: the `DataSource` protocol, the local sources (demo, file) and the name -> source registry.

A source string is what the CLI's ``--source`` and the sidebar take:

- ``demo``: the seeded offline market simulator (any symbol),
- ``yahoo``: Yahoo Finance through yfinance,
- ``ccxt:<exchange>``: any exchange ccxt supports, e.g. ``ccxt:binance``,
- ``file:<path>``: a CSV or Parquet file,
- ``auto``: ``file:`` when the symbol is an existing file, else the configured default source.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.data.simulator import simulate_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.types import Timeframe

__all__ = [
    "DataSource",
    "DemoSource",
    "FileSource",
    "SOURCE_REGISTRY",
    "SourceInfo",
    "list_sources",
    "make_source",
]


@runtime_checkable
class DataSource(Protocol):
    """Anything that delivers OHLCV bars for a symbol.

    Attributes:
        name: the source string that selects it, e.g. "demo" or "ccxt:binance".
        simulated: True when the bars are not a real market (shown on every page).
        cacheable: True for network sources, whose bars are kept in the price cache.
    """

    name: str
    simulated: bool
    cacheable: bool

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        """Bars of `symbol` at `timeframe` between `start` and `end` (None = the source's default window)."""
        ...

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        """The timeframe to ask for to build `timeframe` bars: itself, or a finer one to resample."""
        ...


@dataclass(frozen=True)
class SourceInfo:
    """One entry of `list_sources()`."""

    name: str
    description: str
    example: str
    simulated: bool
    cached: bool


class DemoSource:
    """The offline demo market (see `pinelab_core.data.simulator`): deterministic, so never cached."""

    name = "demo"
    simulated = True
    cacheable = False

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        return simulate_ohlcv(symbol, timeframe, start, end)

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        return timeframe


class FileSource:
    """A CSV or Parquet file on disk; its own bar size, coarser timeframes are resampled from it."""

    simulated = False
    cacheable = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.name = f"file:{self.path}"

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        from pinelab_core.data.files import read_ohlcv_file

        return read_ohlcv_file(self.path)

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        return timeframe


SourceFactory = Callable[[str, Settings], DataSource]


def _demo(_argument: str, _settings: Settings) -> DataSource:
    return DemoSource()


def _file(argument: str, _settings: Settings) -> DataSource:
    if not argument:
        raise DataValidationError("The file source needs a path: use file:<path>, e.g. file:data/btc.csv.")
    return FileSource(argument)


def _yahoo(_argument: str, settings: Settings) -> DataSource:
    from pinelab_core.data.network import YahooSource

    return YahooSource(settings)


def _ccxt(argument: str, settings: Settings) -> DataSource:
    from pinelab_core.data.network import CcxtSource

    return CcxtSource(argument, settings)


#: Source scheme -> factory(argument after the colon, settings).
SOURCE_REGISTRY: dict[str, SourceFactory] = {"demo": _demo, "yahoo": _yahoo, "ccxt": _ccxt, "file": _file}

_INFO: tuple[SourceInfo, ...] = (
    SourceInfo("demo", "Seeded offline market simulator: any symbol, e.g. DEMO-EQUITY (daily), DEMO-BTC "
               "(hourly), DEMO-FX (minute). Not a real market.", "demo", True, False),
    SourceInfo("yahoo", "Yahoo Finance via yfinance: stocks, ETFs, indices, FX (EURUSD=X), crypto (BTC-USD).",
               "yahoo", False, True),
    SourceInfo("ccxt:<exchange>", "Any crypto exchange ccxt supports, public candles, e.g. BTC/USDT.",
               "ccxt:binance", False, True),
    SourceInfo("file:<path>", "A CSV or Parquet file (Yahoo, exchange, TradingView, MetaTrader, Stooq exports).",
               "file:data/prices.csv", False, False),
    SourceInfo("auto", "file:<symbol> when the symbol is an existing file, else PINELAB_DEFAULT_SOURCE.",
               "auto", False, False),
)


def list_sources() -> list[SourceInfo]:
    """The data sources PineLab knows, with a description and an example source string each."""
    return list(_INFO)


def make_source(source: str, symbol: str, settings: Settings) -> DataSource:
    """Build the source named by a source string (see the module docstring).

    Raises:
        DataValidationError: the string names no known source (the message lists the valid ones).
    """
    text = str(source).strip()
    if text.lower() == "auto":
        text = f"file:{symbol}" if _is_file(symbol) else settings.default_source
        if text.lower() == "auto":
            text = "demo"
    scheme, _, argument = text.partition(":")
    scheme = scheme.lower()
    factory = SOURCE_REGISTRY.get(scheme)
    if factory is None:
        valid = ", ".join(info.name for info in _INFO)
        close = difflib.get_close_matches(scheme, list(SOURCE_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataValidationError(f"Unknown data source {source!r}.{hint} Valid sources: {valid}.")
    if scheme == "file" and not argument and _is_file(symbol):
        argument = symbol
    return factory(argument, settings)


def _is_file(symbol: str) -> bool:
    try:
        return Path(symbol).expanduser().is_file()
    except (OSError, ValueError):
        return False
