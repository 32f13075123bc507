"""Fresh data on auto-refreshing pages: a network market's cached bars expire on a TTL matched to the timeframe,
newer TradingView alerts reach the consensus once their bar has closed, and a watchlist reads what the detail
view reads."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.data import sources
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui import market_data

START = pd.Timestamp("2026-11-01", tz="UTC")


class Clock:
    def __init__(self, now: pd.Timestamp) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now.timestamp()


class FakeExchange:
    """A network source whose bars exist up to the clock (a random walk, the same bars every time)."""

    simulated = False
    cacheable = True

    def __init__(self, clock: Clock) -> None:
        self.name, self.clock = "fakenet", clock

    def fetch_timeframe(self, timeframe: Timeframe) -> Timeframe:
        return timeframe

    def fetch(self, symbol: str, timeframe: Timeframe, start: pd.Timestamp | None,
              end: pd.Timestamp | None) -> pd.DataFrame:
        index = pd.date_range(START, pd.Timestamp(self.clock(), unit="s", tz="UTC"), freq="1h", name="time")
        close = 100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, 10_000)[:len(index)]))
        frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                              "volume": 1.0}, index=index)
        return frame.loc[(frame.index >= start) if start is not None else slice(None)]


@pytest.fixture
def market(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(START + pd.Timedelta(days=20, minutes=30))
    monkeypatch.setitem(sources.SOURCE_REGISTRY, "fakenet", lambda _argument, _settings: FakeExchange(clock))
    monkeypatch.setattr(market_data, "_now", clock)
    market_data.clear_loaded_data()
    yield clock
    market_data.clear_loaded_data()


def _selection(symbol: str = "FAKE") -> MarketSelection:
    return MarketSelection("fakenet", symbol, Timeframe.H1)


def test_a_network_market_refreshes_on_a_ttl_matched_to_its_timeframe(market: Clock, settings: Settings) -> None:
    first = market_data.load_selection(_selection(), settings)
    assert market_data.refresh_ttl("1h") == 300 and market_data.refresh_ttl("1m") == 10
    market.now += pd.Timedelta(seconds=60)  # within the TTL: the cached frame answers
    assert market_data.load_selection(_selection(), settings).index[-1] == first.index[-1]
    market.now += pd.Timedelta(hours=1)  # a bar closed and the TTL passed: new bars, no Refresh click needed
    later = market_data.load_selection(_selection(), settings)
    assert later.index[-1] == first.index[-1] + pd.Timedelta(hours=1)
    assert "Data updated" in market_data.freshness_note(later) and "every 5 min" in market_data.freshness_note(later)
    assert pd.Timestamp(later.attrs["loaded_at"]) == market.now.floor("s")


def test_a_tradingview_alert_newer_than_the_cached_bars_reaches_the_consensus(market: Clock, settings: Settings,
                                                                              engine) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from pinelab_core.signals import run_signal_desk
    from pinelab_core.store.tables import TradingViewAlertRow

    bars = market_data.load_selection(_selection(), settings)
    received = bars.index[-1] + pd.Timedelta(hours=1, minutes=10)  # during the bar after the last closed one
    with Session(engine) as session:
        session.add(TradingViewAlertRow(dedupe_key="k1", received_at=received.to_pydatetime(), ticker="FAKE",
                                        action="BUY", market_position="long"))
        session.commit()
    market.now = received + pd.Timedelta(hours=1)  # that bar has closed; the page reruns on its timer
    fresh = market_data.load_selection(_selection(), settings)
    desk = run_signal_desk(fresh, "FAKE", "1h", engine=engine, settings=settings, sources=["tradingview"])
    calls = desk.signals[desk.signals["source"] == "tradingview"]
    assert len(calls) == 1 and pd.Timestamp(calls["time"].iloc[0]) == received.floor("h")
    assert any(c.source == "tradingview" for c in desk.aggregate.contributions)


def test_the_watchlist_and_the_detail_read_the_same_bars(market: Clock, settings: Settings) -> None:
    detail = market_data.load_selection(_selection(), settings)
    market.now += pd.Timedelta(hours=2)
    frames = market_data.load_symbols(["FAKE", "OTHER"], _selection(), settings)
    detail_now = market_data.load_selection(_selection(), settings)
    pd.testing.assert_frame_equal(frames["FAKE"], detail_now)
    assert detail_now.index[-1] > detail.index[-1]


def test_demo_data_is_pinned_and_says_so(settings: Settings) -> None:
    market_data.clear_loaded_data()
    frame = market_data.load_selection(MarketSelection("demo", "DEMO-EQUITY", Timeframe.D1), settings)
    note = market_data.freshness_note(frame)
    assert note.startswith("Data updated") and "simulated and fixed" in note
    assert datetime.now(UTC) - pd.Timestamp(frame.attrs["loaded_at"]) < pd.Timedelta(minutes=5)
