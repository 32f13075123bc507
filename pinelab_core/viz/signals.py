"""Figures of the Signals page: calls on the price chart, each source's part, weights and track records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pinelab_core.signals.aggregate import AggregateSignal
from pinelab_core.viz import theme
from pinelab_core.viz.charts import build_price_chart

__all__ = ["contributions_chart", "signals_price_chart", "track_record_chart", "weight_path_chart"]


def _naive_utc(times: pd.Series | pd.Index) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
    return stamps.tz_convert("UTC").tz_localize(None)


def signals_price_chart(ohlcv: pd.DataFrame, signals: pd.DataFrame, *, last_bars: int = 400,
                        title: str = "") -> go.Figure:
    """Candles of the last `last_bars` bars with every source's calls: up markers under lows, down over highs.

    Args:
        ohlcv: the market.
        signals: tracked signals (`load_outcomes` columns: source, time, direction, strength, realised_return).
    """
    recent = ohlcv.iloc[-last_bars:]
    figure = build_price_chart(recent, show_levels=False, title=title).figure
    shown = signals[(signals["direction"] != 0) & (pd.to_datetime(signals["time"], utc=True) >= recent.index[0])]
    low, high = recent["low"], recent["high"]
    for number, (source, calls) in enumerate(shown.groupby("source", sort=True)):
        bars = recent.index.searchsorted(pd.to_datetime(calls["time"], utc=True), side="right") - 1
        buy = calls["direction"].to_numpy() > 0
        y = np.where(buy, low.to_numpy()[bars] * 0.995, high.to_numpy()[bars] * 1.005)
        colour = theme.LINE_COLOURS[number % len(theme.LINE_COLOURS)]
        outcome = calls["realised_return"].map(lambda r: "open" if pd.isna(r) else f"{r:+.2%}")
        figure.add_trace(go.Scatter(
            x=_naive_utc(calls["time"]), y=y, mode="markers", name=str(source),
            # Direction reads from the triangle, the source from its colour.
            marker={"symbol": np.where(buy, "triangle-up", "triangle-down"), "color": colour, "size": 10,
                    "line": {"width": 1, "color": theme.BACKGROUND}},
            customdata=np.column_stack([np.where(buy, "BUY", "SELL"), calls["strength"].round(2), outcome]),
            hovertemplate=f"{source}: %{{customdata[0]}} strength %{{customdata[1]}}, result %{{customdata[2]}}"
                          "<extra></extra>",
        ), row=1, col=1)
    return figure


def contributions_chart(aggregate: AggregateSignal) -> go.Figure:
    """Each source's share of the consensus score (weight x direction x strength / active weight)."""
    parts = sorted(aggregate.contributions, key=lambda c: c.share)
    figure = go.Figure(go.Bar(
        x=[c.share for c in parts], y=[c.source for c in parts], orientation="h",
        marker={"color": [theme.RISING if c.share > 0 else theme.FALLING if c.share < 0 else theme.GRID
                          for c in parts]},
        customdata=[[c.weight, c.strength] for c in parts],
        hovertemplate="%{y}: share %{x:+.2f} (weight %{customdata[0]:.2f}, strength %{customdata[1]:.2f})"
                      "<extra></extra>",
    ))
    figure.update_layout(title=f"Score {aggregate.score:+.2f}: each source's part", xaxis={"range": [-1, 1]})
    return theme.apply_dark_theme(figure, height=300)


def weight_path_chart(path: pd.DataFrame) -> go.Figure:
    """Each source's learned weight after every outcome that moved it."""
    figure = go.Figure()
    for number, (source, steps) in enumerate(path.groupby("source", sort=True)):
        figure.add_trace(go.Scatter(x=_naive_utc(steps["exit_time"]), y=steps["weight"], mode="lines", name=str(source),
                                    line={"color": theme.LINE_COLOURS[number % len(theme.LINE_COLOURS)]}))
    figure.update_layout(title="Learned weights over time", yaxis={"type": "log", "title": "weight"})
    return theme.apply_dark_theme(figure, height=340)


def track_record_chart(outcomes: pd.DataFrame) -> go.Figure:
    """Cumulative return of following each source's calls (entered next open, held for the horizon)."""
    figure = go.Figure()
    resolved = outcomes[outcomes["realised_return"].notna() & (outcomes["direction"] != 0)].sort_values("exit_time")
    for number, (source, calls) in enumerate(resolved.groupby("source", sort=True)):
        growth = np.expm1(np.log1p(calls["realised_return"].astype(float)).cumsum())
        figure.add_trace(go.Scatter(x=_naive_utc(calls["exit_time"]), y=growth, mode="lines", name=str(source),
                                    line={"color": theme.LINE_COLOURS[number % len(theme.LINE_COLOURS)]}))
    figure.update_layout(title="Track record: cumulative return per source", yaxis={"tickformat": "+.0%"})
    return theme.apply_dark_theme(figure, height=340)
