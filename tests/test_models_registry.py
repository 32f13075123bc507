"""The model registry: versions, manifest, checksums, feature schema, statuses, delete, compare, OOF."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, ModelNotFoundError, ModelSchemaError
from pinelab_core.models import Model, create_model
from pinelab_core.models.artifacts import ModelManifest, model_slug
from pinelab_core.models.registry import (
    compare_versions,
    delete_version,
    get_version,
    list_versions,
    load_oof,
    load_version,
    register_model,
    set_status,
    versions_frame,
)
from tests.models_fixtures import FAST_PARAMS, separable_problem

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

NAME = "demo-equity-1d-direction-h5-lightgbm"


def _model(name: str = "lightgbm") -> tuple[Model, pd.DataFrame]:
    X, y = separable_problem(n=240)
    model = create_model(name, seed=2, device="cpu", **FAST_PARAMS[name])
    model.fit(X.iloc[:200], y[:200])
    return model, X


def _manifest(accuracy: float = 0.6, name: str = NAME, kind: str = "lightgbm") -> ModelManifest:
    return ModelManifest(
        name=name, kind=kind, label={"kind": "direction", "horizon": 5, "params": {"k": 0.5},
                                     "classes": ["DOWN", "SIDEWAYS", "UP"]},
        data_fingerprint="abc123", symbol="DEMO-EQUITY", timeframe="1d", source="demo", seed=2,
        metrics={"accuracy": accuracy, "balanced_accuracy": accuracy - 0.05, "log_loss": float("nan")},
        fold_metrics=[{"fold": 0, "accuracy": accuracy}],
    )


def _oof(X: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=len(X))
    return pd.DataFrame({"y_true": rng.integers(0, 3, len(X)), "p_DOWN": proba[:, 0], "p_SIDEWAYS": proba[:, 1],
                         "p_UP": proba[:, 2]}, index=X.index)


def test_register_then_load_gives_the_same_predictions(settings: Settings) -> None:
    model, X = _model()
    info = register_model(settings, model, _manifest(), oof=_oof(X))
    assert (info.name, info.version, info.status, info.kind) == (NAME, 1, "candidate", "lightgbm")
    assert info.path == settings.models_dir / NAME / "1"
    assert {p.name for p in info.path.iterdir()} == {"model.txt", "gbdt.json", "manifest.json", "oof.parquet"}
    loaded = load_version(settings, NAME, expected_features=list(X.columns))
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    manifest = loaded.manifest
    assert manifest.version == 1 and manifest.feature_names == list(X.columns)
    assert manifest.label["horizon"] == 5 and manifest.device == "cpu" and manifest.checksum == info.checksum
    assert set(manifest.library_versions) >= {"python", "numpy", "pandas", "sklearn", "lightgbm", "xgboost", "torch"}
    assert manifest.metrics["log_loss"] is None, "NaN is stored as JSON null"
    assert next(iter(manifest.feature_importance)) == "f0"
    json.loads((info.path / "manifest.json").read_text())  # strict JSON


def test_torch_net_round_trips_through_the_registry(settings: Settings) -> None:
    model, X = _model("lstm")
    register_model(settings, model, _manifest(name="demo-lstm", kind="lstm"))
    loaded = load_version(settings, "demo-lstm", device="cpu")
    np.testing.assert_array_equal(loaded.model.predict_proba(X), model.predict_proba(X))


def test_versions_count_up_and_list_newest_first(settings: Settings) -> None:
    model, _ = _model()
    for accuracy in (0.5, 0.6, 0.7):
        register_model(settings, model, _manifest(accuracy))
    assert [i.version for i in list_versions(settings)] == [3, 2, 1]
    assert list_versions(settings, symbol="OTHER") == []
    assert get_version(settings, NAME).version == 3, "no active version: the newest"
    assert versions_frame(settings)["accuracy"].tolist() == [0.7, 0.6, 0.5]


def test_a_changed_file_is_named(settings: Settings) -> None:
    model, _ = _model()
    info = register_model(settings, model, _manifest())
    path = info.path / "model.txt"
    path.write_text(path.read_text().replace("learning_rate", "learning_rate ", 1))
    with pytest.raises(ModelSchemaError, match=r"Checksum mismatch for .*model\.txt"):
        load_version(settings, NAME)


def test_a_missing_file_is_named(settings: Settings) -> None:
    model, _ = _model()
    info = register_model(settings, model, _manifest())
    (info.path / "gbdt.json").unlink()
    with pytest.raises(ModelSchemaError, match=r"gbdt\.json is missing"):
        load_version(settings, NAME)


def test_an_edited_manifest_is_detected(settings: Settings) -> None:
    model, _ = _model()
    info = register_model(settings, model, _manifest())
    manifest = json.loads((info.path / "manifest.json").read_text())
    manifest["feature_names"] = list(reversed(manifest["feature_names"]))
    (info.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelSchemaError, match="manifest.json differs"):
        load_version(settings, NAME)


def test_feature_schema_mismatch_says_what_differs(settings: Settings) -> None:
    model, X = _model()
    register_model(settings, model, _manifest())
    with pytest.raises(ModelSchemaError, match=r"missing 1: f5; extra 1: rsi_14"):
        load_version(settings, NAME, expected_features=[*X.columns[:-1], "rsi_14"])
    with pytest.raises(ModelSchemaError, match="another order"):
        load_version(settings, NAME, expected_features=list(reversed(X.columns)))


def test_status_transitions_keep_one_active_version(settings: Settings) -> None:
    model, _ = _model()
    first = register_model(settings, model, _manifest(), activate=True)
    assert first.status == "active"
    second = register_model(settings, model, _manifest(), activate=True)
    statuses = {i.version: i.status for i in list_versions(settings)}
    assert statuses == {1: "candidate", 2: "active"}
    set_status(settings, NAME, 1, "challenger")
    assert get_version(settings, NAME).version == second.version, "version=None is the active one"
    assert [i.version for i in list_versions(settings, status="challenger")] == [1]
    set_status(settings, NAME, 2, "archived")
    assert list_versions(settings, status="active") == []
    with pytest.raises(DataValidationError, match="Unknown status 'live'"):
        set_status(settings, NAME, 1, "live")


def test_delete_removes_the_folder_and_the_rows(settings: Settings) -> None:
    model, _ = _model()
    first = register_model(settings, model, _manifest())
    second = register_model(settings, model, _manifest())
    delete_version(settings, NAME, 1)
    assert not first.path.exists() and second.path.exists()
    assert [i.version for i in list_versions(settings)] == [2]
    delete_version(settings, NAME, 2)
    assert list_versions(settings) == [] and not (settings.models_dir / NAME).exists()
    with pytest.raises(ModelNotFoundError, match="No model named"):
        get_version(settings, NAME)


def test_unknown_names_suggest_the_closest(settings: Settings) -> None:
    model, _ = _model()
    register_model(settings, model, _manifest())
    with pytest.raises(ModelNotFoundError, match=f"Did you mean '{NAME}'"):
        load_version(settings, NAME.replace("lightgbm", "lightgmb"))
    with pytest.raises(ModelNotFoundError, match="has no version 9"):
        get_version(settings, NAME, 9)


def test_unsafe_names_are_refused(settings: Settings) -> None:
    model, _ = _model()
    for bad in ("../escape", "BTC/USDT", ""):
        with pytest.raises(ModelSchemaError, match="not allowed"):
            register_model(settings, model, _manifest(name=bad))
    assert model_slug("BTC/USDT", "1h", "triple_barrier", "h10", "lstm") == "btc-usdt-1h-triple_barrier-h10-lstm"


def test_manifest_must_agree_with_the_model(settings: Settings) -> None:
    model, _ = _model()
    with pytest.raises(ModelSchemaError, match="kind 'xgboost'"):
        register_model(settings, model, _manifest(kind="xgboost"))
    manifest = _manifest()
    manifest.feature_names = ["f0", "f1"]
    with pytest.raises(ModelSchemaError, match="missing 4"):
        register_model(settings, model, manifest)
    with pytest.raises(ModelSchemaError, match="not fitted"):
        register_model(settings, create_model("lightgbm"), _manifest())
    assert list_versions(settings) == [] and not any(settings.models_dir.rglob("model.txt"))


def test_out_of_fold_predictions_round_trip_and_are_checked(settings: Settings) -> None:
    model, X = _model()
    oof = _oof(X)
    register_model(settings, model, _manifest(), oof=oof)
    pd.testing.assert_frame_equal(load_oof(settings, NAME, 1), oof, check_freq=False)
    register_model(settings, model, _manifest())
    with pytest.raises(ModelNotFoundError, match="without out-of-fold"):
        load_oof(settings, NAME, 2)
    with pytest.raises(DataValidationError, match="y_true"):
        register_model(settings, model, _manifest(), oof=oof.drop(columns="y_true"))


def test_compare_versions_puts_metrics_side_by_side(settings: Settings) -> None:
    model, _ = _model()
    register_model(settings, model, _manifest(0.55))
    register_model(settings, model, _manifest(0.65))
    table = compare_versions(settings, name=NAME)
    assert list(table.columns) == [f"{NAME}@v1", f"{NAME}@v2"]
    assert table.loc["accuracy"].tolist() == [0.55, 0.65]
    assert np.isnan(table.loc["log_loss"]).all()
    picked = compare_versions(settings, [(NAME, 2)])
    assert list(picked.columns) == [f"{NAME}@v2"]


def test_a_leftover_folder_never_gets_overwritten(settings: Settings) -> None:
    model, _ = _model()
    leftover = settings.models_dir / NAME / "1"
    leftover.mkdir(parents=True)
    (leftover / "note.txt").write_text("left by a crashed run")
    info = register_model(settings, model, _manifest())
    assert info.version == 2 and (leftover / "note.txt").exists()
