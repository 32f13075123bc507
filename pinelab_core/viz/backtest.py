"""Backtest figures: equity and drawdown against buy-and-hold, trades on the price, Monte Carlo bands, the sweep
heatmap, walk-forward windows and stored runs side by side. Long curves are thinned to `MAX_POINTS` for drawing."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinelab_core.viz.theme import FALLING, LINE_COLOURS, RISING, TEXT, apply_dark_theme

__all__ = [
    "compare_runs_figure",
    "equity_drawdown_figure",
    "monte_carlo_figure",
    "sweep_heatmap",
    "trades_price_figure",
    "walk_forward_figure",
]

MAX_POINTS = 4_000


def _thin(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    if len(frame) <= MAX_POINTS:
        return frame
    return frame.iloc[np.unique(np.linspace(0, len(frame) - 1, MAX_POINTS).astype(int))]


def equity_drawdown_figure(equity: pd.DataFrame, close: pd.Series, title: str = "Equity vs buy-and-hold") -> go.Figure:
    """Strategy equity and a buy-and-hold of the same cash over the same bars, drawdown underneath."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.04)
    shown = _thin(equity)
    if len(shown):
        start = float(equity["equity"].iloc[0])
        hold = _thin(close / close.iloc[0] * start)
        figure.add_scatter(x=shown.index, y=shown["equity"], name="strategy", line={"color": LINE_COLOURS[0]},
                           row=1, col=1)
        figure.add_scatter(x=hold.index, y=hold.to_numpy(), name="buy-and-hold", line={"color": TEXT, "dash": "dot"},
                           row=1, col=1)
        figure.add_scatter(x=shown.index, y=shown["drawdown"], name="drawdown", fill="tozeroy",
                           line={"color": FALLING}, row=2, col=1)
    figure.update_layout(title=title)
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return apply_dark_theme(figure, height=480)


def trades_price_figure(ohlcv: pd.DataFrame, trades: pd.DataFrame, title: str = "Trades") -> go.Figure:
    """The close with each trade's entry (triangle: up = long, down = short) and exit (x, coloured by P&L)."""
    figure = go.Figure()
    close = _thin(ohlcv["close"])
    figure.add_scatter(x=close.index, y=close.to_numpy(), name="close", line={"color": TEXT, "width": 1})
    if len(trades):
        long = trades["size"] > 0
        for mask, symbol, name in ((long, "triangle-up", "long entry"), (~long, "triangle-down", "short entry")):
            part = trades[mask]
            figure.add_scatter(x=part["entry_time"], y=part["entry_price"], mode="markers", name=name,
                               marker={"symbol": symbol, "size": 9, "color": RISING if symbol == "triangle-up"
                                       else FALLING})
        colours = np.where(trades["pnl"] > 0, RISING, FALLING)
        figure.add_scatter(x=trades["exit_time"], y=trades["exit_price"], mode="markers", name="exit",
                           marker={"symbol": "x", "size": 8, "color": colours},
                           text=trades["reason"], hovertemplate="%{text}<br>%{y:.4g}<extra>exit</extra>")
    figure.update_layout(title=title)
    return apply_dark_theme(figure, height=420)


def monte_carlo_figure(bands: pd.DataFrame, actual: pd.Series | None = None,
                       title: str = "Monte Carlo equity bands") -> go.Figure:
    """The p5-p95 and p25-p75 bands with the median path, and the actual path when given (all start at 1)."""
    figure = go.Figure()
    shown = _thin(bands)
    x = shown.index
    for low, high, opacity in (("p5", "p95", 0.18), ("p25", "p75", 0.32)):
        figure.add_scatter(x=x, y=shown[high], line={"width": 0}, showlegend=False, hoverinfo="skip")
        figure.add_scatter(x=x, y=shown[low], fill="tonexty", line={"width": 0}, name=f"{low}-{high}",
                           fillcolor=f"rgba(41, 182, 246, {opacity})")
    figure.add_scatter(x=x, y=shown["p50"], name="median", line={"color": LINE_COLOURS[2]})
    if actual is not None and len(actual) == len(bands):
        path = _thin(pd.Series(actual.to_numpy(), index=bands.index))
        figure.add_scatter(x=path.index, y=path.to_numpy(), name="actual", line={"color": LINE_COLOURS[0]})
    figure.update_layout(title=title, yaxis_title="equity (start = 1)")
    return apply_dark_theme(figure, height=420)


def sweep_heatmap(trials: pd.DataFrame, x: str, y: str, metric: str = "sharpe",
                  title: str | None = None) -> go.Figure:
    """`metric` over two parameters (the best value where other parameters vary)."""
    table = trials.pivot_table(index=y, columns=x, values=metric, aggfunc="max")
    figure = go.Figure(go.Heatmap(z=table.to_numpy(), x=[str(c) for c in table.columns],
                                  y=[str(i) for i in table.index], colorscale="RdYlGn", colorbar={"title": metric},
                                  hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{z:.3f}}<extra></extra>"))
    figure.update_layout(title=title or f"{metric} by {x} and {y}", xaxis_title=x, yaxis_title=y,
                         hovermode="closest")
    figure.update_yaxes(side="left")
    return apply_dark_theme(figure, height=420)


def walk_forward_figure(windows: pd.DataFrame, equity: pd.Series) -> go.Figure:
    """Stitched out-of-sample equity above; in-sample vs out-of-sample Sharpe per window below."""
    figure = make_subplots(rows=2, cols=1, row_heights=[0.6, 0.4], vertical_spacing=0.12)
    shown = _thin(equity)
    figure.add_scatter(x=shown.index, y=shown.to_numpy(), name="out-of-sample equity",
                       line={"color": LINE_COLOURS[0]}, row=1, col=1)
    labels = [f"#{w}" for w in windows["window"]]
    figure.add_bar(x=labels, y=windows["is_sharpe"], name="in-sample Sharpe", marker_color=LINE_COLOURS[1],
                   row=2, col=1)
    figure.add_bar(x=labels, y=windows["oos_sharpe"], name="out-of-sample Sharpe", marker_color=LINE_COLOURS[2],
                   row=2, col=1)
    figure.update_layout(title="Walk-forward optimisation", barmode="group")
    return apply_dark_theme(figure, height=520)


def compare_runs_figure(curves: Mapping[str, pd.Series]) -> go.Figure:
    """Stored runs' equity curves, each rescaled to start at 1, on one chart."""
    figure = go.Figure()
    for number, (name, curve) in enumerate(curves.items()):
        if len(curve):
            shown = _thin(curve / curve.iloc[0])
            figure.add_scatter(x=shown.index, y=shown.to_numpy(), name=name,
                               line={"color": LINE_COLOURS[number % len(LINE_COLOURS)]})
    figure.update_layout(title="Stored runs side by side", yaxis_title="equity (start = 1)")
    return apply_dark_theme(figure, height=420)
