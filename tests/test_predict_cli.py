"""`pinelab predict` and `pinelab explain`: JSON contracts, the no-model message, same answers as the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_predict_service import train_active_models

import pinelab_core
from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.models.active import clear_model_cache
from pinelab_core.models.inference import clear_prediction_cache

SYMBOL = "DEMO-EQUITY"


@pytest.fixture
def demo_market(tmp_path: Path) -> Settings:
    """Starter-like models trained on the demo market, in the env-configured folders the CLI reads."""
    from pinelab_core.data import load_ohlcv

    clear_model_cache()
    clear_prediction_cache()
    settings = Settings.from_env()
    ohlcv = load_ohlcv(SYMBOL, "1d", source="demo", settings=settings)
    train_active_models(settings, ohlcv, ("lightgbm", "xgboost"), symbol=SYMBOL, timeframe="1d")
    return settings


def test_no_model_exits_2_and_names_the_way_out(capsys: pytest.CaptureFixture[str]) -> None:
    clear_model_cache()
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--json"]) == 2
    err = capsys.readouterr().err
    assert "No trained model is active" in err and "--train-starter" in err


def test_predict_json_matches_the_api(demo_market: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["signal"] in {"BUY", "SELL", "HOLD"}
    assert 0.0 <= payload["confidence"] <= 1.0
    assert set(payload["models"]) == {"test-lightgbm/v1", "test-xgboost/v1"}
    for probs in payload["models"].values():
        assert set(probs) == {"DOWN", "SIDEWAYS", "UP"}
    assert {f["horizon"] for f in payload["forecasts"]} == {1, 5, 20}
    api = pinelab_core.predict(SYMBOL, "1d", source="demo", settings=demo_market)
    assert payload["confidence"] == pytest.approx(api.confidence)
    assert payload["signal"] == api.signal.value


def test_explain_json_is_additive_for_a_chosen_bar(demo_market: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--source", "demo", "--symbol", SYMBOL, "--bar", "2025-06-02", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["bar_time"].startswith("2025-06-02")
    assert payload["base_value"] + sum(payload["contributions"].values()) == pytest.approx(payload["output"], abs=1e-6)
    assert payload["target_class"] in {"DOWN", "SIDEWAYS", "UP"}
    api = pinelab_core.explain(SYMBOL, "1d", "demo", bar="2025-06-02", settings=demo_market)
    assert payload["output"] == pytest.approx(api.output)
    assert main(["explain", "--source", "demo", "--symbol", SYMBOL, "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert "base" in text and "more (use --json for all)" in text


def test_predict_json_says_whether_the_call_is_in_sample(demo_market: Settings,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--json", "--no-forecasts"]) == 0
    assert json.loads(capsys.readouterr().out)["in_sample"] is False  # the newest bar, after the training range
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--end", "2025-06-02", "--json",
                 "--no-forecasts"]) == 0
    assert json.loads(capsys.readouterr().out)["in_sample"] is True  # a past bar the models learned from
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--end", "2025-06-02", "--no-forecasts"]) == 0
    assert "IN-SAMPLE" in capsys.readouterr().out
