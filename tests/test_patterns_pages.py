"""The Charts page's patterns (markers, "Patterns now", the event study, the train button) and the Explain page's
LSTM attention."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_predict_pages import train_demo_models

from pinelab_core.config import Settings
from pinelab_core.training.jobs import list_jobs
from pinelab_core.viz import build_price_chart
from pinelab_core.viz.patterns import add_pattern_markers, attention_bar, patterns_now_bar
from tests.conftest import REPO_ROOT, random_walk_ohlcv
from tests.patterns_helpers import register_pattern_model, tiny_pattern_model

CHARTS = REPO_ROOT / "app_pages" / "1_Charts.py"
EXPLAIN = REPO_ROOT / "app_pages" / "6_Explain.py"


def _run(page, **state: object) -> AppTest:  # type: ignore[no-untyped-def]
    app = AppTest.from_file(str(page), default_timeout=180)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def test_without_a_pattern_model_the_charts_page_offers_to_train_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pinelab_core.training.jobs.dispatch_jobs", lambda settings: [])  # queue, start nothing
    app = _run(CHARTS)
    assert not app.exception, [e.value for e in app.exception]
    assert "No chart-pattern model is trained yet" in " ".join(i.value for i in app.info)
    app.button(key="charts_train_patterns").click().run()
    assert not app.exception
    jobs = list_jobs(Settings.from_env())
    assert [(j.kind, j.status) for j in jobs] == [("patterns", "queued")]
    assert any("queued" in s.value for s in app.success)
    app.run()  # while it is queued or running, the page shows its progress instead of the button
    assert app.get("progress") and not app.button


def test_the_shipped_pattern_model_is_one_click_away() -> None:
    app = _run(CHARTS, charts_pattern_bars=60)
    assert "pinelab patterns install" in " ".join(i.value for i in app.info)
    app.button(key="charts_install_patterns").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert [h.value for h in app.subheader][:1] == ["Patterns now"]
    assert any("chart-patterns@v1" in c.value for c in app.caption)
    from pinelab_core.patterns import pattern_model_version

    info = pattern_model_version(Settings.from_env())
    assert info.status == "active" and info.ref == "chart-patterns@v1"


def test_with_a_pattern_model_the_charts_page_shows_patterns_now_and_the_study() -> None:
    register_pattern_model(Settings.from_env(), tiny_pattern_model())
    app = _run(CHARTS, charts_pattern_bars=100, charts_pattern_threshold=0.3)
    assert not app.exception, [e.value for e in app.exception]
    assert [h.value for h in app.subheader][:2] == ["Patterns now", "What followed each pattern here"]
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    now = figures[1]["data"][0]
    assert now["type"] == "bar" and len(now["y"]) == 5 and any("chart-patterns@v1" in c.value for c in app.caption)
    app.toggle(key="charts_patterns").set_value(False).run()
    assert not app.exception and "Patterns now" not in [h.value for h in app.subheader]


def test_markers_sit_at_the_completion_bar_on_the_breakout_side() -> None:
    ohlcv = random_walk_ohlcv(120, seed=1, freq="D")
    events = pd.DataFrame({"time": ohlcv.index[[40, 90]], "pattern": ["double_bottom", "rising_wedge"],
                           "probability": [0.8, 0.6], "direction": [1, -1], "bars": [30, 60], "close": 0.0})
    figure = add_pattern_markers(build_price_chart(ohlcv, show_levels=False).figure, events, ohlcv)
    bullish, bearish = (trace for trace in figure.data if trace.name in ("bullish pattern", "bearish pattern"))
    assert bullish.y[0] < ohlcv["low"].iloc[40] and bearish.y[0] > ohlcv["high"].iloc[90]
    assert pd.Timestamp(bullish.x[0]) == ohlcv.index[40].tz_localize(None)
    assert "double bottom 80% (30 bars)" in bullish.text[0]
    now = pd.DataFrame({"pattern": ["bull_flag", "double_top"], "probability": [0.7, 0.2], "direction": [1, -1],
                        "bars": 30})
    assert list(patterns_now_bar(now).data[0].y) == ["bull flag", "double top"]
    weights = pd.Series(np.full(4, 0.25), index=ohlcv.index[:4])
    assert len(attention_bar(weights).data[0].y) == 4


@pytest.mark.slow
def test_explain_page_shows_the_lstm_attention() -> None:
    train_demo_models(("lightgbm", "lstm"))
    app = _run(EXPLAIN, explain_history_bars=30)
    assert not app.exception, [e.value for e in app.exception]
    assert "LSTM attention" in [h.value for h in app.header]
