"""The price chart: candlesticks over a volume panel, overlays, support/resistance, range selector.

Long histories are drawn at screen resolution (see `downsample`): overlays are computed on every bar
first and decimated afterwards, so a 200-bar SMA on minute data is the true SMA, merely thinned.
Support/resistance pivots are found on the candles as drawn, i.e. at the scale the trader is looking at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pinelab_core.errors import DataValidationError
from pinelab_core.features.levels import PriceLevel, support_resistance_levels
from pinelab_core.features.overlays import Overlay, compute_overlay
from pinelab_core.structure import UNKNOWN, AnomalyAlert
from pinelab_core.types import OHLCV_COLUMNS
from pinelab_core.viz import theme
from pinelab_core.viz.downsample import aggregate_candles, bars_per_candle, minmax_indices
from pinelab_core.viz.structure import add_alert_markers, add_regime_shading

__all__ = ["DEFAULT_MAX_CANDLES", "PriceChart", "build_price_chart"]

#: About two candles per pixel on a wide screen: finer detail is invisible, so it is not shipped.
DEFAULT_MAX_CANDLES = 3_000


@dataclass(frozen=True)
class PriceChart:
    """A built price chart and what it shows.

    Attributes:
        figure: the Plotly figure (candles in row 1, volume in row 2, shared x axis).
        bars_total: bars in the input frame.
        candles_shown: candles actually drawn.
        bars_per_candle: consecutive bars merged into each drawn candle (1 = full detail).
        levels: the support/resistance levels drawn.
    """

    figure: go.Figure
    bars_total: int
    candles_shown: int
    bars_per_candle: int
    levels: tuple[PriceLevel, ...] = ()

    @property
    def is_downsampled(self) -> bool:
        return self.bars_per_candle > 1

    @property
    def downsample_note(self) -> str:
        """What the trader is looking at when candles were merged; empty at full detail."""
        if not self.is_downsampled:
            return ""
        return (
            f"Showing {self.candles_shown:,} candles aggregated from {self.bars_total:,} bars "
            f"({self.bars_per_candle:,} bars each); choose a shorter date range for full detail."
        )


def build_price_chart(
    ohlcv: pd.DataFrame,
    overlays: Sequence[Overlay] = (),
    *,
    show_levels: bool = True,
    pivot_window: int = 5,
    max_candles: int = DEFAULT_MAX_CANDLES,
    title: str = "",
    regimes: pd.Series | None = None,
    alerts: Sequence[AnomalyAlert] = (),
) -> PriceChart:
    """Candlesticks with a volume panel, the chosen overlays and support/resistance levels.

    Args:
        ohlcv: OHLCV frame (DESIGN.md contract).
        overlays: overlays to draw, e.g. `[Overlay("sma", 50), Overlay("vwap")]`.
        show_levels: draw support/resistance levels from swing pivots.
        pivot_window: bars each side of a swing pivot (on the drawn candles).
        max_candles: most candles to ship to the browser; longer histories are merged exactly.
        title: chart title, e.g. "DEMO-EQUITY · 1d".
        regimes: a regime name per bar (`regime_history(ohlcv)["regime"]`) to shade the price by; each drawn
            candle takes the regime at its last bar, the one known at its close.
        alerts: unusual bars to mark above their candles (`anomaly_alerts(ohlcv)`).
    """
    missing = [c for c in OHLCV_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise DataValidationError(f"The chart needs OHLCV columns; missing {missing}. Load data with load_ohlcv().")
    if ohlcv.empty:
        raise DataValidationError("No bars to chart in the chosen range. Widen the date range or pick another symbol.")
    bars_each = bars_per_candle(len(ohlcv), max_candles)
    candles = aggregate_candles(ohlcv, bars_each)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.02, row_heights=[0.78, 0.22])
    x = _chart_times(candles.index)
    figure.add_trace(_candle_trace(candles, x), row=1, col=1)
    figure.add_trace(_volume_trace(candles, x), row=2, col=1)
    for trace in _overlay_traces(ohlcv, overlays, bars_each):
        figure.add_trace(trace, row=1, col=1)
    levels = tuple(support_resistance_levels(candles, pivot_window, pivot_window)) if show_levels else ()
    for trace in _level_traces(levels, x[-1]):
        figure.add_trace(trace, row=1, col=1)
    if regimes is not None:
        ends = np.minimum(np.arange(0, len(ohlcv), bars_each) + bars_each, len(ohlcv)) - 1
        add_regime_shading(figure, x, regimes.reindex(ohlcv.index).fillna(UNKNOWN).to_numpy()[ends])
    if alerts:
        positions = ohlcv.index.get_indexer([a.time for a in alerts])
        candle_x = {a.time: x[p // bars_each] for a, p in zip(alerts, positions, strict=True) if p >= 0}
        add_alert_markers(figure, alerts, ohlcv, x_of=candle_x)
    _style(figure, title, _median_step(ohlcv.index), _trades_on_weekends(ohlcv.index))
    return PriceChart(figure, len(ohlcv), len(candles), bars_each, levels)


def _chart_times(index: pd.Index) -> np.ndarray:
    """UTC times as the shortest text plotly.js reads as a date.

    Plotly would ship '2024-01-02T00:00:00.000000' per point; dropping zero seconds and midnights
    (plotly.js ignores offsets anyway, and everything here is UTC) saves a third of the payload.
    """
    times = pd.DatetimeIndex(index)
    if times.tz is not None:
        times = times.tz_convert("UTC").tz_localize(None)
    if (times == times.normalize()).all():
        pattern = "%Y-%m-%d"
    elif (times.second == 0).all() and (times.microsecond == 0).all():
        pattern = "%Y-%m-%d %H:%M"
    else:
        pattern = "%Y-%m-%d %H:%M:%S"
    return np.asarray(times.strftime(pattern), dtype=object)


def _candle_trace(candles: pd.DataFrame, x: np.ndarray) -> go.Candlestick:
    return go.Candlestick(
        x=x, open=candles["open"].to_numpy(), high=candles["high"].to_numpy(),
        low=candles["low"].to_numpy(), close=candles["close"].to_numpy(), name="Price",
        increasing={"line": {"color": theme.RISING, "width": 1}, "fillcolor": theme.RISING},
        decreasing={"line": {"color": theme.FALLING, "width": 1}, "fillcolor": theme.FALLING},
    )


def _volume_trace(candles: pd.DataFrame, x: np.ndarray) -> go.Bar:
    # 0/1 through a two-colour scale ships as a compact int8 array instead of one colour string per bar.
    rising = (candles["close"].to_numpy() >= candles["open"].to_numpy()).astype(np.int8)
    marker = {"color": rising, "colorscale": [[0, theme.FALLING], [1, theme.RISING]], "cmin": 0, "cmax": 1,
              "line_width": 0}
    return go.Bar(x=x, y=candles["volume"].to_numpy(), name="Volume", marker=marker, opacity=0.7, showlegend=False)


def _overlay_traces(ohlcv: pd.DataFrame, overlays: Sequence[Overlay], bars_each: int) -> list[go.Scatter]:
    traces: list[go.Scatter] = []
    for number, overlay in enumerate(overlays):
        colour = theme.LINE_COLOURS[number % len(theme.LINE_COLOURS)]
        lines = compute_overlay(ohlcv, overlay)
        for column in lines.columns:
            values = lines[column].to_numpy(dtype=np.float64)
            keep = minmax_indices(values, bars_each)
            band_edge = overlay.kind == "bollinger" and not column.startswith("bb_middle")
            traces.append(go.Scatter(
                x=_chart_times(ohlcv.index[keep]), y=values[keep], mode="lines", name=_line_name(overlay, column),
                legendgroup=overlay.label, showlegend=not band_edge,
                line={"color": colour, "width": 1 if band_edge else 1.5, "dash": "dot" if band_edge else "solid"},
                opacity=0.6 if band_edge else 0.95,  # band edges frame the candles without hiding them
            ))
    return traces


def _line_name(overlay: Overlay, column: str) -> str:
    if overlay.kind != "bollinger":
        return overlay.label
    part = column.split("_")[1]  # bb_upper_20 -> upper
    return overlay.label if part == "middle" else f"{overlay.label} {part}"


def _level_traces(levels: Sequence[PriceLevel], chart_end: str) -> list[go.Scatter]:
    """One trace per kind: each level a segment from its first touch to the chart's right edge."""
    traces = []
    for kind, colour in (("support", theme.SUPPORT), ("resistance", theme.RESISTANCE)):
        chosen = [lv for lv in levels if lv.kind == kind]
        if not chosen:
            continue
        x: list[object] = []
        y: list[float | None] = []
        text: list[str] = []
        for level in chosen:
            label = f"{kind.title()} {level.price:,.4g} ({level.touches} touches)"
            x += [_chart_times(pd.DatetimeIndex([level.first_touch]))[0], chart_end, None]
            y += [level.price, level.price, None]
            text += [label, label, ""]
        traces.append(go.Scatter(
            x=x, y=y, mode="lines", name=kind.title(), text=text, hoverinfo="text",
            line={"color": colour, "width": 1, "dash": "dash"}, connectgaps=False,
        ))
    return traces


