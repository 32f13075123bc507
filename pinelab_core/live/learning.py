"""Learning events, the market regime as seen at each bar, daily model performance, and what triggers retraining.

    record_event(engine, kind, key, ...)   a learning event, once per key (retrain requested, challenger
                                           registered, promoted, drift alert, fine-tuned)
    record_regime(engine, source, symbol, timeframe, bars)   the rule-based regime at the last bar, once
    learning_step(context)   per bar: on a new day, snapshot each version's live record (`model_performance`),
                             check drift and accuracy decay (a `drift_alert` event), and queue retraining per the
                             model's policy (on drift, on accuracy decay, daily or weekly)
    learning_tick(...)       per tick: finished retrain jobs become `challenger_registered` events
    learning_frames(engine)  what the learning-analytics view shows

Every record for bar t is computed from bars up to t: the regime from the bars the scheduler held at t's close,
performance from the shadow calls resolved by then (`resolved_at` is not used; the outcome's bar is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.live.db import insert_ignore, table_of, to_timestamp
from pinelab_core.store.tables import LearningEventRow, ModelPerformanceRow, RuleRegimeRow

if TYPE_CHECKING:
    from pinelab_core.live.steps import BarContext

__all__ = ["LearningFrames", "learning_frames", "learning_step", "learning_tick", "record_event", "record_regime",
           "snapshot_performance", "version_drift"]

RECENT_BARS = 100  # the "current" sample of the drift check (as the Predictions page's drift report)


def record_event(engine: Engine, kind: str, key: str, *, message: str = "", model: str = "",
                 version: int | None = None, job_id: int | None = None, time: datetime | pd.Timestamp | None = None,
                 detail: dict[str, Any] | None = None) -> bool:
    """Store a learning event once per `key`; returns False when it was already recorded."""
    moment = to_timestamp(time).to_pydatetime() if time is not None else datetime.now(UTC)
    row = {"event_key": key[:200], "kind": kind, "time": moment, "model_name": model, "version": version,
           "job_id": job_id, "message": message, "detail_json": json.dumps(detail or {}, default=str)}
    with engine.begin() as connection:
        return bool(insert_ignore(connection, LearningEventRow, [row], ("event_key",), returning=True))


def record_regime(engine: Engine, source: str, symbol: str, timeframe: str, bars: pd.DataFrame) -> str:
    """Store the regime of the last bar of `bars` as seen now (computed from these bars only), once."""
    from pinelab_core.features import build_features
    from pinelab_core.signals import market_regime

    tail = bars.iloc[-1_000:]  # the regime features look back 271 bars at most
    features = cast(pd.DataFrame, build_features(tail, groups=["regime"])).iloc[-1]
    label = str(market_regime(tail).iloc[-1])
    values = {"data_source": source, "symbol": symbol, "timeframe": timeframe,
              "bar_time": pd.Timestamp(bars.index[-1]).to_pydatetime(), "label": label,
              "trend_regime": _number(features.get("trend_regime")), "vol_regime": _number(features.get("vol_regime")),
              "vol_percentile": _number(features.get("vol_pctile_252")),
              "efficiency_ratio": _number(features.get("efficiency_ratio_20")), "recorded_at": datetime.now(UTC)}
    with engine.begin() as connection:
        insert_ignore(connection, RuleRegimeRow, [values], ("data_source", "symbol", "timeframe", "bar_time"))
    return f"regime {label}"


def snapshot_performance(engine: Engine, source: str, symbol: str, timeframe: str, bars: pd.DataFrame) -> int:
    """One `model_performance` row per version for the day of the last bar: its calls whose outcome was known."""
    from pinelab_core.live.challenger import shadow_frame

    at = pd.Timestamp(bars.index[-1])
    calls = shadow_frame(engine)
    calls = calls[(calls["data_source"] == source) & (calls["symbol"] == symbol) & (calls["timeframe"] == timeframe)]
    if calls.empty:
        return 0
    # Known at `at`: the bar `horizon` bars after the call is at or before it (never an outcome resolved later).
    positions = bars.index.get_indexer(calls["bar_time"])
    known = (calls["outcome"].notna() & (positions >= 0) & (positions + calls["horizon"] <= len(bars) - 1)).to_numpy()
    rows = []
    for (name, version), group in calls[known].groupby(["model_name", "version"]):
        probabilities = group[["prob_down", "prob_sideways", "prob_up"]].to_numpy(dtype=float)
        onehot = np.eye(3)[group["outcome"].astype(int).to_numpy()]
        direction = group["predicted"].map({0: -1.0, 1: 0.0, 2: 1.0}).to_numpy()
        rows.append({"model_name": name, "version": int(version), "role": str(group["role"].iloc[-1]),
                     "data_source": source, "symbol": symbol, "timeframe": timeframe,
                     "day": at.floor("D").to_pydatetime(), "n": len(group), "hit_rate": float(group["hit"].mean()),
                     "log_loss": float(group["log_loss"].mean()),
                     "brier": float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1))),
                     "strategy_return": float(np.sum(direction * group["realised_return"].to_numpy(dtype=float))),
                     "created_at": datetime.now(UTC)})
    with engine.begin() as connection:
        insert_ignore(connection, ModelPerformanceRow, rows, ("model_name", "version", "data_source", "symbol",
                                                              "timeframe", "day"))
    return len(rows)


def version_drift(settings: Settings, name: str, version: int, bars: pd.DataFrame) -> list[Any]:
    """Drift alerts of one version on `bars`: PSI of the last bars' features against its training window, and
    its live hit rate (shadow calls) against its walk-forward one."""
    from pinelab_core.live.challenger import loaded_version, shadow_frame, version_inputs
    from pinelab_core.models.drift import accuracy_alerts, feature_alerts, feature_drift
    from pinelab_core.store import get_engine

    _, manifest = loaded_version(settings, name, version)
    through = to_timestamp(pd.Timestamp(manifest.trained_through)) if manifest.trained_through else None
    alerts: list[Any] = []
    if through is not None and manifest.feature_names:
        frame = version_inputs(manifest, bars.iloc[-3_000:], settings)
        current = frame.iloc[-RECENT_BARS:]
        reference = frame.iloc[:-RECENT_BARS]
        reference = reference[reference.index <= through]
        if len(reference) >= 2 * RECENT_BARS // 5 and current.index[0] > through:
            alerts += feature_alerts(feature_drift(reference, current))
    calls = shadow_frame(get_engine(settings), name)
    mine = calls[(calls["version"] == version) & calls["outcome"].notna()]
    expected = manifest.metrics.get("accuracy")
    if len(mine) and expected is not None:
        live = pd.DataFrame([{"model": f"{name}/v{version}", "n": len(mine),
                              "rolling_hit_rate": float(mine["hit"].tail(50).mean())}])
        alerts += accuracy_alerts(live, {f"{name}/v{version}": float(expected)})
    return alerts


def learning_step(context: BarContext) -> str:
    """Per bar: on the first bar of a day, snapshot performance and check drift; queue retraining per policy."""
    from pinelab_core.live.retrain import retrain_triggers

    at = context.at
    previous = context.view.index[-2] if len(context.view) > 1 else None
    if previous is not None and previous.floor("D") == at.floor("D"):
        return "same day: nothing to do"
    snapshots = snapshot_performance(context.engine, context.data_source, context.symbol, context.timeframe,
                                     context.view)
    requested = retrain_triggers(context)
    return f"{snapshots} performance snapshot(s), {len(requested)} retrain(s) requested"


def learning_tick(settings: Settings, engine: Engine, views: dict[tuple[str, str, str], pd.DataFrame]) -> None:
    """Per tick: record the challengers that finished retrain jobs registered (once per job)."""
    from pinelab_core.live.retrain import sync_retrain_jobs

    sync_retrain_jobs(settings, engine)


@dataclass(frozen=True)
class LearningFrames:
    """What the learning-analytics view shows."""

    events: pd.DataFrame  # time, kind, model_name, version, job_id, message, detail
    regimes: pd.DataFrame  # data_source, symbol, timeframe, bar_time, label, trend/vol regime, ...
    performance: pd.DataFrame  # model_name, version, role, market, day, n, hit_rate, log_loss, brier, ...


def learning_frames(engine: Engine, *, limit: int = 5_000) -> LearningFrames:
    """The learning events (newest first), the recorded regimes and the daily performance snapshots."""
    tables = (table_of(LearningEventRow), table_of(RuleRegimeRow), table_of(ModelPerformanceRow))
    with engine.connect() as connection:
        newest_first = (tables[0].c.time.desc(), tables[0].c.id.desc())
        events = pd.DataFrame(connection.execute(select(tables[0]).order_by(*newest_first).limit(limit))
                              .mappings().all(), columns=list(tables[0].c.keys()))
        regimes = pd.DataFrame(connection.execute(select(tables[1]).order_by(tables[1].c.bar_time.desc())
                                                  .limit(limit)).mappings().all(), columns=list(tables[1].c.keys()))
        performance = pd.DataFrame(connection.execute(select(tables[2]).order_by(tables[2].c.day)
                                                      .limit(limit)).mappings().all(), columns=list(tables[2].c.keys()))
    for frame, column in ((events, "time"), (regimes, "bar_time"), (performance, "day")):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    events["detail"] = events.pop("detail_json").map(lambda text: json.loads(text or "{}"))
    return LearningFrames(events.drop(columns=["id"]), regimes.sort_values("bar_time").reset_index(drop=True),
                          performance.drop(columns=["id"]))


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)

