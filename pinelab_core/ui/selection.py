"""The market selection every page reads from `st.session_state` (the sidebar in `sidebar.py` writes it).

The sidebar widgets own these session-state keys, so a choice made on one page holds on every page.
A page run on its own (AppTest, a deep link before the sidebar rendered) falls back to the defaults
from the settings: `PINELAB_DEFAULT_SOURCE`, DEMO-EQUITY, 1d, full history.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from pinelab_core.config import Settings
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui.resources import app_settings

__all__ = ["current_selection", "default_state"]

SOURCE_KEY = "market_source"
EXCHANGE_KEY = "market_exchange"
FILE_KEY = "market_file"
SYMBOL_KEY = "market_symbol"
TIMEFRAME_KEY = "market_timeframe"
DATES_KEY = "market_dates"
UPLOAD_KEY = "market_upload"

DEFAULT_EXCHANGE = "binance"
#: Symbols offered per source; the box accepts any other symbol typed in.
SYMBOL_SUGGESTIONS: dict[str, tuple[str, ...]] = {
    "demo": ("DEMO-EQUITY", "DEMO-INDEX", "DEMO-BTC", "DEMO-ETH", "DEMO-FX"),
    "yahoo": ("AAPL", "MSFT", "SPY", "QQQ", "BTC-USD", "EURUSD=X"),
    "ccxt": ("BTC/USDT", "ETH/USDT", "SOL/USDT"),
}


def default_state(settings: Settings) -> dict[str, object]:
    """Session-state values before the trader chose anything, from `PINELAB_DEFAULT_SOURCE`."""
    kind, _, argument = settings.default_source.partition(":")
    kind = kind if kind in SYMBOL_SUGGESTIONS or kind == "file" else "demo"
    return {
        SOURCE_KEY: kind,
        EXCHANGE_KEY: argument if kind == "ccxt" and argument else DEFAULT_EXCHANGE,
        FILE_KEY: argument if kind == "file" else None,
        SYMBOL_KEY: SYMBOL_SUGGESTIONS.get(kind, SYMBOL_SUGGESTIONS["demo"])[0],
        TIMEFRAME_KEY: Timeframe.D1.value,
        DATES_KEY: (),
    }


def _state(key: str, settings: Settings) -> object:
    return st.session_state.get(key, default_state(settings)[key])


def current_selection() -> MarketSelection:
    """What the sidebar picked (or the settings' defaults when no sidebar ran)."""
    settings = app_settings()
    kind = str(_state(SOURCE_KEY, settings))
    if kind == "ccxt":
        source = f"ccxt:{str(_state(EXCHANGE_KEY, settings)).strip() or DEFAULT_EXCHANGE}"
    elif kind == "file":
        source = f"file:{_state(FILE_KEY, settings) or ''}"
    else:
        source = kind
    symbol = Path(str(_state(FILE_KEY, settings))).stem if kind == "file" else str(_state(SYMBOL_KEY, settings))
    start, end = _date_bounds(_state(DATES_KEY, settings))
    timeframe = Timeframe.parse(str(_state(TIMEFRAME_KEY, settings)))
    return MarketSelection(source=source, symbol=symbol.strip(), timeframe=timeframe, start=start, end=end)


def _date_bounds(dates: object) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """A date_input range -> [start, end] in UTC; the end date is inclusive, so it runs to that day's close."""
    chosen = list(dates) if isinstance(dates, list | tuple) else ([dates] if isinstance(dates, date) else [])
    start = pd.Timestamp(chosen[0], tz="UTC") if chosen else None
    last_day = pd.Timestamp(chosen[1], tz="UTC") if len(chosen) > 1 else None
    end = last_day + pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if last_day is not None else None
    return start, end
