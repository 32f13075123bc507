"""The Parquet feature cache: hit on the same data, miss on changed data or a changed feature set."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.features import build_features, build_features_cached, cache, data_fingerprint
from pinelab_core.store import get_engine
from pinelab_core.store.tables import FeatureSnapshotRow
from tests.conftest import random_walk_ohlcv


def _snapshots(settings: Settings) -> list[FeatureSnapshotRow]:
    with Session(get_engine(settings)) as session:
        return list(session.exec(select(FeatureSnapshotRow)).all())


def test_second_call_reads_the_snapshot_instead_of_recomputing(settings: Settings,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bars = random_walk_ohlcv(400)
    first = build_features_cached(bars, settings, groups="trend")
    rows = _snapshots(settings)
    assert len(rows) == 1 and Path(rows[0].path).is_file() and rows[0].n_columns == first.shape[1]

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("recomputed despite a valid snapshot")

    monkeypatch.setattr(cache, "build_feature_frame", fail)
    again = build_features_cached(bars, settings, groups="trend", dtype="float32")
    pd.testing.assert_frame_equal(again, first.astype("float32"), check_freq=False)


def test_changed_data_or_feature_set_version_misses_the_cache(settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    bars = random_walk_ohlcv(300)
    build_features_cached(bars, settings, groups="momentum")
    changed = bars.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.001
    assert data_fingerprint(changed) != data_fingerprint(bars) == data_fingerprint(bars.copy())
    build_features_cached(changed, settings, groups="momentum")
    assert len(_snapshots(settings)) == 2
    old_path = Path(_snapshots(settings)[0].path)
    monkeypatch.setattr(cache, "FEATURE_SET_VERSION", "a-new-definition")
    result = build_features_cached(bars, settings, groups="momentum")
    pd.testing.assert_frame_equal(result, build_features(bars, groups="momentum"))
    versions = {row.feature_set_version for row in _snapshots(settings)}
    assert "a-new-definition" in versions and len(_snapshots(settings)) == 2  # the stale one was replaced
    assert not old_path.exists()


def test_a_damaged_snapshot_is_rebuilt_not_trusted(settings: Settings) -> None:
    bars = random_walk_ohlcv(200)
    expected = build_features_cached(bars, settings, groups="regime")
    Path(_snapshots(settings)[0].path).write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(build_features_cached(bars, settings, groups="regime"), expected, check_freq=False)


def test_dict_input_caches_each_symbol(settings: Settings) -> None:
    frames = {"A": random_walk_ohlcv(150, seed=1), "B": random_walk_ohlcv(150, seed=2)}
    result = build_features_cached(frames, settings, groups="statistics")
    assert set(result) == {"A", "B"} and len(_snapshots(settings)) == 2
