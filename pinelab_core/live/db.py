"""Small store helpers the live loop shares: dialect-native insert-or-ignore and upsert, UTC times.

Anything the live loop must do once (a decision, a fill, a notification, a learning event) is a row with a
natural unique key written by `insert_ignore`, so two processes, or a restarted one, store it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from pinelab_core.errors import DataValidationError, StoreError

__all__ = ["add_named", "as_utc", "insert_ignore", "table_of", "to_timestamp", "upsert"]

RowT = TypeVar("RowT", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def _dialect(connection: Connection) -> Any:
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql
    if name == "sqlite":
        return sqlite
    raise StoreError(f"The live loop supports SQLite and PostgreSQL, not {name}. Change PINELAB_DATABASE_URL.")


def insert_ignore(connection: Connection, model: type[SQLModel], rows: Sequence[dict[str, Any]],
                  key: Sequence[str], *, returning: bool = False) -> list[int]:
    """INSERT ... ON CONFLICT (key) DO NOTHING.

    With `returning`, rows go one by one and the ids of those actually inserted come back (a duplicate gives
    none); without, they go as one executemany and nothing comes back (bulk rows: decisions, equity marks).
    """
    if not rows:
        return []
    table = table_of(model)
    statement = _dialect(connection).insert(table).on_conflict_do_nothing(index_elements=list(key))
    if not returning:
        connection.execute(statement, list(rows))
        return []
    inserted = []
    statement = statement.returning(table.c.id)  # compiled once, executed per row
    for row in rows:
        new_id = connection.execute(statement, dict(row)).scalar()
        if new_id is not None:
            inserted.append(int(new_id))
    return inserted


def add_named(engine: Engine, row: RowT, taken: str) -> RowT:
    """Insert a row whose name is unique; `taken` is the message when the name exists already."""
    with Session(engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError as exc:
            raise DataValidationError(taken) from exc
        session.refresh(row)
        return row


def upsert(connection: Connection, model: type[SQLModel], values: dict[str, Any], key: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET every other given column."""
    table = table_of(model)
    statement = _dialect(connection).insert(table).values(**values)
    update = {name: statement.excluded[name] for name in values if name not in key}
    connection.execute(statement.on_conflict_do_update(index_elements=list(key), set_=update) if update
                       else statement.on_conflict_do_nothing(index_elements=list(key)))


def as_utc(moment: datetime | pd.Timestamp | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite hands back naive ones; the store writes UTC)."""
    if moment is None or (isinstance(moment, float) and moment != moment):
        return None
    if isinstance(moment, pd.Timestamp):
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_timestamp(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
