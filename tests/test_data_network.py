"""Yahoo and ccxt sources against fakes: paging, rate limits, retries with backoff, clear failures."""

from __future__ import annotations

import ccxt
import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.data.network import CcxtSource, YahooSource, call_with_retries
from pinelab_core.errors import DataFetchError, DataValidationError
from pinelab_core.types import Timeframe
from tests.data_fakes import FakeClock, FakeExchange, FakeTicker, exchange_rows, yahoo_daily

START = pd.Timestamp("2022-01-03", tz="UTC")


def _ccxt(exchange: FakeExchange, settings: Settings, clock: FakeClock, **kwargs: object) -> CcxtSource:
    return CcxtSource("binance", settings, client_factory=lambda _id, _config: exchange,
                      sleep=clock.sleep, clock=clock.time, **kwargs)  # type: ignore[arg-type]


def test_ccxt_pages_with_since_and_limit(settings: Settings) -> None:
    rows = exchange_rows(2_500)
    exchange = FakeExchange(rows)
    clock = FakeClock(START + pd.Timedelta(hours=2_500))
    frame = _ccxt(exchange, settings, clock).fetch("BTC/USDT", Timeframe.H1, START, None)
    hour_ms = 3_600_000
    start_ms = int(START.timestamp() * 1000)
    # the fourth page finds nothing: at 2,500 h bar 2,500 would just be opening
    pages = [start_ms, start_ms + 1000 * hour_ms, start_ms + 2000 * hour_ms, start_ms + 2500 * hour_ms]
    assert [call["since"] for call in exchange.calls] == pages
    assert {call["limit"] for call in exchange.calls} == {1000}
    assert len(frame) == 2_500 and frame.index.is_unique
    assert frame["close"].to_numpy() == pytest.approx(np.array([row[4] for row in rows]))


def test_ccxt_stops_at_end_and_when_an_exchange_ignores_since(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(100))
    clock = FakeClock(START + pd.Timedelta(days=30))
    frame = _ccxt(exchange, settings, clock).fetch("BTC/USDT", Timeframe.H1, START, START + pd.Timedelta(hours=9))
    assert len(frame) == 10
    stubborn = FakeExchange(exchange_rows(1))
    stubborn.fetch_ohlcv = lambda *args, **kwargs: [list(stubborn.rows[0])]  # type: ignore[method-assign]
    calls = []
    original = stubborn.fetch_ohlcv
    stubborn.fetch_ohlcv = lambda *a, **k: calls.append(k) or original()  # type: ignore[method-assign]
    frame = _ccxt(stubborn, settings, clock).fetch("BTC/USDT", Timeframe.H1, START, None)
    assert len(calls) == 2 and len(frame) == 1  # the repeated page is seen, paging stops, the bar is kept once


def test_ccxt_honours_the_rate_limit_when_the_client_does_not(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(250), enable_rate_limit=False, rate_limit_ms=250)
    clock = FakeClock(START + pd.Timedelta(hours=250))
    _ccxt(exchange, settings, clock, page_limit=100).fetch("BTC/USDT", Timeframe.H1, START, None)
    assert clock.sleeps == [0.25, 0.25, 0.25]
    throttled = FakeExchange(exchange_rows(250))  # enableRateLimit: ccxt sleeps itself
    quiet = FakeClock(START + pd.Timedelta(hours=250))
    _ccxt(throttled, settings, quiet, page_limit=100).fetch("BTC/USDT", Timeframe.H1, START, None)
    assert quiet.sleeps == []


def test_ccxt_retries_network_errors_with_exponential_backoff(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(10), failures=2)
    clock = FakeClock(START + pd.Timedelta(hours=10))
    source = _ccxt(exchange, settings.with_overrides(fetch_retries=3), clock)
    frame = source.fetch("BTC/USDT", Timeframe.H1, START, None)
    assert len(frame) == 10 and clock.sleeps == [1.0, 2.0]


def test_ccxt_gives_up_naming_source_and_symbol(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(10), failures=99)
    clock = FakeClock(START + pd.Timedelta(hours=10))
    with pytest.raises(DataFetchError, match=r"ccxt:binance could not deliver BTC/USDT after 3 attempt\(s\)") as info:
        _ccxt(exchange, settings.with_overrides(fetch_retries=2), clock).fetch("BTC/USDT", Timeframe.H1, START, None)
    assert (info.value.source, info.value.symbol) == ("ccxt:binance", "BTC/USDT")
    assert clock.sleeps == [1.0, 2.0] and len(exchange.calls) == 3


def test_ccxt_bad_symbol_is_not_retried(settings: Settings) -> None:
    exchange = FakeExchange([], error=ccxt.BadSymbol("binance does not have market symbol BTC/USDX"))
    clock = FakeClock(START)
    with pytest.raises(DataFetchError, match="does not list 'BTC/USDX'"):
        _ccxt(exchange, settings, clock).fetch("BTC/USDX", Timeframe.H1, START, None)
    assert len(exchange.calls) == 1 and clock.sleeps == []


