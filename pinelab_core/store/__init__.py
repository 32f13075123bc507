"""Persistence: the SQLModel engine factory and every table (see `tables`)."""

from pinelab_core.store import tables
from pinelab_core.store.engine import SCHEMA_VERSION, get_engine, make_engine, schema_version

__all__ = ["SCHEMA_VERSION", "get_engine", "make_engine", "schema_version", "tables"]
