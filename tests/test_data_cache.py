"""The price cache: round trip, incremental refresh, offline fallback with a visible note."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import SQLModel

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.data.cache import CacheKey, cached_bounds, last_fetch, read_bars, upsert_bars, upsert_statement
from pinelab_core.data.network import CcxtSource
from pinelab_core.errors import DataFetchError, StoreError
from pinelab_core.store import get_engine
from pinelab_core.store.tables import PriceBarRow
from tests.conftest import random_walk_ohlcv
from tests.data_fakes import FakeClock, FakeExchange, exchange_rows

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

START = pd.Timestamp("2022-01-03", tz="UTC")
HOUR_MS = 3_600_000


def _source(exchange: FakeExchange, settings: Settings, clock: FakeClock) -> CcxtSource:
    return CcxtSource("binance", settings, client_factory=lambda _id, _config: exchange,
                      sleep=clock.sleep, clock=clock.time)


def test_upsert_and_read_round_trip(settings: Settings) -> None:
    engine = get_engine(settings)
    key = CacheKey("ccxt:binance", "BTC/USDT", "1h")
    frame = random_walk_ohlcv(12_345)  # more than one chunk
    assert upsert_bars(engine, key, frame, chunk_rows=5_000) == 12_345
    pd.testing.assert_frame_equal(read_bars(engine, key), frame, check_freq=False)
    changed = frame.iloc[-3:].assign(close=lambda f: f["close"] * 1.001, high=lambda f: f["high"] * 1.01)
    upsert_bars(engine, key, changed)
    again = read_bars(engine, key)
    assert len(again) == 12_345 and again["close"].iloc[-1] == pytest.approx(changed["close"].iloc[-1])
    window = read_bars(engine, key, frame.index[10], frame.index[19])
    assert len(window) == 10 and window.index[0] == frame.index[10]
    assert cached_bounds(engine, key) == (frame.index[0], frame.index[-1])
    assert read_bars(engine, CacheKey("ccxt:binance", "ETH/USDT", "1h")).empty


def test_round_trip_with_a_named_paramstyle_driver(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL drivers take named parameters; sqlite3 can too, which exercises that path offline.
    engine = create_engine(f"sqlite:///{tmp_path / 'named.db'}", paramstyle="named")
    SQLModel.metadata.create_all(engine)
    key = CacheKey("yahoo", "AAPL", "1d")
    frame = random_walk_ohlcv(1_234, freq="1D")
    assert upsert_bars(engine, key, frame, chunk_rows=500) == 1_234
    pd.testing.assert_frame_equal(read_bars(engine, key, start=frame.index[0]), frame, check_freq=False)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_upsert_is_a_native_on_conflict_update(dialect: str) -> None:
    module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["dialect"])
    sql = str(upsert_statement(dialect).compile(dialect=module.dialect())).upper()
    assert "ON CONFLICT (SOURCE, SYMBOL, TIMEFRAME, TS) DO UPDATE SET OPEN = EXCLUDED.OPEN" in sql
    with pytest.raises(StoreError, match="supports SQLite and PostgreSQL, not mysql"):
        upsert_statement("mysql")


def test_second_load_fetches_only_the_new_bars_and_never_serves_a_forming_bar(settings: Settings) -> None:
    rows = exchange_rows(300)
    exchange = FakeExchange(rows[:200])
    clock = FakeClock(START + pd.Timedelta(hours=199, minutes=30))  # bar 199 opened 30 minutes ago
    source = _source(exchange, settings, clock)
    first = load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings)
    assert len(first) == 199 and first.attrs["provenance"]["from_cache"] is False  # the forming bar is not a bar
    with get_engine(settings).connect() as connection:
        assert connection.execute(select(func.count()).select_from(PriceBarRow)).scalar_one() == 199

    # 100 more hours pass; bar 199 has closed higher than it stood while forming.
    exchange.rows = [list(row) for row in rows]
    exchange.rows[199][4] = exchange.rows[199][2]  # close at the high
    clock.now += pd.Timedelta(hours=100, minutes=30)
    exchange.calls.clear()
    second = load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings)
    assert exchange.calls[0]["since"] == int(START.timestamp() * 1000) + 198 * HOUR_MS  # from the last cached bar
    assert len(second) == 300
    assert second["close"].iloc[199] == pytest.approx(rows[199][2])
    with get_engine(settings).connect() as connection:
        assert connection.execute(select(func.count()).select_from(PriceBarRow)).scalar_one() == 300


def test_an_incomplete_resample_bucket_is_dropped(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(48), timeframes=("1m", "1h", "1d"))
    source = _source(exchange, settings, FakeClock(START + pd.Timedelta(hours=46)))  # hours 0..45 closed
    frame = load_ohlcv("BTC/USDT", "4h", start=START, source=source, settings=settings)
    assert len(frame) == 11  # the 44:00-48:00 bucket has only two of its four hours: not a bar yet
    assert frame.index[-1] == START + pd.Timedelta(hours=40)


def test_earlier_start_backfills_before_the_cache(settings: Settings) -> None:
    rows = exchange_rows(100)
    exchange = FakeExchange(rows)
    clock = FakeClock(START + pd.Timedelta(hours=100))
    source = _source(exchange, settings, clock)
    load_ohlcv("BTC/USDT", "1h", start=START + pd.Timedelta(hours=50), source=source, settings=settings)
    exchange.calls.clear()
    frame = load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings, refresh=False)
    assert [call["since"] for call in exchange.calls] == [int(START.timestamp() * 1000)]
    assert len(frame) == 100


def test_no_refresh_serves_the_cache_and_says_so(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(50))
    source = _source(exchange, settings, FakeClock(START + pd.Timedelta(hours=50)))
    load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings)
    exchange.calls.clear()
    frame = load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings, refresh=False)
    provenance = frame.attrs["provenance"]
    assert exchange.calls == [] and len(frame) == 50
    assert provenance["from_cache"] is True and provenance["note"].startswith("Cached data from ")
    assert pd.Timestamp(provenance["cached_at"]).tzinfo is not None


def test_network_failure_falls_back_to_the_cache_with_a_note(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(50))
    clock = FakeClock(START + pd.Timedelta(hours=50))
    source = _source(exchange, settings.with_overrides(fetch_retries=1), clock)
    load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings)
    engine = get_engine(settings)
    fetched_at = last_fetch(engine, CacheKey("ccxt:binance", "BTC/USDT", "1h")).fetched_at

    exchange.failures = 99
    clock.now += pd.Timedelta(hours=5)
    frame = load_ohlcv("BTC/USDT", "1h", start=START, source=source, settings=settings)
    provenance = frame.attrs["provenance"]
    assert len(frame) == 50
    assert provenance["from_cache"] is True and provenance["simulated"] is False
    assert provenance["note"].startswith(f"Network unavailable: cached data from {fetched_at:%Y-%m-%d %H:%M} UTC")
    assert "ccxt:binance could not deliver BTC/USDT" in provenance["note"]
    record = last_fetch(engine, CacheKey("ccxt:binance", "BTC/USDT", "1h"))
    assert record.fetched_at == fetched_at and "could not deliver" in record.last_error


def test_network_failure_without_cache_raises_naming_source_and_symbol(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(5), failures=99)
    source = _source(exchange, settings.with_overrides(fetch_retries=0), FakeClock(START))
    with pytest.raises(DataFetchError, match="ccxt:binance could not deliver ETH/USDT") as info:
        load_ohlcv("ETH/USDT", "1h", start=START, source=source, settings=settings)
    assert info.value.source == "ccxt:binance" and info.value.symbol == "ETH/USDT"


def test_coarser_timeframe_is_built_from_cached_finer_bars(settings: Settings) -> None:
    exchange = FakeExchange(exchange_rows(48), timeframes=("1m", "1h", "1d"))
    source = _source(exchange, settings, FakeClock(START + pd.Timedelta(hours=48)))
    frame = load_ohlcv("BTC/USDT", "4h", start=START, source=source, settings=settings)
    assert len(frame) == 12 and {call["timeframe"] for call in exchange.calls} == {"1h"}
    assert frame.attrs["provenance"]["timeframe"] == "4h"


def test_demo_and_file_sources_are_not_cached(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    load_ohlcv("DEMO-BTC", "1h", source="demo", settings=settings)
    path = tmp_path / "bars.csv"
    random_walk_ohlcv(20).to_csv(path)
    load_ohlcv("x", "1h", source=f"file:{path}", settings=settings)
    with get_engine(settings).connect() as connection:
        assert connection.execute(select(func.count()).select_from(PriceBarRow)).scalar_one() == 0
