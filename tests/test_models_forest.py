"""The random forest's pickle-free array form predicts, ranks features and explains exactly like sklearn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pinelab_core.models import create_model
from pinelab_core.models.forest import RandomForestModel, TreeArrays
from tests.models_fixtures import separable_problem


def _forest(**params: object) -> tuple[RandomForestModel, np.ndarray]:
    X, y = separable_problem(n=400, seed=4)
    y = np.where(y == 1, 2, y)  # only classes 0 and 2: the SIDEWAYS column must come back as zeros
    model = create_model("random_forest", seed=7, n_estimators=25, n_jobs=1, **params)
    model.fit(X.iloc[:300], y[:300])
    assert isinstance(model, RandomForestModel)
    return model, X.iloc[300:].to_numpy(dtype=np.float64)


@pytest.mark.parametrize("params", [{}, {"max_depth": None, "min_samples_leaf": 1}])
def test_array_predictor_equals_sklearn(params: dict[str, object]) -> None:
    model, rows = _forest(**params)
    expected = model.estimator_.predict_proba(rows)
    got = model.trees_.predict_proba(rows)
    np.testing.assert_array_equal(got[:, [0, 2]], expected)
    assert (got[:, 1] == 0).all()


def test_array_predictor_routes_missing_values_like_sklearn() -> None:
    model, rows = _forest()
    rows = rows.copy()
    rows[::3, 0] = np.nan
    rows[1::4, 2] = np.nan
    np.testing.assert_array_equal(model.trees_.predict_proba(rows)[:, [0, 2]], model.estimator_.predict_proba(rows))


def test_chunked_prediction_matches_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    model, rows = _forest()
    whole = model.trees_.predict_proba(rows)
    monkeypatch.setattr("pinelab_core.models.forest._CELLS_PER_CHUNK", 25 * 7)  # 7 rows per chunk
    np.testing.assert_array_equal(model.trees_.predict_proba(rows), whole)


def test_npz_round_trip_needs_no_pickle(tmp_path: Path) -> None:
    model, rows = _forest()
    model.save(tmp_path)
    with np.load(tmp_path / "forest.npz", allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)
    loaded = TreeArrays.load(tmp_path / "forest.npz")
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.trees_.predict_proba(rows))


def test_importance_matches_sklearn() -> None:
    model, _ = _forest()
    ours = model.feature_importance()
    sklearn = dict(zip(model.feature_names_, model.estimator_.feature_importances_, strict=True))
    for name, value in ours.items():
        assert value == pytest.approx(sklearn[name], abs=1e-9)


def test_shap_explains_the_stored_trees_additively(tmp_path: Path) -> None:
    shap = pytest.importorskip("shap")
    model, rows = _forest()
    model.save(tmp_path)
    loaded = RandomForestModel.load(tmp_path)
    explainer = shap.TreeExplainer(loaded.explainer_model())
    values = np.asarray(explainer.shap_values(rows[:20].astype(np.float32)))  # (rows, features, classes)
    reconstructed = values.sum(axis=1) + np.asarray(explainer.expected_value)
    np.testing.assert_allclose(reconstructed, model.trees_.predict_proba(rows[:20]), atol=1e-6)
    top = np.abs(values).mean(axis=(0, 2)).argmax()
    assert model.feature_names_[top] == "f0"
