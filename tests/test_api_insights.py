"""The insights API with trained models: the same call `predict` (the Predictions page, `pinelab predict`) gives,
the desk's consensus, SHAP, regime, patterns, forecasts, the multi-timeframe grid, models and status; every
answer matches its documented schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_predict_service import train_active_models

from pinelab_core.api.schemas import RESPONSE_MODELS
from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.features import build_features
from pinelab_core.models.active import clear_model_cache
from pinelab_core.models.inference import clear_prediction_cache, predict
from pinelab_core.store import SCHEMA_VERSION, get_engine
from pinelab_core.webhook import create_app

TOKEN = "insights-test-token-0123456789"
SYMBOL = "DEMO-EQUITY"


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store with LightGBM + XGBoost active on DEMO-EQUITY 1d (shared by this module's tests)."""
    root = tmp_path_factory.mktemp("insights")
    settings = Settings(data_dir=root / "data", models_dir=root / "models", default_source="demo",
                        webhook_secret="webhook-secret-xyz", api_token=TOKEN, api_executor="thread")
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = load_ohlcv(SYMBOL, "1d", source="demo", settings=settings)
    train_active_models(settings, ohlcv, ("lightgbm", "xgboost"), symbol=SYMBOL, timeframe="1d")
    return settings


@pytest.fixture(scope="module")
def client(desk: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(desk, enrich=False)) as test_client:
        yield test_client


def _get(client: TestClient, path: str, endpoint: str) -> dict:
    reply = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    RESPONSE_MODELS[endpoint].model_validate(body)  # the documented shape, nothing more or less
    return body


