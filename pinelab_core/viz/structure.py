"""Figures of the Market structure page, and the regime shading and anomaly markers the price chart can add.
No streamlit here: pages render what these return."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinelab_core.structure import REGIME_NAMES, AnomalyAlert, SparseFit, VolatilityForecast
from pinelab_core.viz.theme import FALLING, LINE_COLOURS, RISING, TEXT, apply_dark_theme

__all__ = [
    "REGIME_COLOURS", "add_alert_markers", "add_regime_shading", "anomaly_figure", "regime_figure",
    "sparse_figure", "spectrum_figure", "volatility_figure", "wavelet_figure",
]

#: One colour per regime name, calm to stressed: teal and blue for calm, amber and orange for volatile, red for crisis.
REGIME_COLOURS: dict[str, str] = {"calm bull": RISING, "calm bear": "#42a5f5", "volatile bull": "#f6c744",
                                  "volatile bear": "#ff7043", "crisis": FALLING}
_SHADE_AXIS = "y9"  # an overlay axis (0-1) above the price panel; subplot axes never reach this number
_ALERT_SYMBOLS = {"return": "diamond", "volume": "triangle-up", "range": "square"}


def add_regime_shading(figure: go.Figure, x: Sequence[object] | np.ndarray, regimes: Sequence[str] | np.ndarray, *,
                       legend: bool = True) -> None:
    """Shade the price panel (row 1) by regime: one filled step trace per regime on a hidden 0-1 axis.

    Args:
        figure: a figure whose row 1 uses the axes x / y.
        x: the x values drawn (candle times).
        regimes: the regime name at each x ("unknown" is left unshaded).
        legend: list each shaded regime in the legend.
    """
    labels = np.asarray(regimes, dtype=object)
    figure.update_layout({f"yaxis{_SHADE_AXIS[1:]}": {"overlaying": "y", "range": [0, 1], "visible": False,
                                                      "fixedrange": True}})
    for name in REGIME_NAMES:
        inside = labels == name
        if not inside.any():
            continue
        figure.add_trace(go.Scatter(
            x=list(x), y=inside.astype(np.int8), yaxis=_SHADE_AXIS, xaxis="x", mode="none", fill="tozeroy",
            line={"shape": "hv"}, fillcolor=_translucent(REGIME_COLOURS[name], 0.16), name=name,
            legendgroup=f"regime {name}", showlegend=legend, hoverinfo="skip",
        ))


def add_alert_markers(figure: go.Figure, alerts: Sequence[AnomalyAlert], ohlcv: pd.DataFrame, *,
                      x_of: dict[pd.Timestamp, object] | None = None) -> None:
    """Mark each alert above its bar's high on row 1, one trace per kind (hover shows the alert's sentence)."""
    for kind, symbol in _ALERT_SYMBOLS.items():
        chosen = [a for a in alerts if a.kind == kind and a.time in ohlcv.index]
        if not chosen:
            continue
        times = [a.time for a in chosen]
        figure.add_trace(go.Scatter(
            x=[x_of.get(t, t) for t in times] if x_of else times, y=ohlcv.loc[times, "high"].to_numpy() * 1.01,
            mode="markers", name=f"unusual {kind}", text=[a.message for a in chosen], hoverinfo="text",
            marker={"symbol": symbol, "size": 9, "color": "#ffffff", "line": {"color": FALLING, "width": 1.5}},
        ), row=1, col=1)


def regime_figure(ohlcv: pd.DataFrame, regimes: pd.DataFrame, *, title: str = "HMM regimes") -> go.Figure:
    """The close shaded by regime over the forward-filtered probability of each regime (stacked, sums to 1)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.62, 0.38])
    figure.add_trace(go.Scatter(x=ohlcv.index, y=ohlcv["close"], name="Close", line={"color": TEXT, "width": 1.2}),
                     row=1, col=1)
    add_regime_shading(figure, ohlcv.index, regimes["regime"].to_numpy(), legend=False)
    for name in REGIME_NAMES:
        column = f"p_{name.replace(' ', '_')}"
        figure.add_trace(go.Scatter(
            x=regimes.index, y=regimes[column], name=name, stackgroup="probability", legendgroup=f"regime {name}",
            line={"width": 0.5, "color": REGIME_COLOURS[name]}, fillcolor=_translucent(REGIME_COLOURS[name], 0.7),
            hovertemplate=f"{name}: %{{y:.0%}}<extra></extra>",
        ), row=2, col=1)
    _themed(figure, title, height=600)
    figure.update_yaxes(title_text="Close", row=1, col=1)
    figure.update_yaxes(title_text="P(regime)", range=[0, 1], tickformat=".0%", row=2, col=1)
    return figure


