"""Figures and tables of the Predictions page: watchlist, confidence gauge, members, forecast fan, track record."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pinelab_core.models.ensemble import Prediction
from pinelab_core.viz.theme import FALLING, LINE_COLOURS, RISING, TEXT, apply_dark_theme

__all__ = [
    "confidence_gauge",
    "forecast_fan",
    "in_sample_note",
    "member_breakdown",
    "outcome_chart",
    "reliability_chart",
    "watchlist_frame",
]

def in_sample_note(bar_time: pd.Timestamp, trained_through: pd.Timestamp | None, *, latest: bool) -> str:
    """Why a call is in-sample, in a trader's words (for the banner on the Predictions and Explain pages)."""
    when = f"{pd.Timestamp(bar_time):%Y-%m-%d %H:%M} UTC"
    if trained_through is not None and pd.Timestamp(bar_time) <= trained_through:
        why = f"the models learned from bars up to {pd.Timestamp(trained_through):%Y-%m-%d %H:%M} UTC"
    elif not latest:
        why = "it is not the market's newest bar (clear the date range's end to see the live call)"
    else:
        why = "it lies in the past"
    return (f"In-sample: the call for {when} is a look back, not a live call, because {why}. "
            "It is not logged to the track record, the drift alerts or the ensemble signal source.")


SIGNAL_COLOURS = {"BUY": RISING, "SELL": FALLING, "HOLD": "#90a4ae"}
CLASS_COLOURS = {"DOWN": FALLING, "SIDEWAYS": "#90a4ae", "UP": RISING}


def watchlist_frame(results: Mapping[str, Prediction | Exception]) -> pd.DataFrame:
    """One row per symbol: signal, confidence, agreement, forecasts per horizon, bar and any error."""
    rows: list[dict[str, object]] = []
    for symbol, result in results.items():
        if isinstance(result, Exception):
            rows.append({"symbol": symbol, "signal": "—", "error": str(result)})
            continue
        row: dict[str, object] = {"symbol": symbol, "signal": result.signal.value, "confidence": result.confidence,
                                  "agreement": result.agreement, "close": result.close,
                                  "horizon (bars)": result.horizon, "last bar": result.bar_time}
        for forecast in result.forecasts:
            row[f"+{forecast.horizon} bars"] = f"{forecast.expected_return:+.2%} [{forecast.lower_return:+.1%}, " \
                                               f"{forecast.upper_return:+.1%}]"
        row["error"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


def confidence_gauge(prediction: Prediction) -> go.Figure:
    """A gauge of the calibrated confidence, coloured by the signal; the 3-class chance level is marked."""
    colour = SIGNAL_COLOURS[prediction.signal.value]
    figure = go.Figure(go.Indicator(
        mode="gauge+number", value=100 * prediction.confidence, number={"suffix": "%", "valueformat": ".1f"},
        title={"text": f"{prediction.signal.value}<br><span style='font-size:12px'>{prediction.chosen_class} in "
                       f"{prediction.horizon} bars</span>", "font": {"size": 16}},
        gauge={"axis": {"range": [0, 100]}, "bar": {"color": colour},
               "threshold": {"line": {"color": TEXT, "width": 2}, "value": 100 / 3}},
    ))
    # The gauge's own title and end labels need side margins the chart theme does not give (it was cut off in a
    # third of the page's width).
    return apply_dark_theme(figure, height=260).update_layout(margin={"l": 36, "r": 36, "t": 64, "b": 10})


def member_breakdown(prediction: Prediction) -> go.Figure:
    """Each member's class probabilities (with its weight) beside the calibrated ensemble's."""
    rows = {"ensemble": prediction.probabilities} | prediction.models
    labels = ["ensemble"] + [f"{key} (w={prediction.weights.get(key, 0.0):.2f})" for key in prediction.models]
    figure = go.Figure()
    for name in ("DOWN", "SIDEWAYS", "UP"):
        figure.add_bar(y=labels, x=[100 * probs.get(name, np.nan) for probs in rows.values()], name=name,
                       orientation="h", marker_color=CLASS_COLOURS[name])
    figure.update_layout(barmode="stack", xaxis_title="probability (%)")
    figure = apply_dark_theme(figure, height=120 + 40 * len(labels))
    figure.update_layout(hovermode="y unified")
    figure.update_yaxes(side="left", autorange="reversed")
    return figure


def forecast_fan(ohlcv: pd.DataFrame, prediction: Prediction, bars: int = 120) -> go.Figure:
    """Recent closes and the forecast fan: median path and the quantile interval to each horizon."""
    recent = ohlcv["close"].iloc[-bars:]
    figure = go.Figure(go.Scatter(x=recent.index, y=recent, name="close", line={"color": TEXT, "width": 1.5}))
    if prediction.forecasts:
        start = [(prediction.bar_time, prediction.close, prediction.close, prediction.close)]
        points = start + [(f.target_time, f.price, f.lower_price, f.upper_price) for f in prediction.forecasts]
        times, mid, low, high = (list(values) for values in zip(*points, strict=True))
        figure.add_scatter(x=times, y=high, line={"width": 0}, showlegend=False, hoverinfo="skip")
        interval = prediction.forecasts[0].interval
        figure.add_scatter(x=times, y=low, fill="tonexty", fillcolor="rgba(246,199,68,0.18)", line={"width": 0},
                           name=f"{interval:.0%} interval")
        figure.add_scatter(x=times, y=mid, name="median forecast", mode="lines+markers",
                           line={"color": LINE_COLOURS[0], "dash": "dash"})
    figure.update_layout(title=f"{prediction.symbol}: forecast fan")
    return apply_dark_theme(figure, height=420)


def outcome_chart(history: pd.DataFrame, ohlcv: pd.DataFrame) -> go.Figure:
    """Closes with every logged prediction: hits, misses and still-open calls, by signal."""
    figure = go.Figure(go.Scatter(x=ohlcv.index, y=ohlcv["close"], name="close", line={"color": TEXT, "width": 1}))
    if not history.empty:
        close = history["close_at_bar"]
        groups = {"hit": history["hit"].eq(True), "miss": history["hit"].eq(False), "open": history["hit"].isna()}
        styles = {"hit": ("circle", RISING), "miss": ("x", FALLING), "open": ("circle-open", "#90a4ae")}
        for name, mask in groups.items():
            if not mask.any():
                continue
            symbol, colour = styles[name]
            part = history[mask]
            figure.add_scatter(x=part["bar_time"], y=close[mask], mode="markers", name=name,
                               marker={"symbol": symbol, "color": colour, "size": 9},
                               text=part["signal"] + " " + (100 * part["confidence"]).round(1).astype(str) + "%",
                               hovertemplate="%{text}<extra>" + name + "</extra>")
    figure.update_layout(title="Past predictions against outcomes")
    return apply_dark_theme(figure, height=380)


def reliability_chart(table: pd.DataFrame, title: str = "Calibration") -> go.Figure:
    """Hit rate against confidence per bin (a calibrated model sits on the diagonal), sized by count."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}))
    if not table.empty:
        figure.add_scatter(x=table["mean_confidence"], y=table["hit_rate"], mode="lines+markers", name="observed",
                           marker={"size": 6 + 20 * table["count"] / table["count"].max(), "color": LINE_COLOURS[0]},
                           text=table["count"].astype(str) + " predictions")
    figure.update_layout(title=title, xaxis_title="confidence", yaxis_title="hit rate")
    return apply_dark_theme(figure, height=340)