def test_insights_is_the_call_predict_and_the_cli_give(client: TestClient, desk: Settings,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    body = _get(client, f"/api/v1/insights/{SYMBOL}?timeframe=1d&source=demo", "insights")
    expected = predict(SYMBOL, "1d", "demo", desk)  # what the Predictions page calls for the latest bar
    call = body["call"]
    assert call["signal"] == expected.signal.value and call["in_sample"] == expected.in_sample
    assert call["confidence"] == pytest.approx(expected.confidence, abs=1e-12)
    assert call["probabilities"] == pytest.approx(expected.probabilities, abs=1e-12)
    assert [m["model"] for m in call["models"]] == list(expected.models) == ["test-lightgbm/v1", "test-xgboost/v1"]
    assert body["bar_time"] == expected.bar_time.isoformat() and body["simulated"] is True
    assert [f["horizon"] for f in body["forecasts"]] == [f.horizon for f in expected.forecasts] == [1, 5, 20]
    for env, value in {"PINELAB_DATA_DIR": desk.data_dir, "PINELAB_MODELS_DIR": desk.models_dir}.items():
        monkeypatch.setenv(env, str(value))
    assert main(["predict", "--source", "demo", "--symbol", SYMBOL, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["signal"], printed["confidence"], printed["in_sample"]) == (
        call["signal"], pytest.approx(call["confidence"], abs=1e-12), call["in_sample"])


def test_insights_carries_the_consensus_regime_shap_and_patterns(client: TestClient, desk: Settings) -> None:
    from pinelab_core.explain import explain
    from pinelab_core.sentiment import sentiment_at
    from pinelab_core.signals import market_regime

    body = _get(client, f"/api/v1/insights/{SYMBOL}?timeframe=1d&top=5", "insights")
    consensus = body["consensus"]
    assert consensus["action"] in {"BUY", "SELL", "HOLD"} and -1 <= consensus["score"] <= 1
    assert {c["source"] for c in consensus["contributions"]} >= {"rsi", "macd", "bollinger", "candlestick"}
    assert sum(c["share"] for c in consensus["contributions"]) == pytest.approx(consensus["score"], abs=1e-9)
    ohlcv = load_ohlcv(SYMBOL, "1d", source="demo", settings=desk)
    assert body["regime"]["label"] == market_regime(ohlcv).iloc[-1]
    assert body["regime"]["method"] == "rules" and body["regime"]["trend"] in {"up", "down", "none"}
    shap = explain(SYMBOL, "1d", "demo", settings=desk, ohlcv=ohlcv)
    top = list(shap.contributions.items())[:5]
    assert [c["feature"] for c in body["explanation"]["top"]] == [name for name, _ in top]
    assert [c["contribution"] for c in body["explanation"]["top"]] == pytest.approx([v for _, v in top])
    patterns = build_features(ohlcv.iloc[-50:], groups="patterns").iloc[-1]
    fired = {name for name, value in patterns.items() if np.isfinite(value) and value != 0}
    assert {p["name"] for p in body["patterns"]} == fired
    assert body["chart_model"] is None and "pinelab patterns train" in body["chart_note"]
    read = sentiment_at(get_engine(desk), SYMBOL, ohlcv, settings=desk)  # what the sentiment source counts
    sentiment = body["sentiment"]
    assert (sentiment["score"], sentiment["headlines"], sentiment["scorer"]) == (
        pytest.approx(read.score), read.headlines, read.scorer)
    assert sentiment["label"] in {"positive", "negative", "neutral"} and sentiment["demo"] is True
    assert sentiment["bar_time"] == body["bar_time"]
    assert (sentiment["latest"] is None) == (read.headlines == 0)


def test_a_repeated_question_is_a_cache_hit_with_the_same_bytes(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    first = client.get(f"/api/v1/patterns/{SYMBOL}", headers=headers)
    second = client.get(f"/api/v1/patterns/{SYMBOL}", headers=headers)
    assert second.headers["x-pinelab-cache"] == "hit" and second.content == first.content


def test_price_prediction_keeps_the_asked_horizons(client: TestClient) -> None:
    body = _get(client, f"/api/v1/price-prediction/{SYMBOL}?horizons=20,1", "price-prediction")
    assert body["horizons"] == [1, 20] and [f["horizon"] for f in body["forecasts"]] == [1, 20]
    for forecast in body["forecasts"]:
        assert forecast["lower_price"] <= forecast["price"] <= forecast["upper_price"]
    reply = client.get(f"/api/v1/price-prediction/{SYMBOL}?horizons=7", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 422 and "available: 1,5,20" in reply.json()["reason"]


def test_insights_across_timeframes_and_the_timeframes_grid(client: TestClient) -> None:
    body = _get(client, f"/api/v1/insights/{SYMBOL}?timeframe=1d&timeframes=1h,1d", "insights")
    view = body["multi_timeframe"]
    assert view["timeframes"] == ["1h", "1d"]
    daily = next(r for r in view["reads"] if r["timeframe"] == "1d")
    ensemble = next(c for c in daily["calls"] if c["source"] == "ensemble")
    assert ensemble["action"] == body["call"]["signal"] and ensemble["counted"]
    hourly = next(r for r in view["reads"] if r["timeframe"] == "1h")
    assert "1h" in hourly["note"] and not any(c["kind"] == "ensemble" for c in hourly["calls"])
    grid = _get(client, f"/api/v1/timeframes/{SYMBOL}?timeframes=1h,1d", "timeframes")
    assert grid["reads"] == view["reads"] and grid["agreement"] == view["agreement"]


def test_signals_and_patterns_answer_with_their_schema(client: TestClient) -> None:
    signals = _get(client, f"/api/v1/signals/{SYMBOL}", "signals")
    assert {s["source"] for s in signals["sources"]} >= {"rsi", "macd"} and signals["recent_calls"]
    patterns = _get(client, f"/api/v1/patterns/{SYMBOL}?timeframe=1d", "patterns")
    assert patterns["detectors"] == ["talib"] and all(p["probability"] is None for p in patterns["patterns"])


def test_models_lists_versions_active_sets_and_drift(client: TestClient) -> None:
    body = _get(client, "/api/v1/models", "models")
    assert body["counts"] == {"active": 2}
    assert body["active"] == [{"symbol": SYMBOL, "timeframe": "1d", "models": ["test-lightgbm@v1", "test-xgboost@v1"]}]
    (drift,) = body["drift"]
    assert drift["symbol"] == SYMBOL and "error" not in drift and isinstance(drift["alerts"], list)


def test_status_reports_the_store_jobs_webhook_and_api(client: TestClient, desk: Settings) -> None:
    body = _get(client, "/api/v1/status", "status")
    assert body["store"]["backend"] == "sqlite" and body["store"]["schema_version"] == SCHEMA_VERSION
    assert body["store"]["ok"] and body["jobs"] == {"by_status": {}, "active": []}
    assert body["webhook"]["database"] in {"ok", "starting"} and body["api"]["executor"] == "thread"
    assert body["data"]["default_source"] == "demo" and body["data"]["last_refresh"] is None
    assert Path(desk.data_dir).exists() and str(desk.data_dir) not in json.dumps(body)  # no paths leak
    assert get_engine(desk).url.database not in json.dumps(body)
