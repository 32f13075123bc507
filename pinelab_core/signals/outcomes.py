"""Outcome tracking: what each signal earned once its horizon passed, and the weights that follow.

No look-ahead: a signal placed at bar t's close is entered at bar t+1's open and closed by a decision at
bar t+horizon's close, so it exits at bar t+horizon+1's open; until that bar exists the signal stays open.
The money comes from the execution engine (`pinelab_core.backtest.round_trip_returns`), the same fill
model as every backtest, so a source's track record is what trading its calls would have earned. The
volatility that scales its reward is measured on bars <= t.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pinelab_core.backtest import round_trip_returns
from pinelab_core.errors import StoreError
from pinelab_core.signals.sources import Signal
from pinelab_core.signals.weights import WeightRule, learn_weights, outcome_reward
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import SignalOutcomeRow, SourceWeightRow

__all__ = [
    "SimilarSignals",
    "evaluate_signals",
    "load_outcomes",
    "load_weights",
    "outcomes_as_of",
    "record_signals",
    "resolve_outcomes",
    "similar_signals",
    "source_performance",
]

_TABLE = SignalOutcomeRow.__table__  # type: ignore[attr-defined]
_WEIGHTS = SourceWeightRow.__table__  # type: ignore[attr-defined]
_CALL_KEY = ("source", "data_source", "symbol", "timeframe", "time", "horizon")  # signal_outcome's unique key
_RESOLVE = update(_TABLE).where(_TABLE.c.id == bindparam("row_id"), _TABLE.c.resolved_at.is_(None)).values(
    realised_return=bindparam("realised_return"), hit=bindparam("hit"), duration_bars=bindparam("duration_bars"),
    exit_time=bindparam("exit_time"), reward=bindparam("reward"), resolved_at=bindparam("resolved_at"))


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
    exit_decision = position + horizon  # the bar at whose close the position is closed
    ready = (position >= 0) & (exit_decision + 1 < len(index))  # its exit fill (the next open) exists
    opens, closes = ohlcv["open"].to_numpy(np.float64), ohlcv["close"].to_numpy(np.float64)
    log_returns = np.diff(np.log(closes), prepend=np.nan)
    volatility = pd.Series(log_returns).rolling(20, min_periods=5).std().to_numpy()  # trailing: bars <= t
    decided, closed = np.where(ready, position, 0), np.where(ready, exit_decision, 0)
    entry_pos, exit_pos = decided + 1, np.where(ready, exit_decision + 1, 0)
    entry_price, exit_price = opens[np.minimum(entry_pos, len(index) - 1)], opens[exit_pos]
    direction = result["direction"].to_numpy(np.float64)
    realised = np.where(ready, round_trip_returns(ohlcv, decided, closed, np.where(ready, direction, 0.0)), np.nan)
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


def record_signals(engine: Engine, signals: Iterable[Signal], *, data_source: str = "") -> int:
    """Store new signals for tracking (one per source, market, bar and horizon); returns how many were new.

    `data_source` names where the bars that will judge them come from, so calls judged on simulated
    ("demo") bars never mix with calls on the real market of the same name. Concurrent callers are safe:
    the unique key decides, `ON CONFLICT DO NOTHING` skips what another process stored first.
    """
    rows = [{
        "source": s.source, "data_source": data_source, "symbol": s.symbol, "timeframe": s.timeframe,
        "direction": int(s.direction),
        "strength": float(s.strength), "time": pd.Timestamp(s.time).to_pydatetime(), "horizon": int(s.horizon),
        "regime": s.regime, "entry_price": s.price, "ref_id": s.ref_id,
    } for s in signals]
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=list(_CALL_KEY)).returning(_TABLE.c.id)
    with engine.begin() as connection:
        return len(connection.execute(statement, rows).all())  # executemany: batched VALUES, new rows returned


def resolve_outcomes(engine: Engine, ohlcv: pd.DataFrame, symbol: str, timeframe: str,
                     rule: WeightRule = WeightRule(), *, data_source: str = "") -> int:
    """Judge every open signal on this market whose horizon has passed, exactly once; returns how many.

    Runs in one write transaction taken before the read (`BEGIN IMMEDIATE` on SQLite; a per-market lock
    and `FOR UPDATE` row locks on PostgreSQL), updates only rows still `resolved_at IS NULL`, and then
    stores each touched source's weight replayed from the market's resolved outcomes in exit order, so
    two rounds racing on one market resolve each call once and leave the weights a serial run would.
    """
    market = {"data_source": data_source, "symbol": symbol, "timeframe": timeframe}
    on_market = [_TABLE.c[key] == value for key, value in market.items()]
    query = select(_TABLE.c.id, _TABLE.c.source, _TABLE.c.time, _TABLE.c.direction, _TABLE.c.horizon,
                   _TABLE.c.strength).where(*on_market, _TABLE.c.resolved_at.is_(None))
    if engine.dialect.name == "postgresql":
        query = query.with_for_update()
    with write_transaction(engine, lock=f"signal_outcome:{data_source}:{symbol}:{timeframe}") as connection:
        open_rows = connection.execute(query).all()
        if not open_rows:
            return 0
        frame = pd.DataFrame.from_records(open_rows, columns=["id", "source", "time", "direction", "horizon",
                                                              "strength"])
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        done = evaluate_signals(frame, ohlcv)
        done = done[done["exit_time"].notna()]
        if done.empty:
            return 0
        now = datetime.now(UTC)
        updates = [{
            "row_id": int(row_id), "realised_return": float(realised), "hit": None if pd.isna(hit) else bool(hit),
            "duration_bars": int(duration), "exit_time": pd.Timestamp(exit_time).to_pydatetime(),
            "reward": None if pd.isna(reward) else float(reward), "resolved_at": now,
        } for row_id, realised, hit, duration, exit_time, reward in zip(
            done["id"], done["realised_return"], done["hit"], done["duration_bars"], done["exit_time"],
            done["reward"], strict=True)]
        updated = connection.execute(_RESOLVE, updates).rowcount
        if updated != len(updates):  # impossible under the write lock; never move weights on a guess
            raise StoreError(f"Resolved {updated} of {len(updates)} signal outcomes on {symbol}: another writer "
                             "raced this one. Retry.")
        _store_weights(connection, sorted(set(done["source"])), rule, now, market)
        return len(done)


def _store_weights(connection: Any, sources: list[str], rule: WeightRule, now: datetime,
                   market: dict[str, str]) -> None:
    """Replay `sources`' resolved outcomes on this market in exit order; upsert each weight and its count."""
    resolved = connection.execute(
        select(_TABLE.c.source, _TABLE.c.time, _TABLE.c.horizon, _TABLE.c.exit_time, _TABLE.c.reward)
        .where(*(_TABLE.c[key] == value for key, value in market.items()), _TABLE.c.source.in_(sources),
               _TABLE.c.resolved_at.is_not(None), _TABLE.c.reward.is_not(None))).all()
    frame = pd.DataFrame.from_records(resolved, columns=["source", "time", "horizon", "exit_time", "reward"])
    weights, _ = learn_weights(frame, rule, sources)
    counts = frame["source"].value_counts()
    rows = [{**market, "source": source, "weight": weights[source], "n_outcomes": int(counts.get(source, 0)),
             "updated_at": now} for source in sources]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_WEIGHTS)
    statement = statement.on_conflict_do_update(
        index_elements=["source", "data_source", "symbol", "timeframe"],
        set_={"weight": statement.excluded.weight, "n_outcomes": statement.excluded.n_outcomes,
              "updated_at": statement.excluded.updated_at})
    connection.execute(statement, rows)


