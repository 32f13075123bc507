"""The scheduler's lock in the store: a lease that one `pinelab run` holds and renews; a second copy refuses.

A lease row names its holder (host, pid, a random token) and its last heartbeat. Taking it runs in one write
transaction (the store's write lock, a row lock on PostgreSQL), so two processes starting at once cannot both
win. A lease is free when its heartbeat is older than `lease_s`, or at once when its holder ran on this host and
its process is gone (a crash or SIGKILL), so a restarted scheduler does not wait out a dead one's lease.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from pinelab_core.errors import JobError
from pinelab_core.live.db import as_utc, table_of
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import SchedulerLockRow
from pinelab_core.training.jobs import _process_alive as process_alive  # the job table's liveness check, reused

__all__ = ["LEASE_S", "LeaseInfo", "SchedulerLease", "SchedulerRunningError", "acquire_lease", "lease_info",
           "request_stop"]

LEASE_S = 60.0
LOCK_NAME = "scheduler"


class SchedulerRunningError(JobError):
    """Another `pinelab run` holds the scheduler lock. Stop it first (`pinelab run --stop`), or wait for its lease."""


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds the scheduler lock, and whether it still looks alive."""

    owner: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    stop_requested: bool
    options: dict[str, Any]
    alive: bool  # heartbeat within the lease and (on this host) the process exists


class SchedulerLease:
    """A held lease; `renew()` keeps it, `release()` gives it back. A side thread renews it while work runs."""

    def __init__(self, engine: Engine, owner: str, lease_s: float, name: str = LOCK_NAME) -> None:
        self.engine, self.owner, self.lease_s, self.name = engine, owner, lease_s, name
        self.lost = threading.Event()
        self.stop_requested = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def renew(self) -> bool:
        """Move the heartbeat; False (and `lost` set) when another process took the lease meanwhile."""
        table = table_of(SchedulerLockRow)
        with self.engine.begin() as connection:
            row = connection.execute(update(table).where(table.c.name == self.name, table.c.owner == self.owner)
                                     .values(heartbeat_at=datetime.now(UTC)).returning(table.c.stop_requested)).first()
        if row is None:
            self.lost.set()
            return False
        if row[0]:
            self.stop_requested.set()
        return True

    def check_stop(self) -> None:
        """Read (without writing) whether a stop was requested or the lease was taken over."""
        table = table_of(SchedulerLockRow)
        with self.engine.connect() as connection:
            row = connection.execute(select(table.c.stop_requested).where(
                table.c.name == self.name, table.c.owner == self.owner)).first()
        if row is None:
            self.lost.set()
        elif row[0]:
            self.stop_requested.set()

    def start_heartbeat(self) -> None:
        """Renew every third of the lease on a daemon thread, so a long step never lets the lease lapse."""
        def beat() -> None:
            while not self._done.wait(self.lease_s / 3.0):
                if not self.renew():
                    return

        self._thread = threading.Thread(target=beat, daemon=True, name="pinelab-scheduler-lease")
        self._thread.start()

    def release(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        table = table_of(SchedulerLockRow)
        with self.engine.begin() as connection:
            connection.execute(delete(table).where(table.c.name == self.name, table.c.owner == self.owner))


def acquire_lease(engine: Engine, *, lease_s: float = LEASE_S, options: dict[str, Any] | None = None,
                  name: str = LOCK_NAME) -> SchedulerLease:
    """Take the scheduler lock or raise `SchedulerRunningError` naming the holder."""
    host, pid = socket.gethostname(), os.getpid()
    owner = f"{host}:{pid}:{uuid.uuid4().hex[:8]}"
    table = table_of(SchedulerLockRow)
    now = datetime.now(UTC)
    values = {"name": name, "owner": owner, "host": host, "pid": pid, "acquired_at": now, "heartbeat_at": now,
              "stop_requested": False, "options_json": json.dumps(options or {}, default=str)}
    with write_transaction(engine, lock=f"lease:{name}") as connection:
        query = select(table).where(table.c.name == name)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).first()
        if row is not None:
            info = _info(row, lease_s)
            if info.alive:
                raise SchedulerRunningError(
                    f"The scheduler already runs (process {info.pid} on {info.host}, heartbeat "
                    f"{info.heartbeat_at:%H:%M:%S} UTC). Stop it with `pinelab run --stop` (or the Paper Trading "
                    "page) before starting another.")
            connection.execute(delete(table).where(table.c.name == name))
        connection.execute(table.insert().values(**values))
    lease = SchedulerLease(engine, owner, lease_s, name)
    return lease


def lease_info(engine: Engine, *, lease_s: float = LEASE_S, name: str = LOCK_NAME) -> LeaseInfo | None:
    """The current holder of the scheduler lock (None when nobody holds it)."""
    table = table_of(SchedulerLockRow)
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.name == name)).first()
    return None if row is None else _info(row, lease_s)


def request_stop(engine: Engine, name: str = LOCK_NAME) -> bool:
    """Ask the running scheduler to stop after its current step; False when none runs."""
    table = table_of(SchedulerLockRow)
    with engine.begin() as connection:
        return bool(connection.execute(update(table).where(table.c.name == name)
                                       .values(stop_requested=True)).rowcount)


def _info(row: Any, lease_s: float) -> LeaseInfo:
    heartbeat = as_utc(row.heartbeat_at) or datetime.now(UTC)
    fresh = datetime.now(UTC) - heartbeat < timedelta(seconds=lease_s)
    alive = fresh and (row.host != socket.gethostname() or process_alive(int(row.pid)))
    return LeaseInfo(row.owner, row.host, int(row.pid), as_utc(row.acquired_at) or heartbeat, heartbeat,
                     bool(row.stop_requested), json.loads(row.options_json or "{}"), alive)
