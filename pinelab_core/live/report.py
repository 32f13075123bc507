"""What a paper account holds and earned, and its reconciliation against a shadow backtest.

`paper_report(engine, account, ohlcv)` reads the account's recorded marks, fills and orders, and runs the
*shadow backtest*: `run_backtest` on the same bars with the same decisions and options. The account was filled
bar by bar by the `Stepper`; the backtest runs the vectorised engine. They share one loop body, so every mark
and every trade must agree to the last bit; `Reconciliation` says whether they do and shows any difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pinelab_core.backtest import BacktestResult, run_backtest
from pinelab_core.live.accounts import PaperAccount
from pinelab_core.live.db import table_of, to_timestamp
from pinelab_core.live.paper import account_bars, account_targets
from pinelab_core.store.tables import PaperDecisionRow, PaperEquityRow, PaperFillRow, PaperOrderRow

__all__ = ["PaperReport", "Reconciliation", "paper_report", "recorded_decisions"]

_FILL_COLUMNS = ["bar_time", "units", "price", "reference_price", "decision_price", "fees", "position_after"]
_ORDER_COLUMNS = ["bar_time", "alert_key", "from_state", "to_state", "target", "status", "created_at"]


@dataclass(frozen=True)
class Reconciliation:
    """The paper account against the shadow backtest of the same decisions."""

    identical: bool
    paper_final_equity: float
    backtest_final_equity: float
    max_equity_difference: float
    paper_fills: int
    backtest_fills: int
    differences: pd.DataFrame  # bar_time, paper, backtest, difference (the first 20 bars that differ)


@dataclass(frozen=True)
class PaperReport:
    """Everything the Paper Trading page and `pinelab paper show` display for one account."""

    account: PaperAccount
    equity: pd.DataFrame  # per recorded bar: equity, cash, units, close, drawdown, position, buy_and_hold
    fills: pd.DataFrame  # bar_time, side, units, price, reference_price, decision_price, fees, slippage_bps, model_bps
    orders: pd.DataFrame
    units: float
    position: float  # signed exposure / equity at the last close
    realised_pnl: float
    unrealised_pnl: float
    total_return: float
    buy_and_hold_return: float
    reconciliation: Reconciliation | None
    backtest: BacktestResult | None


def recorded_decisions(engine: Engine, account_id: int) -> pd.Series:
    """The account's decisions by bar (NaN = hold)."""
    table = table_of(PaperDecisionRow)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.bar_time, table.c.target)
                                  .where(table.c.account_id == account_id)).all()
    if not rows:
        return pd.Series(dtype=float)
    return pd.Series([np.nan if r[1] is None else float(r[1]) for r in rows],
                     index=pd.DatetimeIndex([to_timestamp(r[0]) for r in rows])).sort_index()


def paper_report(engine: Engine, account: PaperAccount, ohlcv: pd.DataFrame) -> PaperReport:
    """Read an account's record and reconcile it with its shadow backtest on `ohlcv`."""
    marks, fills, orders = _marks(engine, account), _fills(engine, account.id), _orders(engine, account.id)
    bars = account_bars(account, ohlcv)
    bars = bars.loc[bars.index <= marks.index[-1]] if len(marks) else bars.iloc[:0]
    backtest = reconciliation = None
    realised = unrealised = 0.0
    if len(bars) >= 2:
        targets = account_targets(account, bars.index, recorded_decisions(engine, account.id))
        backtest = run_backtest(bars, targets, **account.engine_options)
        reconciliation = _reconcile(marks, fills, backtest)
        closed = backtest.trades["reason"] != "open"
        realised = float(backtest.trades.loc[closed, "pnl"].sum())
        unrealised = float(backtest.trades.loc[~closed, "pnl"].sum())
    equity = _equity_frame(marks, account.init_cash)
    last = equity.iloc[-1] if len(equity) else None
    return PaperReport(
        account=account, equity=equity, fills=fills, orders=orders,
        units=float(last["units"]) if last is not None else 0.0,
        position=float(last["position"]) if last is not None else 0.0,
        realised_pnl=realised, unrealised_pnl=unrealised,
        total_return=float(last["equity"] / account.init_cash - 1.0) if last is not None else 0.0,
        buy_and_hold_return=float(last["buy_and_hold"] / account.init_cash - 1.0) if last is not None else 0.0,
        reconciliation=reconciliation, backtest=backtest,
    )


