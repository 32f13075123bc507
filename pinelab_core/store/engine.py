"""Engine factory: SQLite (WAL, busy timeout) by default, PostgreSQL through the same URL setting.

Nothing here runs at import time. `get_engine(settings)` builds (once per URL) an engine whose schema
exists and is at `SCHEMA_VERSION`; use it as `with Session(engine): ...`, one session per unit of work.
Work that must happen exactly once across processes runs in `write_transaction(engine)`: the write
lock is taken up front (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL), never after a read.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine, select

from pinelab_core.config import Settings
from pinelab_core.errors import StoreError
from pinelab_core.store import tables
from pinelab_core.store.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "dispose_engines",
    "get_engine",
    "make_engine",
    "normalise_url",
    "schema_version",
    "write_transaction",
]

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
BUSY_TIMEOUT_MS = 30_000
_SCHEMA_LOCK = "pinelab:schema"


def get_engine(settings: Settings) -> Engine:
    """The engine for `settings.resolved_database_url`, built and migrated on first use."""
    url = normalise_url(settings.resolved_database_url)
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            _ENGINES[url] = engine
    return engine


def dispose_engines(url: str | None = None) -> None:
    """Close the pooled connections of the cached engine for `url` (every one when None) and forget it."""
    with _LOCK:
        urls = [normalise_url(url)] if url else list(_ENGINES)
        engines = [_ENGINES.pop(u) for u in urls if u in _ENGINES]
    for engine in engines:
        engine.dispose()


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` URLs use the psycopg (v3) driver, the one PineLab installs and tests."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    """Build a new engine for `url` and bring its schema up to date. Prefer `get_engine`."""
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    elif url.startswith("postgresql"):
        # Naive timestamps are UTC everywhere in PineLab; the session time zone makes PostgreSQL agree.
        kwargs["connect_args"] = {"options": "-c timezone=UTC"}
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        hint = " Install the driver: pip install 'psycopg[binary]'." if isinstance(exc, ImportError) else ""
        raise StoreError(f"Cannot open database {url!r}: {exc}.{hint} Check PINELAB_DATABASE_URL.") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _migrate(engine)
    return engine


def schema_version(engine: Engine) -> int:
    with Session(engine) as session:
        row = session.get(tables.SchemaVersion, 1)
        return row.version if row else 0


@contextmanager
def write_transaction(engine: Engine, lock: str | None = None) -> Iterator[Connection]:
    """One transaction that holds the write lock from its first statement to its commit.

    SQLite: `BEGIN IMMEDIATE` (the database's one write lock, waited for up to the busy timeout), so
    nothing read inside can change before the commit. PostgreSQL: a transaction-scoped advisory lock on
    `lock` (e.g. one market), so concurrent writers of the same thing queue instead of interleaving;
    take row locks (`SELECT ... FOR UPDATE`) inside for finer grain.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif lock is not None and connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(lock)})
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks (the same in every process)."""
    return zlib.crc32(name.encode("utf-8")) - 2**31


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _migrate(engine: Engine) -> None:
    """Create missing tables, then run the migrations between the stored and the current version.

    Both happen under the write lock, so processes opening a new or old store together migrate it once.
    """
    try:
        with write_transaction(engine, lock=_SCHEMA_LOCK) as connection:
            SQLModel.metadata.create_all(connection)
            version_table = tables.SchemaVersion.__table__  # type: ignore[attr-defined]
            row = connection.execute(select(version_table.c.version)).first()
            if row is None:
                connection.execute(version_table.insert().values(id=1, version=SCHEMA_VERSION,
                                                                 applied_at=datetime.now(UTC)))
                return
            stored = int(row[0])
            if stored > SCHEMA_VERSION:
                raise StoreError(
                    f"The database is at schema version {stored}, newer than this PineLab "
                    f"({SCHEMA_VERSION}). Upgrade PineLab or point PINELAB_DATABASE_URL elsewhere."
                )
            for version in range(stored, SCHEMA_VERSION):
                MIGRATIONS[version](connection)
            if stored < SCHEMA_VERSION:
                connection.execute(version_table.update().values(version=SCHEMA_VERSION, applied_at=datetime.now(UTC)))
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"Cannot prepare the database schema of {where}: {exc}. Check PINELAB_DATABASE_URL.") from exc
