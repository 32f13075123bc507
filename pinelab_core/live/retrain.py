"""Retraining: scheduled or triggered by drift and accuracy decay, reusing a version's manifest on the data up to
now, and registering the result as a challenger. Nets may instead be fine-tuned on the new bars with a replay
buffer (`mode="incremental"`), compared against a full retrain on the same data.

    request_retrain(settings, engine, name, reason="drift", end=bar_time)  -> job id (once per request key)
    run_retrain_job(settings, params, reporter)   the worker's "retrain" job kind
    fine_tune_version(settings, name, version, ohlcv)  -> FineTuneResult (model, manifest, IncrementalReport)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import ModelSchemaError
from pinelab_core.live.db import table_of
from pinelab_core.live.learning import record_event, version_drift
from pinelab_core.live.promotion import get_policy
from pinelab_core.store.tables import JobRow, LearningEventRow

if TYPE_CHECKING:
    from pinelab_core.live.steps import BarContext
    from pinelab_core.training.runner import TrainRequest
    from pinelab_core.training.worker import JobReporter

__all__ = ["retrain_request", "retrain_triggers", "request_retrain", "run_retrain_job", "sync_retrain_jobs"]

NETS: tuple[str, ...] = ("lstm", "cnn")


def retrain_request(manifest: Any, *, end: str | None) -> TrainRequest:
    """The `TrainRequest` that trains a version's recipe again (features, label, parameters) on data up to `end`.

    Raises:
        ModelSchemaError: the feature set changed since the version was trained (retrain from scratch instead).
    """
    from pinelab_core.training.runner import TrainRequest
    from pinelab_core.training.walk_forward import CANDLE_MODELS

    options = manifest.options or {}
    if manifest.kind not in CANDLE_MODELS:
        from pinelab_core.features import model_feature_names

        names = model_feature_names(options.get("groups"),
                                    include_price_levels=bool(options.get("include_price_levels", False)),
                                    include_start_dependent=bool(options.get("include_start_dependent", False)))
        if names != list(manifest.feature_names):
            raise ModelSchemaError(f"{manifest.name}@v{manifest.version} was trained on a feature set this PineLab "
                                   "no longer builds the same way; train it again from the Training page.")
    label = manifest.label or {}
    return TrainRequest(
        symbols=[manifest.symbol], source=manifest.source or "demo", timeframe=manifest.timeframe,
        start=options.get("start"), end=end, models=[manifest.kind], horizon=int(label.get("horizon", 5)),
        label=str(label.get("kind", "direction")), label_params=dict(label.get("params") or {}),
        groups=options.get("groups"),
        include_price_levels=bool(options.get("include_price_levels", False)),
        include_start_dependent=bool(options.get("include_start_dependent", False)),
        window=str(options.get("window", "expanding")),
        embargo=int(options.get("embargo", 0)), fees=float(options.get("fees", 0.0005)),
        slippage=float(options.get("slippage", 0.0)), device=str(options.get("device", "auto")), seed=manifest.seed,
        model_params={manifest.kind: dict(options.get("model_params") or {})}, activate=False)


def request_retrain(settings: Settings, engine: Engine, name: str, version: int, *, reason: str, key: str,
                    end: pd.Timestamp | None = None, mode: str = "full") -> int | None:
    """Queue a retrain of `name@version` once per `key` (a learning event); the job id, or None if queued before."""
    if not record_event(engine, "retrain_requested", key, model=name, version=version,
                        time=end, message=f"retrain {name}@v{version} ({reason}, {mode})",
                        detail={"reason": reason, "mode": mode, "end": None if end is None else end.isoformat()}):
        return None
    return _submit_claimed(settings, engine, key)


def _submit_claimed(settings: Settings, engine: Engine, key: str) -> int | None:
    """Submit the job of a requested retrain whose job is not submitted yet (claimed in the event row, once)."""
    from pinelab_core.training.jobs import submit_job

    table = table_of(LearningEventRow)
    with engine.begin() as connection:
        claimed = connection.execute(update(table).where(table.c.event_key == key, table.c.job_id.is_(None))
                                     .values(job_id=0)).rowcount
        row = connection.execute(select(table).where(table.c.event_key == key)).first()
    if not claimed or row is None:
        return None
    detail = json.loads(row.detail_json or "{}")
    job_id = submit_job(settings, "retrain", {"model": row.model_name, "version": row.version, "end": detail.get("end"),
                                              "mode": detail.get("mode", "full"), "reason": detail.get("reason", "")})
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.event_key == key).values(job_id=job_id))
    return job_id


def retrain_triggers(context: BarContext) -> list[int]:
    """At a new day's first bar: drift alerts per active version, and retrains its policy asks for."""
    from pinelab_core.models.registry import list_versions

    at, jobs = context.at, []
    market = f"{context.data_source}|{context.symbol}|{context.timeframe}"
    for info in list_versions(context.settings, status="active", symbol=context.symbol, timeframe=context.timeframe):
        policy = get_policy(context.engine, info.name)
        alerts = version_drift(context.settings, info.name, info.version, context.view)
        for alert in alerts:
            record_event(context.engine, "drift_alert", f"drift|{market}|{at:%Y-%m-%d}|{info.name}|{alert.kind}",
                         model=info.name, version=info.version, time=at, message=alert.message,
                         detail={"severity": alert.severity, "kind": alert.kind, "subject": alert.subject})
        kinds = {a.kind for a in alerts}
        reasons = (["drift"] if policy.on_drift and "features" in kinds else []) + \
                  (["accuracy decay"] if policy.on_accuracy and "accuracy" in kinds else [])
        period = {"daily": f"{at:%Y-%m-%d}", "weekly": f"{at:%G-W%V}"}.get(policy.schedule)
        if period is not None:
            reasons.append(f"{policy.schedule} schedule")
        if reasons:
            key = f"retrain|{info.name}|v{info.version}|{period or at.strftime('%Y-%m-%d')}"
            job = request_retrain(context.settings, context.engine, info.name, info.version, reason=", ".join(reasons),
                                  key=key, end=at, mode=policy.mode)
            if job is not None:
                jobs.append(job)
    return jobs


