"""Offline stand-ins for ccxt exchanges and yfinance tickers, shared by the data tests."""

from __future__ import annotations

from typing import Any

import ccxt
import pandas as pd

from tests.conftest import random_walk_ohlcv


def exchange_rows(n: int, *, seed: int = 0, freq: str = "1h") -> list[list[float]]:
    """`n` ccxt-style rows [epoch ms, open, high, low, close, volume] of a random walk."""
    frame = random_walk_ohlcv(n, seed=seed, freq=freq)
    stamps = frame.index.as_unit("ms").asi8.tolist()
    values = frame.to_numpy().tolist()
    return [[float(ms), *row] for ms, row in zip(stamps, values, strict=True)]


class FakeExchange:
    """Serves `rows` like ccxt's fetch_ohlcv; fails the first `failures` calls with a network error."""

    def __init__(
        self,
        rows: list[list[float]],
        *,
        timeframes: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d", "1w"),
        failures: int = 0,
        error: Exception | None = None,
        enable_rate_limit: bool = True,
        rate_limit_ms: int = 50,
    ) -> None:
        self.rows = rows
        self.timeframes = {tf: tf for tf in timeframes}
        self.failures = failures
        self.error = error
        self.enableRateLimit = enable_rate_limit
        self.rateLimit = rate_limit_ms
        self.calls: list[dict[str, Any]] = []

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None) -> list:
        self.calls.append({"symbol": symbol, "timeframe": timeframe, "since": since, "limit": limit})
        if self.error is not None:
            raise self.error
        if self.failures > 0:
            self.failures -= 1
            raise ccxt.RequestTimeout("binance GET https://api.binance.com/api/v3/klines timed out")
        selected = [row for row in self.rows if since is None or row[0] >= since]
        return [list(row) for row in selected[: limit or len(selected)]]


class FakeClock:
    """A clock the test moves by hand, and a sleep that only records."""

    def __init__(self, now: pd.Timestamp) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class FakeTicker:
    """Answers yfinance's Ticker.history with a frame shaped like Yahoo's (exchange-zone index, Adj Close)."""

    def __init__(self, frame: pd.DataFrame | None, failures: int = 0) -> None:
        self.frame = frame
        self.failures = failures
        self.calls: list[dict[str, Any]] = []

    def history(self, **kwargs: Any) -> pd.DataFrame:
        self.calls.append(kwargs)
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")
        return pd.DataFrame() if self.frame is None else self.frame.copy()


def yahoo_daily(n: int = 30) -> pd.DataFrame:
    """Daily bars the way yfinance returns them: dated at midnight New York time."""
    frame = random_walk_ohlcv(n, seed=5, freq="1D")
    index = pd.DatetimeIndex(frame.index.tz_localize(None).tz_localize("America/New_York"), name="Date")
    out = frame.rename(columns=str.title).set_axis(index)
    out.insert(4, "Adj Close", out["Close"] * 0.99)
    return out
