"""One dedicated writer: alerts are stored in batches on its own thread, and nobody is answered before the commit.

The event loop never touches the database. A request hands its rows to the writer and waits for the
commit, at most `wait_s` (PINELAB_WEBHOOK_STORE_WAIT_S): when another process holds the store's write
lock longer, the request gets a 503 and its rows are dropped before they are written, so a 200 always
means "committed" and a 503 means "not stored, send again". The writer takes whatever is queued, opens
one write transaction (`BEGIN IMMEDIATE` on SQLite, waiting at most `attempt_lock_ms` for the lock, so
it keeps checking who is still waiting), inserts it all, commits with `synchronous=FULL` (durable before
the 200, even on power loss), then answers every request of the batch. The unique `dedupe_key` with
`ON CONFLICT DO NOTHING` stores each alert once, even when copies share a batch.

Refused requests are only counted (per hour, outcome and reason) and flushed with the next batch: a
flood of junk costs no request a wait and no row each. Old audit rows are pruned hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from pinelab_core.errors import StoreError
from pinelab_core.webhook.storage import (
    AlertCallback,
    AuditEntry,
    RefusalCounts,
    WriteJob,
    WriteResult,
    prune_webhook_audit,
    upsert_refusals,
    write_jobs,
)

__all__ = ["AlertWriter", "AuditEntry", "WriteJob", "WriteResult", "prune_webhook_audit"]

log = logging.getLogger(__name__)
_WAITING, _WRITING, _CANCELLED = 0, 1, 2
_PRUNE_EVERY_S = 3600.0
_PING_EVERY_S = 2.0


@dataclass(eq=False)
class _Pending:
    job: WriteJob
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WriteResult]
    deadline: float  # time.monotonic() after which it is no longer written
    state: int = _WAITING


class AlertWriter:
    """The sidecar's only database writer. `await submit(job)` returns once the job's rows are committed.

    Args:
        engine: the store.
        on_new_alerts: called (on the writer thread) with the ids of alerts stored for the first time.
        wait_s: the longest a request waits for its commit before it is answered 503.
        synchronous: SQLite's `synchronous` for the writer's commits (FULL: durable across power loss).
        audit_days: `webhook_request` and `webhook_refusal` rows older than this are deleted.
        attempt_lock_ms: how long one write attempt waits for the store's lock before re-checking its queue.
    """

    def __init__(self, engine: Engine, *, on_new_alerts: AlertCallback | None = None, wait_s: float = 2.0,
                 synchronous: str = "FULL", audit_days: int = 30, attempt_lock_ms: int = 100) -> None:
        self.engine = engine
        self.on_new_alerts = on_new_alerts
        self.wait_s = wait_s
        self.synchronous = synchronous.upper()
        self.audit_days = audit_days
        self.attempt_lock_ms = attempt_lock_ms
        self.state = "starting"  # ok | locked | unreachable: what the last write or ping found
        self.last_commit_at: float | None = None
        self._queue: deque[_Pending] = deque()
        self._refusals = RefusalCounts()
        self._condition = threading.Condition(threading.Lock())
        self._idle = False  # the writer thread is waiting for work: only then does a submit need to wake it
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._connection: Connection | None = None
        self._next_prune = 0.0
        self._next_ping = 0.0

    @property
    def pending(self) -> int:
        """Requests waiting for their commit."""
        return len(self._queue)

    def start(self) -> None:
        """Check the store once (so /healthz knows), then start the writer thread; idempotent, `submit` calls it."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._condition:
            if self._thread is None or not self._thread.is_alive():
                self._housekeeping()
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="pinelab-webhook-writer", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._condition:
            thread, self._stopping = self._thread, True
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    async def submit(self, job: WriteJob) -> WriteResult:
        """Queue `job` and wait for its commit. Raises `StoreError` (answer 503) when it could not be stored in time."""
        self.start()
        loop = asyncio.get_running_loop()
        pending = _Pending(job, loop, loop.create_future(), time.monotonic() + self.wait_s)
        with self._condition:
            self._queue.append(pending)
            if self._idle:
                self._condition.notify()
        # A timer rather than wait_for(shield(...)): two fewer objects per request on the hot path.
        timer = loop.call_later(self.wait_s, self._give_up, pending)
        try:
            return await pending.future
        finally:
            timer.cancel()

    def _give_up(self, pending: _Pending) -> None:
        """On the loop, at the request's deadline: a job not yet being written never will be (503).

        One whose write is under way gets that attempt's outcome, within `attempt_lock_ms`.
        """
        with self._condition:
            if pending.state != _WAITING or pending.future.done():
                return
            pending.state = _CANCELLED
        pending.future.set_exception(StoreError(f"The store stayed locked for {self.wait_s:g} s; the alert was not "
                                                "stored. Send it again."))

    def count_refusal(self, entry: AuditEntry, when: datetime | None = None) -> None:
        """Count a refused request; flushed with the next batch. Never waits."""
        with self._condition:
            self._refusals.add(entry.outcome, entry.status_code, entry.reason, entry.client, when)
            if self._idle:
                self._condition.notify()

    def write(self, jobs: list[WriteJob]) -> list[WriteResult]:
        """Store `jobs` now, on the calling thread (tools and tests). Raises `StoreError` on failure."""
        try:
            with self.engine.begin() as connection:
                results = write_jobs(connection, jobs)
        except SQLAlchemyError as exc:
            raise StoreError(f"Could not store webhook requests: {exc}. Retry.") from exc
        self._announce(results)
        return results

    def health(self) -> dict[str, Any]:
        """The writer's view of the store, for /healthz (no database call)."""
        age = None if self.last_commit_at is None else round(time.monotonic() - self.last_commit_at, 3)
        return {"database": self.state, "waiting_for_commit": self.pending, "seconds_since_commit": age}

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._condition:
                    while not self._queue and not self._refusals and not self._stopping:
                        self._idle = True
                        woken = self._condition.wait(timeout=self._idle_wait())
                        self._idle = False
                        if not woken:
                            break
                    if self._stopping and not self._queue and not self._refusals:
                        return
                    batch = self._claim()
                    refusals = self._refusals.take()
                if batch or refusals:
                    self._write_claimed(batch, refusals)
                self._housekeeping()
        finally:
            self._disconnect()

    def _idle_wait(self) -> float:
        return max(0.05, min(self._next_ping, self._next_prune) - time.monotonic())

    def _claim(self) -> list[_Pending]:
        """Take every request still waiting (called with the condition held)."""
        batch = [p for p in self._queue if p.state == _WAITING]
        for pending in batch:
            pending.state = _WRITING
        self._queue.clear()
        return batch

    def _write_claimed(self, batch: list[_Pending], refusals: RefusalCounts) -> None:
        try:
            connection = self._connect()

            def store() -> list[WriteResult]:
                upsert_refusals(connection, refusals)
                return write_jobs(connection, [p.job for p in batch])

            results = self._in_write_transaction(connection, store)
        except OperationalError as exc:
            if not _is_lock_error(exc) and not _connection_lost(exc):
                self._fail_one_by_one(batch, refusals, exc)
                return
            self.state = "locked" if _is_lock_error(exc) else "unreachable"
            if _connection_lost(exc):
                self._disconnect()
            now = time.monotonic()
            with self._condition:  # back to the front of the queue, unless their time ran out meanwhile
                for pending in reversed(batch):
                    if now >= pending.deadline:
                        pending.state = _CANCELLED
                        _resolve(pending, StoreError(f"The store stayed locked for {self.wait_s:g} s; the alert "
                                                     "was not stored. Send it again."))
                    else:
                        pending.state = _WAITING
                        self._queue.appendleft(pending)
                self._refusals.merge(refusals)
            time.sleep(0.01)
            return
        except Exception as exc:  # whatever broke, no waiting request may be left hanging
            self._fail_one_by_one(batch, refusals, exc)
            return
        self._committed(batch, results)

    def _fail_one_by_one(self, batch: list[_Pending], refusals: RefusalCounts, error: BaseException) -> None:
        """One bad row must not fail its neighbours: each job gets its own transaction."""
        log.warning("Batch of %d webhook writes failed (%s); retrying one by one", len(batch), error)
        self._disconnect()
        for pending in batch:
            try:
                self._committed([pending], self._write_alone(pending.job))
            except Exception as exc:
                log.error("Webhook request not stored: %s", exc)
                self._disconnect()
                _resolve(pending, StoreError(f"Could not store the webhook request: {exc}. Retry."))
        if refusals:
            log.warning("Dropped %d refusal counts the store would not take", refusals.total)

    def _write_alone(self, job: WriteJob) -> list[WriteResult]:
        connection = self._connect()
        return self._in_write_transaction(connection, lambda: write_jobs(connection, [job]))

    def _committed(self, batch: list[_Pending], results: list[WriteResult]) -> None:
        self.state, self.last_commit_at = "ok", time.monotonic()
        self._announce(results)
        _resolve_all(list(zip(batch, results, strict=True)))

    def _in_write_transaction(self, connection: Connection, work: Any) -> Any:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            result = work()
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        return result

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self.engine.connect()
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql(f"PRAGMA synchronous={self.synchronous}")
                connection.exec_driver_sql(f"PRAGMA busy_timeout={self.attempt_lock_ms}")
            elif connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SET lock_timeout = {self.attempt_lock_ms}")
                connection.exec_driver_sql(f"SET statement_timeout = {int(self.wait_s * 1000)}")
            connection.commit()
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:  # the connection goes back to the pool: leave it as the engine's other users expect it
            connection.rollback()
            if connection.dialect.name == "sqlite":
                from pinelab_core.store.engine import BUSY_TIMEOUT_MS

                connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
                connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            else:
                connection.exec_driver_sql("RESET lock_timeout")
                connection.exec_driver_sql("RESET statement_timeout")
            connection.commit()
            connection.close()
        except SQLAlchemyError:
            connection.invalidate()

    def _housekeeping(self) -> None:
        """Ping the store now and then (so /healthz knows without asking it) and prune old audit rows hourly."""
        now = time.monotonic()
        try:
            if now >= self._next_prune:
                self._next_prune = now + _PRUNE_EVERY_S
                connection = self._connect()
                self._in_write_transaction(connection, lambda: prune_webhook_audit(connection, self.audit_days))
                self.state = "ok"
            elif now >= self._next_ping:
                self._connect().exec_driver_sql("SELECT 1").all()
                self._connection.commit()  # type: ignore[union-attr]
                self.state = "ok" if self.state != "locked" or not self._queue else self.state
            self._next_ping = now + _PING_EVERY_S
        except OperationalError as exc:
            self.state = "locked" if _is_lock_error(exc) else "unreachable"
            self._next_prune = min(self._next_prune, now + 60.0) if _is_lock_error(exc) else self._next_prune
            self._disconnect()
            self._next_ping = now + _PING_EVERY_S
        except SQLAlchemyError:
            self.state = "unreachable"
            self._disconnect()
            self._next_ping = now + _PING_EVERY_S

    def _announce(self, results: list[WriteResult]) -> None:
        fresh = [r.alert_id for r in results if r.alert_id is not None and not r.duplicate]
        if fresh and self.on_new_alerts is not None:
            try:
                self.on_new_alerts(fresh)
            except Exception:  # enrichment is best effort; the alerts are already stored
                log.exception("Could not queue alerts for enrichment")


def _resolve(pending: _Pending, outcome: WriteResult | BaseException) -> None:
    _resolve_all([(pending, outcome)])


def _resolve_all(outcomes: list[tuple[_Pending, WriteResult | BaseException]]) -> None:
    """Answer a batch's requests: one wake-up of each event loop per batch, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, WriteResult | BaseException]]] = {}
    for pending, outcome in outcomes:
        by_loop.setdefault(pending.loop, []).append((pending, outcome))
    for loop, mine in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed (server shut down)
            loop.call_soon_threadsafe(_deliver, mine)


def _deliver(outcomes: list[tuple[_Pending, WriteResult | BaseException]]) -> None:
    for pending, outcome in outcomes:
        if pending.future.done():  # the client went away, or its deadline passed; the rows stand all the same
            continue
        if isinstance(outcome, BaseException):
            pending.future.set_exception(outcome)
        else:
            pending.future.set_result(outcome)


def _is_lock_error(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return "locked" in text or "busy" in text or sqlstate in {"55P03", "57014", "40P01"}


def _connection_lost(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or "closed" in str(exc.orig).lower() or "connect" in str(exc.orig).lower()
