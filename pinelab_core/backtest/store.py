"""Stored backtests: runs for side-by-side comparison, and sweep trials keyed by (study, parameter hash)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pinelab_core.backtest.result import BacktestResult
from pinelab_core.backtest.trials import TrialOutcome, TrialSpec
from pinelab_core.errors import DataValidationError
from pinelab_core.store.tables import BacktestDetailRow, BacktestRow, BacktestTrialRow

__all__ = ["StoredRun", "list_runs", "load_run", "load_trials", "save_run", "save_trial"]

_MAX_POINTS = 2_000


@dataclass(frozen=True)
class StoredRun:
    """A stored run read back: its description, stats, equity curve and trades."""

    id: int
    symbol: str
    timeframe: str
    strategy: str
    params: dict[str, Any]
    stats: pd.Series
    equity: pd.DataFrame
    trades: pd.DataFrame


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value


def save_run(engine: Engine, result: BacktestResult, *, symbol: str, timeframe: str, strategy: str,
             params: dict[str, Any], source: str = "") -> int:
    """Store a run (stats, downsampled equity, trades); returns its id."""
    equity = result.equity[["equity", "drawdown"]]
    if len(equity) > _MAX_POINTS:
        equity = equity.iloc[np.linspace(0, len(equity) - 1, _MAX_POINTS).astype(int)]
    curve = {"time": [t.isoformat() for t in equity.index], "equity": equity["equity"].round(6).tolist(),
             "drawdown": equity["drawdown"].round(6).tolist()}
    trades = result.trades.assign(entry_time=result.trades["entry_time"].astype(str),
                                  exit_time=result.trades["exit_time"].astype(str),
                                  duration=result.trades["duration"].dt.total_seconds())
    described = {**{k: _clean(v) for k, v in params.items()}, "source": source,
                 "execution": {k: _clean(v) for k, v in result.execution.to_dict().items()}}
    with Session(engine) as session:
        row = BacktestRow(symbol=symbol, timeframe=timeframe, strategy=strategy, params_json=json.dumps(described),
                          metrics_json=json.dumps({k: _clean(float(v)) for k, v in result.stats.items()}))
        session.add(row)
        session.flush()
        run_id = int(row.id)  # type: ignore[arg-type]
        session.add(BacktestDetailRow(backtest_id=run_id, equity_json=json.dumps(curve),
                                      trades_json=trades.to_json(orient="records")))
        session.commit()
    return run_id


def list_runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """Stored runs, newest first: id, when, market, strategy, parameters and the headline stats."""
    table = BacktestRow.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        rows = session.execute(select(BacktestRow).order_by(table.c.id.desc()).limit(limit)).scalars().all()
    records = []
    for row in rows:
        stats = json.loads(row.metrics_json or "{}")
        params = json.loads(row.params_json or "{}")
        shown = {k: v for k, v in params.items() if k not in ("execution", "source")}
        records.append({"id": row.id, "created_at": row.created_at, "symbol": row.symbol, "timeframe": row.timeframe,
                        "strategy": row.strategy, "params": json.dumps(shown), **stats})
    return pd.DataFrame.from_records(records)


def load_run(engine: Engine, run_id: int) -> StoredRun:
    """One stored run with its equity curve and trades."""
    with Session(engine) as session:
        row = session.get(BacktestRow, run_id)
        detail = session.get(BacktestDetailRow, run_id)
    if row is None:
        raise DataValidationError(f"No stored backtest #{run_id}; list them with list_runs().")
    curve = json.loads(detail.equity_json) if detail else {"time": [], "equity": [], "drawdown": []}
    equity = pd.DataFrame({"equity": curve["equity"], "drawdown": curve["drawdown"]},
                          index=pd.DatetimeIndex(pd.to_datetime(curve["time"], utc=True), name="time"))
    trades = pd.DataFrame(json.loads(detail.trades_json)) if detail else pd.DataFrame()
    stats = pd.Series(json.loads(row.metrics_json or "{}"), dtype="float64")
    return StoredRun(int(row.id), row.symbol, row.timeframe, row.strategy,  # type: ignore[arg-type]
                     json.loads(row.params_json or "{}"), stats, equity, trades)


def save_trial(engine: Engine, study: str, spec: TrialSpec, outcome: TrialOutcome) -> None:
    """Upsert one trial by (study, parameter hash): storing it twice keeps one row."""
    table = BacktestTrialRow.__table__  # type: ignore[attr-defined]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    values = {"study": study, "param_hash": spec.param_hash, "strategy": spec.strategy,
              "params_json": json.dumps(spec.params),
              "metrics_json": json.dumps(outcome.metrics),  # NaN and inf survive as JSON's NaN/Infinity
              "moments_json": json.dumps(outcome.moments.tolist())}
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=["study", "param_hash"])
    with engine.begin() as connection:
        connection.execute(statement)


def load_trials(engine: Engine, study: str) -> dict[str, TrialOutcome]:
    """Every stored trial of a study, by parameter hash."""
    table = BacktestTrialRow.__table__  # type: ignore[attr-defined]
    query = select(table.c.param_hash, table.c.params_json, table.c.metrics_json, table.c.moments_json).where(
        table.c.study == study)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {h: TrialOutcome(json.loads(p), json.loads(m), np.asarray(json.loads(b), dtype=np.float64))
            for h, p, m, b in rows}
