"""Schema versions. `MIGRATIONS[v]` moves a database from version v to v + 1 inside one write transaction.

`create_all` adds new tables on its own; a migration is needed only to change an existing table
(add a column, a key, backfill). Add one with `SCHEMA_VERSION += 1` and a function here.

    1 -> 2  natural unique keys: `prediction` (market, bar, model set via the new `model_key`; plus
            `in_sample`), `aggregated_signal` (market, bar; plus `inputs_at`) and `signal_outcome`
            (source, market, bar *and horizon*). Exact copies left by the old check-then-insert are
            folded into one row first (the oldest prediction, the newest consensus).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from pinelab_core.store import tables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 2


def _add_column(connection: Connection, table: str, ddl: str) -> None:
    name = ddl.split()[0]
    if name not in {c["name"] for c in inspect(connection).get_columns(table)}:
        connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {ddl}"))


def _keep_one_per_key(connection: Connection, table: str, key: str, keep: str) -> None:
    """Delete all but one row (the MIN or MAX id, `keep`) of every group sharing `key`."""
    connection.execute(text(f"DELETE FROM {table} WHERE id NOT IN (SELECT {keep}(id) FROM {table} GROUP BY {key})"))


def _create_indexes(connection: Connection, table: type) -> None:
    existing = {index["name"] for index in inspect(connection).get_indexes(table.__tablename__)}  # type: ignore[attr-defined]
    for index in table.__table__.indexes:  # type: ignore[attr-defined]
        if index.name not in existing:
            index.create(connection)


def _drop_old_signal_outcome_key(connection: Connection) -> None:
    """The v1 key (source, market, bar) without the horizon: an inline UNIQUE, so SQLite must rebuild the table."""
    if connection.dialect.name != "sqlite":
        for constraint in inspect(connection).get_unique_constraints("signal_outcome"):
            if constraint["name"] and "horizon" not in constraint["column_names"]:
                connection.execute(text(f'ALTER TABLE signal_outcome DROP CONSTRAINT "{constraint["name"]}"'))
        return
    table = tables.SignalOutcomeRow.__table__  # type: ignore[attr-defined]
    old_columns = {c["name"] for c in inspect(connection).get_columns("signal_outcome")}
    columns = ", ".join(c.name for c in table.columns if c.name in old_columns)
    connection.execute(text("ALTER TABLE signal_outcome RENAME TO signal_outcome_v1"))
    for index in inspect(connection).get_indexes("signal_outcome_v1"):
        connection.execute(text(f'DROP INDEX IF EXISTS "{index["name"]}"'))
    table.create(connection)
    connection.execute(text(f"INSERT INTO signal_outcome ({columns}) SELECT {columns} FROM signal_outcome_v1"))
    connection.execute(text("DROP TABLE signal_outcome_v1"))


def _v1_to_v2(connection: Connection) -> None:
    _add_column(connection, "prediction", "model_key VARCHAR(64) NOT NULL DEFAULT ''")
    _add_column(connection, "prediction", "in_sample BOOLEAN NOT NULL DEFAULT FALSE")
    rows = connection.execute(text("SELECT id, model_versions_json FROM prediction")).all()
    if rows:
        connection.execute(text("UPDATE prediction SET model_key = :key WHERE id = :row_id"),
                           [{"key": tables.model_set_key(versions or "{}"), "row_id": row_id}
                            for row_id, versions in rows])
    _keep_one_per_key(connection, "prediction", "source, symbol, timeframe, bar_time, model_key", "MIN")
    _create_indexes(connection, tables.PredictionRow)
    _add_column(connection, "aggregated_signal", "inputs_at TIMESTAMP")
    connection.execute(text("UPDATE aggregated_signal SET inputs_at = created_at WHERE inputs_at IS NULL"))
    _keep_one_per_key(connection, "aggregated_signal", "data_source, symbol, timeframe, time", "MAX")
    _create_indexes(connection, tables.AggregatedSignalRow)
    _drop_old_signal_outcome_key(connection)
    _create_indexes(connection, tables.SignalOutcomeRow)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2}
