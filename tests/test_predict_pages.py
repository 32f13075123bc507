"""The Predictions and Explain pages with trained models: calls, charts, the starter button without them."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from test_predict_service import train_active_models

from pinelab_core.config import Settings
from pinelab_core.models.active import clear_model_cache
from pinelab_core.models.inference import clear_prediction_cache
from pinelab_core.structure import REGIME_NAMES
from tests.conftest import REPO_ROOT

PREDICTIONS = REPO_ROOT / "app_pages" / "5_Predictions.py"
EXPLAIN = REPO_ROOT / "app_pages" / "6_Explain.py"


def train_demo_models(kinds: tuple[str, ...] = ("lightgbm", "xgboost")) -> Settings:
    """Active models of `kinds` on DEMO-EQUITY 1d in this test's store (the pages' default market)."""
    from pinelab_core.data import load_ohlcv

    clear_model_cache()
    clear_prediction_cache()
    settings = Settings.from_env()
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=settings)
    train_active_models(settings, ohlcv, kinds, symbol="DEMO-EQUITY", timeframe="1d")
    return settings


@pytest.fixture
def demo_models() -> Settings:
    return train_demo_models()


def _run(page, **state: object) -> AppTest:  # type: ignore[no-untyped-def]
    app = AppTest.from_file(str(page), default_timeout=120)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def test_without_models_the_page_offers_the_starter_preset() -> None:
    clear_model_cache()
    app = _run(PREDICTIONS, predictions_refresh="off")
    assert not app.exception
    assert "No trained model is active" in " ".join(i.value for i in app.info)
    assert app.button(key="predictions_train_starter")


def test_predictions_page_shows_the_call_members_and_history(demo_models: Settings) -> None:
    app = _run(PREDICTIONS, predictions_refresh="off", predictions_watchlist="DEMO-EQUITY, DEMO-BTC")
    assert not app.exception, [e.value for e in app.exception]
    assert app.header[0].value.startswith("DEMO-EQUITY · 1d")
    table = app.dataframe[0].value
    assert list(table["symbol"]) == ["DEMO-EQUITY", "DEMO-BTC"]
    assert set(table["signal"]) <= {"BUY", "SELL", "HOLD"}
    assert len(app.get("plotly_chart")) >= 4  # gauge, members, forecast fan, outcomes
    regime = next(c.value for c in app.caption if c.value.startswith("Market regime at this bar"))
    assert any(name in regime for name in REGIME_NAMES), regime  # the demo's daily history is long enough
    context = next(m.value for m in app.markdown if m.value.startswith("**News sentiment:**"))
    assert "demo headlines" in context and "**Chart patterns:** no pattern model yet" in context


def test_explain_page_explains_the_chosen_bar_for_every_member(demo_models: Settings) -> None:
    app = _run(EXPLAIN, explain_history_bars=30)
    assert not app.exception, [e.value for e in app.exception]
    text = " ".join(m.value for m in app.markdown)
    assert "base" in text and "output" in text
    assert [t.label for t in app.tabs] == ["Ensemble", "test-lightgbm/v1", "test-xgboost/v1"]
    assert len(app.get("plotly_chart")) >= 6


def test_explain_page_takes_a_typed_historical_bar(demo_models: Settings) -> None:
    app = _run(EXPLAIN, explain_history_bars=30, explain_bar_typed="2020-03-02")
    assert not app.exception, [e.value for e in app.exception]
    assert app.get("plotly_chart")  # the waterfall of that bar
    from pinelab_core.explain import explain

    expected = explain("DEMO-EQUITY", "1d", "demo", bar="2020-03-02", settings=demo_models)
    assert f"output {expected.output:+.4f}" in " ".join(m.value for m in app.markdown)
    assert expected.in_sample and any("In-sample" in w.value for w in app.warning)  # a look back, said so


def test_starter_preset_is_a_small_validated_training_request() -> None:
    from pinelab_core.models.starter import STARTER_MODELS, starter_request

    request = starter_request("DEMO-BTC", "1h", "demo")
    assert request.models == list(STARTER_MODELS) == ["lightgbm", "xgboost"]
    assert request.activate and request.symbols == ["DEMO-BTC"] and request.timeframe == "1h"
    assert all(params["n_estimators"] <= 200 for params in request.model_params.values())