def load_weights(engine: Engine, sources: Iterable[str], rule: WeightRule = WeightRule(), *, symbol: str = "",
                 timeframe: str = "", data_source: str = "") -> dict[str, float]:
    """Each source's learned weight on a market (the initial weight for a source with no outcomes there yet)."""
    names = list(sources)
    table = _WEIGHTS
    query = select(table.c.source, table.c.weight).where(
        table.c.data_source == data_source, table.c.symbol == symbol, table.c.timeframe == timeframe)
    with engine.connect() as connection:
        stored: dict[str, float] = dict(connection.execute(query).all())
    return {name: float(stored.get(name, rule.initial)) for name in names}


def load_outcomes(engine: Engine, *, symbol: str | None = None, timeframe: str | None = None,
                  sources: Iterable[str] | None = None, data_source: str | None = None) -> pd.DataFrame:
    """Tracked signals (open and resolved) as a frame, oldest first."""
    table = SignalOutcomeRow.__table__  # type: ignore[attr-defined]
    columns = ["id", "source", "data_source", "symbol", "timeframe", "direction", "strength", "time", "horizon",
               "regime", "entry_price", "ref_id", "realised_return", "hit", "duration_bars", "exit_time", "reward"]
    query = select(*(table.c[name] for name in columns)).order_by(table.c.time, table.c.id)
    if symbol:
        query = query.where(table.c.symbol == symbol)
    if timeframe:
        query = query.where(table.c.timeframe == timeframe)
    if sources is not None:
        query = query.where(table.c.source.in_(list(sources)))
    if data_source is not None:
        query = query.where(table.c.data_source == data_source)
    with engine.connect() as connection:  # Core, not ORM objects: thousands of rows load in milliseconds
        rows = connection.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for name in ("time", "exit_time"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in ("realised_return", "reward", "entry_price", "strength"):
        frame[name] = frame[name].astype("float64")
    frame["hit"] = frame["hit"].astype(object).where(frame["hit"].notna(), None)
    return frame


def outcomes_as_of(outcomes: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Tracked signals as they stood at bar `at`'s close: placed at or before it, and resolved only when
    their exit time is at or before it (later results are blanked, the call shows as open).

    Everything a page shows for bar t (weights, track records, similar calls, Kelly inputs) starts from
    this frame, so it is identical whether the store has processed later history or not.
    """
    at = pd.Timestamp(at)
    known = outcomes[outcomes["time"] <= at].copy()
    later = ~(known["exit_time"] <= at)  # NaT (still open) counts as later
    for name in ("realised_return", "reward", "duration_bars"):
        known[name] = known[name].where(~later)
    known["exit_time"] = known["exit_time"].where(~later)
    known["hit"] = known["hit"].astype(object).where(~later, None)
    return known


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
