"""The desk's state as JSON: the model registry (versions, what is active, drift alerts) and the store
(backend, schema version, jobs, when market data was last fetched)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError
from pinelab_core.insights.payload import number, stamp
from pinelab_core.store.tables import JobRow, ModelVersionRow, PriceFetchRow

__all__ = ["MAX_DRIFT_MARKETS", "active_markets", "models_status", "registry_fingerprint", "store_status"]

#: Drift is checked for at most this many active markets per answer (each loads its bars and features).
MAX_DRIFT_MARKETS = 20
_VERSIONS = ModelVersionRow.__table__  # type: ignore[attr-defined]
_FETCHES = PriceFetchRow.__table__  # type: ignore[attr-defined]
_JOBS = JobRow.__table__  # type: ignore[attr-defined]


def registry_fingerprint(settings: Settings) -> tuple[tuple[str, int, str], ...]:
    """Every version's (name, version, status): changes whenever a model is registered, promoted or archived."""
    from pinelab_core.store import get_engine

    with get_engine(settings).connect() as connection:
        rows = connection.execute(select(_VERSIONS.c.model_name, _VERSIONS.c.version, _VERSIONS.c.status)
                                  .order_by(_VERSIONS.c.id)).all()
    return tuple((str(r[0]), int(r[1]), str(r[2])) for r in rows)


def active_markets(settings: Settings) -> list[tuple[str, str]]:
    """(symbol, timeframe) of the markets with an active model, at most `MAX_DRIFT_MARKETS`."""
    from pinelab_core.models.registry import list_versions

    markets = sorted({(v.symbol, v.timeframe) for v in list_versions(settings, status="active") if v.symbol})
    return markets[:MAX_DRIFT_MARKETS]


def models_status(settings: Settings, source: str, frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Registered versions, the active set per market, and each active market's drift alerts.

    Args:
        settings: where the registry is.
        source: the data source the drift is measured on.
        frames: bars of the active markets keyed "SYMBOL|TIMEFRAME" (a market missing here could not be loaded).
    """
    from pinelab_core.models.active import load_active
    from pinelab_core.models.monitor import drift_report
    from pinelab_core.models.registry import list_versions

    versions = list_versions(settings)
    counts: dict[str, int] = {}
    for v in versions:
        counts[v.status] = counts.get(v.status, 0) + 1
    active: dict[tuple[str, str], list[str]] = {}
    for v in versions:
        if v.status == "active":
            active.setdefault((v.symbol, v.timeframe), []).append(v.ref)
    drift = []
    for symbol, timeframe in active_markets(settings):
        entry: dict[str, Any] = {"symbol": symbol, "timeframe": timeframe, "source": source}
        frame = frames.get(f"{symbol}|{timeframe}")
        try:
            if frame is None:
                raise PinelabError(f"No {timeframe} bars of {symbol} from {source}.")
            report = drift_report(settings, load_active(settings, symbol, timeframe), frame)
            entry["alerts"] = [{"kind": a.kind, "subject": a.subject, "severity": a.severity, "message": a.message}
                               for a in report.alerts]
            entry["drifting_features"] = int((report.features.get("status", pd.Series(dtype=str))
                                              == "significant").sum())
        except PinelabError as exc:
            entry["error"] = str(exc)
        drift.append(entry)
    return {
        "counts": counts,
        "active": [{"symbol": s, "timeframe": tf, "models": refs} for (s, tf), refs in sorted(active.items())],
        "versions": [{"name": v.name, "version": v.version, "ref": v.ref, "kind": v.kind, "status": v.status,
                      "symbol": v.symbol, "timeframe": v.timeframe, "label": v.label, "horizon": v.horizon,
                      "device": v.device, "created_at": stamp(v.created_at),
                      "metrics": {k: number(m) for k, m in v.metrics.items() if _is_number(m)}}
                     for v in versions],
        "drift": drift,
    }


def store_status(settings: Settings) -> dict[str, Any]:
    """Store backend and schema version (`check_store`), jobs by status and the running ones, the last fetches."""
    from pinelab_core.store import check_store, get_engine
    from pinelab_core.training.jobs import list_jobs

    engine = get_engine(settings)
    report = check_store(engine)
    with engine.connect() as connection:
        by_status = dict(connection.execute(select(_JOBS.c.status, func.count()).group_by(_JOBS.c.status)).all())
        fetches = connection.execute(select(_FETCHES).order_by(_FETCHES.c.fetched_at.desc()).limit(10)).all()
    running = list_jobs(settings, limit=20, statuses=("queued", "running"))
    return {
        "store": {"backend": report.backend, "server_version": report.server_version,
                  "schema_version": report.schema_version, "code_schema_version": report.code_schema_version,
                  "ok": report.ok, "missing_tables": report.missing_tables, "row_counts": report.row_counts},
        "jobs": {"by_status": {str(k): int(v) for k, v in by_status.items()},
                 "active": [{"id": j.id, "kind": j.kind, "status": j.status, "progress": number(j.progress),
                             "stage": j.stage, "created_at": stamp(j.created_at),
                             "heartbeat_at": stamp(j.heartbeat_at)} for j in running]},
        "data": {"default_source": settings.default_source,
                 "last_refresh": stamp(fetches[0].fetched_at) if fetches else None,
                 "recent_fetches": [{"source": f.source, "symbol": f.symbol, "timeframe": f.timeframe,
                                     "fetched_at": stamp(f.fetched_at), "rows": int(f.rows), "error": f.last_error}
                                    for f in fetches]},
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
