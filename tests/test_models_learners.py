"""Every learner: learns a separable problem, is reproducible with a seed, survives save -> load unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import ConfigError, DataValidationError, ModelSchemaError
from pinelab_core.models import MODELS, create_model, list_models
from pinelab_core.models.base import TrainingProgress
from pinelab_core.models.inputs import CANDLE_COLUMNS, candle_inputs
from tests.conftest import random_walk_ohlcv
from tests.models_fixtures import FAST_PARAMS, separable_problem

ALL = sorted(FAST_PARAMS)
TRAIN, VALID = slice(0, 320), slice(320, 400)
TEST = slice(400, 480)


def _fit(name: str, seed: int = 3, **extra: object):  # type: ignore[no-untyped-def]
    X, y = separable_problem()
    model = create_model(name, seed=seed, device="cpu", **{**FAST_PARAMS[name], **extra})
    summary = model.fit(X.iloc[TRAIN], y[TRAIN], validation=(X.iloc[VALID], y[VALID]))
    return model, summary, X, y


def test_registry_lists_every_kind() -> None:
    assert list_models() == ["a2c", "cnn", "dqn", "lightgbm", "lstm", "ppo", "random_forest", "xgboost"]
    assert all(MODELS[name].kind == name for name in MODELS)


def test_unknown_model_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'lightgbm'"):
        create_model("lightgmb")


def test_invalid_params_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="window"):
        create_model("lstm", window=0)


@pytest.mark.parametrize("name", ALL)
def test_learns_a_separable_problem_above_chance(name: str) -> None:
    model, summary, X, y = _fit(name)
    proba = model.predict_proba(X.iloc[TEST])
    assert proba.shape == (80, 3)
    known = ~np.isnan(proba).any(axis=1)
    assert known.sum() >= 80 - model.context_rows
    np.testing.assert_allclose(proba[known].sum(axis=1), 1.0, atol=1e-5)
    accuracy = (proba[known].argmax(axis=1) == y[TEST][known]).mean()
    assert accuracy > 0.55, f"{name} accuracy {accuracy:.2f} (chance is 0.33)"
    assert summary.train_loss is not None and summary.val_loss is not None
    assert summary.device == "cpu" and model.fitted_device_ == "cpu"
    assert summary.history, "fit reports progress"


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_probabilities(name: str) -> None:
    first, _, X, _ = _fit(name, seed=11)
    second, _, _, _ = _fit(name, seed=11)
    np.testing.assert_array_equal(first.predict_proba(X.iloc[TEST]), second.predict_proba(X.iloc[TEST]))


@pytest.mark.parametrize("name", ALL)
def test_save_load_round_trip_gives_identical_probabilities(name: str, tmp_path: Path) -> None:
    model, _, X, _ = _fit(name)
    files = model.save(tmp_path / name)
    assert files and all(path.is_file() for path in files)
    assert not any(path.suffix in {".pkl", ".pickle", ".joblib"} for path in files)
    loaded = MODELS[name].load(tmp_path / name, device="cpu")
    assert loaded.feature_names_ == model.feature_names_
    np.testing.assert_array_equal(loaded.predict_proba(X.iloc[TEST]), model.predict_proba(X.iloc[TEST]))
    importance = model.feature_importance()
    if importance is not None:
        assert importance.index[0] == "f0", "the informative feature ranks first"
        pd.testing.assert_series_equal(loaded.feature_importance(), importance)


@pytest.mark.parametrize("name", ["lightgbm", "lstm"])
def test_predicting_with_other_features_names_the_difference(name: str) -> None:
    model, _, X, _ = _fit(name)
    with pytest.raises(ModelSchemaError, match="missing 1: f5"):
        model.predict_proba(X.drop(columns="f5"))
    with pytest.raises(ModelSchemaError, match="another order"):
        model.predict_proba(X[list(reversed(X.columns))])


def test_labels_outside_the_classes_are_rejected() -> None:
    X, y = separable_problem(n=60)
    with pytest.raises(DataValidationError, match="classes 0..2"):
        create_model("lightgbm").fit(X, y + 1)
    with pytest.raises(DataValidationError, match="one label per row"):
        create_model("lightgbm").fit(X, y[:-1])


def test_unfitted_model_says_so() -> None:
    X, _ = separable_problem(n=20)
    with pytest.raises(ModelSchemaError, match="not fitted"):
        create_model("xgboost").predict_proba(X)


def test_gbdt_stops_early_and_reports_progress_blocks() -> None:
    ticks: list[TrainingProgress] = []
    X, y = separable_problem()
    model = create_model("lightgbm", seed=0, n_estimators=400, early_stopping_rounds=10, learning_rate=0.3,
                         num_threads=1, progress_every=5)
    summary = model.fit(X.iloc[TRAIN], y[TRAIN], validation=(X.iloc[VALID], y[VALID]), progress=ticks.append)
    assert summary.best_iteration is not None and summary.best_iteration < 400
    assert model.explainer_model().current_iteration() == summary.best_iteration
    assert ticks and all(t.step % 5 == 0 or t.step == ticks[-1].step for t in ticks)
    assert ticks[0].val_loss is not None


def test_xgboost_keeps_only_the_trees_up_to_the_best_round() -> None:
    X, y = separable_problem()
    model = create_model("xgboost", seed=0, n_estimators=300, early_stopping_rounds=10, learning_rate=0.3,
                         num_threads=1)
    summary = model.fit(X.iloc[TRAIN], y[TRAIN], validation=(X.iloc[VALID], y[VALID]))
    assert summary.best_iteration is not None and summary.best_iteration < 300
    assert model.explainer_model().num_boosted_rounds() == summary.best_iteration


def test_sequence_model_leaves_rows_without_a_full_window_empty() -> None:
    model, _, X, _ = _fit("cnn")
    assert model.context_rows == 7
    proba = model.predict_proba(X.iloc[TEST])
    assert np.isnan(proba[:7]).all() and not np.isnan(proba[7:]).any()
    # The documented way to get every test row: pass the context rows before it and drop their outputs.
    with_context = model.predict_proba(X.iloc[TEST.start - model.context_rows:TEST.stop])[model.context_rows:]
    assert not np.isnan(with_context).any()
    np.testing.assert_array_equal(with_context[7:], proba[7:])
    assert np.isnan(model.predict_proba(X.iloc[:5])).all()


def test_cnn_reads_only_candle_columns_when_present() -> None:
    ohlcv = random_walk_ohlcv(n=400, seed=2)
    candles = candle_inputs(ohlcv).iloc[60:]
    X = candles.assign(noise=np.random.default_rng(0).normal(size=len(candles)))
    y = (X["candle_close"].to_numpy() > 0).astype(np.int64) * 2
    model = create_model("cnn", device="cpu", **FAST_PARAMS["cnn"])
    model.fit(X, y)
    assert model.input_columns_ == list(CANDLE_COLUMNS)
    assert model.feature_names_ == list(X.columns)


def test_candle_inputs_are_causal_and_normalised() -> None:
    ohlcv = random_walk_ohlcv(n=300, seed=5)
    full = candle_inputs(ohlcv, volume_window=20)
    head = candle_inputs(ohlcv.iloc[:200], volume_window=20)
    pd.testing.assert_frame_equal(full.iloc[:200], head)  # later bars never change earlier values
    assert list(full.columns) == list(CANDLE_COLUMNS)
    expected_close = np.log(ohlcv["close"].iloc[10] / ohlcv["close"].iloc[9])
    assert full["candle_close"].iloc[10] == pytest.approx(expected_close)
    assert full.iloc[0, :4].isna().all() and full["candle_volume"].iloc[:19].isna().all()
    assert full["candle_volume"].iloc[19:].notna().all()


def test_candle_inputs_reject_bad_prices() -> None:
    ohlcv = random_walk_ohlcv(n=50)
    ohlcv.iloc[3, 0] = 0.0
    with pytest.raises(DataValidationError, match="positive prices"):
        candle_inputs(ohlcv)


def test_a_short_validation_tail_borrows_training_rows_as_window_context() -> None:
    X, y = separable_problem()
    model = create_model("lstm", seed=0, device="cpu", **FAST_PARAMS["lstm"])
    # 5 validation bars right after training, window 8: only the training rows' features complete their windows.
    summary = model.fit(X.iloc[:300], y[:300], validation=(X.iloc[300:305], y[300:305]))
    assert summary.val_loss is not None
    detached = create_model("lstm", seed=0, device="cpu", **FAST_PARAMS["lstm"])
    # A validation frame that does not follow the training rows gets no borrowed context (too short: no loss).
    assert detached.fit(X.iloc[100:400], y[100:400], validation=(X.iloc[:5], y[:5])).val_loss is None
