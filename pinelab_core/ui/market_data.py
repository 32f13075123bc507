"""Loading the selected market once per selection (`st.cache_data`) and saying where it came from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.errors import PinelabError
from pinelab_core.types import MarketSelection
from pinelab_core.ui.feedback import show_error
from pinelab_core.ui.resources import app_settings
from pinelab_core.ui.selection import current_selection

__all__ = ["clear_loaded_data", "provenance_note", "selected_ohlcv"]


@st.cache_data(show_spinner="Loading market data…", max_entries=8)
def _load(
    source: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    settings: Settings,
    file_version: tuple[int, int] | None,
) -> pd.DataFrame:
    # `file_version` is only part of the cache key: a re-uploaded file with the same name is reloaded.
    del file_version
    return load_ohlcv(symbol, timeframe, start, end, source=source, settings=settings)


def clear_loaded_data() -> None:
    """Forget every cached frame, so the next page run fetches again (new bars only, via the price cache)."""
    _load.clear()


def _file_version(source: str) -> tuple[int, int] | None:
    if not source.startswith("file:"):
        return None
    path = Path(source.removeprefix("file:"))
    if not path.is_file():
        return None
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def load_selection(selection: MarketSelection, settings: Settings) -> pd.DataFrame:
    """The OHLCV frame for `selection`, cached per selection; raises PinelabError like `load_ohlcv`."""
    return _load(selection.source, selection.symbol, selection.timeframe.value, selection.start, selection.end,
                 settings, _file_version(selection.source))


def provenance_note(frame: pd.DataFrame) -> tuple[str, str] | None:
    """("info", text) for simulated data, ("warning", text) for a cached fallback, None for live data.

    Reads `frame.attrs["provenance"]`, which `load_ohlcv` fills (its `note` is empty for live data).
    """
    provenance = frame.attrs.get("provenance") or {}
    note = str(provenance.get("note") or "").strip()
    if provenance.get("simulated"):
        return "info", note or "Simulated market data (offline demo), not a real market."
    if note:
        return "warning", note
    return None


def selected_ohlcv() -> pd.DataFrame:
    """The current selection's OHLCV frame, with its provenance note shown; stops the page on a PinelabError."""
    selection = current_selection()
    try:
        frame = load_selection(selection, app_settings())
    except PinelabError as exc:
        show_error(exc)
        st.stop()
    note = provenance_note(frame)
    if note is not None:
        level, text = note
        if level == "info":
            st.info(text, icon=":material/science:")
        else:
            st.warning(text, icon=":material/cloud_off:")
    return frame
