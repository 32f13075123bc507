"""Advancing a paper account: decide at each new bar's close, fill through the execution engine, mark, kill.

`advance_account(engine, account, ohlcv)` is all a caller (the scheduler, the CLI, a test) needs:

1. Under the account's write lock, decide every bar the account has not decided yet: its follower's target
   (or the alerts' state machine), clipped to the risk limits' `max_position`; one decision row per bar, once.
2. Replay the decisions through `backtest.Stepper` from the account's first bar. The Stepper runs the engine's
   own loop body, so the fills and equity are exactly those of `run_backtest` on the same decisions.
3. The kill switch: the first new bar whose close breaches the daily-loss or drawdown limit turns the decision
   at that close into flat (filled at the next open) and stops the account, once (`WHERE status = 'active'`).
   The equity at a bar's close never depends on the decision taken at it, so the breach found on the first
   run is the breach of the final one.
4. Fills and marks of the bars not recorded yet are stored once per (account, bar).

Nothing is ever sent to a broker or an exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from pinelab_core.backtest import Stepper
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.live.accounts import PaperAccount, get_account
from pinelab_core.live.db import insert_ignore, table_of, to_timestamp
from pinelab_core.live.followers import ALERT_STRATEGIES, FollowContext, strategy_targets
from pinelab_core.live.intake import alert_decisions, sync_tradingview_alerts
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import (
    PaperAccountRow,
    PaperDecisionRow,
    PaperEquityRow,
    PaperFillRow,
    PaperOrderRow,
)

__all__ = ["AdvanceResult", "EngineRun", "account_bars", "account_targets", "advance_account", "engine_run"]


@dataclass(frozen=True)
class AdvanceResult:
    """What one `advance_account` call did."""

    account: PaperAccount
    new_decisions: int
    new_fills: int
    new_marks: int
    killed_at: pd.Timestamp | None  # set when this call tripped the kill switch


@dataclass(frozen=True)
class EngineRun:
    """The Stepper's account after every bar: equity, cash and units at each close."""

    bars: pd.DataFrame
    equity: np.ndarray
    cash: np.ndarray
    units: np.ndarray
    stepper: Stepper


def account_bars(account: PaperAccount, ohlcv: pd.DataFrame) -> pd.DataFrame:
    """The bars the account trades: from its first bar on."""
    if account.start_time is None:
        return ohlcv
    return ohlcv.loc[ohlcv.index >= account.start_time]


def advance_account(engine: Engine, account: PaperAccount, ohlcv: pd.DataFrame, *,
                    settings: Settings | None = None) -> AdvanceResult:
    """Decide, fill and mark every bar of `ohlcv` (closed bars only) the account has not processed yet."""
    if account.start_time is None:  # an account opened "now" decides from the newest bar it first sees
        account = _pin_start(engine, account, ohlcv.index[-1])
    bars = account_bars(account, ohlcv)
    if len(bars) < 2:
        return AdvanceResult(account, 0, 0, 0, None)
    if account.strategy == "tradingview" and account.status == "active":
        sync_tradingview_alerts(engine, account, bars.index)
    # A follower may read the store and compute signals: done before the write lock is taken, never inside it.
    wanted = _wanted(engine, account, bars, settings) if account.status == "active" else None
    with write_transaction(engine, lock=f"paper:{account.id}") as connection:
        new_decisions = _decide(connection, account, bars, wanted) if account.status == "active" else 0
        decisions = _decisions(connection, account.id)
        recorded_through = _last_mark(connection, account.id)
    targets = account_targets(account, bars.index, decisions)
    run = engine_run(account, bars, targets)
    fresh = bars.index > recorded_through if recorded_through is not None else np.ones(len(bars), dtype=bool)
    killed_at = None
    if account.status == "active":
        killed_at = _first_breach(account, run, fresh)
        if killed_at is not None:
            account = _kill(engine, account, killed_at, run)
            targets = account_targets(account, bars.index, decisions)
            run = engine_run(account, bars, targets)
    fills, marks = _records(account, run, fresh)
    with write_transaction(engine, lock=f"paper:{account.id}") as connection:
        insert_ignore(connection, PaperFillRow, fills, ("account_id", "bar_time"))
        insert_ignore(connection, PaperEquityRow, marks, ("account_id", "bar_time"))
    return AdvanceResult(account, new_decisions, len(fills), len(marks), killed_at)


def account_targets(account: PaperAccount, index: pd.DatetimeIndex, decisions: pd.Series) -> pd.Series:
    """The decisions as engine targets on `index`: after a kill, flat at the kill bar and nothing more."""
    targets = decisions.reindex(index).astype(float)
    if account.kill_time is not None:
        targets[index == account.kill_time] = 0.0
        targets[index > account.kill_time] = np.nan
    return targets


