"""Figures of a training run: fold scores, confusion matrix, calibration, importance, equity, loss curves.

Builders take plain frames (from `TrainReport` or `training.results.VersionResults`) and return Plotly
figures in the shared dark theme; pages only render them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix

from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.viz.theme import FALLING, LINE_COLOURS, RISING, TEXT, apply_dark_theme

__all__ = [
    "calibration_figure",
    "confusion_figure",
    "equity_comparison_figure",
    "equity_figure",
    "fold_scores_figure",
    "importance_comparison_figure",
    "importance_figure",
    "loss_curve_figure",
]

_CLASS_COLOURS = {"DOWN": FALLING, "SIDEWAYS": "#b0bec5", "UP": RISING}


def fold_scores_figure(folds: pd.DataFrame, metric: str = "balanced_accuracy") -> go.Figure:
    """Train, validation and test score per fold beside the majority-class baseline: where the gap opens."""
    figure = go.Figure()
    fold_names = [f"fold {int(f)}" for f in folds["fold"]]
    for part, colour in (("train", LINE_COLOURS[0]), ("val", LINE_COLOURS[1]), ("test", LINE_COLOURS[2])):
        column = f"{part}_{metric}"
        if column in folds:
            figure.add_bar(x=fold_names, y=folds[column], name=part, marker_color=colour)
    if metric == "balanced_accuracy":
        figure.add_hline(y=1 / len(DIRECTION_CLASSES), line_dash="dot", line_color=TEXT,
                         annotation_text="chance / majority baseline")
    elif metric == "accuracy" and "baseline_accuracy" in folds:
        figure.add_scatter(x=fold_names, y=folds["baseline_accuracy"], name="majority baseline",
                           mode="lines+markers", line={"dash": "dot", "color": TEXT})
    figure.update_layout(barmode="group", title=f"{metric.replace('_', ' ')} per fold")
    return apply_dark_theme(figure, height=360)


def confusion_figure(oos: pd.DataFrame) -> go.Figure:
    """Out-of-sample confusion matrix: counts, with each true class's row share in the text."""
    labels = list(range(len(DIRECTION_CLASSES)))
    counts = confusion_matrix(oos["y_true"], oos["y_pred"], labels=labels)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    text = [[f"{c}<br>{s:.0%}" for c, s in zip(row_c, row_s, strict=True)] for row_c, row_s in zip(counts, shares,
                                                                                                  strict=True)]
    figure = go.Figure(go.Heatmap(z=shares, x=list(DIRECTION_CLASSES), y=list(DIRECTION_CLASSES), text=text,
                                  texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False))
    figure.update_layout(title="Confusion matrix (out of sample)", xaxis_title="predicted", yaxis_title="true",
                         hovermode="closest")
    figure.update_yaxes(autorange="reversed", side="left")
    return apply_dark_theme(figure, height=380)


