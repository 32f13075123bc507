"""Loading the selected market (`st.cache_data`), keeping it fresh, and saying where and when it came from.

A network market's cached frame expires on a TTL matched to its timeframe (`refresh_ttl`: a tenth of a bar,
between 10 s and 5 minutes), so an auto-refreshing page (Signals, Predictions) reruns on new bars, and
TradingView alerts newer than the last cached bar reach the consensus once their bar has closed. The price cache
makes each refresh incremental (only the bars after the last cached one are fetched). The demo simulator is
pinned in the past and a file is keyed by its modification time, so neither needs a TTL. Every frame carries
`attrs["loaded_at"]`; pages show it with `freshness_note`. Watchlists load through the same cache
(`load_symbols`), so a watchlist row and the detail view of the same market always read the same bars.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.errors import PinelabError
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui.feedback import show_error
from pinelab_core.ui.resources import app_settings
from pinelab_core.ui.selection import current_selection

__all__ = ["clear_loaded_data", "freshness_note", "load_selection", "load_symbols", "provenance_note", "refresh_ttl",
           "selected_ohlcv"]

_UNCHANGING = ("demo", "file:")  # pinned simulator; files are keyed by their modification time instead


def _now() -> float:
    return time.time()


@st.cache_data(show_spinner="Loading market data…", max_entries=32)
def _load(
    source: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    settings: Settings,
    file_version: tuple[int, int] | None,
    freshness: int,
) -> pd.DataFrame:
    # `file_version` and `freshness` are only part of the cache key: a re-uploaded file, or a network market whose
    # TTL has passed, is loaded again (the price cache fetches only the bars after the last cached one).
    del file_version, freshness
    frame = load_ohlcv(symbol, timeframe, start, end, source=source, settings=settings)
    frame.attrs["loaded_at"] = pd.Timestamp(_now(), unit="s", tz="UTC").isoformat()
    return frame


def refresh_ttl(timeframe: str | Timeframe) -> float:
    """Seconds a network market's loaded bars stay fresh: a tenth of a bar, at least 10 s, at most 5 minutes."""
    return float(min(max(Timeframe.parse(timeframe).seconds / 10.0, 10.0), 300.0))


def _freshness(source: str, timeframe: str) -> int:
    """The TTL bucket a load falls in (0 for sources whose bars never change under the same key)."""
    if source.lower().startswith(_UNCHANGING):
        return 0
    return int(math.floor(_now() / refresh_ttl(timeframe)))


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
    """The OHLCV frame for `selection`, cached per selection and TTL bucket; raises PinelabError like `load_ohlcv`."""
    timeframe = selection.timeframe.value
    return _load(selection.source, selection.symbol, timeframe, selection.start, selection.end, settings,
                 _file_version(selection.source), _freshness(selection.source, timeframe))


def load_symbols(symbols: list[str], selection: MarketSelection,
                 settings: Settings) -> dict[str, pd.DataFrame | PinelabError]:
    """A watchlist's frames through the same cache as the detail view: the selection's source, bar size and dates."""
    frames: dict[str, pd.DataFrame | PinelabError] = {}
    for symbol in symbols:
        try:
            frames[symbol] = load_selection(MarketSelection(selection.source, symbol, selection.timeframe,
                                                            selection.start, selection.end), settings)
        except PinelabError as exc:
            frames[symbol] = exc
    return frames


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


def freshness_note(frame: pd.DataFrame) -> str:
    """"Data updated 12:03:05 UTC · last bar 2026-12-02 11:00 UTC · refreshed every 6 min" for a page caption."""
    provenance = frame.attrs.get("provenance") or {}
    loaded = frame.attrs.get("loaded_at")
    parts = [f"Data updated {pd.Timestamp(loaded):%Y-%m-%d %H:%M:%S} UTC" if loaded else "Data loaded"]
    if len(frame):
        parts.append(f"last bar {frame.index[-1]:%Y-%m-%d %H:%M} UTC")
    source, timeframe = str(provenance.get("source", "")), str(provenance.get("timeframe", ""))
    if source and timeframe and not source.lower().startswith(_UNCHANGING):
        seconds = refresh_ttl(timeframe)
        parts.append(f"new bars fetched every {seconds:g} s" if seconds < 60 else
                     f"new bars fetched every {seconds / 60:g} min")
    elif source:
        parts.append("simulated and fixed" if source == "demo" else "from a file")
    return " · ".join(parts)


def selected_ohlcv() -> pd.DataFrame:
    """The current selection's OHLCV frame, with its provenance and freshness shown; stops on a PinelabError."""
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
    st.caption(freshness_note(frame))
    return frame
