"""The starter preset through the real training pipeline, then predict and explain on what it registered."""

from __future__ import annotations

import pytest

import pinelab_core
from pinelab_core.config import Settings
from pinelab_core.models.active import clear_model_cache
from pinelab_core.models.inference import clear_prediction_cache
from pinelab_core.models.starter import train_starter


def test_starter_models_serve_calibrated_predictions_and_additive_explanations(settings: Settings) -> None:
    clear_model_cache()
    clear_prediction_cache()
    trained = train_starter(settings, "DEMO-EQUITY", "1d", "demo", start="2023-01-01")
    assert sorted(item.model for item in trained) == ["lightgbm", "xgboost"]
    assert all(item.status == "active" for item in trained)
    prediction = pinelab_core.predict("DEMO-EQUITY", "1d", source="demo", settings=settings)
    assert prediction.weights_source == "out-of-fold"  # the walk-forward's out-of-fold rows taught the pool
    assert sorted(prediction.models) == sorted(f"{item.name}/v{item.version}" for item in trained)
    explanation = pinelab_core.explain("DEMO-EQUITY", "1d", "demo", settings=settings)
    assert explanation.target_class == prediction.chosen_class
    total = explanation.base_value + sum(explanation.contributions.values())
    assert total == pytest.approx(explanation.output, abs=1e-6)
    assert explanation.probability == pytest.approx(prediction.confidence)
