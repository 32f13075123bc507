"""Chart-pattern figures: detection markers on the price chart, the "Patterns now" bars, attention weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pinelab_core.viz import theme

__all__ = ["add_pattern_markers", "attention_bar", "patterns_now_bar"]


def add_pattern_markers(figure: go.Figure, events: pd.DataFrame, ohlcv: pd.DataFrame) -> go.Figure:
    """Mark each detection at the bar its pattern completed: a triangle in its breakout direction.

    Bullish detections sit below the bar's low, bearish ones above its high; hover shows the pattern,
    its probability and its length in bars. Drawn on the price panel (row 1) of `build_price_chart`.
    """
    for direction, symbol, colour, side, name in ((1, "triangle-up", theme.RISING, "low", "bullish pattern"),
                                                   (-1, "triangle-down", theme.FALLING, "high", "bearish pattern")):
        chosen = events[events["direction"] == direction] if len(events) else events
        if not len(chosen):
            continue
        times = pd.DatetimeIndex(chosen["time"])
        prices = ohlcv[side].reindex(times).to_numpy(np.float64)
        offset = 1.0 - 0.01 * direction  # a little away from the candle so the marker does not hide it
        text = [f"{p.replace('_', ' ')} {prob:.0%} ({bars} bars)" for p, prob, bars
                in zip(chosen["pattern"], chosen["probability"], chosen["bars"], strict=True)]
        figure.add_trace(go.Scatter(
            x=times.tz_convert("UTC").tz_localize(None) if times.tz is not None else times, y=prices * offset,
            mode="markers", name=name, text=text, hoverinfo="text+x",
            marker={"symbol": symbol, "size": 11, "color": colour, "line": {"width": 1, "color": theme.TEXT}},
        ), row=1, col=1)
    return figure


def patterns_now_bar(now: pd.DataFrame) -> go.Figure:
    """Horizontal bars of the newest bar's strongest patterns, coloured by breakout direction."""
    labels = [name.replace("_", " ") for name in now["pattern"]]
    colours = [theme.RISING if d > 0 else theme.FALLING if d < 0 else theme.GRID for d in now["direction"]]
    figure = go.Figure(go.Bar(x=now["probability"], y=labels, orientation="h", marker={"color": colours},
                              text=[f"{p:.0%}" for p in now["probability"]], textposition="outside"))
    figure.update_layout(title="Patterns now (probability at the last bar)", showlegend=False)
    figure = theme.apply_dark_theme(figure, height=120 + 34 * len(labels))
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(autorange="reversed")
    return figure


def attention_bar(weights: pd.Series, title: str = "") -> go.Figure:
    """The LSTM's attention from the explained bar over each bar of its window (sums to 1)."""
    figure = go.Figure(go.Bar(x=[f"{t:%Y-%m-%d %H:%M}" for t in weights.index], y=weights.to_numpy(),
                              marker={"color": theme.LINE_COLOURS[0]}))
    figure.update_layout(title=title or "Attention over the window (last bar = the explained bar)", showlegend=False)
    figure = theme.apply_dark_theme(figure, height=320)
    figure.update_yaxes(title_text="weight", tickformat=".1%")
    return figure
