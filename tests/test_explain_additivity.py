"""SHAP additivity: base + sum(contributions) == output for every member kind and for the ensemble."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_predict_service import SYMBOL, TIMEFRAME, planted_ohlcv, train_active_models

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.explain import explain, explain_attention, explain_history, explain_sequence, explain_tabular
from pinelab_core.models import create_model
from pinelab_core.models.active import clear_model_cache, load_active
from pinelab_core.models.calibration import centred_log_probs
from pinelab_core.models.inference import clear_prediction_cache, predict


@pytest.fixture(scope="module")
def tabular() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 700
    index = pd.date_range("2023-01-01", periods=n, freq="1h", tz="UTC", name="time")
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)], index=index)
    X.iloc[::17, 3] = np.nan  # missing values must not break any explainer
    signal = X["f0"] + 0.5 * X["f1"]
    y = np.where(signal > 0.4, 2, np.where(signal < -0.4, 0, 1))
    return X, y


@pytest.mark.parametrize("kind, method", [("lightgbm", "tree-native"), ("xgboost", "tree-native"),
                                          ("random_forest", "permutation")])
def test_tabular_members_are_exactly_additive(tabular: tuple[pd.DataFrame, np.ndarray], kind: str,
                                              method: str) -> None:
    X, y = tabular
    params = {"n_estimators": 30, "num_threads": 1} if kind != "random_forest" else {"n_estimators": 30}
    model = create_model(kind, seed=0, device="cpu", **params)
    model.fit(X.iloc[:500], y[:500])
    rows = X.iloc[600:603]
    target = np.array([0, 1, 2])
    attribution = explain_tabular(model, rows, target, X.iloc[:100])
    assert attribution.method == method
    assert np.abs(attribution.gap).max() < 1e-6
    expected = centred_log_probs(model.predict_proba(rows))[np.arange(3), target]
    assert attribution.output == pytest.approx(expected, abs=1e-9)
    # The planted driver ranks first for a model that learned it.
    assert attribution.mean_abs().index[0] == "f0"


# The LSTM is smooth, so quadrature converges to float precision; the CNN's max-pooling puts kinks on the
# integration path, which the step doubling only brings to ~1e-5.
@pytest.mark.parametrize("kind, tolerance", [("lstm", 1e-6), ("cnn", 1e-4)])
def test_nets_are_additive_within_the_integration_tolerance(tabular: tuple[pd.DataFrame, np.ndarray],
                                                            kind: str, tolerance: float) -> None:
    X, y = tabular
    params = {"epochs": 2, "window": 8, "hidden": 16, "heads": 2} if kind == "lstm" else \
        {"epochs": 2, "window": 8, "channels": 8}
    model = create_model(kind, seed=0, device="cpu", **params)
    model.fit(X.iloc[:500], y[:500])
    rows, target = np.array([650, 699]), np.array([0, 1])
    attribution = explain_sequence(model, X, rows, target)
    assert np.abs(attribution.gap).max() < tolerance
    expected = centred_log_probs(model.predict_proba(X.iloc[600:]))[rows - 600, target]
    assert attribution.output == pytest.approx(expected, abs=1e-5)
    assert attribution.values.shape == (2, X.shape[1])


@pytest.fixture(scope="module")
def active_market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame]:
    root = tmp_path_factory.mktemp("explain")
    settings = Settings(data_dir=root / "data", models_dir=root / "models")
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = planted_ohlcv(1_100)
    train_active_models(settings, ohlcv, ("lightgbm", "xgboost", "lstm"))
    return settings, ohlcv


def test_ensemble_explanation_adds_up_to_the_calibrated_score(active_market: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = active_market
    explanation = explain(SYMBOL, TIMEFRAME, "test", settings=settings, ohlcv=ohlcv)
    total = explanation.base_value + sum(explanation.contributions.values())
    assert total == pytest.approx(explanation.output, abs=1e-5)
    assert abs(explanation.additivity_gap) < 1e-5
    prediction = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv, forecasts=False, log=False)
    assert explanation.target_class == prediction.chosen_class
    assert explanation.probability == pytest.approx(prediction.confidence, abs=1e-9)
    # output is the centred log of the calibrated ensemble probabilities.
    probs = np.array(list(prediction.probabilities.values()))
    assert explanation.output == pytest.approx(centred_log_probs(probs)[list(prediction.probabilities).index(
        explanation.target_class)], abs=1e-5)
    assert set(explanation.members) == {"test-lightgbm/v1", "test-xgboost/v1", "test-lstm/v1"}
    for member in explanation.members.values():
        assert member.base_value + sum(member.contributions.values()) == pytest.approx(member.output, abs=1e-5)
    magnitudes = [abs(v) for v in explanation.contributions.values()]
    assert magnitudes == sorted(magnitudes, reverse=True)


def test_any_historical_bar_sees_only_its_past(active_market: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = active_market
    bar = ohlcv.index[900]
    explanation = explain(SYMBOL, TIMEFRAME, "test", bar=str(bar), settings=settings, ohlcv=ohlcv)
    assert explanation.bar_time == bar
    altered = ohlcv.copy()
    altered.iloc[901:, :4] *= 2.0
    again = explain(SYMBOL, TIMEFRAME, "test", bar=bar, settings=settings, ohlcv=altered)
    assert again.output == pytest.approx(explanation.output, abs=1e-9)
    with pytest.raises(DataValidationError, match="before the data"):
        explain(SYMBOL, TIMEFRAME, "test", bar="1990-01-01", settings=settings, ohlcv=ohlcv)


def test_global_history_is_additive_per_bar(active_market: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = active_market
    combined, members = explain_history(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv, bars=12,
                                        target_class="UP")
    assert len(combined.index) == 12 and (combined.target == 2).all()
    assert np.abs(combined.gap).max() < 1e-3
    assert set(members) == set(load_active(settings, SYMBOL, TIMEFRAME).versions)
    assert combined.mean_abs().iloc[0] >= combined.mean_abs().iloc[-1]


def test_lstm_attention_is_a_distribution_over_its_window_read_from_the_past(
        active_market: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = active_market
    bar = ohlcv.index[900]
    attention = explain_attention(SYMBOL, TIMEFRAME, "test", bar=str(bar), settings=settings, ohlcv=ohlcv)
    assert list(attention) == ["test-lstm/v1"]
    weights = attention["test-lstm/v1"]
    assert len(weights) == 8 and weights.index[-1] == bar and list(weights.index) == list(ohlcv.index[893:901])
    assert weights.sum() == pytest.approx(1.0, abs=1e-5) and (weights >= 0).all()
    altered = ohlcv.copy()
    altered.iloc[901:, :4] *= 2.0
    again = explain_attention(SYMBOL, TIMEFRAME, "test", bar=bar, settings=settings, ohlcv=altered)
    pd.testing.assert_series_equal(again["test-lstm/v1"], weights)
    assert not np.allclose(weights.to_numpy(), 1 / 8), "a trained net does not attend uniformly"