def engine_run(account: PaperAccount, bars: pd.DataFrame, targets: pd.Series) -> EngineRun:
    """Step the execution engine through `bars` with `targets` decided at each close."""
    stepper = Stepper(bars, **account.engine_options)
    n = len(bars)
    equity, cash, units = np.empty(n), np.empty(n), np.empty(n)
    for i, target in enumerate(targets.to_numpy(dtype=float)):
        step = stepper.step(None if np.isnan(target) else float(target))
        equity[i], cash[i], units[i] = step.equity, step.cash, step.units
    return EngineRun(bars, equity, cash, units, stepper)


def _wanted(engine: Engine, account: PaperAccount, bars: pd.DataFrame, settings: Settings | None) -> pd.Series | None:
    """The follower's capped targets on `bars` (None for the alert strategies, decided under the lock)."""
    if account.strategy in ALERT_STRATEGIES:
        return None
    context = FollowContext(bars, account.symbol, account.timeframe, account.data_source, "", account.sizing, engine,
                            settings)
    cap = account.risk.max_position
    return strategy_targets(account.strategy, context).clip(-cap, cap)


def _decide(connection: Connection, account: PaperAccount, bars: pd.DataFrame, wanted: pd.Series | None) -> int:
    """Write the decision (and order) rows of the bars after the last decided one; returns how many."""
    table = table_of(PaperDecisionRow)
    last = connection.execute(select(table.c.bar_time).where(table.c.account_id == account.id)
                              .order_by(table.c.bar_time.desc()).limit(1)).scalar()
    new_bars = bars.index[bars.index > to_timestamp(last)] if last is not None else bars.index
    if len(new_bars) == 0:
        return 0
    if wanted is None:
        decisions, orders = alert_decisions(connection, account, new_bars, account.risk.max_position)
    else:
        decisions, orders = _strategy_rows(connection, account, wanted.loc[new_bars])
    insert_ignore(connection, PaperDecisionRow, decisions, ("account_id", "bar_time"))
    insert_ignore(connection, PaperOrderRow, orders, ("account_id", "alert_key", "bar_time"))
    return len(decisions)