def _median_step(index: pd.Index) -> pd.Timedelta:
    if len(index) < 2:
        return pd.Timedelta(days=1)
    return pd.Series(pd.DatetimeIndex(index[: 1_000])).diff().median()


def _range_buttons(step: pd.Timedelta) -> list[dict[str, object]]:
    if step < pd.Timedelta(hours=1):
        spans = [(1, "day", "1D"), (7, "day", "1W"), (1, "month", "1M"), (3, "month", "3M")]
    elif step < pd.Timedelta(days=1):
        spans = [(7, "day", "1W"), (1, "month", "1M"), (3, "month", "3M"), (1, "year", "1Y")]
    else:
        spans = [(1, "month", "1M"), (6, "month", "6M"), (1, "year", "1Y"), (5, "year", "5Y")]
    buttons: list[dict[str, object]] = [
        {"count": count, "step": unit, "stepmode": "backward", "label": label} for count, unit, label in spans
    ]
    if step >= pd.Timedelta(days=1):
        buttons.insert(2, {"count": 1, "step": "year", "stepmode": "todate", "label": "YTD"})
    buttons.append({"step": "all", "label": "All"})
    return buttons


def _trades_on_weekends(index: pd.Index) -> bool:
    return bool((pd.DatetimeIndex(index).day_of_week >= 5).any())


def _style(figure: go.Figure, title: str, step: pd.Timedelta, weekends: bool) -> None:
    theme.apply_dark_theme(figure)
    figure.update_layout(title={"text": title, "x": 0.01, "y": 0.99}, bargap=0)
    figure.update_xaxes(rangeslider_visible=False)
    if not weekends:
        # A market closed on Saturdays and Sundays (equities) gets no empty weekend gaps; markets with any
        # weekend bar (crypto, FX from Sunday evening) keep a true time axis so no bar is hidden.
        figure.update_xaxes(rangebreaks=[{"bounds": ["sat", "mon"]}])
    figure.update_xaxes(
        rangeselector={"buttons": _range_buttons(step), "bgcolor": theme.PANEL, "activecolor": theme.GRID,
                       "x": 0, "y": 1.0, "yanchor": "bottom"},
        row=1, col=1,
    )
    figure.update_yaxes(title_text="Price", row=1, col=1)
    figure.update_yaxes(title_text="Volume", row=2, col=1)
    figure.update_xaxes(title_text="time (UTC)", row=2, col=1)