def sync_retrain_jobs(settings: Settings, engine: Engine) -> int:
    """Submit requested retrains whose job never started (a crash in between), and log failed retrain jobs once."""
    events, jobs = table_of(LearningEventRow), table_of(JobRow)
    with engine.connect() as connection:
        orphans = connection.execute(select(events.c.event_key).where(events.c.kind == "retrain_requested",
                                                                      events.c.job_id.is_(None))).scalars().all()
        failed = connection.execute(select(jobs.c.id, jobs.c.params_json, jobs.c.error).where(
            jobs.c.kind == "retrain", jobs.c.status == "failed")).all()
    for key in orphans:
        _submit_claimed(settings, engine, key)
    logged = 0
    for job_id, params, error in failed:
        spec = json.loads(params or "{}")
        logged += record_event(engine, "retrain_failed", f"retrain_failed|{job_id}", model=spec.get("model", ""),
                               version=spec.get("version"), job_id=job_id,
                               message=(error or "failed").splitlines()[0][:500])
    return logged


def run_retrain_job(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    """The worker's `retrain` job: train the version's recipe again (or fine-tune a net), register a challenger."""
    from pinelab_core.models.registry import load_version, set_status

    name, version = str(params["model"]), int(params["version"])
    manifest = load_version(settings, name, version, device="cpu").manifest
    end, mode = params.get("end"), str(params.get("mode", "full"))
    if mode == "incremental" and manifest.kind in NETS:
        return _run_fine_tune(settings, manifest, end, reporter, params)
    if mode == "incremental":
        reporter.log(f"{manifest.kind} is not a net: incremental fine-tuning applies to {', '.join(NETS)}; "
                     "running a full retrain instead")
    from pinelab_core.training.runner import train_and_register

    request = retrain_request(manifest, end=end)
    reporter.log(f"retraining {name}@v{version} on {request.symbols[0]} {request.timeframe} up to {end or 'now'}")
    trained = train_and_register(settings, request, job_id=reporter.job_id,
                                 progress=lambda fraction, stage, _event: reporter.progress(fraction, stage))
    results = []
    for item in trained:
        set_status(settings, item.name, item.version, "challenger")
        record_event(_engine(settings), "challenger_registered", f"challenger|{item.name}|v{item.version}",
                     model=item.name, version=item.version, job_id=reporter.job_id,
                     time=pd.Timestamp(end) if end else None,
                     message=f"{item.ref} registered as challenger of v{version} ({params.get('reason', '')})",
                     detail={"parent": version, "metrics": item.metrics, "mode": "full"})
        reporter.log(f"registered {item.ref} as challenger")
        results.append({**item.to_dict(), "status": "challenger"})
    return {"versions": results, "parent": f"{name}@v{version}", "mode": "full"}


def _run_fine_tune(settings: Settings, manifest: Any, end: str | None, reporter: JobReporter,
                   params: dict[str, Any]) -> dict[str, Any]:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.live.incremental import fine_tune_version
    from pinelab_core.models.registry import register_model, set_status

    ohlcv = load_ohlcv(manifest.symbol, manifest.timeframe, manifest.options.get("start"), end,
                       source=manifest.source or "demo", settings=settings)
    reporter.progress(0.05, "fine-tuning on the new bars with a replay buffer")
    result = fine_tune_version(settings, manifest.name, manifest.version, ohlcv)
    info = register_model(settings, result.model, result.manifest)
    set_status(settings, info.name, info.version, "challenger")
    report = asdict(result.report)
    record_event(_engine(settings), "fine_tuned", f"challenger|{info.name}|v{info.version}", model=info.name,
                 version=info.version, job_id=reporter.job_id, time=pd.Timestamp(end) if end else None,
                 message=f"{info.ref} fine-tuned from v{manifest.version} on {report['new_rows']} new bars "
                         f"(+{report['replay_rows']} replayed); holdout log loss {report['fine_tune_log_loss']:.4f} vs "
                         f"full retrain {report['full_retrain_log_loss']:.4f}",
                 detail={"parent": manifest.version, "comparison": report, "reason": params.get("reason", "")})
    reporter.log(f"registered {info.ref} as challenger (fine-tuned)")
    return {"versions": [{"ref": info.ref, "name": info.name, "version": info.version, "status": "challenger"}],
            "parent": f"{manifest.name}@v{manifest.version}", "mode": "incremental", "comparison": report}


def _engine(settings: Settings) -> Engine:
    from pinelab_core.store import get_engine

    return get_engine(settings)

