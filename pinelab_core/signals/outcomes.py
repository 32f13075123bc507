"""Outcome tracking: what each signal earned once its horizon passed, and the weights that follow.

No look-ahead: a signal placed at bar t's close is entered at bar t+1's open and exited at the
close of bar t+horizon; until that bar exists the signal stays open. The volatility that scales
its reward is measured on bars <= t.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.signals.sources import Signal
from pinelab_core.signals.weights import WeightRule, outcome_reward, update_weight
from pinelab_core.store.tables import SignalOutcomeRow, SourceWeightRow

__all__ = [
    "SimilarSignals",
    "evaluate_signals",
    "load_outcomes",
    "load_weights",
    "record_signals",
    "resolve_outcomes",
    "similar_signals",
    "source_performance",
]

_EVALUATED = ["entry_time", "entry_price", "exit_time", "exit_price", "realised_return", "hit",
              "duration_bars", "reward"]


def evaluate_signals(signals: pd.DataFrame, ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of signals (columns time, direction, horizon, strength) against `ohlcv`.

    Returns the signals with entry/exit times and prices, the direction-adjusted `realised_return`,
    `hit`, `duration_bars` and `reward`; rows whose horizon has not passed yet have NaN there.
    """
    result = signals.copy()
    index = ohlcv.index
    times = pd.DatetimeIndex(pd.to_datetime(result["time"], utc=True))
    position = index.searchsorted(times, side="right") - 1  # the bar the signal was placed at
    horizon = result["horizon"].to_numpy(np.int64).clip(min=1)
    exit_position = position + horizon
    ready = (position >= 0) & (exit_position < len(index))
    opens, closes = ohlcv["open"].to_numpy(np.float64), ohlcv["close"].to_numpy(np.float64)
    log_returns = np.diff(np.log(closes), prepend=np.nan)
    volatility = pd.Series(log_returns).rolling(20, min_periods=5).std().to_numpy()  # trailing: bars <= t
    entry_pos, exit_pos = np.where(ready, position + 1, 0), np.where(ready, exit_position, 0)
    entry_price, exit_price = opens[entry_pos], closes[exit_pos]
    direction = result["direction"].to_numpy(np.float64)
    realised = direction * (exit_price / entry_price - 1.0)
    scale = volatility[np.where(ready, position, 0)] * np.sqrt(horizon)
    strength = result["strength"].to_numpy(np.float64) if "strength" in result else np.ones(len(result))
    rewards = [outcome_reward(r, v, s) for r, v, s in zip(realised, scale, strength, strict=True)]
    result["entry_time"] = pd.Series(index[entry_pos], index=result.index).where(ready)
    result["exit_time"] = pd.Series(index[exit_pos], index=result.index).where(ready)
    result["entry_price"] = np.where(ready, entry_price, np.nan)
    result["exit_price"] = np.where(ready, exit_price, np.nan)
    result["realised_return"] = np.where(ready, realised, np.nan)
    result["hit"] = pd.Series(realised > 0, index=result.index).where(ready & (direction != 0))
    result["duration_bars"] = np.where(ready, horizon, np.nan)
    result["reward"] = np.where(ready & (direction != 0), rewards, np.nan)
    return result


def record_signals(engine: Engine, signals: Iterable[Signal]) -> int:
    """Store new signals for tracking (one per source, market and bar); returns how many were new."""
    rows = [{
        "source": s.source, "symbol": s.symbol, "timeframe": s.timeframe, "direction": int(s.direction),
        "strength": float(s.strength), "time": pd.Timestamp(s.time).to_pydatetime(), "horizon": int(s.horizon),
        "regime": s.regime, "entry_price": s.price, "ref_id": s.ref_id,
    } for s in signals]
    if not rows:
        return 0
    table = SignalOutcomeRow.__table__  # type: ignore[attr-defined]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing()
    counting = select(func.count()).select_from(table)
    with engine.begin() as connection:
        before = connection.execute(counting).scalar_one()
        connection.execute(statement, rows)  # executemany: one cached compile, batched VALUES
        return int(connection.execute(counting).scalar_one() - before)


