"""Replay a file of alerts through a fresh paper account and a backtest of the same decisions.

`pinelab paper replay --alerts FILE` calls `replay_alerts`: every alert goes through the account's intake
(duplicates dropped by key, the state machine in time order), the account is advanced bar by bar through the
`Stepper`, and the decisions it took are run through `run_backtest`. Both final equities are reported; they
are equal by construction, and the test suite holds them to it with duplicated and reordered alerts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from pinelab_core.errors import DataValidationError
from pinelab_core.live.accounts import create_account
from pinelab_core.live.intake import AlertIn, take_alerts
from pinelab_core.live.paper import advance_account
from pinelab_core.live.report import paper_report
from pinelab_core.store.tables import PaperOrderRow

__all__ = ["ReplayResult", "read_alerts_csv", "replay_alerts"]


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did and earned (`pinelab paper replay --json` prints these fields)."""

    n_alerts: int  # rows read
    n_duplicates: int  # rows whose id had been seen
    n_late: int
    n_orders: int  # alerts that changed the position
    n_fills: int
    final_equity: float
    backtest_final_equity: float
    identical: bool


def read_alerts_csv(path: str | Path) -> list[AlertIn]:
    """Alerts from a CSV with columns `id`, `time`, `action` (buy/sell/flat) and optional `size` and `price`.

    Raises:
        DataValidationError: the file is missing, lacks a column, or has a bad time or action (row named).
    """
    from pinelab_core.data.timeparse import parse_bar_times
    from pinelab_core.live.positions import parse_action

    try:
        table = pd.read_csv(path, dtype={"id": str, "action": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(f"Cannot read the alerts file {path}: {exc}.") from exc
    missing = [c for c in ("id", "time", "action") if c not in table.columns]
    if missing:
        raise DataValidationError(f"The alerts file {path} lacks the column(s) {', '.join(missing)}: it needs "
                                  "id, time, action (buy/sell/flat) and optionally size.")
    times = parse_bar_times(table["time"], where=f"alerts file {path}")
    alerts = []
    for line, (key, time, action) in enumerate(zip(table["id"], times, table["action"], strict=True), start=2):
        try:
            parse_action(str(action))
        except DataValidationError as exc:
            raise DataValidationError(f"{path} line {line}: {exc}") from exc
        alerts.append(AlertIn(str(key), pd.Timestamp(time), str(action), _number(table, "size", line - 2),
                              _number(table, "price", line - 2)))
    return alerts


def _number(table: pd.DataFrame, column: str, row: int) -> float | None:
    """An optional numeric column's value (None when the column or the value is missing)."""
    if column not in table.columns or pd.isna(table[column].iloc[row]):
        return None
    return float(table[column].iloc[row])


def replay_alerts(ohlcv: pd.DataFrame, alerts: Sequence[AlertIn], *, source: str, symbol: str, timeframe: str,
                  engine: Engine | None = None, init_cash: float = 10_000.0, **execution: Any) -> ReplayResult:
    """Run `alerts` through a fresh paper account on `ohlcv`, then the same decisions through `run_backtest`.

    Args:
        ohlcv: the market's bars.
        alerts: the alerts, in delivery order (duplicates and disorder allowed).
        source, symbol, timeframe: the market, as recorded on the account.
        engine: the store to keep the account in; by default a throwaway SQLite file.
        init_cash: starting cash.
        **execution: engine options (fees=0.001, ...).
    """
    if engine is None:
        with tempfile.TemporaryDirectory(prefix="pinelab-replay-") as folder:
            from pinelab_core.store import make_engine

            scratch = make_engine(f"sqlite:///{Path(folder) / 'replay.db'}")
            try:
                return replay_alerts(ohlcv, alerts, source=source, symbol=symbol, timeframe=timeframe,
                                     engine=scratch, init_cash=init_cash, **execution)
            finally:
                scratch.dispose()
    name = f"replay-{pd.Timestamp.now(tz='UTC'):%Y%m%d-%H%M%S-%f}"
    account = create_account(engine, name, source=source, symbol=symbol, timeframe=timeframe, strategy="alerts",
                             init_cash=init_cash, start=ohlcv.index[0], **execution)
    intake = take_alerts(engine, account, alerts, ohlcv.index)
    advance_account(engine, account, ohlcv)
    report = paper_report(engine, account, ohlcv)
    with Session(engine) as session:
        orders = session.exec(select(func.count()).select_from(PaperOrderRow).where(
            PaperOrderRow.account_id == account.id, PaperOrderRow.status == "order")).one()
    reconciliation = report.reconciliation
    if reconciliation is None:
        raise DataValidationError("The replay needs at least two bars of data.")
    return ReplayResult(n_alerts=len(alerts), n_duplicates=intake.duplicates, n_late=intake.late, n_orders=int(orders),
                        n_fills=len(report.fills), final_equity=reconciliation.paper_final_equity,
                        backtest_final_equity=reconciliation.backtest_final_equity,
                        identical=reconciliation.identical)
