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
    """Dark background, quiet grid, legend on top, unified hover: a trading-terminal look."""
    figure.update_layout(
        template="plotly_dark",
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
        font={"color": TEXT, "size": 12},
        height=height,
        margin={"l": 10, "r": 60, "t": 64, "b": 10},  # the top strip holds buttons + legend below the modebar
        hovermode="x unified",
        # Legend top-right, range selector buttons top-left: they share the strip above the plot.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    figure.update_xaxes(gridcolor=GRID, zeroline=False, showspikes=True, spikemode="across", spikethickness=1)
    figure.update_yaxes(gridcolor=GRID, zeroline=False, side="right")
    return figure
