"""What is in the store: backend, where it is (password masked), schema version and row counts per table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from pinelab_core.errors import StoreError
from pinelab_core.store.migrations import SCHEMA_VERSION

__all__ = ["StoreReport", "check_store"]


@dataclass(frozen=True)
class StoreReport:
    """The answer of `pinelab db check`."""

    backend: str  # sqlite | postgresql
    url: str  # the database URL with any password masked
    server_version: str
    schema_version: int
    code_schema_version: int
    row_counts: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # journal mode, synchronous (SQLite)
    missing_tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.schema_version == self.code_schema_version and not self.missing_tables


def check_store(engine: Engine) -> StoreReport:
    """Read the store's backend, schema version and row counts (one short read transaction).

    Raises:
        StoreError: the database cannot be reached.
    """
    from pinelab_core.store.tables import SchemaVersion

    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            expected = sorted(SQLModel.metadata.tables)
            counts = {name: int(connection.execute(select(func.count()).select_from(SQLModel.metadata.tables[name]))
                                .scalar_one()) for name in expected if name in present}
            version_table = SchemaVersion.__table__  # type: ignore[attr-defined]
            stored = connection.execute(select(version_table.c.version)).scalar() if "schema_version" in present \
                else 0
            details = _backend_details(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"Cannot read the store at {engine.url.render_as_string(hide_password=True)}: {exc}. "
                         "Check PINELAB_DATABASE_URL and that the server is running.") from exc
    return StoreReport(
        backend=engine.dialect.name, url=engine.url.render_as_string(hide_password=True),
        server_version=details.pop("server_version"), schema_version=int(stored or 0),
        code_schema_version=SCHEMA_VERSION, row_counts=counts, settings=details,
        missing_tables=[name for name in expected if name not in present],
    )


def _backend_details(connection: Any) -> dict[str, Any]:
    if connection.dialect.name == "sqlite":
        return {"server_version": connection.exec_driver_sql("SELECT sqlite_version()").scalar_one(),
                "journal_mode": connection.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    connection.exec_driver_sql("PRAGMA synchronous").scalar_one(), "?")}
    if connection.dialect.name == "postgresql":
        return {"server_version": connection.exec_driver_sql("SHOW server_version").scalar_one(),
                "timezone": connection.exec_driver_sql("SHOW timezone").scalar_one()}
    return {"server_version": ""}
