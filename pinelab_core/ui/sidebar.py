"""The shared market sidebar: source, symbol, timeframe, dates, file upload and a data refresh."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from pinelab_core.config import Settings
from pinelab_core.data import list_sources
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui.market_data import clear_loaded_data
from pinelab_core.ui.selection import (
    DATES_KEY,
    EXCHANGE_KEY,
    FILE_KEY,
    SOURCE_KEY,
    SYMBOL_KEY,
    SYMBOL_SUGGESTIONS,
    TIMEFRAME_KEY,
    UPLOAD_KEY,
    current_selection,
    default_state,
)

__all__ = ["render_market_sidebar", "save_upload"]

SOURCE_LABELS: dict[str, str] = {
    "demo": "Demo market (offline, simulated)",
    "yahoo": "Yahoo Finance",
    "ccxt": "Crypto exchange (ccxt)",
    "file": "Uploaded file (CSV/Parquet)",
}
UPLOAD_TYPES = ["csv", "parquet", "pq"]


def _source_kinds() -> list[str]:
    """'demo', 'yahoo', 'ccxt', 'file', ...: the source names without their ':<argument>' part."""
    kinds = [re.sub(r":.*$", "", info.name) for info in list_sources()]
    return [kind for number, kind in enumerate(kinds) if kind and kind not in kinds[:number] and kind != "auto"]


def save_upload(name: str, content: bytes, settings: Settings) -> Path:
    """Store an uploaded file under `<data_dir>/uploads/` and return its path (same name = replaced)."""
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".") or "upload.csv"
    path = folder / safe_name
    path.write_bytes(content)
    return path


def _uploaded_files(settings: Settings) -> list[str]:
    folder = settings.data_dir / "uploads"
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower().lstrip(".") in UPLOAD_TYPES)


def _on_upload(settings: Settings) -> None:
    """Callback: save the upload and select it (widget keys may only be set before widgets render)."""
    uploaded = st.session_state.get(UPLOAD_KEY)
    if uploaded is None:
        return
    path = save_upload(uploaded.name, uploaded.getvalue(), settings)
    st.session_state[SOURCE_KEY] = "file"
    st.session_state[FILE_KEY] = str(path)


def _on_source_change() -> None:
    """Callback: a new source gets a symbol that exists there (AAPL on Yahoo, BTC/USDT on exchanges)."""
    kind = st.session_state.get(SOURCE_KEY)
    if kind in SYMBOL_SUGGESTIONS:
        st.session_state[SYMBOL_KEY] = SYMBOL_SUGGESTIONS[kind][0]


def _clear_dates() -> None:
    st.session_state[DATES_KEY] = ()


def render_market_sidebar(settings: Settings) -> MarketSelection:
    """Draw the shared sidebar (source, symbol, timeframe, dates, upload, refresh) and return the choice."""
    for key, value in default_state(settings).items():
        st.session_state.setdefault(key, value)
    kinds = _source_kinds()
    if st.session_state[SOURCE_KEY] not in kinds:
        st.session_state[SOURCE_KEY] = kinds[0]
    with st.sidebar:
        st.subheader("Market")
        kind = st.selectbox("Source", kinds, key=SOURCE_KEY, format_func=lambda k: SOURCE_LABELS.get(k, k),
                            on_change=_on_source_change)
        _source_details(kind, settings)
        st.selectbox("Timeframe", [tf.value for tf in Timeframe], key=TIMEFRAME_KEY)
        st.date_input("Date range (UTC)", key=DATES_KEY, help="Empty = the full history the source has.")
        st.button("Full history", on_click=_clear_dates, width="stretch")
        st.file_uploader("Upload CSV / Parquet", type=UPLOAD_TYPES, key=UPLOAD_KEY, on_change=_on_upload,
                         args=(settings,), help="Yahoo/exchange exports and most OHLCV spellings load as-is.")
        if st.button("Refresh data", icon=":material/refresh:", width="stretch",
                     help="Forget the loaded frames and fetch again (new bars only, from the cache)."):
            clear_loaded_data()
    return current_selection()


def _source_details(kind: str, settings: Settings) -> None:
    if kind == "file":
        files = _uploaded_files(settings)
        current = st.session_state.get(FILE_KEY)
        if current and current not in files:
            files.insert(0, current)
        if files:
            st.selectbox("File", files, key=FILE_KEY, format_func=lambda p: Path(p).name)
        else:
            st.info("Upload a CSV or Parquet file below.")
        return
    if kind == "ccxt":
        st.text_input("Exchange (ccxt id)", key=EXCHANGE_KEY, help="binance, kraken, coinbase, bybit, ...")
    st.selectbox("Symbol", SYMBOL_SUGGESTIONS.get(kind, ()), key=SYMBOL_KEY, accept_new_options=True,
                 help="Pick a suggestion or type any symbol.")
