"""Persistence: the SQLModel engine factory, every table (see `tables`) and what a store holds (`check_store`)."""

from pinelab_core.store import tables
from pinelab_core.store.engine import (
    SCHEMA_VERSION,
    dispose_engines,
    get_engine,
    make_engine,
    schema_version,
    write_transaction,
)
from pinelab_core.store.report import StoreReport, check_store

__all__ = [
    "SCHEMA_VERSION",
    "StoreReport",
    "check_store",
    "dispose_engines",
    "get_engine",
    "make_engine",
    "schema_version",
    "tables",
    "write_transaction",
]
