"""Names and small records shared by every layer: OHLCV columns, timeframes, actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

__all__ = [
    "symbol_key",
    "INDEX_NAME",
    "OHLCV_COLUMNS",
    "Action",
    "MarketSelection",
    "Timeframe",
]

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
INDEX_NAME = "time"


class Timeframe(StrEnum):
    """Bar sizes PineLab knows, spelled the way TradingView and ccxt spell them."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"

    @property
    def seconds(self) -> int:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[self.value[-1]]
        return int(self.value[:-1]) * unit

    @property
    def offset(self) -> pd.Timedelta:
        return pd.Timedelta(seconds=self.seconds)

    @property
    def pandas_rule(self) -> str:
        """The resample rule pandas understands for this bar size (weeks start on Monday)."""
        if self is Timeframe.W1:
            return "W-MON"
        unit = {"m": "min", "h": "h", "d": "D"}[self.value[-1]]
        return f"{self.value[:-1]}{unit}"

    @property
    def is_intraday(self) -> bool:
        return self.seconds < 86400

    @classmethod
    def parse(cls, value: str | Timeframe) -> Timeframe:
        """Parse '1h', '60m', '1H', 'D', ... into a Timeframe, with a clear error otherwise."""
        from pinelab_core.errors import DataValidationError

        if isinstance(value, Timeframe):
            return value
        text = str(value).strip()
        aliases = {"60m": "1h", "240m": "4h", "1440m": "1d", "d": "1d", "1D": "1d", "w": "1w", "1W": "1w",
                   "h": "1h", "1H": "1h", "4H": "4h", "daily": "1d", "hourly": "1h", "1wk": "1w"}
        text = aliases.get(text, aliases.get(text.lower(), text.lower()))
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise DataValidationError(f"Unknown timeframe {value!r}. Use one of: {valid}.") from None


class Action(StrEnum):
    """What a signal tells a trader to do."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"

    @property
    def direction(self) -> int:
        """+1 for BUY, -1 for SELL, 0 for HOLD."""
        return {"BUY": 1, "SELL": -1, "HOLD": 0}[self.value]


@dataclass(frozen=True)
class MarketSelection:
    """What the sidebar picked: every page works on this."""

    source: str
    symbol: str
    timeframe: Timeframe
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None


def symbol_key(symbol: str) -> str:
    """Compare tickers across spellings: 'BINANCE:BTCUSDT', 'BTC/USDT' and 'btcusdt' are one market."""
    return re.sub(r"[^A-Z0-9]", "", symbol.split(":")[-1].upper())
