"""Paper accounts: any number, each following one strategy on one market with its own costs and risk limits.

    account = create_account(engine, "btc-consensus", source="demo", symbol="DEMO-BTC", timeframe="1h",
                             strategy="consensus", init_cash=10_000, fees=0.001,
                             risk=RiskLimits(max_position=0.5, max_daily_loss=0.05, max_drawdown=0.2))

Costs and sizing are the execution engine's own options (`ExecutionModel`: fees, fixed_fee, half_spread,
slippage, slippage_atr, fraction, vol_target, kelly_cap, min_order, lot_size, allow_short, ...), so an account
fills exactly as a backtest with the same options does. Engine stops are left to the backtester: a paper
account's risk lives in its limits, whose kill switch flattens it and stops it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.backtest import ExecutionModel
from pinelab_core.errors import DataValidationError
from pinelab_core.live.db import add_named, as_utc
from pinelab_core.store.tables import PaperAccountRow
from pinelab_core.types import Timeframe

__all__ = ["SIZINGS", "PaperAccount", "RiskLimits", "create_account", "get_account", "list_accounts",
           "set_account_status"]

SIZINGS: tuple[str, ...] = ("fixed", "signal")
_STOPS = ("stop_loss", "take_profit", "trailing_stop")
_NOT_OPTIONS = ("init_cash", "rebalance_every")


@dataclass(frozen=True)
class RiskLimits:
    """Risk limits of a paper account (fractions; None = no limit).

    Attributes:
        max_position: largest |target| the account takes (fraction of equity).
        max_daily_loss: kill switch when equity falls this fraction below the last close of the previous UTC day.
        max_drawdown: kill switch when equity falls this fraction below its peak.
    """

    max_position: float = 1.0
    max_daily_loss: float | None = None
    max_drawdown: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.max_position <= 1.0:
            raise DataValidationError(f"max_position={self.max_position} must be in (0, 1] (a fraction of equity).")
        for name in ("max_daily_loss", "max_drawdown"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise DataValidationError(f"{name}={value} must be a fraction in (0, 1), e.g. 0.05, or None.")


@dataclass(frozen=True)
class PaperAccount:
    """A paper account as stored. `execution` holds the engine options; `start_time` the first bar it decides at."""

    id: int
    name: str
    data_source: str
    symbol: str
    timeframe: str
    strategy: str
    sizing: str
    init_cash: float
    execution: dict[str, Any]
    risk: RiskLimits
    start_time: pd.Timestamp | None
    status: str
    kill_time: pd.Timestamp | None
    kill_reason: str
    created_at: datetime

    @property
    def allow_short(self) -> bool:
        return bool(self.execution.get("allow_short", True))

    @property
    def engine_options(self) -> dict[str, Any]:
        """Keyword options for `Stepper` and `run_backtest`: the execution options plus the starting cash."""
        return {**self.execution, "init_cash": self.init_cash}

    @classmethod
    def from_row(cls, row: PaperAccountRow) -> PaperAccount:
        start, kill = as_utc(row.start_time), as_utc(row.kill_time)
        return cls(int(row.id or 0), row.name, row.data_source, row.symbol, row.timeframe, row.strategy, row.sizing,
                   float(row.init_cash), json.loads(row.execution_json or "{}"),
                   RiskLimits(**json.loads(row.risk_json or "{}")), pd.Timestamp(start) if start else None,
                   row.status, pd.Timestamp(kill) if kill else None, row.kill_reason, as_utc(row.created_at)
                   or row.created_at)


def create_account(engine: Engine, name: str, *, source: str, symbol: str, timeframe: str,
                   strategy: str = "consensus", init_cash: float = 10_000.0, sizing: str = "fixed",
                   risk: RiskLimits | None = None, start: pd.Timestamp | str | None = None,
                   **execution: Any) -> PaperAccount:
    """Open a paper account. No real order is ever sent anywhere: fills are the execution engine's.

    Args:
        engine: the store.
        name: unique name of the account.
        source, symbol, timeframe: the market it trades.
        strategy: what it follows: consensus, source:<signal source> (rsi, macd, ..., ensemble), ensemble,
            rl:<agent>, tradingview (the webhook's alerts for the symbol) or alerts (alerts given to `take_alerts`).
        init_cash: starting cash.
        sizing: fixed (direction x the engine's fraction) or signal (the strategy's own size).
        risk: position cap and the kill switch's daily-loss and drawdown limits.
        start: the first bar the account decides at (default: the newest bar when it is first advanced).
        **execution: engine options (fees=0.001, slippage=0.0005, lot_size=1, allow_short=False, ...).

    Raises:
        DataValidationError: a bad name, strategy, sizing or option (the message names the fix).
    """
    from pinelab_core.live.followers import check_strategy

    if not name.strip():
        raise DataValidationError("A paper account needs a name.")
    check_strategy(strategy)
    if sizing not in SIZINGS:
        raise DataValidationError(f"Unknown sizing {sizing!r}. Use one of: {', '.join(SIZINGS)}.")
    stops = [key for key in execution if key in _STOPS or key in _NOT_OPTIONS]
    if stops:
        raise DataValidationError(f"{', '.join(stops)} are not paper account options: use init_cash= for the cash "
                                  "and the risk limits (max_daily_loss, max_drawdown) instead of engine stops.")
    model = ExecutionModel.from_options(**execution, init_cash=init_cash)  # validates every option
    options = {k: v for k, v in model.to_dict().items() if k in execution}
    begin = None if start is None else pd.Timestamp(start)
    if begin is not None:
        begin = begin.tz_localize("UTC") if begin.tzinfo is None else begin.tz_convert("UTC")
    row = PaperAccountRow(name=name.strip(), data_source=source, symbol=symbol,
                          timeframe=Timeframe.parse(timeframe).value, strategy=strategy, sizing=sizing,
                          init_cash=float(init_cash), execution_json=json.dumps(options),
                          risk_json=json.dumps(asdict(risk or RiskLimits())),
                          start_time=begin.to_pydatetime() if begin is not None else None)
    return PaperAccount.from_row(add_named(engine, row, f"A paper account named {name!r} exists already. Pick "
                                                        "another name."))


def list_accounts(engine: Engine, *, source: str | None = None, symbol: str | None = None,
                  timeframe: str | None = None) -> list[PaperAccount]:
    """Every paper account (optionally of one market), oldest first."""
    query = select(PaperAccountRow).order_by(col(PaperAccountRow.id))
    for column, value in ((PaperAccountRow.data_source, source), (PaperAccountRow.symbol, symbol),
                          (PaperAccountRow.timeframe, timeframe)):
        if value is not None:
            query = query.where(column == value)
    with Session(engine) as session:
        return [PaperAccount.from_row(row) for row in session.exec(query).all()]


def get_account(engine: Engine, name: str | int) -> PaperAccount:
    """One account by name (or id).

    Raises:
        DataValidationError: no such account (with the closest names).
    """
    import difflib

    with Session(engine) as session:
        if isinstance(name, int):
            row = session.get(PaperAccountRow, name)
        else:
            row = session.exec(select(PaperAccountRow).where(PaperAccountRow.name == name)).first()
        if row is not None:
            return PaperAccount.from_row(row)
        names = list(session.exec(select(PaperAccountRow.name)).all())
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataValidationError(f"No paper account {name!r}.{hint} List them with `pinelab paper list`.")


def set_account_status(engine: Engine, account_id: int, status: str) -> None:
    """Stop (keep its record, decide nothing more) or re-activate an account; a killed one stays killed."""
    if status not in ("active", "stopped"):
        raise DataValidationError(f"Set an account active or stopped, not {status!r}.")
    with Session(engine) as session:
        row = session.get(PaperAccountRow, account_id)
        if row is None:
            raise DataValidationError(f"No paper account {account_id}.")
        if row.status == "killed":
            raise DataValidationError(f"{row.name} was stopped by its kill switch ({row.kill_reason}); open a new "
                                      "account to trade again.")
        row.status = status
        session.add(row)
        session.commit()
