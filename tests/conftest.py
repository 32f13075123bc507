"""Shared fixtures. Every test runs with its own data dir and database: nothing touches the repo or the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point PINELAB_* at a temp folder so no test writes into the repo or a user's database."""
    for key in list(__import__("os").environ):
        if key.startswith("PINELAB_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PINELAB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PINELAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PINELAB_DEFAULT_SOURCE", "demo")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models")


@pytest.fixture
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    from pinelab_core.store import make_engine

    return make_engine(settings.resolved_database_url)


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
