"""Small widgets several pages share: the overlay picker and the bars table with its CSV download."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from pinelab_core.features.overlays import OVERLAY_KINDS, Overlay

__all__ = ["bars_table", "chart_controls", "overlay_picker"]

_OVERLAY_NAMES = {"sma": "SMA", "ema": "EMA", "bollinger": "Bollinger Bands", "vwap": "VWAP"}


def overlay_picker(key: str = "overlays", default: tuple[str, ...] = ("sma", "bollinger")) -> list[Overlay]:
    """Multiselect of overlays plus a window input per chosen overlay; returns what to draw."""
    kinds = st.multiselect("Overlays", list(OVERLAY_KINDS), default=list(default), key=key,
                           format_func=lambda k: _OVERLAY_NAMES.get(k, k))
    overlays: list[Overlay] = []
    if not kinds:
        return overlays
    for column, kind in zip(st.columns(len(kinds)), kinds, strict=True):
        with column:
            overlays.append(_overlay_inputs(kind, key))
    return overlays


def _overlay_inputs(kind: str, key: str) -> Overlay:
    name = _OVERLAY_NAMES.get(kind, kind)
    if kind == "vwap":
        anchor = st.selectbox(f"{name} anchor", ["auto", "session", "week", "month"], key=f"{key}_vwap_anchor",
                              help=OVERLAY_KINDS[kind])
        return Overlay("vwap", anchor=anchor)
    window = st.number_input(f"{name} window", min_value=2, max_value=1_000, step=1, key=f"{key}_{kind}_window",
                             value=50 if kind == "sma" else 20, help=OVERLAY_KINDS[kind])
    if kind == "bollinger":
        width = st.number_input("Band width (std)", min_value=0.5, max_value=5.0, value=2.0, step=0.5,
                                key=f"{key}_bollinger_std")
        return Overlay("bollinger", int(window), num_std=float(width))
    return Overlay(kind, int(window))  # type: ignore[arg-type]


def chart_controls(key: str = "chart") -> tuple[list[Overlay], bool]:
    """The Charts page's controls: overlays and the support/resistance toggle."""
    overlays = overlay_picker(key=f"{key}_overlays")
    show_levels = st.toggle("Support & resistance (swing pivots)", value=True, key=f"{key}_levels")
    return overlays, show_levels


def bars_table(ohlcv: pd.DataFrame, *, file_stem: str, rows: int = 200) -> None:
    """The newest `rows` bars as a table, and a CSV download of every bar in the selected range."""
    st.dataframe(ohlcv.tail(rows).iloc[::-1], width="stretch", height=320)
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", file_stem).strip("_") or "ohlcv"
    st.download_button(
        f"Download {len(ohlcv):,} bars as CSV",
        # A callable defers building the CSV until the click: a million-bar CSV is not built on every rerun.
        data=lambda: ohlcv.to_csv(index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ"),
        file_name=f"{safe_stem}.csv", mime="text/csv", icon=":material/download:", on_click="ignore",
    )
