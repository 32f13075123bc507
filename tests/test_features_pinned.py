"""The feature matrix is pinned: speed work on the engine must not change a value beyond float noise.

`tests/fixtures/feature_matrix_pin.npz` holds, for three seeded series (an hourly random walk, minute FX
with sessions and weekend gaps, daily equity), every column's NaN mask and its values at sampled rows plus
two weighted sums over all rows. A definition that changes on purpose is re-pinned with

    PYTHONPATH=$PWD python -m tests.test_features_pinned --update

and the commit says which columns moved and why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.features import build_features
from tests.conftest import random_walk_ohlcv

PIN = Path(__file__).parent / "fixtures" / "feature_matrix_pin.npz"
RTOL, ATOL = 1e-9, 1e-12  # the causality audit's float-noise tolerance
SAMPLED_ROWS = 40


def pinned_series() -> dict[str, pd.DataFrame]:
    """The seeded series the pin covers (the demo simulator is deterministic)."""
    from pinelab_core.data import load_ohlcv

    fx = load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-20", tz="UTC"), source="demo")
    return {
        "random_walk_1h": random_walk_ohlcv(2_500, seed=21),
        "demo_fx_1m": fx.iloc[-3_000:],
        "demo_equity_1d": load_ohlcv("DEMO-EQUITY", "1d", source="demo").iloc[-2_000:],
    }


def fingerprint(matrix: pd.DataFrame) -> dict[str, np.ndarray]:
    """NaN mask, values at fixed sampled rows, and two weighted column sums (NaN counted as 0)."""
    values = matrix.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(0)
    rows = np.unique(np.concatenate([rng.integers(0, len(values), SAMPLED_ROWS), [len(values) - 1]]))
    finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    weights = rng.uniform(0.5, 1.5, size=(2, len(values)))
    return {
        "columns": np.array(matrix.columns, dtype=str),
        "nan_mask": np.packbits(np.isnan(values), axis=0),
        "rows": rows,
        "sampled": values[rows],
        "sums": weights @ finite,
    }


def _load_pin() -> dict[str, dict[str, np.ndarray]]:
    with np.load(PIN) as stored:
        pins: dict[str, dict[str, np.ndarray]] = {}
        for key in stored.files:
            series, part = key.split("/")
            pins.setdefault(series, {})[part] = stored[key]
    return pins


@pytest.fixture(scope="module")
def pins() -> dict[str, dict[str, np.ndarray]]:
    return _load_pin()


@pytest.mark.parametrize("series", ["random_walk_1h", "demo_fx_1m", "demo_equity_1d"])
def test_every_feature_value_is_pinned(pins: dict[str, dict[str, np.ndarray]], series: str) -> None:
    current = fingerprint(build_features(pinned_series()[series]))
    pin = pins[series]
    assert list(current["columns"]) == list(pin["columns"]), "columns added, removed or reordered: re-pin"
    names = list(pin["columns"])
    nan_now = np.unpackbits(current["nan_mask"], axis=0)
    nan_then = np.unpackbits(pin["nan_mask"], axis=0)
    moved = sorted({names[c] for c in np.flatnonzero((nan_now != nan_then).any(axis=0))})
    assert not moved, f"NaN rows changed in {moved}"
    np.testing.assert_array_equal(current["rows"], pin["rows"])
    for part in ("sampled", "sums"):
        close = np.isclose(current[part], pin[part], rtol=RTOL, atol=ATOL, equal_nan=True)
        changed = sorted({names[c] for c in np.flatnonzero(~close.all(axis=0))})
        assert not changed, f"{part}: values changed in {changed}"


def _update() -> None:
    arrays = {}
    for series, bars in pinned_series().items():
        for part, value in fingerprint(build_features(bars)).items():
            arrays[f"{series}/{part}"] = value
    np.savez_compressed(PIN, **arrays)
    print(f"wrote {PIN} ({PIN.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__" and "--update" in sys.argv:
    _update()
