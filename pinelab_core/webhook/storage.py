"""What the webhook writer stores and how: jobs, alerts inserted once per dedupe key, refusals counted per hour,
old audit rows pruned."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pinelab_core.store.tables import TradingViewAlertRow, WebhookRefusalRow, WebhookRequestRow

__all__ = [
    "AlertCallback",
    "AuditEntry",
    "RefusalCounts",
    "WriteJob",
    "WriteResult",
    "insert_alerts",
    "prune_webhook_audit",
    "upsert_refusals",
    "write_jobs",
]

AlertCallback = Callable[[list[int]], None]
_ALERTS = TradingViewAlertRow.__table__  # type: ignore[attr-defined]
_REFUSALS = WebhookRefusalRow.__table__  # type: ignore[attr-defined]
_REQUESTS = WebhookRequestRow.__table__  # type: ignore[attr-defined]
_DIALECTS = {"sqlite": sqlite, "postgresql": postgresql}


@dataclass(frozen=True)
class AuditEntry:
    """One request's outcome for the audit trail (never the passphrase, never the body)."""

    client: str
    status_code: int
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class WriteJob:
    """What one request needs stored: its audit entry and, when accepted, the alert row's values."""

    audit: AuditEntry
    alert: dict[str, Any] | None = None


@dataclass(frozen=True)
class WriteResult:
    alert_id: int | None = None
    duplicate: bool = False


class RefusalCounts:
    """Refused requests counted in memory until the writer's next commit: {(hour, outcome, status, reason): ...}."""

    def __init__(self) -> None:
        self.counts: dict[tuple[datetime, str, int, str], list[Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.counts)

    @property
    def total(self) -> int:
        return sum(int(value[0]) for value in self.counts.values())

    def add(self, outcome: str, status_code: int, reason: str, client: str, when: datetime | None = None,
            count: int = 1) -> None:
        when = when or datetime.now(UTC)
        key = (when.replace(minute=0, second=0, microsecond=0), outcome, status_code, reason[:300])
        entry = self.counts.setdefault(key, [0, when, client[:64]])
        entry[0] += count
        if when >= entry[1]:
            entry[1], entry[2] = when, client[:64]

    def take(self) -> RefusalCounts:
        """Hand over what was counted and start again from zero."""
        taken = RefusalCounts()
        taken.counts, self.counts = self.counts, {}
        return taken

    def merge(self, other: RefusalCounts) -> None:
        for (hour, outcome, status, reason), (count, when, client) in other.counts.items():
            self.add(outcome, status, reason, client, when, count)
            del hour  # the hour is recomputed from `when`


def prune_webhook_audit(connection: Connection, days: int) -> int:
    """Delete `webhook_request` and `webhook_refusal` rows older than `days`; returns the rows deleted."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    deleted = connection.execute(delete(_REQUESTS).where(_REQUESTS.c.received_at < cutoff)).rowcount
    deleted += connection.execute(delete(_REFUSALS).where(_REFUSALS.c.period_start < cutoff)).rowcount
    return int(deleted)


def write_jobs(connection: Connection, jobs: list[WriteJob]) -> list[WriteResult]:
    """Insert the alerts (each dedupe key once) and one audit row per job; the results in job order."""
    now = datetime.now(UTC)
    stored = insert_alerts(connection, [job.alert for job in jobs if job.alert is not None])
    results: list[WriteResult] = []
    audits: list[dict[str, Any]] = []
    seen: set[str] = set()
    for job in jobs:
        result = WriteResult()
        outcome = job.audit.outcome
        if job.alert is not None:
            key = job.alert["dedupe_key"]
            alert_id, inserted = stored[key]
            result = WriteResult(alert_id, duplicate=not inserted or key in seen)  # 2nd copy in a batch too
            seen.add(key)
            outcome = "duplicate" if result.duplicate else "accepted"
        results.append(result)
        audits.append({
            "received_at": job.alert["received_at"] if job.alert else now,
            "client": job.audit.client[:64], "status_code": job.audit.status_code,
            "outcome": outcome, "reason": job.audit.reason[:500], "alert_id": result.alert_id,
        })
    if audits:
        connection.execute(insert(_REQUESTS), audits)
    return results


def upsert_refusals(connection: Connection, refusals: RefusalCounts) -> None:
    """Add the counts to `webhook_refusal` (one row per hour, outcome, status and reason)."""
    if not refusals:
        return
    rows = [{"period_start": hour, "outcome": outcome, "status_code": status, "reason": reason, "count": count,
             "last_at": when, "last_client": client}
            for (hour, outcome, status, reason), (count, when, client) in refusals.counts.items()]
    dialect = _DIALECTS.get(connection.dialect.name, sqlite)
    statement = dialect.insert(_REFUSALS)
    statement = statement.on_conflict_do_update(
        index_elements=["period_start", "outcome", "status_code", "reason"],
        set_={"count": _REFUSALS.c.count + statement.excluded.count, "last_at": statement.excluded.last_at,
              "last_client": statement.excluded.last_client})
    connection.execute(statement, rows)


def insert_alerts(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, tuple[int, bool]]:
    """Insert the alerts whose dedupe key is new; {dedupe_key: (row id, inserted now)} for every row.

    SQLite and PostgreSQL get one multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` per batch
    (copies inside the batch collapse too); other databases insert row by row under savepoints.
    """
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(row["dedupe_key"], row)
    if not unique:
        return {}
    stored: dict[str, tuple[int, bool]] = {}
    statement = _upsert_statement(connection.dialect.name)
    if statement is not None:
        # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs from one cached compile.
        for new_id, key in connection.execute(statement, list(unique.values())).all():
            stored[key] = (int(new_id), True)
    else:
        for key, values in unique.items():
            try:
                with connection.begin_nested():
                    new_id = connection.execute(insert(_ALERTS).returning(_ALERTS.c.id), values).scalar_one()
                stored[key] = (int(new_id), True)
            except IntegrityError:
                continue
    missing = [key for key in unique if key not in stored]
    if missing:
        found = connection.execute(select(_ALERTS.c.id, _ALERTS.c.dedupe_key).where(_ALERTS.c.dedupe_key.in_(missing)))
        for existing_id, key in found.all():
            stored[key] = (int(existing_id), False)
    return stored


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key` where the dialect has it."""
    if dialect not in _DIALECTS:
        return None
    return _DIALECTS[dialect].insert(_ALERTS).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(
        _ALERTS.c.id, _ALERTS.c.dedupe_key)
