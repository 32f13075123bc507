"""Paper accounts fill through the execution engine: alert intake is idempotent, fills equal the backtest's,
the kill switch flattens and stops an account once, and a record for bar t is what was knowable at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session, func, select

from pinelab_core.backtest import run_backtest
from pinelab_core.live import (
    RiskLimits,
    advance_account,
    create_account,
    get_account,
    paper_report,
    replay_alerts,
    take_alerts,
)
from pinelab_core.live.intake import AlertIn
from pinelab_core.store.tables import PaperAlertRow, PaperFillRow, PaperOrderRow
from tests.conftest import random_walk_ohlcv
from tests.live_helpers import alert_stream, expected_targets, messy_delivery

COSTS = {"fees": 0.001, "slippage": 0.0002, "half_spread": 0.0001}


@pytest.mark.both_backends
def test_replaying_10000_alerts_with_5pct_duplicates_and_5pct_reordering(engine) -> None:  # type: ignore[no-untyped-def]
    bars = random_walk_ohlcv(3_000, seed=3)
    clean = alert_stream(bars.index, 10_000, seed=3)
    delivered, n_copies = messy_delivery(clean, duplicates=0.05, reordered=0.05)
    assert len(delivered) == 10_500 and n_copies == 500

    result = replay_alerts(bars, delivered, source="test", symbol="RW", timeframe="1h", engine=engine, **COSTS)
    expected = run_backtest(bars, expected_targets(bars.index, clean), **COSTS)

    assert result.n_alerts == 10_500 and result.n_duplicates == 500
    assert result.final_equity == expected.final_equity  # to the last bit
    assert result.backtest_final_equity == expected.final_equity and result.identical
    units = expected.equity["units"].to_numpy()
    assert result.n_fills == int(np.count_nonzero(np.diff(np.concatenate([[0.0], units]))))
    with Session(engine) as session:
        per_alert = session.exec(select(PaperOrderRow.alert_key, func.count()).group_by(PaperOrderRow.alert_key)
                                 .having(func.count() > 1)).all()
        per_bar = session.exec(select(PaperFillRow.bar_time, func.count()).group_by(PaperFillRow.bar_time)
                               .having(func.count() > 1)).all()
        stored = session.exec(select(func.count()).select_from(PaperAlertRow)).one()
    assert per_alert == [] and per_bar == []  # 0 duplicate orders, 0 duplicate fills
    assert stored == 10_000


def test_a_clean_and_a_messy_delivery_make_the_same_orders_and_fills(engine) -> None:  # type: ignore[no-untyped-def]
    bars = random_walk_ohlcv(400, seed=5)
    clean = alert_stream(bars.index, 600, seed=5)
    messy, _ = messy_delivery(clean, duplicates=0.2, reordered=0.3, seed=9)
    options = {**COSTS, "lot_size": 1.0, "min_order": 500.0}  # whole units, no order below 500 in cash
    first = replay_alerts(bars, clean, source="test", symbol="RW", timeframe="1h", engine=engine, **options)
    second = replay_alerts(bars, messy, source="test", symbol="RW", timeframe="1h", engine=engine, **options)
    assert (second.n_orders, second.n_fills, second.final_equity) == (first.n_orders, first.n_fills,
                                                                      first.final_equity)
    assert second.identical
    expected = run_backtest(bars, expected_targets(bars.index, clean), **options)
    assert second.final_equity == expected.final_equity
    with Session(engine) as session:
        fills = session.exec(select(PaperFillRow.units, PaperFillRow.price)).all()
    assert fills and all(float(units).is_integer() for units, _ in fills)
    assert all(abs(units) * price >= 500 for units, price in fills)  # the engine skipped orders below the minimum


def test_bar_by_bar_as_alerts_arrive_equals_a_fresh_store_with_data_ending_at_t(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.store import make_engine

    bars = random_walk_ohlcv(160, seed=11)
    alerts = alert_stream(bars.index, 220, seed=11)
    account = create_account(engine, "live", source="test", symbol="RW", timeframe="1h", strategy="alerts",
                             start=bars.index[0], **COSTS)
    for t in range(2, len(bars) + 1):  # each bar closes; its alerts (duplicated, shuffled) arrived before
        view = bars.iloc[:t]
        arrived = [a for a in alerts if a.time < view.index[-1] + pd.Timedelta(hours=1)]
        take_alerts(engine, account, list(reversed(arrived)) + arrived[-3:], view.index)
        advance_account(engine, account, view)
    live = paper_report(engine, get_account(engine, "live"), bars)
    assert live.reconciliation is not None and live.reconciliation.identical

    cut = 100  # a fresh store that only ever saw the data up to bar `cut`
    fresh_engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh = create_account(fresh_engine, "fresh", source="test", symbol="RW", timeframe="1h", strategy="alerts",
                           start=bars.index[0], **COSTS)
    view = bars.iloc[:cut]
    take_alerts(fresh_engine, fresh, [a for a in alerts if a.time < view.index[-1] + pd.Timedelta(hours=1)],
                view.index)
    advance_account(fresh_engine, fresh, view)
    then = paper_report(fresh_engine, get_account(fresh_engine, "fresh"), view)
    pd.testing.assert_frame_equal(then.equity, live.equity.loc[then.equity.index].assign(
        buy_and_hold=then.equity["buy_and_hold"]))
    pd.testing.assert_frame_equal(then.fills.reset_index(drop=True),
                                  live.fills[live.fills["bar_time"] <= view.index[-1]].reset_index(drop=True))
    fresh_engine.dispose()


def test_an_alert_for_a_bar_already_decided_is_late_and_changes_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    bars = random_walk_ohlcv(50, seed=2)
    account = create_account(engine, "late", source="test", symbol="RW", timeframe="1h", strategy="alerts",
                             start=bars.index[0])
    take_alerts(engine, account, [AlertIn("a", bars.index[5], "buy")], bars.index[:30])
    advance_account(engine, account, bars.iloc[:30])
    before = paper_report(engine, account, bars.iloc[:30])
    result = take_alerts(engine, account, [AlertIn("old", bars.index[10], "sell"), AlertIn("a", bars.index[5], "buy")],
                         bars.index[:30])
    assert (result.received, result.duplicates, result.late) == (1, 1, 1)
    advance_account(engine, account, bars.iloc[:30])
    after = paper_report(engine, account, bars.iloc[:30])
    assert after.units == before.units > 0
    assert after.orders.set_index("alert_key").loc["old", "status"] == "late"


def test_the_kill_switch_flattens_at_the_next_open_and_stops_the_account_once(engine) -> None:  # type: ignore[no-untyped-def]
    index = pd.date_range("2024-01-01", periods=60, freq="1h", tz="UTC", name="time")
    close = 100 * np.exp(np.concatenate([np.zeros(10), -0.01 * np.arange(1, 51)]))  # flat, then falls 1% a bar
    bars = pd.DataFrame({"open": close * 1.0005, "high": close * 1.002, "low": close * 0.997, "close": close,
                         "volume": 1.0}, index=index)
    account = create_account(engine, "risky", source="test", symbol="RW", timeframe="1h", strategy="alerts",
                             start=index[0], risk=RiskLimits(max_drawdown=0.05), fees=0.001)
    take_alerts(engine, account, [AlertIn("in", index[2], "buy"), AlertIn("again", index[30], "buy")], index)
    first = advance_account(engine, account, bars.iloc[:40])
    second = advance_account(engine, get_account(engine, "risky"), bars)  # a later call cannot kill twice
    killed = get_account(engine, "risky")
    assert first.killed_at is not None and second.killed_at is None
    assert killed.status == "killed" and killed.kill_time == first.killed_at
    report = paper_report(engine, killed, bars)
    kill_bar = int(index.get_loc(killed.kill_time))
    equity = report.equity
    assert equity["equity"].iloc[kill_bar] / equity["equity"].iloc[:kill_bar + 1].max() <= 0.95
    assert equity["equity"].iloc[kill_bar - 1] / equity["equity"].iloc[:kill_bar].max() > 0.95  # the first breach
    assert (equity["units"].iloc[kill_bar + 1:] == 0).all()  # flat from the next open on: the later buy is ignored
    last_fill = report.fills.iloc[-1]
    assert last_fill["bar_time"] == index[kill_bar + 1] and last_fill["side"] == "sell"
    assert report.reconciliation is not None and report.reconciliation.identical


def test_max_position_caps_what_an_alert_asks_for(engine) -> None:  # type: ignore[no-untyped-def]
    bars = random_walk_ohlcv(30, seed=4)
    account = create_account(engine, "capped", source="test", symbol="RW", timeframe="1h", strategy="alerts",
                             start=bars.index[0], risk=RiskLimits(max_position=0.25))
    take_alerts(engine, account, [AlertIn("a", bars.index[3], "buy")], bars.index)
    advance_account(engine, account, bars)
    report = paper_report(engine, account, bars)
    assert report.position == pytest.approx(0.25, rel=0.05)


def test_accounts_refuse_unknown_strategies_and_engine_stops(engine) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.errors import DataValidationError

    with pytest.raises(DataValidationError, match="Did you mean 'consensus'"):
        create_account(engine, "x", source="demo", symbol="DEMO-BTC", timeframe="1h", strategy="consensos")
    with pytest.raises(DataValidationError, match="risk limits"):
        create_account(engine, "y", source="demo", symbol="DEMO-BTC", timeframe="1h", stop_loss=0.05)
    with pytest.raises(DataValidationError, match="rl package"):
        account = create_account(engine, "z", source="demo", symbol="DEMO-BTC", timeframe="1h", strategy="rl:ppo")
        advance_account(engine, account, random_walk_ohlcv(20))
