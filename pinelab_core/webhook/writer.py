"""Group commit: alerts and audit rows are stored in batches, and nobody is answered before the commit.

SQLite takes one writer at a time. A pool of request threads each committing on its own would
queue on the database lock (busy-timeout sleeps, long tails). Instead every request hands its rows
to the writer and waits; once the event loop has taken in whatever arrived together, the writer
inserts it all in one transaction, commits, then wakes the waiting requests. So an alert is
durable before its 200 goes out, and one commit serves everyone who arrived meanwhile. The unique
`dedupe_key` with `ON CONFLICT DO NOTHING` stores each alert once, even when copies share a batch.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from pinelab_core.errors import StoreError
from pinelab_core.store.tables import TradingViewAlertRow, WebhookRequestRow

__all__ = ["AlertWriter", "AuditEntry", "WriteJob", "WriteResult"]

log = logging.getLogger(__name__)
_ALERTS = TradingViewAlertRow.__table__  # type: ignore[attr-defined]
_REQUESTS = WebhookRequestRow.__table__  # type: ignore[attr-defined]


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


class AlertWriter:
    """Group commit on the event loop. `await submit(job)` returns once the job's rows are committed."""

    def __init__(self, engine: Engine, *, on_new_alerts: Callable[[list[int]], None] | None = None) -> None:
        self.engine = engine
        self.on_new_alerts = on_new_alerts
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[WriteJob, asyncio.Future[WriteResult]]]] = {}

    @property
    def pending(self) -> int:
        """Requests waiting for the next commit."""
        return sum(len(jobs) for jobs in list(self._pending.values()))

    async def submit(self, job: WriteJob) -> WriteResult:
        """Queue `job` for the next group commit and wait for it. Raises `StoreError` when the database refused it.

        The first request of a round schedules the flush with `call_soon`, so every request the loop
        handles before the flush runs (everything that arrived together) shares the one commit.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()
        waiting = self._pending.setdefault(loop, [])
        waiting.append((job, future))
        if len(waiting) == 1:
            loop.call_soon(self._flush, loop)
        return await future

    def write(self, jobs: list[WriteJob]) -> list[WriteResult]:
        """Store `jobs` now, on the calling thread (tools and tests). Raises `StoreError` on failure."""
        try:
            results = self._write_batch(jobs)
        except SQLAlchemyError as exc:
            raise StoreError(f"Could not store webhook requests: {exc}. Retry.") from exc
        self._announce(results)
        return results

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        # Runs on the loop itself: a batch costs tens of microseconds per alert plus one commit, cheaper
        # than handing every batch to a thread and back through the GIL.
        batch = self._pending.pop(loop, [])
        jobs = [job for job, _ in batch]
        try:
            outcomes: list[WriteResult | BaseException] = list(self._write_batch(jobs))
        except Exception:  # whatever broke, no waiting request may be left hanging
            # One bad row must not fail its neighbours: retry them one transaction each.
            log.warning("Batch of %d webhook writes failed; retrying one by one", len(jobs), exc_info=True)
            outcomes = [self._write_one(job) for job in jobs]
        self._announce([o for o in outcomes if isinstance(o, WriteResult)])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the client went away; the rows are stored all the same
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _write_one(self, job: WriteJob) -> WriteResult | BaseException:
        try:
            return self._write_batch([job])[0]
        except Exception as exc:  # turned into a 503 for this request only
            log.exception("Webhook request not stored")
            return StoreError(f"Could not store the webhook request: {exc}. Retry.")

    def _write_batch(self, jobs: list[WriteJob]) -> list[WriteResult]:
        now = datetime.now(UTC)
        results: list[WriteResult] = []
        audits: list[dict[str, Any]] = []
        seen: set[str] = set()
        with self.engine.begin() as connection:
            stored = _insert_alerts(connection, [job.alert for job in jobs if job.alert is not None])
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
            connection.execute(insert(_REQUESTS), audits)
        return results

    def _announce(self, results: list[WriteResult]) -> None:
        fresh = [r.alert_id for r in results if r.alert_id is not None and not r.duplicate]
        if fresh and self.on_new_alerts is not None:
            try:
                self.on_new_alerts(fresh)
            except Exception:  # enrichment is best effort; the alerts are already stored
                log.exception("Could not queue alerts for enrichment")


def _insert_alerts(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, tuple[int, bool]]:
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
    dialects = {"sqlite": sqlite, "postgresql": postgresql}
    if dialect not in dialects:
        return None
    return dialects[dialect].insert(_ALERTS).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(
        _ALERTS.c.id, _ALERTS.c.dedupe_key)