def resolve_outcomes(engine: Engine, ohlcv: pd.DataFrame, symbol: str, timeframe: str,
                     rule: WeightRule = WeightRule()) -> int:
    """Judge every open signal on this market whose horizon has passed; move source weights in exit order."""
    with Session(engine) as session:
        open_rows = session.exec(select(SignalOutcomeRow).where(
            SignalOutcomeRow.symbol == symbol, SignalOutcomeRow.timeframe == timeframe,
            col(SignalOutcomeRow.resolved_at).is_(None))).all()
        if not open_rows:
            return 0
        frame = pd.DataFrame({"time": [_utc(r.time) for r in open_rows], "direction": [r.direction for r in open_rows],
                              "horizon": [r.horizon for r in open_rows], "strength": [r.strength for r in open_rows]})
        judged = evaluate_signals(frame, ohlcv)
        done = judged[judged["exit_time"].notna()].sort_values("exit_time", kind="stable")
        weights = {w.source: w for w in session.exec(select(SourceWeightRow)).all()}
        now = datetime.now(UTC)
        for i, outcome in done.iterrows():
            row = open_rows[int(i)]
            row.realised_return = float(outcome["realised_return"])
            row.hit = None if pd.isna(outcome["hit"]) else bool(outcome["hit"])
            row.duration_bars = int(outcome["duration_bars"])
            row.exit_time = pd.Timestamp(outcome["exit_time"]).to_pydatetime()
            row.reward = None if pd.isna(outcome["reward"]) else float(outcome["reward"])
            row.resolved_at = now
            session.add(row)
            if row.reward is not None:
                weight = weights.setdefault(row.source, SourceWeightRow(source=row.source, weight=rule.initial))
                weight.weight = update_weight(weight.weight, row.reward, rule)
                weight.n_outcomes += 1
                weight.updated_at = now
                session.add(weight)
        session.commit()
        return len(done)


def load_weights(engine: Engine, sources: Iterable[str], rule: WeightRule = WeightRule()) -> dict[str, float]:
    """The learned weight of each source (the initial weight for a source with no outcomes yet)."""
    names = list(sources)
    with Session(engine) as session:
        stored = {w.source: w.weight for w in session.exec(select(SourceWeightRow)).all()}
    return {name: stored.get(name, rule.initial) for name in names}


def load_outcomes(engine: Engine, *, symbol: str | None = None, timeframe: str | None = None,
                  sources: Iterable[str] | None = None) -> pd.DataFrame:
    """Tracked signals (open and resolved) as a frame, oldest first."""
    query = select(SignalOutcomeRow).order_by(col(SignalOutcomeRow.time))
    if symbol:
        query = query.where(SignalOutcomeRow.symbol == symbol)
    if timeframe:
        query = query.where(SignalOutcomeRow.timeframe == timeframe)
    if sources is not None:
        query = query.where(col(SignalOutcomeRow.source).in_(list(sources)))
    with Session(engine) as session:
        rows = session.exec(query).all()
    columns = ["id", "source", "symbol", "timeframe", "direction", "strength", "time", "horizon", "regime",
               "entry_price", "ref_id", "realised_return", "hit", "duration_bars", "exit_time", "reward"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)
    for name in ("time", "exit_time"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def source_performance(outcomes: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """Each source's track record: signals, resolved, hit rate, mean and total return, current weight."""
    resolved = outcomes[outcomes["realised_return"].notna() & (outcomes["direction"] != 0)]
    names = sorted(set(weights) | set(outcomes["source"]))
    records = []
    for name in names:
        mine = resolved[resolved["source"] == name]
        returns = mine["realised_return"].astype(float)
        records.append({
            "source": name, "weight": weights.get(name, np.nan),
            "signals": int((outcomes["source"] == name).sum()), "resolved": len(mine),
            "hit_rate": float(mine["hit"].astype(float).mean()) if len(mine) else np.nan,
            "mean_return": float(returns.mean()) if len(mine) else np.nan,
            "total_return": float(np.expm1(np.log1p(returns).sum())) if len(mine) else 0.0,
        })
    return pd.DataFrame.from_records(records, columns=["source", "weight", "signals", "resolved", "hit_rate",
                                                        "mean_return", "total_return"])


@dataclass(frozen=True)
class SimilarSignals:
    """How past signals like this one (same source, symbol, direction, regime) turned out."""

    count: int
    hit_rate: float
    mean_return: float
    examples: pd.DataFrame


def similar_signals(outcomes: pd.DataFrame, signal: Signal, limit: int = 10) -> SimilarSignals:
    """Resolved signals of the same source, symbol, direction and regime, placed before `signal`."""
    same = outcomes[(outcomes["source"] == signal.source) & (outcomes["symbol"] == signal.symbol)
                    & (outcomes["direction"] == signal.direction) & (outcomes["regime"] == signal.regime)
                    & outcomes["realised_return"].notna()
                    & (outcomes["exit_time"] <= pd.Timestamp(signal.time))]  # known when the new one fired
    returns = same["realised_return"].astype(float)
    return SimilarSignals(
        count=len(same),
        hit_rate=float((returns > 0).mean()) if len(same) else float("nan"),
        mean_return=float(returns.mean()) if len(same) else float("nan"),
        examples=same.sort_values("time", ascending=False).head(limit)[
            ["time", "regime", "strength", "realised_return", "hit", "exit_time"]],
    )


def _utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
