"""The multi-timeframe view: each timeframe read at its latest closed bar (a higher timeframe's bar only once
closed), point in time when replayed, with an agreement score; and the Predictions page's grid."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_predict_service import LABEL, train_active_models

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.insights import SourceCall, agreement_of, multi_timeframe_view
from pinelab_core.insights.timeframes import parse_timeframes
from pinelab_core.models.active import clear_model_cache
from pinelab_core.models.inference import clear_prediction_cache
from pinelab_core.types import Timeframe
from tests.conftest import REPO_ROOT


def _call(direction: int, counted: bool = True) -> SourceCall:
    action = {1: "BUY", -1: "SELL", 0: "HOLD"}[direction]
    return SourceCall("x", "signal", action, direction, 0.5, None, counted=counted)


def test_agreement_is_the_net_share_of_directional_votes() -> None:
    assert agreement_of([_call(1), _call(1), _call(1)]) == (1.0, 1.0, {"up": 3, "down": 0, "neutral": 0})
    assert agreement_of([_call(1), _call(-1), _call(0), _call(0)])[:2] == (0.0, 0.0)
    score, agreement, votes = agreement_of([_call(1), _call(1), _call(-1), _call(0), _call(-1, counted=False)])
    assert (score, agreement, votes) == (pytest.approx(0.25), pytest.approx(1 / 3), {"up": 2, "down": 1, "neutral": 1})
    assert agreement_of([]) == (0.0, 0.0, {"up": 0, "down": 0, "neutral": 0})


def test_timeframes_parse_finest_first_and_refuse_nonsense() -> None:
    assert parse_timeframes("1d,15m,4h,1h,1h") == ["15m", "1h", "4h", "1d"]
    assert parse_timeframes(None) == ["15m", "1h", "4h", "1d"]
    with pytest.raises(DataValidationError):
        parse_timeframes("1h,2x")


def test_each_timeframe_is_read_at_its_own_last_closed_bar(settings: Settings) -> None:
    """At 13:30 the 12:00 hour is still forming, so is the 12:00-16:00 bar and the day: none of them counts."""
    view = multi_timeframe_view("DEMO-BTC", "1d,4h,1h", "demo", settings, as_of="2026-06-01 13:30")
    bars = {read.timeframe: read.bar_time for read in view.reads}
    assert bars == {"1h": pd.Timestamp("2026-06-01 12:00", tz="UTC"), "4h": pd.Timestamp("2026-06-01 08:00", tz="UTC"),
                    "1d": pd.Timestamp("2026-05-31", tz="UTC")}
    for read in view.reads:
        assert read.bar_time + Timeframe.parse(read.timeframe).offset <= view.as_of
        close = load_ohlcv("DEMO-BTC", read.timeframe, source="demo", settings=settings).loc[read.bar_time, "close"]
        assert read.close == close
        signal_calls = [c for c in read.calls if c.kind == "signal"]
        assert {c.source for c in signal_calls} >= {"rsi", "macd", "bollinger", "candlestick", "tradingview"}
        assert all(c.placed_at is None or c.placed_at <= read.bar_time for c in signal_calls)
        assert "No trained model" in read.note  # no model yet: said, not hidden


@pytest.mark.slow
def test_a_replayed_moment_reads_the_same_in_a_fresh_store(settings: Settings, second_store: Settings) -> None:
    """Point in time: after the store processed every later bar, replaying 2026-06-01 12:00 gives what a fresh
    store with data up to then gives."""
    multi_timeframe_view("DEMO-BTC", "4h,1d", "demo", settings)  # all history processed up to the newest bars
    moment = "2026-06-01 12:00"
    later = multi_timeframe_view("DEMO-BTC", "4h,1d", "demo", settings, as_of=moment)
    fresh = multi_timeframe_view("DEMO-BTC", "4h,1d", "demo", second_store, as_of=moment)
    assert later.reads == fresh.reads
    pd.testing.assert_frame_equal(later.grid(), fresh.grid())


def test_the_grid_has_a_row_per_source_and_a_column_per_timeframe(settings: Settings) -> None:
    clear_model_cache()
    clear_prediction_cache()
    daily = load_ohlcv("DEMO-BTC", "1d", source="demo", settings=settings)
    train_active_models(settings, daily, ("lightgbm",), symbol="DEMO-BTC", timeframe="1d")
    view = multi_timeframe_view("DEMO-BTC", "4h,1d", "demo", settings)
    grid = view.grid()
    assert list(grid.columns) == ["4h", "1d"]
    assert list(grid.index[:2]) == ["ensemble", "test-lightgbm/v1"] and grid.index[-1] == "consensus"
    assert grid.loc["ensemble", "4h"] == "—" and grid.loc["ensemble", "1d"].split()[0] in {"BUY", "SELL", "HOLD"}
    directions = view.directions()
    counted = [c for read in view.reads for c in read.calls if c.counted]
    from pinelab_core.signals.sources import AGENT_SOURCES, SIGNAL_SOURCES

    signal_sources = [n for n in SIGNAL_SOURCES if n != "ensemble" and n not in AGENT_SOURCES]  # agents: own rows
    assert len(signal_sources) >= 5
    assert len(counted) == 1 + 2 * len(signal_sources)  # the daily ensemble, every signal source per timeframe
    assert view.votes["up"] + view.votes["down"] + view.votes["neutral"] == len(counted)
    assert directions.loc["ensemble", "1d"] in {-1.0, 0.0, 1.0} and pd.isna(directions.loc["ensemble", "4h"])


def test_a_model_trained_on_mtf_features_predicts(settings: Settings) -> None:
    """Optional groups are built at inference when a member needs them (else: a schema error at predict)."""
    from pinelab_core.models.inference import predict

    clear_model_cache()
    clear_prediction_cache()
    from pinelab_core.features import build_features
    from pinelab_core.models import create_model
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model
    from pinelab_core.training.labels import LabelSpec, make_labels

    hourly = load_ohlcv("DEMO-BTC", "1h", source="demo", settings=settings).iloc[-3_000:]
    features = build_features(hourly, groups=["momentum", "mtf"]).iloc[600:-10]
    labels = make_labels(hourly, LabelSpec.from_dict(LABEL)).loc[features.index].to_numpy()
    model = create_model("lightgbm", seed=0, device="cpu", n_estimators=20, num_threads=1)
    model.fit(features, labels)
    register_model(settings, model, ModelManifest(name="mtf-lightgbm", kind="lightgbm", label=LABEL,
                                                  feature_names=list(features.columns), symbol="DEMO-BTC",
                                                  timeframe="1h", source="demo"), activate=True)
    prediction = predict("DEMO-BTC", "1h", "demo", settings, ohlcv=hourly)
    assert prediction.signal.value in {"BUY", "SELL", "HOLD"} and prediction.model_versions == ["mtf-lightgbm/v1"]


def test_predictions_page_shows_the_timeframe_by_source_grid() -> None:
    clear_model_cache()
    clear_prediction_cache()
    settings = Settings.from_env()
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=settings)
    train_active_models(settings, ohlcv, ("lightgbm",), symbol="DEMO-EQUITY", timeframe="1d")
    app = AppTest.from_file(str(REPO_ROOT / "app_pages" / "5_Predictions.py"), default_timeout=180)
    app.session_state["predictions_refresh"] = "off"
    app.session_state["predictions_mtf"] = True
    app.session_state["predictions_mtf_timeframes"] = ["1h", "1d"]
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    grid = next(frame.value for frame in app.dataframe if list(frame.value.columns) == ["1h", "1d"])
    assert "ensemble" in grid.index and "rsi" in grid.index
    assert any(caption.value.startswith("Agreement") for caption in app.caption)


def test_active_agents_have_their_own_counted_rows_and_join_the_insights(settings: Settings) -> None:
    """The view reads every active agent beside the models and the signal sources (once: the desk's agent sources
    are not repeated as signal rows), and the insights answer lists the same calls `pinelab predict` does."""
    from test_rl_desk import _train

    import pinelab_core.rl.sources  # noqa: F401 - registers the agents as desk sources too, as the live desk does
    from pinelab_core.api.schemas import RESPONSE_MODELS
    from pinelab_core.insights import market_insights
    from pinelab_core.insights.payload import insights_payload
    from pinelab_core.rl.calls import agent_calls, clear_agent_cache

    clear_model_cache()
    clear_prediction_cache()
    clear_agent_cache()
    daily = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=settings)
    train_active_models(settings, daily, ("lightgbm",), symbol="DEMO-EQUITY", timeframe="1d")
    agent = _train(settings)
    view = multi_timeframe_view("DEMO-EQUITY", "1d", "demo", settings)
    (call,) = [c for c in view.reads[0].calls if c.kind == "agent"]
    (expected,) = agent_calls(settings, "DEMO-EQUITY", "1d", daily)
    assert call.source == agent == expected.agent and call.counted and call.strength == expected.confidence
    assert call.direction == {"BUY": 1, "SELL": -1, "FLAT": 0}[expected.action]
    assert not any(c.source.startswith("agent") for c in view.reads[0].calls if c.kind == "signal")
    assert list(view.grid().index).index(agent) < list(view.grid().index).index("rsi")
    body = insights_payload(market_insights("DEMO-EQUITY", "1d", "demo", settings, ohlcv=daily))
    RESPONSE_MODELS["insights"].model_validate(body)
    assert [(a["agent"], a["action"], a["in_sample"]) for a in body["agents"]] == [
        (expected.agent, expected.action, expected.in_sample)]
