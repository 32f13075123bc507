"""Figure builders of the Features page: the right traces, in the right order, without streamlit."""

from __future__ import annotations

import pandas as pd

from pinelab_core.features import build_features, causality_audit, clustered_correlation, feature_catalog
from pinelab_core.viz.features import (
    audit_figure,
    correlation_heatmap,
    feature_under_price,
    importance_figure,
    regime_distribution,
)
from tests.conftest import random_walk_ohlcv


def test_feature_under_price_uses_candles_for_short_windows_and_a_line_for_long_ones() -> None:
    bars = random_walk_ohlcv(2_000)
    rsi = build_features(bars, groups="momentum")["rsi_14"]
    short = feature_under_price(bars.tail(300), rsi.tail(300))
    assert [t.type for t in short.data] == ["candlestick", "scattergl"] and short.data[1].name == "rsi_14"
    assert feature_under_price(bars, rsi).data[0].type == "scattergl"


def test_heatmap_regimes_importance_and_audit_figures() -> None:
    bars = random_walk_ohlcv(800)
    matrix = build_features(bars, groups=["volatility", "regime"])
    corr = clustered_correlation(matrix)
    heatmap = correlation_heatmap(corr)
    assert list(heatmap.data[0].x) == list(corr.columns) and heatmap.data[0].zmin == -1
    boxes = regime_distribution(matrix["rv_20"], matrix["vol_regime"], regime_names={0.0: "calm"})
    assert len(boxes.data) == 3 and boxes.data[0].name.startswith("calm")
    assert regime_distribution(matrix["rv_20"], matrix["vol_regime"], kind="violin").data[0].type == "violin"
    ranking = pd.DataFrame({"feature": ["a", "b", "c"], "score": [0.3, 0.2, 0.1], "rank": [1, 2, 3]})
    assert list(importance_figure(ranking, top=2).data[0].y) == ["b", "a"]  # best on top
    report = causality_audit(bars.tail(300), n_cuts=2, groups="regime")
    audit = audit_figure(report, feature_catalog("regime"))
    assert [t.name for t in audit.data] == ["passed", "failed"] and list(audit.data[1].y) == [0]
