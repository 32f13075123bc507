"""Engine factory: SQLite (WAL, busy timeout) by default, PostgreSQL through the same URL setting.

Nothing here runs at import time. `get_engine(settings)` builds (once per URL) an engine whose schema
exists and is at `SCHEMA_VERSION`; use it as `with Session(engine): ...`, one session per unit of work.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine, select

from pinelab_core.config import Settings
from pinelab_core.errors import StoreError
from pinelab_core.store import tables
from pinelab_core.store.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "get_engine", "make_engine", "schema_version"]

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()
BUSY_TIMEOUT_MS = 30_000


def get_engine(settings: Settings) -> Engine:
    """The engine for `settings.resolved_database_url`, built and migrated on first use."""
    url = settings.resolved_database_url
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            _ENGINES[url] = engine
    return engine


def make_engine(url: str) -> Engine:
    """Build a new engine for `url` and bring its schema up to date. Prefer `get_engine`."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"Cannot open database {url!r}: {exc}. Check PINELAB_DATABASE_URL.") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _migrate(engine)
    return engine


def schema_version(engine: Engine) -> int:
    with Session(engine) as session:
        row = session.get(tables.SchemaVersion, 1)
        return row.version if row else 0


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
    """Create missing tables, then run the migrations between the stored and the current version."""
    try:
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            row = session.exec(select(tables.SchemaVersion)).first()
            if row is None:
                session.add(tables.SchemaVersion(id=1, version=SCHEMA_VERSION, applied_at=datetime.now(UTC)))
                session.commit()
                return
            if row.version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database is at schema version {row.version}, newer than this PineLab "
                    f"({SCHEMA_VERSION}). Upgrade PineLab or point PINELAB_DATABASE_URL elsewhere."
                )
            for version in range(row.version, SCHEMA_VERSION):
                MIGRATIONS[version](session)
                row.version = version + 1
                row.applied_at = datetime.now(UTC)
                session.add(row)
                session.commit()
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot prepare the database schema: {exc}. Check PINELAB_DATABASE_URL.") from exc
