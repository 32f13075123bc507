"""Figures of the Features page: a feature under the price, the clustered correlation heatmap, a feature's
distribution per regime, the importance ranking and the look-ahead audit. No streamlit here."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinelab_core.viz.theme import FALLING, LINE_COLOURS, RISING, apply_dark_theme

__all__ = [
    "audit_figure",
    "correlation_heatmap",
    "feature_under_price",
    "importance_figure",
    "regime_distribution",
]

_CANDLE_LIMIT = 1_500  # more bars than this draw the close as a line: candles would be sub-pixel anyway


def feature_under_price(ohlcv: pd.DataFrame, feature: pd.Series, *, title: str = "") -> go.Figure:
    """Price on top (candles, or the close for long windows) and `feature` in a panel below, sharing time."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.62, 0.38])
    x = ohlcv.index
    if len(ohlcv) <= _CANDLE_LIMIT:
        figure.add_trace(go.Candlestick(x=x, open=ohlcv["open"], high=ohlcv["high"], low=ohlcv["low"],
                                        close=ohlcv["close"], name="Price", increasing_line_color=RISING,
                                        decreasing_line_color=FALLING), row=1, col=1)
    else:
        figure.add_trace(go.Scattergl(x=x, y=ohlcv["close"], name="Close", line={"color": LINE_COLOURS[2]}),
                         row=1, col=1)
    figure.add_trace(go.Scattergl(x=feature.index, y=feature.to_numpy(), name=str(feature.name),
                                  line={"color": LINE_COLOURS[0], "width": 1.4}), row=2, col=1)
    figure.update_xaxes(rangeslider_visible=False)
    figure.update_yaxes(title_text=str(feature.name), row=2, col=1)
    apply_dark_theme(figure, height=620)
    figure.update_layout(title=title or f"{feature.name} under the price")
    return figure


def correlation_heatmap(corr: pd.DataFrame, *, title: str = "Feature correlation (clustered)") -> go.Figure:
    """Heatmap of a (clustered) correlation matrix on a fixed -1..1 diverging scale."""
    figure = go.Figure(go.Heatmap(
        z=corr.to_numpy(), x=list(corr.columns), y=list(corr.index), zmin=-1.0, zmax=1.0, colorscale="RdBu",
        reversescale=True, colorbar={"title": "corr"},
        hovertemplate="%{y} vs %{x}: %{z:.2f}<extra></extra>",
    ))
    side = min(1_400, 240 + 9 * len(corr))
    apply_dark_theme(figure, height=side)
    figure.update_layout(title=title, hovermode="closest")
    figure.update_xaxes(showticklabels=len(corr) <= 80, showspikes=False)
    figure.update_yaxes(showticklabels=len(corr) <= 80, autorange="reversed", side="left", showspikes=False)
    return figure


def regime_distribution(
    values: pd.Series, regime: pd.Series, *, kind: Literal["box", "violin"] = "box", regime_names: dict | None = None
) -> go.Figure:
    """Distribution of `values` for each level of `regime` (rows where either is NaN are left out)."""
    frame = pd.DataFrame({"value": values, "regime": regime}).dropna()
    figure = go.Figure()
    for position, level in enumerate(sorted(frame["regime"].unique())):
        subset = frame.loc[frame["regime"] == level, "value"]
        label = (regime_names or {}).get(level, f"{regime.name} = {level:g}")
        colour = LINE_COLOURS[position % len(LINE_COLOURS)]
        if kind == "violin":
            figure.add_trace(go.Violin(y=subset, name=f"{label} ({len(subset):,})", box_visible=True,
                                       meanline_visible=True, line_color=colour, points=False))
        else:
            figure.add_trace(go.Box(y=subset, name=f"{label} ({len(subset):,})", marker_color=colour,
                                    boxpoints=False, boxmean=True))
    apply_dark_theme(figure, height=460)
    figure.update_layout(title=f"{values.name} by {regime.name}", showlegend=False, hovermode="closest")
    return figure


def importance_figure(ranking: pd.DataFrame, *, top: int = 25, title: str = "Feature importance") -> go.Figure:
    """Horizontal bars of the `top` features of a `rank_features` result, best on top."""
    best = ranking.head(top).iloc[::-1]
    figure = go.Figure(go.Bar(x=best["score"], y=best["feature"], orientation="h", marker_color=LINE_COLOURS[2],
                              hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    apply_dark_theme(figure, height=max(320, 22 * len(best) + 120))
    figure.update_layout(title=title, hovermode="closest")
    figure.update_yaxes(side="left")
    return figure


def audit_figure(report: pd.DataFrame, catalog: pd.DataFrame) -> go.Figure:
    """Passed and failed features per group, stacked: a failure stands out in red."""
    merged = report.merge(catalog[["name", "group"]], left_on="feature", right_on="name", how="left")
    counts = merged.groupby("group", sort=False)["passed"].agg(passed="sum", total="size")
    failed = counts["total"] - counts["passed"]
    figure = go.Figure([
        go.Bar(x=counts.index, y=counts["passed"], name="passed", marker_color=RISING),
        go.Bar(x=counts.index, y=failed, name="failed", marker_color=FALLING),
    ])
    apply_dark_theme(figure, height=340)
    figure.update_layout(barmode="stack", title="Look-ahead audit per group", hovermode="x")
    figure.update_yaxes(side="left", dtick=max(1, int(np.ceil(counts["total"].max() / 8))))
    return figure
