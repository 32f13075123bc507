"""SHAP figures of the Explain page: waterfall for one bar, mean |SHAP|, beeswarm and dependence plots.

All values are in the explained output space (centred log-probability of the class): positive values push
the bar towards the class, negative ones away. The figures take the records of `pinelab_core.explain`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pinelab_core.explain.attribution import Attribution
from pinelab_core.viz.theme import FALLING, RISING, apply_dark_theme

__all__ = ["beeswarm", "dependence_plot", "importance_bar", "waterfall"]


def waterfall(base_value: float, contributions: dict[str, float], output: float, *, top: int = 15,
              title: str = "", feature_values: dict[str, float] | None = None) -> go.Figure:
    """From the base value through the `top` largest contributions (the rest summed) to the output."""
    ranked = sorted(contributions.items(), key=lambda item: -abs(item[1]))
    shown, rest = ranked[:top], ranked[top:]
    values = feature_values or {}
    labels = [f"{name} = {values[name]:.4g}" if name in values and np.isfinite(values[name]) else name
              for name, _ in shown]
    deltas = [value for _, value in shown]
    if rest:
        labels.append(f"{len(rest)} other features")
        deltas.append(sum(value for _, value in rest))
    figure = go.Figure(go.Waterfall(
        orientation="h", y=["base value", *labels, "output"], x=[base_value, *deltas, output],
        measure=["absolute", *(["relative"] * len(deltas)), "total"],
        increasing={"marker": {"color": RISING}}, decreasing={"marker": {"color": FALLING}},
        totals={"marker": {"color": "#5c6bc0"}}, connector={"line": {"color": "#555"}},
        text=[f"{base_value:+.4f}", *[f"{d:+.4f}" for d in deltas], f"{output:+.4f}"], textposition="outside",
    ))
    figure.update_layout(title=title or "Why this call (SHAP waterfall)", showlegend=False)
    figure = apply_dark_theme(figure, height=180 + 28 * (len(labels) + 2))
    figure.update_yaxes(side="left", autorange="reversed")
    figure.update_layout(hovermode="closest")
    return figure


def importance_bar(attribution: Attribution, *, top: int = 20, title: str = "Mean |SHAP|") -> go.Figure:
    """Global ranking: mean absolute contribution per feature over the explained bars."""
    ranking = attribution.mean_abs().head(top)
    figure = go.Figure(go.Bar(x=ranking.to_numpy(), y=ranking.index, orientation="h", marker_color="#5c6bc0"))
    figure.update_layout(title=title, xaxis_title="mean |contribution|")
    figure = apply_dark_theme(figure, height=160 + 24 * len(ranking))
    figure.update_yaxes(side="left", autorange="reversed")
    figure.update_layout(hovermode="closest")
    return figure


def beeswarm(attribution: Attribution, *, top: int = 15, title: str = "SHAP beeswarm") -> go.Figure:
    """One row per feature (most important on top): each dot a bar, x its contribution, colour its value."""
    order = list(attribution.mean_abs().head(top).index)
    names = list(attribution.feature_names)
    rng = np.random.default_rng(0)  # jitter only spreads dots; fixed so the picture does not dance on reruns
    figure = go.Figure()
    for row, name in enumerate(order):
        j = names.index(name)
        raw = attribution.feature_values[:, j]
        colour = _percentile_colour(raw)
        figure.add_scatter(
            x=attribution.values[:, j], y=row + rng.uniform(-0.3, 0.3, len(raw)), mode="markers", name=name,
            showlegend=False, marker={"size": 6, "color": colour, "colorscale": "RdBu_r", "cmin": 0, "cmax": 1,
                                      "showscale": row == 0, "colorbar": {"title": "value pct"}},
            text=[f"{name} = {v:.4g}" for v in raw], hovertemplate="%{text}<br>SHAP %{x:+.4f}<extra></extra>",
        )
    figure.update_layout(title=title, xaxis_title="contribution")
    figure = apply_dark_theme(figure, height=160 + 34 * len(order))
    figure.update_yaxes(side="left", tickvals=list(range(len(order))), ticktext=order, autorange="reversed")
    figure.update_layout(hovermode="closest")
    return figure


def dependence_plot(attribution: Attribution, feature: str, *, colour_by: str | None = None) -> go.Figure:
    """A feature's value against its contribution; coloured by another feature's value when given."""
    names = list(attribution.feature_names)
    j = names.index(feature)
    marker: dict[str, object] = {"size": 7, "color": "#5c6bc0"}
    if colour_by is not None and colour_by in names:
        marker = {"size": 7, "color": attribution.feature_values[:, names.index(colour_by)], "colorscale": "Viridis",
                  "showscale": True, "colorbar": {"title": colour_by}}
    figure = go.Figure(go.Scatter(
        x=attribution.feature_values[:, j], y=attribution.values[:, j], mode="markers", marker=marker,
        text=[str(t) for t in pd.DatetimeIndex(attribution.index)], hovertemplate="%{text}<br>value %{x:.4g}"
        "<br>SHAP %{y:+.4f}<extra></extra>",
    ))
    figure.update_layout(title=f"Dependence: {feature}", xaxis_title=feature, yaxis_title="contribution")
    figure = apply_dark_theme(figure, height=420)
    figure.update_layout(hovermode="closest")
    return figure


def _percentile_colour(values: np.ndarray) -> np.ndarray:
    """Each value's percentile among the finite ones (0..1); NaN stays NaN (drawn grey)."""
    finite = np.isfinite(values)
    out = np.full(len(values), np.nan)
    if finite.sum() > 1:
        ranks = pd.Series(values[finite]).rank(pct=True).to_numpy()
        out[finite] = ranks
    return out
