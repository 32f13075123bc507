"""Alert intake: each alert becomes at most one order, keyed by alert and bar, through the position state machine.

1. `take_alerts` stores each alert once per account (`paper_alert`, unique on the alert's key): a re-sent
   alert is a duplicate and is dropped there. Its bar is the bar in progress when it arrived; it is decided at
   that bar's close and fills at the next open. An alert for a bar the account has already decided is *late*:
   it is kept for the record (an order row with status `late`) and changes nothing.
2. At a bar's close `alert_decisions` runs that bar's alerts in time order (then by key) through
   `positions.transition`. An alert that asks for the state the account is in makes no order (`unchanged`).
   So duplicates never double a position and the arrival order of the alerts inside a bar never matters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from pinelab_core.errors import DataValidationError
from pinelab_core.live.accounts import PaperAccount
from pinelab_core.live.db import insert_ignore, table_of, to_timestamp
from pinelab_core.live.positions import FLAT, PositionState, parse_action, transition
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import PaperAlertRow, PaperDecisionRow, PaperOrderRow, TradingViewAlertRow
from pinelab_core.types import Timeframe

__all__ = ["AlertIn", "IntakeResult", "alert_decisions", "last_state", "sync_tradingview_alerts", "take_alerts"]

_ORDER_KEY = ("account_id", "alert_key", "bar_time")


@dataclass(frozen=True)
class AlertIn:
    """An alert for a paper account: a unique key (the sender's id), when it arrived, buy/sell/flat, a size."""

    key: str
    time: pd.Timestamp
    action: str
    size: float | None = None
    price: float | None = None


@dataclass(frozen=True)
class IntakeResult:
    received: int  # new alerts stored
    duplicates: int  # alerts whose key this account had already taken
    late: int  # stored, but for a bar the account had already decided: no effect


def take_alerts(engine: Engine, account: PaperAccount, alerts: Iterable[AlertIn],
                bars: pd.DatetimeIndex) -> IntakeResult:
    """Store `alerts` for `account` (once per key) on the bar in progress at each one's time.

    Args:
        engine: the store.
        account: the paper account (any strategy; only the alert strategies act on them).
        alerts: the alerts, in any order, duplicates allowed.
        bars: the market's bar times known now; an alert after the last one is placed on the bar grid beyond.

    Raises:
        DataValidationError: an alert with an unknown action, a bad size, or a time before the first bar.
    """
    rows = [_alert_row(account, alert, bars) for alert in alerts]
    received = late = 0
    with write_transaction(engine, lock=f"paper:{account.id}") as connection:
        decided_through = _last_decided(connection, account.id)
        inserted = set(insert_ignore(connection, PaperAlertRow, rows, ("account_id", "alert_key"), returning=True))
        received = len(inserted)
        if decided_through is not None and inserted:
            stale = connection.execute(select(table_of(PaperAlertRow)).where(
                table_of(PaperAlertRow).c.id.in_(inserted),
                table_of(PaperAlertRow).c.bar_time <= decided_through.to_pydatetime())).all()
            state = last_state(connection, account.id)
            insert_ignore(connection, PaperOrderRow, [
                {"account_id": account.id, "alert_key": row.alert_key, "bar_time": row.bar_time,
                 "from_state": state.label, "to_state": state.label, "target": None, "status": "late"}
                for row in stale], _ORDER_KEY)
            late = len(stale)
    return IntakeResult(received, len(rows) - received, late)


def sync_tradingview_alerts(engine: Engine, account: PaperAccount, bars: pd.DatetimeIndex) -> IntakeResult:
    """Take the webhook's stored TradingView alerts for the account's symbol whose bar the data has reached."""
    from pinelab_core.signals import symbol_key

    if len(bars) == 0:
        return IntakeResult(0, 0, 0)
    end = bars[-1] + Timeframe.parse(account.timeframe).offset
    with Session(engine) as session:
        rows = session.execute(select(TradingViewAlertRow).where(
            col(TradingViewAlertRow.received_at) >= bars[0].to_pydatetime(),
            col(TradingViewAlertRow.received_at) < end.to_pydatetime())).scalars().all()
    key = symbol_key(account.symbol)
    alerts = [AlertIn(row.dedupe_key, to_timestamp(row.received_at), _tradingview_action(row), None, row.price)
              for row in rows if symbol_key(row.ticker) == key]
    return take_alerts(engine, account, alerts, bars)


def _tradingview_action(row: TradingViewAlertRow) -> str:
    """The strategy's position after the order when it was sent (like the signal source), else the action."""
    position = (row.market_position or "").lower()
    if position in ("long", "short", "flat"):
        return {"long": "buy", "short": "sell", "flat": "flat"}[position]
    return parse_action(row.action)


def alert_decisions(connection: Connection, account: PaperAccount, new_bars: pd.DatetimeIndex,
                    max_position: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Decision rows for `new_bars` and the order rows of their alerts, the state machine run in time order."""
    if len(new_bars) == 0:
        return [], []
    table = table_of(PaperAlertRow)
    alerts = connection.execute(select(table).where(
        table.c.account_id == account.id, table.c.bar_time >= new_bars[0].to_pydatetime(),
        table.c.bar_time <= new_bars[-1].to_pydatetime()).order_by(table.c.alert_time, table.c.alert_key)).all()
    by_bar: dict[pd.Timestamp, list[Any]] = {}
    for alert in alerts:
        by_bar.setdefault(to_timestamp(alert.bar_time), []).append(alert)
    state = last_state(connection, account.id)
    decisions, orders = [], []
    for bar in new_bars:
        before = state
        for alert in by_bar.get(bar, []):
            after = transition(state, alert.action, alert.size, allow_short=account.allow_short)
            changed = after != state
            orders.append({"account_id": account.id, "alert_key": alert.alert_key, "bar_time": bar.to_pydatetime(),
                           "from_state": state.label, "to_state": after.label,
                           "target": after.target if changed else None, "status": "order" if changed else "unchanged"})
            state = after
        target = None if state == before else float(np.clip(state.target, -max_position, max_position))
        decisions.append({"account_id": account.id, "bar_time": bar.to_pydatetime(), "target": target,
                          "reason": "alerts" if target is not None else ""})
    return decisions, orders


def last_state(connection: Connection, account_id: int) -> PositionState:
    """The state machine's state after the account's last order (flat before any)."""
    table = table_of(PaperOrderRow)
    row = connection.execute(select(table.c.target).where(table.c.account_id == account_id, table.c.status == "order")
                             .order_by(table.c.bar_time.desc(), table.c.id.desc()).limit(1)).first()
    if row is None or row[0] is None or row[0] == 0:
        return FLAT
    return PositionState(1 if row[0] > 0 else -1, abs(float(row[0])))


def _last_decided(connection: Connection, account_id: int) -> pd.Timestamp | None:
    table = table_of(PaperDecisionRow)
    row = connection.execute(select(table.c.bar_time).where(table.c.account_id == account_id)
                             .order_by(table.c.bar_time.desc()).limit(1)).first()
    return to_timestamp(row[0]) if row is not None else None


def _alert_row(account: PaperAccount, alert: AlertIn, bars: pd.DatetimeIndex) -> dict[str, Any]:
    action = parse_action(alert.action)
    if alert.size is not None and not 0.0 < float(alert.size) <= 1.0:
        raise DataValidationError(f"Alert {alert.key!r}: size {alert.size} must be a fraction of equity in (0, 1].")
    time = to_timestamp(alert.time).floor("us")  # the store keeps microseconds
    if len(bars) == 0 or time < bars[0]:
        raise DataValidationError(f"Alert {alert.key!r} at {time} comes before the market's first bar; load a longer "
                                  "history or drop it.")
    position = int(bars.as_unit("ns").searchsorted(time.as_unit("ns"), side="right")) - 1
    bar = bars[position]
    step = Timeframe.parse(account.timeframe).offset
    if position == len(bars) - 1 and time >= bar + step:  # beyond the data: the bar in progress on the grid
        bar = bar + step * int((time - bar) // step)
    return {"account_id": account.id, "alert_key": str(alert.key)[:128], "alert_time": time.to_pydatetime(),
            "bar_time": bar.to_pydatetime(), "action": action,
            "size": None if alert.size is None else float(alert.size), "price": alert.price}
