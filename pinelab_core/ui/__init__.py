"""The dashboard's shared layer: the only part of pinelab_core that imports streamlit.

Pages use:
    app_settings() -> Settings             cached, read from PINELAB_* once
    app_engine() -> Engine                 cached database engine
    discover_pages(folder) -> [st.Page]    app_pages/<N>_<Title>.py in order N
    render_market_sidebar(settings)        the shared sidebar (app.py draws it)
    current_selection() -> MarketSelection what the sidebar picked (defaults when it did not run)
    selected_ohlcv() -> DataFrame          cached load of the selection (fresh on a TTL per timeframe), with
                                           its provenance note and when it was last updated
    load_symbols(symbols, selection, settings)  a watchlist's frames through the same cache
    show_error(exc)                        message + what to do; no traceback for PinelabError
    chart_controls(), overlay_picker(), bars_table(ohlcv, file_stem=...)  shared widgets
    pattern_report(ohlcv, settings, last=, threshold=) -> PatternReport  cached per model version
    bar_context(ohlcv, symbol, settings, engine) -> str  news sentiment and chart patterns at the last bar
"""

from pinelab_core.ui.context import bar_context
from pinelab_core.ui.feedback import show_error, what_to_do
from pinelab_core.ui.market_data import (
    clear_loaded_data,
    freshness_note,
    load_selection,
    load_symbols,
    provenance_note,
    refresh_ttl,
    selected_ohlcv,
)
from pinelab_core.ui.navigation import discover_pages, page_title
from pinelab_core.ui.patterns import pattern_report
from pinelab_core.ui.resources import app_engine, app_settings
from pinelab_core.ui.selection import current_selection
from pinelab_core.ui.sidebar import render_market_sidebar, save_upload
from pinelab_core.ui.widgets import bars_table, chart_controls, overlay_picker

__all__ = [
    "app_engine",
    "app_settings",
    "bar_context",
    "bars_table",
    "chart_controls",
    "clear_loaded_data",
    "current_selection",
    "discover_pages",
    "freshness_note",
    "load_selection",
    "load_symbols",
    "overlay_picker",
    "page_title",
    "pattern_report",
    "provenance_note",
    "refresh_ttl",
    "render_market_sidebar",
    "save_upload",
    "selected_ohlcv",
    "show_error",
    "what_to_do",
]
