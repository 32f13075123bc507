"""Network sources: Yahoo Finance (yfinance) and crypto exchanges (ccxt).

Both take their client from a factory argument, so tests inject fakes and never touch the network,
and both take `sleep`/`clock` callables, so backoff and rate limiting are testable without waiting.
Every failure becomes a `DataFetchError` that names the source and the symbol.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.data.resample import closed_bars
from pinelab_core.data.validation import TIME_UNIT
from pinelab_core.errors import DataFetchError, DataValidationError, PinelabError
from pinelab_core.types import INDEX_NAME, OHLCV_COLUMNS, Timeframe

__all__ = ["CcxtSource", "YahooSource", "call_with_retries", "default_window_start"]

T = TypeVar("T")
MAX_BACKOFF_S = 30.0
#: Bars fetched when no start is given: enough history to chart and train on, few enough pages to be quick.
DEFAULT_BARS = 5_000
# What Yahoo serves per interval (it refuses older intraday bars) and how it spells the interval.
_YAHOO_INTERVAL = {Timeframe.M1: "1m", Timeframe.M5: "5m", Timeframe.M15: "15m", Timeframe.M30: "30m",
                   Timeframe.H1: "1h", Timeframe.D1: "1d", Timeframe.W1: "1wk"}
_YAHOO_HISTORY = {Timeframe.M1: pd.Timedelta(days=7), Timeframe.M5: pd.Timedelta(days=59),
                  Timeframe.M15: pd.Timedelta(days=59), Timeframe.M30: pd.Timedelta(days=59),
                  Timeframe.H1: pd.Timedelta(days=729), Timeframe.D1: pd.Timedelta(days=3653),
                  Timeframe.W1: pd.Timedelta(days=7305)}


def call_with_retries(
    call: Callable[[], T],
    *,
    source: str,
    symbol: str,
    retries: int,
    sleep: Callable[[float], None],
    retry_on: tuple[type[BaseException], ...],
    base_delay_s: float = 1.0,
) -> T:
    """Run `call`, retrying `retries` times with exponential backoff (1 s, 2 s, 4 s, ...) on `retry_on`.

    Raises:
        DataFetchError: the last attempt failed too (names the source, the symbol and the cause).
    """
    for attempt in range(retries + 1):
        try:
            return call()
        except PinelabError:
            raise
        except retry_on as exc:
            if attempt == retries:
                raise DataFetchError(
                    f"{source} could not deliver {symbol} after {retries + 1} attempt(s): {type(exc).__name__}: "
                    f"{exc}. Check the network connection and retry later.",
                    source=source, symbol=symbol,
                ) from exc
            sleep(min(base_delay_s * 2**attempt, MAX_BACKOFF_S))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def default_window_start(timeframe: Timeframe, end: pd.Timestamp) -> pd.Timestamp:
    """Start of the default history (`DEFAULT_BARS` bars of `timeframe` before `end`)."""
    return end - pd.Timedelta(seconds=timeframe.seconds * DEFAULT_BARS)


class YahooSource:
    """Yahoo Finance through yfinance. Symbols as Yahoo spells them: AAPL, ^GSPC, EURUSD=X, BTC-USD."""

    name = "yahoo"
    simulated = False
    cacheable = True

    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[str], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory or _yfinance_ticker
        self._sleep = sleep
        self.clock = clock

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        # Yahoo has no 4h bars: fetch hourly ones and let load_ohlcv aggregate them.
        return timeframe if timeframe in _YAHOO_INTERVAL else Timeframe.H1

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        """Bars from Yahoo; `end` inclusive. Raises DataFetchError when Yahoo fails or returns nothing."""
        interval = _YAHOO_INTERVAL.get(timeframe)
        if interval is None:
            raise DataValidationError(f"Yahoo has no {timeframe.value} bars; ask for 1h and resample.")
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC").floor("s")
        last = min(end, now) if end is not None else now
        first = start if start is not None else last - _YAHOO_HISTORY[timeframe]
        ticker = self._client_factory(symbol)
        table = call_with_retries(
            lambda: ticker.history(
                start=first.to_pydatetime(), end=(last + timeframe.offset).to_pydatetime(), interval=interval,
                auto_adjust=False, actions=False, timeout=self.settings.fetch_timeout_s,
            ),
            source=self.name, symbol=symbol, retries=self.settings.fetch_retries, sleep=self._sleep,
            retry_on=(Exception,),
        )
        if table is None or len(table) == 0:
            raise DataFetchError(
                f"yahoo returned no {timeframe.value} bars for {symbol!r} between {first:%Y-%m-%d} and "
                f"{last:%Y-%m-%d}. Check the symbol as Yahoo spells it (AAPL, ^GSPC, EURUSD=X, BTC-USD); "
                "Yahoo keeps 1m bars for 7 days and other intraday bars for 60 days only.",
                source=self.name, symbol=symbol,
            )
        return closed_bars(_yahoo_frame(table, timeframe, symbol), timeframe, now)


def _yfinance_ticker(symbol: str) -> Any:
    import yfinance

    return yfinance.Ticker(symbol)


def _yahoo_frame(table: pd.DataFrame, timeframe: Timeframe, symbol: str) -> pd.DataFrame:
    columns = {str(column).lower(): column for column in table.columns}
    missing = [name for name in OHLCV_COLUMNS if name not in columns]
    if missing:
        raise DataFetchError(
            f"yahoo answered {symbol!r} without the column(s) {', '.join(missing)}; retry later.",
            source="yahoo", symbol=symbol,
        )
    index = pd.DatetimeIndex(table.index)
    if not timeframe.is_intraday:
        # Daily and weekly bars are dated in the exchange's zone; label them by their trading date at 00:00 UTC.
        index = index.tz_localize(None) if index.tz is not None else index
        index = index.normalize().tz_localize("UTC")
    else:
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    frame = pd.DataFrame({name: table[columns[name]].to_numpy(dtype=np.float64) for name in OHLCV_COLUMNS},
                         index=index.rename(INDEX_NAME))
    frame["volume"] = frame["volume"].fillna(0.0)
    return frame.dropna(subset=["open", "high", "low", "close"], how="all")


class CcxtSource:
    """Public candles from any exchange ccxt supports, paged with `since`/`limit` under its rate limit."""

    simulated = False
    cacheable = True

    def __init__(
        self,
        exchange_id: str,
        settings: Settings,
        client_factory: Callable[[str, dict[str, Any]], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        page_limit: int = 1000,
    ) -> None:
        self.exchange_id = _checked_exchange_id(exchange_id)
        self.name = f"ccxt:{self.exchange_id}"
        self.settings = settings
        self.page_limit = page_limit
        self._client_factory = client_factory or _ccxt_exchange
        self._sleep = sleep
        self.clock = clock
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The exchange object, built on first use with rate limiting on and the configured timeout."""
        if self._client is None:
            config = {"enableRateLimit": True, "timeout": int(self.settings.fetch_timeout_s * 1000)}
            self._client = self._client_factory(self.exchange_id, config)
        return self._client

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        """`timeframe` if the exchange serves it, else the coarsest served timeframe that divides it."""
        offered = set(getattr(self.client, "timeframes", None) or {})
        if not offered or timeframe.value in offered:
            return timeframe
        finer = [tf for tf in Timeframe if tf.value in offered and tf.seconds < timeframe.seconds
                 and timeframe.seconds % tf.seconds == 0]
        if not finer:
            raise DataValidationError(
                f"{self.name} offers no timeframe to build {timeframe.value} bars from "
                f"(it offers {', '.join(sorted(offered))}). Choose one of those."
            )
        return max(finer, key=lambda tf: tf.seconds)

    def fetch(
        self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame:
        """All bars in [start, end], page by page; raises DataFetchError naming the exchange and symbol."""
        step_ms = timeframe.seconds * 1000
        now = pd.Timestamp(self.clock(), unit="s", tz="UTC").floor("s")
        last = min(end, now) if end is not None else now
        first = start if start is not None else default_window_start(timeframe, last)
        end_ms, since = int(last.timestamp() * 1000), int(first.timestamp() * 1000)
        rows: list[list[Any]] = []
        while since <= end_ms:
            batch = self._page(symbol, timeframe, since)
            if not batch:
                break
            rows.extend(batch)
            newest = int(batch[-1][0])
            if newest < since:  # an exchange that ignores `since` would loop forever
                break
            since = newest + step_ms
            self._pause_between_pages()
        if not rows:
            raise DataFetchError(
                f"{self.name} returned no {timeframe.value} bars for {symbol!r} from {first:%Y-%m-%d %H:%M}. "
                "Check the symbol (ccxt spells pairs like BTC/USDT) and the date range.",
                source=self.name, symbol=symbol,
            )
        return closed_bars(_ccxt_frame(rows, end_ms), timeframe, now)

    def _page(self, symbol: str, timeframe: Timeframe, since: int) -> list[list[Any]]:
        import ccxt

        try:
            return call_with_retries(
                lambda: self.client.fetch_ohlcv(symbol, timeframe.value, since=since, limit=self.page_limit),
                source=self.name, symbol=symbol, retries=self.settings.fetch_retries, sleep=self._sleep,
                retry_on=(ccxt.NetworkError, TimeoutError, ConnectionError),
            )
        except ccxt.BadSymbol as exc:
            raise DataFetchError(
                f"{self.name} does not list {symbol!r} ({exc}). Spell pairs as the exchange does, e.g. BTC/USDT.",
                source=self.name, symbol=symbol,
            ) from exc
        except ccxt.BaseError as exc:
            raise DataFetchError(
                f"{self.name} refused the request for {symbol!r}: {type(exc).__name__}: {exc}. Retry later.",
                source=self.name, symbol=symbol,
            ) from exc

    def _pause_between_pages(self) -> None:
        # With enableRateLimit ccxt throttles itself; a client without it gets the pause from us.
        if not getattr(self.client, "enableRateLimit", False):
            self._sleep(float(getattr(self.client, "rateLimit", 1000)) / 1000.0)


def _checked_exchange_id(exchange_id: str) -> str:
    import ccxt

    wanted = exchange_id.strip().lower()
    if wanted in ccxt.exchanges:
        return wanted
    close = difflib.get_close_matches(wanted, ccxt.exchanges, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    if not wanted:
        raise DataValidationError("ccxt needs an exchange: use ccxt:<exchange>, e.g. ccxt:binance or ccxt:kraken.")
    raise DataValidationError(
        f"ccxt does not know the exchange {exchange_id!r}.{hint} Use ccxt:<exchange> with an id such as "
        "binance, kraken, coinbase, bybit, okx (`python -c 'import ccxt; print(ccxt.exchanges)'` lists all)."
    )


def _ccxt_exchange(exchange_id: str, config: dict[str, Any]) -> Any:
    import ccxt

    return getattr(ccxt, exchange_id)(config)


def _ccxt_frame(rows: list[list[Any]], end_ms: int) -> pd.DataFrame:
    table = pd.DataFrame([row[:6] for row in rows], columns=["ts", *OHLCV_COLUMNS])
    table = table.loc[table["ts"] <= end_ms]
    index = pd.DatetimeIndex(pd.to_datetime(table["ts"].astype("int64"), unit="ms", utc=True), name=INDEX_NAME)
    frame = pd.DataFrame(
        {name: pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64) for name in OHLCV_COLUMNS},
        index=index.as_unit(TIME_UNIT),
    )
    # Some exchanges send null volume for quiet bars; zero is what happened.
    frame["volume"] = frame["volume"].fillna(0.0)
    return frame.loc[~frame.index.duplicated(keep="last")]
