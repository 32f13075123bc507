"""Schema versions. `MIGRATIONS[v]` moves a database from version v to v + 1 without losing rows.

`create_all` adds new tables on its own; a migration is needed only to change an existing table
(add a column, backfill). Add one with `SCHEMA_VERSION += 1` and a function here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

MIGRATIONS: dict[int, Callable[[Session], None]] = {}