def volatility_figure(forecast: VolatilityForecast, *, title: str = "Volatility forecast vs realised") -> go.Figure:
    """Annualised GARCH / GJR forecasts (made the bar before), the naive forecast and realised volatility."""
    frame = forecast.frame
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=frame.index, y=frame["abs_return"], name="|return| (annualised)", mode="markers",
                                marker={"size": 3, "color": "#8a8f98"}, opacity=0.5))
    styles = (("realised", "realised 20 bars", TEXT, "solid"), ("naive", "naive (realised, bar before)",
              "#8d6e63", "dot"), ("garch", "GARCH(1,1) forecast", LINE_COLOURS[2], "solid"),
              ("gjr", "GJR-GARCH forecast", LINE_COLOURS[0], "solid"))
    for column, name, colour, dash in styles:
        figure.add_trace(go.Scatter(x=frame.index, y=frame[column], name=name,
                                    line={"color": colour, "width": 1.4, "dash": dash}))
    _themed(figure, title, height=480)
    cap = float(np.nanquantile(frame["abs_return"], 0.99)) if frame["abs_return"].notna().any() else None
    figure.update_yaxes(title_text="annualised volatility", tickformat=".0%", range=[0, cap] if cap else None)
    return figure


def spectrum_figure(spectrum: pd.DataFrame, cycles: pd.DataFrame, *, title: str = "Periodogram") -> go.Figure:
    """Power share per cycle length (log axis), the dominant cycles marked."""
    figure = go.Figure(go.Scatter(x=spectrum["period_bars"], y=spectrum["share"], name="power share",
                                  line={"color": LINE_COLOURS[2], "width": 1.2},
                                  hovertemplate="%{x:.1f} bars: %{y:.2%}<extra></extra>"))
    if len(cycles):
        figure.add_trace(go.Scatter(x=cycles["period_bars"], y=cycles["share"], mode="markers+text",
                                    name="dominant cycles", text=[f"{p:.0f}" for p in cycles["period_bars"]],
                                    textposition="top center", marker={"size": 9, "color": LINE_COLOURS[0]}))
    _themed(figure, title, height=420)
    figure.update_layout(hovermode="closest")
    figure.update_xaxes(type="log", title_text="cycle length (bars)", autorange="reversed")
    figure.update_yaxes(title_text="share of power", tickformat=".1%")
    return figure