def calibration_figure(oos: pd.DataFrame, n_bins: int = 10) -> go.Figure:
    """Reliability per class: predicted probability against how often that class happened (diagonal = honest)."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                       line={"dash": "dot", "color": TEXT})
    for index, name in enumerate(DIRECTION_CLASSES):
        column = f"prob_{name}"
        if column not in oos or len(oos) == 0:
            continue
        happened = (oos["y_true"].to_numpy() == index).astype(int)
        observed, predicted = calibration_curve(happened, oos[column].to_numpy(), n_bins=n_bins, strategy="quantile")
        figure.add_scatter(x=predicted, y=observed, mode="lines+markers", name=name,
                           line={"color": _CLASS_COLOURS[name]})
    figure.update_layout(title="Calibration (out of sample)", xaxis_title="predicted probability",
                         yaxis_title="observed frequency", hovermode="closest")
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1], side="left")
    return apply_dark_theme(figure, height=380)


def importance_figure(importance: pd.Series | None, top: int = 20, title: str = "Feature importance") -> go.Figure:
    """Horizontal bars of the `top` most important features (normalised native importance)."""
    figure = go.Figure()
    if importance is not None and len(importance):
        shown = importance.sort_values(ascending=False).head(top).iloc[::-1]
        figure.add_bar(x=shown.to_numpy(), y=[str(i) for i in shown.index], orientation="h",
                       marker_color=LINE_COLOURS[2])
    else:
        figure.add_annotation(text="this model has no native feature importance (see the Explain page)",
                              showarrow=False)
    figure.update_layout(title=title, hovermode="closest")
    figure.update_yaxes(side="left")
    return apply_dark_theme(figure, height=max(320, 22 * min(top, len(importance) if importance is not None else 0)))


def equity_figure(equity: pd.DataFrame, title: str = "Implied strategy vs buy-and-hold (out of sample)") -> go.Figure:
    """Equity of the long/flat/short strategy and of buy-and-hold, with the strategy's drawdown below."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.04)
    if len(equity):
        figure.add_scatter(x=equity.index, y=equity["strategy"], name="implied strategy",
                           line={"color": LINE_COLOURS[0]}, row=1, col=1)
        figure.add_scatter(x=equity.index, y=equity["buy_and_hold"], name="buy-and-hold",
                           line={"color": TEXT, "dash": "dot"}, row=1, col=1)
        drawdown = equity["strategy"] / equity["strategy"].cummax() - 1.0
        figure.add_scatter(x=equity.index, y=drawdown, name="strategy drawdown", fill="tozeroy",
                           line={"color": FALLING}, row=2, col=1)
    figure.update_layout(title=title)
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return apply_dark_theme(figure, height=480)


def loss_curve_figure(points: pd.DataFrame) -> go.Figure:
    """Training (solid) and validation (dashed) loss per step, one colour (and one legend entry) per fold."""
    figure = go.Figure()
    if len(points):
        runs = points.get("stage", pd.Series("", index=points.index)).astype(str).str.split(":").str[0]
        for number, ((run, fold), group) in enumerate(points.assign(run=runs).groupby(["run", "fold"], sort=False)):
            colour = LINE_COLOURS[number % len(LINE_COLOURS)]
            name = f"{run} fold {int(fold)}".strip()
            figure.add_scatter(x=group["step"], y=group["train_loss"], name=name, mode="lines", legendgroup=name,
                               line={"color": colour}, hovertemplate="train %{y:.4f}")
            if group["val_loss"].notna().any():
                figure.add_scatter(x=group["step"], y=group["val_loss"], name=name, mode="lines", legendgroup=name,
                                   showlegend=False, line={"color": colour, "dash": "dash"},
                                   hovertemplate="validation %{y:.4f}")
    else:
        figure.add_annotation(text="no loss points yet", showarrow=False)
    figure.update_layout(title="Loss per step (solid: train, dashed: validation)", xaxis_title="step",
                         yaxis_title="log loss", hovermode="closest")
    return apply_dark_theme(figure, height=360)


def equity_comparison_figure(curves: dict[str, pd.Series]) -> go.Figure:
    """Implied-strategy equity of several versions on one chart (each over its own out-of-sample bars)."""
    figure = go.Figure()
    for number, (ref, curve) in enumerate(curves.items()):
        figure.add_scatter(x=curve.index, y=curve.to_numpy(), name=ref, mode="lines",
                           line={"color": LINE_COLOURS[number % len(LINE_COLOURS)]})
    figure.update_layout(title="Equity, out of sample", yaxis_title="equity")  # fits half of a 1,000 px page
    return apply_dark_theme(figure, height=400)


def importance_comparison_figure(importances: dict[str, pd.Series], top: int = 15) -> go.Figure:
    """Grouped bars of the features most important on average across the compared versions."""
    frame = pd.DataFrame(importances).fillna(0.0)
    figure = go.Figure()
    if len(frame):
        shown = frame.loc[frame.mean(axis=1).sort_values(ascending=False).head(top).index]
        for number, ref in enumerate(shown.columns):
            figure.add_bar(x=[str(i) for i in shown.index], y=shown[ref], name=ref,
                           marker_color=LINE_COLOURS[number % len(LINE_COLOURS)])
    figure.update_layout(barmode="group", title="Feature importance", hovermode="closest")
    return apply_dark_theme(figure, height=400)
