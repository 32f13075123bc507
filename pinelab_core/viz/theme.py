"""The dark chart theme every PineLab figure shares, matched to `.streamlit/config.toml`."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = [
    "BACKGROUND", "FALLING", "GRID", "LINE_COLOURS", "PANEL", "RESISTANCE", "RISING", "SUPPORT", "TEXT",
    "apply_dark_theme",
]

BACKGROUND = "#0e1117"
PANEL = "#161b26"
GRID = "#262c3a"
TEXT = "#e6e6e6"
RISING = "#26a69a"  # the usual teal/red pair of trading terminals
FALLING = "#ef5350"
SUPPORT = "#42a5f5"
RESISTANCE = "#ffa726"
#: Overlay line colours, picked in order; distinct on a dark background.
LINE_COLOURS: tuple[str, ...] = ("#f6c744", "#ab47bc", "#29b6f6", "#ff7043", "#9ccc65", "#ec407a", "#8d6e63")


def apply_dark_theme(figure: go.Figure, *, height: int = 640) -> go.Figure:
    """Dark background, quiet grid, unified hover: a trading-terminal look, readable from 1,000 to 1,900 px.

    A title has the top strip to itself and the legend goes below the plot, where Plotly grows the margin
    for as many rows as the legend wraps into; a legend beside a title (or above the plot) is drawn over
    one or the other once the window narrows. Without a title the legend keeps the top-right corner.
    """
    titled = bool(figure.layout.title.text)
    figure.update_layout(
        template="plotly_dark",
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
        font={"color": TEXT, "size": 12},
        height=height,
        margin={"l": 10, "r": 60, "t": 64, "b": 10},  # the top strip holds the title or buttons + legend
        hovermode="x unified",
        legend=_LEGEND_BELOW if titled else _LEGEND_TOP,
    )
    if titled:
        figure.update_layout(title={"x": 0.01, "xanchor": "left", "y": 0.98, "yref": "container", "yanchor": "top"})
    figure.update_xaxes(gridcolor=GRID, zeroline=False, showspikes=True, spikemode="across", spikethickness=1)
    figure.update_yaxes(gridcolor=GRID, zeroline=False, side="right")
    return figure


_LEGEND_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1}
_LEGEND_BELOW = {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "xanchor": "left", "x": 0}