def wavelet_figure(ohlcv: pd.DataFrame, levels: pd.DataFrame, denoised: pd.Series, *,
                   title: str = "Wavelet levels (db4, causal)") -> go.Figure:
    """The close with its causal denoised line and the level-5 smooth, then the detail levels d1..d5."""
    details = [c for c in levels.columns if c.startswith("d")]
    figure = make_subplots(rows=len(details) + 1, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                           row_heights=[0.35] + [0.65 / len(details)] * len(details))
    figure.add_trace(go.Scatter(x=ohlcv.index, y=ohlcv["close"], name="Close", line={"color": "#8a8f98", "width": 1}),
                     row=1, col=1)
    figure.add_trace(go.Scatter(x=denoised.index, y=denoised, name="denoised (causal)",
                                line={"color": LINE_COLOURS[0], "width": 1.6}), row=1, col=1)
    figure.add_trace(go.Scatter(x=levels.index, y=levels["smooth"], name="smooth s5",
                                line={"color": LINE_COLOURS[2], "width": 1.6}), row=1, col=1)
    for row, column in enumerate(details, start=2):
        figure.add_trace(go.Scatter(x=levels.index, y=levels[column], name=column, showlegend=False,
                                    line={"color": LINE_COLOURS[(row + 1) % len(LINE_COLOURS)], "width": 1}),
                         row=row, col=1)
        bars = f"{2 ** (row - 1)}-{2 ** row} bars"
        figure.update_yaxes(title_text=f"{column}<br>{bars}", row=row, col=1, title_font={"size": 10})
    _themed(figure, title, height=760)
    return figure


def sparse_figure(fit: SparseFit, errors: pd.Series, *, title: str = "Sparse reconstruction") -> go.Figure:
    """The latest window and its sparse reconstruction, over the rolling reconstruction error of every bar."""
    figure = make_subplots(rows=2, cols=1, vertical_spacing=0.12, row_heights=[0.6, 0.4])
    figure.add_trace(go.Scatter(x=fit.frame.index, y=fit.frame["close"], name="Close",
                                line={"color": "#8a8f98", "width": 1.2}), row=1, col=1)
    figure.add_trace(go.Scatter(x=fit.frame.index, y=fit.frame["reconstruction"],
                                name=f"{len(fit.atoms)} atoms ({fit.method.upper()})",
                                line={"color": LINE_COLOURS[0], "width": 1.6}), row=1, col=1)
    figure.add_trace(go.Scatter(x=errors.index, y=errors, name="error of the 64-bar window (0-1)",
                                line={"color": LINE_COLOURS[3], "width": 1.2}), row=2, col=1)
    _themed(figure, title, height=560)
    figure.update_yaxes(title_text="Close", row=1, col=1)
    figure.update_yaxes(title_text="error", row=2, col=1)
    return figure


def anomaly_figure(ohlcv: pd.DataFrame, scores: pd.DataFrame, alerts: Sequence[AnomalyAlert], *,
                   threshold: float = 4.0, title: str = "Anomalies") -> go.Figure:
    """The close with the alerts marked, the robust z-scores against the threshold, the isolation-forest score."""
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.45, 0.33, 0.22])
    figure.add_trace(go.Scatter(x=ohlcv.index, y=ohlcv["close"], name="Close", line={"color": TEXT, "width": 1.1}),
                     row=1, col=1)
    add_alert_markers(figure, alerts, ohlcv)
    for number, column in enumerate(("z_return", "z_volume", "z_range")):
        figure.add_trace(go.Scatter(x=scores.index, y=scores[column], name=column.replace("_", " "),
                                    line={"color": LINE_COLOURS[number + 1], "width": 1}), row=2, col=1)
    for level in (-threshold, threshold):
        figure.add_hline(y=level, line={"color": FALLING, "width": 1, "dash": "dot"}, row=2, col=1)
    figure.add_trace(go.Scatter(x=scores.index, y=scores["isolation"], name="isolation forest",
                                line={"color": LINE_COLOURS[4], "width": 1.2}), row=3, col=1)
    _themed(figure, title, height=640)
    figure.update_yaxes(title_text="Close", row=1, col=1)
    figure.update_yaxes(title_text="robust z", row=2, col=1)
    figure.update_yaxes(title_text="isolation", row=3, col=1)
    return figure


def _themed(figure: go.Figure, title: str, *, height: int) -> None:
    """Title first, then the theme: the theme puts a titled figure's legend below the plot, clear of the title."""
    figure.update_layout(title=title)
    apply_dark_theme(figure, height=height)


def _translucent(colour: str, alpha: float) -> str:
    """A #rrggbb colour as rgba with `alpha`."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
