"""Small widgets several pages share: the overlay picker and the bars table with its CSV download."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from pinelab_core.features.overlays import OVERLAY_KINDS, VWAP_ANCHORS, Overlay, VwapAnchor

__all__ = ["bars_table", "chart_controls", "overlay_picker"]

_OVERLAY_NAMES = {"sma": "SMA", "ema": "EMA", "bollinger": "Bollinger Bands", "vwap": "VWAP"}


def overlay_picker(key: str = "overlays", default: tuple[str, ...] = ("sma", "bollinger")) -> list[Overlay]:
    """Multiselect of overlays, then one compact row of window inputs for the chosen ones."""
    kinds = st.multiselect("Overlays", list(OVERLAY_KINDS), default=list(default), key=key,
                           format_func=lambda k: _OVERLAY_NAMES.get(k, k))
    if not kinds:
        return []
    # Bollinger takes two inputs (window, width); everything shares one row so the chart stays above the fold.
    slots = iter(st.columns(sum(2 if kind == "bollinger" else 1 for kind in kinds)))
    return [_overlay_inputs(kind, key, slots) for kind in kinds]


def _overlay_inputs(kind: str, key: str, slots: Iterator[DeltaGenerator]) -> Overlay:
    name = _OVERLAY_NAMES.get(kind, kind)
    if kind == "vwap":
        anchor = next(slots).selectbox(f"{name} anchor", VWAP_ANCHORS, key=f"{key}_vwap_anchor",
                                       help=OVERLAY_KINDS[kind])
        return Overlay("vwap", anchor=cast("VwapAnchor", anchor))
    window = next(slots).number_input(f"{name} window", min_value=2, max_value=1_000, step=1,
                                      key=f"{key}_{kind}_window", value=50 if kind == "sma" else 20,
                                      help=OVERLAY_KINDS[kind])
    if kind == "bollinger":
        width = next(slots).number_input("Band width (std)", min_value=0.5, max_value=5.0, value=2.0, step=0.5,
                                         key=f"{key}_bollinger_std")
        return Overlay("bollinger", int(window), num_std=float(width))
    return Overlay(kind, int(window))  # type: ignore[arg-type]


def chart_controls(key: str = "chart") -> tuple[list[Overlay], bool]:
    """The Charts page's controls: overlays with their windows, and the support/resistance toggle."""
    picker, toggle = st.columns([6, 1], vertical_alignment="bottom")
    with picker:
        overlays = overlay_picker(key=f"{key}_overlays")
    with toggle:
        show_levels = st.toggle("S/R levels", value=True, key=f"{key}_levels",
                                help="Support & resistance: levels where at least two swing pivots turned, "
                                     "nearest to the last close.")
    return overlays, show_levels


def bars_table(ohlcv: pd.DataFrame, *, file_stem: str, rows: int = 200) -> None:
    """The newest `rows` bars as a table, and a CSV download of every bar in the selected range."""
    newest = ohlcv.tail(rows).iloc[::-1].reset_index()
    intraday = len(ohlcv) > 1 and bool((ohlcv.index != ohlcv.index.normalize()).any())
    price = st.column_config.NumberColumn(format="%.6g")
    st.dataframe(newest, width="stretch", height=320, hide_index=True, column_config={
        "time": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm" if intraday else "YYYY-MM-DD"),
        "open": price, "high": price, "low": price, "close": price,
        "volume": st.column_config.NumberColumn(format="compact"),
    })
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", file_stem).strip("_") or "ohlcv"
    st.download_button(
        f"Download {len(ohlcv):,} bars as CSV",
        # A callable defers building the CSV until the click: a million-bar CSV is not built on every rerun.
        data=lambda: ohlcv.to_csv(index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ"),
        file_name=f"{safe_stem}.csv", mime="text/csv", icon=":material/download:", on_click="ignore",
    )
