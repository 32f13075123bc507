"""The Market structure page and the Charts page's regime shading and anomaly markers (AppTest, no browser), and
the figures behind them."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pinelab_core.structure import REGIME_NAMES, anomaly_alerts, market_structure, regime_history
from pinelab_core.viz import build_price_chart
from pinelab_core.viz.structure import (
    anomaly_figure,
    regime_figure,
    sparse_figure,
    spectrum_figure,
    volatility_figure,
    wavelet_figure,
)
from tests.conftest import REPO_ROOT, random_walk_ohlcv
from tests.structure_helpers import regime_switching_ohlcv

PAGE = REPO_ROOT / "app_pages" / "11_Market_Structure.py"
CHARTS = REPO_ROOT / "app_pages" / "1_Charts.py"


def _figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def test_the_market_structure_page_shows_every_view() -> None:
    app = AppTest.from_file(str(PAGE), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "Market structure · DEMO-EQUITY · 1d"
    assert [tab.label for tab in app.tabs] == ["Regimes", "Volatility", "Spectrum", "Wavelets", "Anomalies"]
    titles = [figure["layout"]["title"]["text"] for figure in _figures(app)]
    assert len(titles) == 6 and titles[0].startswith("HMM regimes") and "Periodogram" in titles[2]
    assert "Regime now:" in app.markdown[0].value
    app.number_input(key="structure_bars").set_value(750).run()
    assert not app.exception and len(_figures(app)[0]["data"][0]["x"]) == 750


@pytest.mark.slow
@pytest.mark.parametrize("symbol", ["DEMO-BTC", "DEMO-FX"])  # 24/7 crypto; FX with weekend gaps
def test_the_page_shows_every_view_for_an_intraday_market(symbol: str) -> None:
    app = AppTest.from_file(str(PAGE), default_timeout=300)
    app.session_state["market_symbol"] = symbol
    app.session_state["market_timeframe"] = "1h"
    app.session_state["market_dates"] = (date(2026, 5, 1), date(2026, 9, 30))
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert len(_figures(app)) == 6
    summary = app.markdown[0].value
    assert any(name in summary for name in REGIME_NAMES), summary  # five months of hours: past the warm-up


def test_a_history_too_short_says_how_to_fix_it() -> None:
    app = AppTest.from_file(str(PAGE), default_timeout=120)
    app.session_state["market_dates"] = (date(2026, 1, 1), date(2026, 6, 30))
    app.run()
    assert not app.exception
    assert any("Load a longer date range" in e.value for e in app.error)


def test_the_charts_page_shades_regimes_and_flags_unusual_bars_on_request() -> None:
    app = AppTest.from_file(str(CHARTS), default_timeout=180).run()
    names = {trace.get("name") for trace in _figures(app)[0]["data"]}
    assert not names & set(REGIME_NAMES)  # shading is opt-in: it fits models
    assert any(str(n).startswith("unusual") for n in names)
    app.toggle(key="chart_regimes").set_value(True).run()
    assert not app.exception
    shading = [t for t in _figures(app)[0]["data"] if t.get("name") in REGIME_NAMES]
    assert shading and all(t["yaxis"] == "y9" and t["fill"] == "tozeroy" for t in shading)
    app.toggle(key="chart_alerts").set_value(False).run()
    assert not any(str(t.get("name")).startswith("unusual") for t in _figures(app)[0]["data"])


def test_shading_follows_the_regime_known_at_each_drawn_candles_close() -> None:
    bars, _ = regime_switching_ohlcv(2_400, seed=4)
    regimes = regime_history(bars)["regime"]
    chart = build_price_chart(bars, show_levels=False, max_candles=600, regimes=regimes)
    assert chart.bars_per_candle == 4
    shaded = {t.name: np.asarray(t.y) for t in chart.figure.data if t.name in REGIME_NAMES}
    last_bar_of_candle = regimes.to_numpy()[3::4]
    for name, inside in shaded.items():
        np.testing.assert_array_equal(inside.astype(bool), last_bar_of_candle == name)
    assert sum(inside for inside in shaded.values()).max() == 1  # one regime per candle, never two


def test_alert_markers_sit_on_their_candles() -> None:
    bars = random_walk_ohlcv(1_500, seed=6)
    bars.iloc[1_200, bars.columns.get_loc("volume")] *= 12.0
    alerts = anomaly_alerts(bars)
    chart = build_price_chart(bars, show_levels=False, max_candles=500, alerts=alerts)
    volume = next(t for t in chart.figure.data if t.name == "unusual volume")
    candle_x = chart.figure.data[0].x
    assert set(volume.x) <= set(candle_x) and any("Unusual volume" in text for text in volume.text)


def test_every_structure_figure_builds_with_a_titled_legend_below() -> None:
    bars = regime_switching_ohlcv(1_500, seed=1)[0]
    view = market_structure(bars, bars=400)
    figures = [regime_figure(view.ohlcv, view.regimes), volatility_figure(view.volatility),
               spectrum_figure(view.spectrum, view.cycles), wavelet_figure(view.ohlcv, view.wavelets, view.denoised),
               sparse_figure(view.sparse, view.anomalies["sparse_error"]),
               anomaly_figure(view.ohlcv, view.anomalies, view.alerts)]
    for figure in figures:
        assert figure.layout.title.text and figure.layout.legend.yref == "container"  # the theme's legend below
    stacked = [t for t in figures[0].data if t.stackgroup == "probability"]
    total = pd.DataFrame({t.name: np.asarray(t.y, dtype=float) for t in stacked}).sum(axis=1)
    assert [t.name for t in stacked] == list(REGIME_NAMES) and np.allclose(total[total > 0], 1.0)
    assert len(view.ohlcv) == 400 and view.regimes.index.equals(view.ohlcv.index)
    assert (view.regimes["regime"] != "unknown").all()  # the models warmed up on the bars before the window
