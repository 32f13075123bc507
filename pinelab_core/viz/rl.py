"""Figures and tables of reinforcement-learning agents: learning curves, out-of-sample equity, calls, the desk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinelab_core.viz.theme import FALLING, LINE_COLOURS, TEXT, apply_dark_theme

__all__ = ["agent_calls_frame", "agent_desk_figure", "agent_equity_figure", "learning_curve_figure"]

_BASELINE_STYLE = {"buy-and-hold": {"color": TEXT, "dash": "dot"}, "supervised ensemble": {"color": "#29b6f6",
                                                                                         "dash": "dash"}}


def learning_curve_figure(points: pd.DataFrame) -> go.Figure:
    """Mean episode reward (top) and training loss (bottom) against timesteps, one colour per training run."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=False, row_heights=[0.6, 0.4], vertical_spacing=0.12)
    if len(points):
        for number, (run, group) in enumerate(points.groupby("run", sort=False)):
            colour = LINE_COLOURS[number % len(LINE_COLOURS)]
            figure.add_scatter(x=group["timesteps"], y=group["episode_reward"], name=str(run), mode="lines",
                               legendgroup=str(run), line={"color": colour}, row=1, col=1)
            figure.add_scatter(x=group["timesteps"], y=group["loss"], name=str(run), mode="lines", showlegend=False,
                               legendgroup=str(run), line={"color": colour, "dash": "dot"}, row=2, col=1)
    else:
        figure.add_annotation(text="no learning-curve points yet", showarrow=False)
    figure.update_layout(title="Learning curves: mean episode reward (log growth per episode) and loss")
    figure.update_yaxes(title_text="episode reward", row=1, col=1)
    figure.update_yaxes(title_text="loss", row=2, col=1)
    figure.update_xaxes(title_text="timesteps", row=2, col=1)
    return apply_dark_theme(figure, height=520)


def agent_equity_figure(equity: pd.DataFrame, title: str = "Out-of-sample equity: seeds vs baselines") -> go.Figure:
    """Each seed's stitched out-of-sample equity beside buy-and-hold, random actions and the ensemble."""
    figure = go.Figure()
    seeds = [c for c in equity.columns if str(c).startswith("seed")]
    for number, column in enumerate(seeds):
        figure.add_scatter(x=equity.index, y=equity[column], name=str(column), mode="lines",
                           line={"color": LINE_COLOURS[number % len(LINE_COLOURS)]})
    for column in [c for c in equity.columns if c not in seeds]:
        style = _BASELINE_STYLE.get(str(column), {"color": FALLING, "dash": "dot"})
        figure.add_scatter(x=equity.index, y=equity[column], name=str(column), mode="lines", line=style)
    if not len(equity.columns):
        figure.add_annotation(text="no evaluation stored with this agent", showarrow=False)
    figure.update_layout(title=title, yaxis_title="equity")
    return apply_dark_theme(figure, height=420)


def agent_calls_frame(calls: Sequence[Any]) -> pd.DataFrame:
    """The active agents' calls as a table for the Predictions page (one row per agent)."""
    columns = ["agent", "role", "action", "target", "confidence", "bar_time", "in_sample", "trained_through"]
    rows = [{"agent": c.agent, "role": c.role or "general", "action": c.action, "target": c.target,
             "confidence": c.confidence, "bar_time": c.bar_time, "in_sample": c.in_sample,
             "trained_through": c.trained_through} for c in calls]
    return pd.DataFrame(rows, columns=columns)


def agent_desk_figure(history: pd.DataFrame,
                      title: str = "Agent desk: consensus, risk manager and equity") -> go.Figure:
    """The desk's equity (top) and its target before and after the risk manager (bottom)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.05)
    if len(history):
        figure.add_scatter(x=history.index, y=history["equity"], name="desk equity", mode="lines",
                           line={"color": LINE_COLOURS[0]}, row=1, col=1)
        figure.add_scatter(x=history.index, y=history["before_risk"], name="consensus position", mode="lines",
                           line={"color": TEXT, "dash": "dot"}, row=2, col=1)
        figure.add_scatter(x=history.index, y=history["target"], name="after the risk manager", mode="lines",
                           line={"color": LINE_COLOURS[2]}, row=2, col=1)
    figure.update_layout(title=title)
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="position", tickformat=".0%", row=2, col=1)
    return apply_dark_theme(figure, height=480)