def _strategy_rows(connection: Connection, account: PaperAccount,
                   wanted: pd.Series) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Decision rows, and an order row wherever the decided target changes."""
    table = table_of(PaperDecisionRow)
    previous = connection.execute(select(table.c.target).where(table.c.account_id == account.id,
                                                               table.c.target.is_not(None))
                                  .order_by(table.c.bar_time.desc()).limit(1)).scalar()
    current = 0.0 if previous is None else float(previous)
    decisions, orders = [], []
    for bar, value in wanted.items():
        target = None if np.isnan(value) else float(value)
        decisions.append({"account_id": account.id, "bar_time": bar.to_pydatetime(), "target": target,
                          "reason": account.strategy if target is not None else ""})
        if target is not None and target != current:
            orders.append({"account_id": account.id, "alert_key": account.strategy[:128],
                           "bar_time": bar.to_pydatetime(),
                           "from_state": f"{current:+g}", "to_state": f"{target:+g}", "target": target,
                           "status": "order"})
            current = target
    return decisions, orders


def _decisions(connection: Connection, account_id: int) -> pd.Series:
    table = table_of(PaperDecisionRow)
    rows = connection.execute(select(table.c.bar_time, table.c.target).where(table.c.account_id == account_id)).all()
    if not rows:
        return pd.Series(dtype=float)
    index = pd.DatetimeIndex([to_timestamp(r[0]) for r in rows])
    return pd.Series([np.nan if r[1] is None else float(r[1]) for r in rows], index=index).sort_index()


def _last_mark(connection: Connection, account_id: int) -> pd.Timestamp | None:
    table = table_of(PaperEquityRow)
    last = connection.execute(select(table.c.bar_time).where(table.c.account_id == account_id)
                              .order_by(table.c.bar_time.desc()).limit(1)).scalar()
    return to_timestamp(last) if last is not None else None


def _first_breach(account: PaperAccount, run: EngineRun, fresh: np.ndarray) -> pd.Timestamp | None:
    """The first not-yet-recorded bar whose close breaches the daily-loss or drawdown limit (None if none)."""
    limits = account.risk
    if limits.max_daily_loss is None and limits.max_drawdown is None:
        return None
    equity = pd.Series(run.equity, index=run.bars.index)
    breach = np.zeros(len(equity), dtype=bool)
    if limits.max_drawdown is not None:
        peak = np.maximum.accumulate(np.maximum(equity.to_numpy(), account.init_cash))
        breach |= equity.to_numpy() <= peak * (1.0 - limits.max_drawdown)
    if limits.max_daily_loss is not None:
        day = equity.index.floor("D")
        last_of_day = equity.groupby(day).last()
        start_of_day = pd.Series(last_of_day.shift(1).fillna(account.init_cash).to_numpy(), index=last_of_day.index)
        breach |= equity.to_numpy() <= start_of_day.reindex(day).to_numpy() * (1.0 - limits.max_daily_loss)
    hits = np.flatnonzero(breach & fresh)
    return None if len(hits) == 0 else run.bars.index[hits[0]]


def _kill(engine: Engine, account: PaperAccount, at: pd.Timestamp, run: EngineRun) -> PaperAccount:
    """Trip the kill switch at bar `at`, once: the decision there becomes flat and the account stops."""
    position = int(run.bars.index.get_loc(at))
    peak = max(float(np.max(run.equity[:position + 1])), account.init_cash)
    reason = (f"equity {run.equity[position]:,.2f} at {at:%Y-%m-%d %H:%M} UTC breached a risk limit "
              f"(peak {peak:,.2f}; limits: daily loss {account.risk.max_daily_loss}, "
              f"drawdown {account.risk.max_drawdown}); flattened at the next open")
    accounts, decisions = table_of(PaperAccountRow), table_of(PaperDecisionRow)
    with write_transaction(engine, lock=f"paper:{account.id}") as connection:
        still_active = (accounts.c.id == account.id) & (accounts.c.status == "active")
        tripped = connection.execute(update(accounts).where(still_active).values(
            status="killed", kill_time=at.to_pydatetime(), kill_reason=reason)).rowcount
        if tripped:
            connection.execute(update(decisions).where(decisions.c.account_id == account.id,
                                                       decisions.c.bar_time == at.to_pydatetime())
                               .values(target=0.0, reason="kill switch", decided_at=datetime.now(UTC)))
            insert_ignore(connection, PaperOrderRow, [{
                "account_id": account.id, "alert_key": "kill switch", "bar_time": at.to_pydatetime(),
                "from_state": f"{run.units[position]:+g} units", "to_state": "flat", "target": 0.0,
                "status": "order"}], ("account_id", "alert_key", "bar_time"))
    return get_account(engine, account.id)


def _records(account: PaperAccount, run: EngineRun, fresh: np.ndarray) -> tuple[list[dict], list[dict]]:
    """Fill rows (where the units changed) and equity marks of the fresh bars."""
    bars, options = run.bars, account.engine_options
    fees, fixed = float(options.get("fees", 0.0)), float(options.get("fixed_fee", 0.0))
    units_before = np.concatenate([[0.0], run.units[:-1]])
    cash_before = np.concatenate([[account.init_cash], run.cash[:-1]])
    opens, closes = bars["open"].to_numpy(), bars["close"].to_numpy()
    fills, marks = [], []
    for i in np.flatnonzero(fresh):
        time = bars.index[i].to_pydatetime()
        marks.append({"account_id": account.id, "bar_time": time, "equity": float(run.equity[i]),
                      "cash": float(run.cash[i]), "units": float(run.units[i]), "close": float(closes[i])})
        delta = float(run.units[i] - units_before[i])
        if delta == 0.0 or i == 0:
            continue
        orders = 2 if units_before[i] * run.units[i] < 0 else 1  # a reversal is two legs at one price
        spent = float(cash_before[i] - run.cash[i]) - orders * fixed
        price = spent / (delta + fees * abs(delta))  # cash moves by units x price plus fees on the notional
        fills.append({"account_id": account.id, "bar_time": time, "units": delta, "price": price,
                      "reference_price": float(opens[i]), "decision_price": float(closes[i - 1]),
                      "fees": abs(delta) * price * fees + orders * fixed, "position_after": float(run.units[i])})
    return fills, marks


def _pin_start(engine: Engine, account: PaperAccount, first: pd.Timestamp) -> PaperAccount:
    """Fix the first bar of an account opened without one (the newest bar), so later frames replay the same bars."""
    table = table_of(PaperAccountRow)
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == account.id, table.c.start_time.is_(None))
                           .values(start_time=first.to_pydatetime()))
    refreshed = get_account(engine, account.id)
    if refreshed.start_time is None:
        raise DataValidationError(f"Could not set the first bar of paper account {account.name}.")
    return refreshed