def test_ccxt_empty_answer_is_a_fetch_error(settings: Settings) -> None:
    with pytest.raises(DataFetchError, match="returned no 1h bars for 'BTC/USDT'"):
        _ccxt(FakeExchange([]), settings, FakeClock(START)).fetch("BTC/USDT", Timeframe.H1, START, None)


def test_ccxt_timeframe_falls_back_to_a_finer_divisor(settings: Settings) -> None:
    source = _ccxt(FakeExchange([], timeframes=("1m", "15m", "1h", "1d")), settings, FakeClock(START))
    assert source.fetch_timeframe(Timeframe.H4) is Timeframe.H1
    assert source.fetch_timeframe(Timeframe.D1) is Timeframe.D1
    sparse = _ccxt(FakeExchange([], timeframes=("1d",)), settings, FakeClock(START))
    with pytest.raises(DataValidationError, match="offers no timeframe to build 1h"):
        sparse.fetch_timeframe(Timeframe.H1)


def test_ccxt_client_gets_rate_limiting_and_the_timeout(settings: Settings) -> None:
    seen: dict[str, object] = {}

    def factory(exchange_id: str, config: dict[str, object]) -> FakeExchange:
        seen.update(config, id=exchange_id)
        return FakeExchange([])

    CcxtSource("Kraken", settings.with_overrides(fetch_timeout_s=7.5), client_factory=factory).client  # noqa: B018
    assert seen == {"id": "kraken", "enableRateLimit": True, "timeout": 7500}


def test_unknown_exchange_suggests_close_ids(settings: Settings) -> None:
    with pytest.raises(DataValidationError, match="ccxt does not know the exchange 'binanse'. Did you mean binance"):
        CcxtSource("binanse", settings)


def test_yahoo_labels_daily_bars_by_trading_date(settings: Settings) -> None:
    ticker = FakeTicker(yahoo_daily(30))
    clock = FakeClock(pd.Timestamp("2022-03-01", tz="UTC"))
    source = YahooSource(settings, client_factory=lambda symbol: ticker, sleep=clock.sleep, clock=clock.time)
    frame = source.fetch("AAPL", Timeframe.D1, START, None)
    assert frame.index[0] == START and frame.index.tz is not None
    assert frame["close"].iloc[0] == pytest.approx(yahoo_daily(30)["Close"].iloc[0])  # Close, not Adj Close
    call = ticker.calls[0]
    assert call["interval"] == "1d" and call["auto_adjust"] is False and call["timeout"] == settings.fetch_timeout_s


def test_yahoo_intraday_bars_are_converted_to_utc(settings: Settings) -> None:
    index = pd.date_range("2024-01-02 09:30", periods=7, freq="1h", tz="America/New_York", name="Datetime")
    table = pd.DataFrame({"Open": 10.0, "High": 11.0, "Low": 9.0, "Close": 10.5, "Volume": 100}, index=index)
    ticker = FakeTicker(table)
    source = YahooSource(settings, client_factory=lambda symbol: ticker, sleep=lambda s: None,
                         clock=lambda: pd.Timestamp("2024-01-03", tz="UTC").timestamp())
    frame = source.fetch("AAPL", Timeframe.H1, pd.Timestamp("2024-01-02", tz="UTC"), None)
    assert frame.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC") and ticker.calls[0]["interval"] == "1h"


def test_yahoo_retries_then_fails_with_source_and_symbol(settings: Settings) -> None:
    clock = FakeClock(pd.Timestamp("2022-03-01", tz="UTC"))
    flaky = FakeTicker(yahoo_daily(5), failures=1)
    YahooSource(settings, client_factory=lambda s: flaky, sleep=clock.sleep, clock=clock.time).fetch(
        "AAPL", Timeframe.D1, START, None)
    assert clock.sleeps == [1.0]
    down = FakeTicker(yahoo_daily(5), failures=99)
    with pytest.raises(DataFetchError, match="yahoo could not deliver AAPL") as info:
        YahooSource(settings, client_factory=lambda s: down, sleep=clock.sleep, clock=clock.time).fetch(
            "AAPL", Timeframe.D1, START, None)
    assert info.value.source == "yahoo" and info.value.symbol == "AAPL"


def test_yahoo_unknown_symbol_and_missing_timeframes(settings: Settings) -> None:
    source = YahooSource(settings, client_factory=lambda s: FakeTicker(None), sleep=lambda s: None)
    with pytest.raises(DataFetchError, match="returned no 1d bars for 'NOPE'.*EURUSD=X"):
        source.fetch("NOPE", Timeframe.D1, START, None)
    assert source.fetch_timeframe(Timeframe.H4) is Timeframe.H1


def test_call_with_retries_lets_programming_errors_through() -> None:
    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retries(broken, source="x", symbol="y", retries=3, sleep=lambda s: None, retry_on=(ConnectionError,))