def _reconcile(marks: pd.DataFrame, fills: pd.DataFrame, backtest: BacktestResult) -> Reconciliation:
    shadow = backtest.equity["equity"].reindex(marks.index)
    difference = (marks["equity"] - shadow).abs()
    differs = ~(marks["equity"].to_numpy() == shadow.to_numpy())
    table = pd.DataFrame({"bar_time": marks.index[differs], "paper": marks["equity"].to_numpy()[differs],
                          "backtest": shadow.to_numpy()[differs],
                          "difference": difference.to_numpy()[differs]}).head(20)
    units = backtest.equity["units"].to_numpy()
    backtest_fills = int(np.count_nonzero(np.diff(np.concatenate([[0.0], units])) != 0.0))
    max_difference = float(np.nanmax(difference.to_numpy())) if len(difference) else 0.0
    return Reconciliation(
        identical=bool(not differs.any() and len(fills) == backtest_fills),
        paper_final_equity=float(marks["equity"].iloc[-1]), backtest_final_equity=float(backtest.final_equity),
        max_equity_difference=max_difference if np.isfinite(max_difference) else float("inf"),
        paper_fills=len(fills), backtest_fills=backtest_fills, differences=table)


def _equity_frame(marks: pd.DataFrame, init_cash: float) -> pd.DataFrame:
    frame = marks.copy()
    if frame.empty:
        return frame.assign(drawdown=[], position=[], buy_and_hold=[])
    peak = np.maximum.accumulate(np.maximum(frame["equity"].to_numpy(), init_cash))
    frame["drawdown"] = frame["equity"].to_numpy() / peak - 1.0
    frame["position"] = frame["units"] * frame["close"] / frame["equity"]
    frame["buy_and_hold"] = init_cash * frame["close"] / frame["close"].iloc[0]
    return frame


def _marks(engine: Engine, account: PaperAccount) -> pd.DataFrame:
    table = table_of(PaperEquityRow)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.bar_time, table.c.equity, table.c.cash, table.c.units, table.c.close)
                                  .where(table.c.account_id == account.id).order_by(table.c.bar_time)).all()
    index = pd.DatetimeIndex([to_timestamp(r[0]) for r in rows], name="time")
    return pd.DataFrame([r[1:] for r in rows], index=index, columns=["equity", "cash", "units", "close"], dtype=float)


def _fills(engine: Engine, account_id: int) -> pd.DataFrame:
    table = table_of(PaperFillRow)
    with engine.connect() as connection:
        rows = connection.execute(select(*(table.c[name] for name in _FILL_COLUMNS))
                                  .where(table.c.account_id == account_id).order_by(table.c.bar_time)).all()
    frame = pd.DataFrame(rows, columns=_FILL_COLUMNS)
    frame["bar_time"] = pd.to_datetime(frame["bar_time"], utc=True)
    side = np.sign(frame["units"].astype(float))
    frame.insert(1, "side", np.where(side > 0, "buy", "sell"))
    # What the fill cost against the price when the decision was taken, and the part the cost model charged.
    frame["slippage_bps"] = side * (frame["price"] / frame["decision_price"] - 1.0) * 1e4
    frame["model_bps"] = side * (frame["price"] / frame["reference_price"] - 1.0) * 1e4
    return frame


def _orders(engine: Engine, account_id: int) -> pd.DataFrame:
    table = table_of(PaperOrderRow)
    with engine.connect() as connection:
        rows = connection.execute(select(*(table.c[name] for name in _ORDER_COLUMNS))
                                  .where(table.c.account_id == account_id)
                                  .order_by(table.c.bar_time, table.c.id)).all()
    frame = pd.DataFrame(rows, columns=_ORDER_COLUMNS)
    for column in ("bar_time", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
