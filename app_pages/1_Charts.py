"""Charts: candlesticks with volume, overlays and support/resistance for the sidebar's market."""

import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.ui import bars_table, chart_controls, current_selection, selected_ohlcv, show_error
from pinelab_core.viz import build_price_chart

selection = current_selection()
st.title(f"{selection.symbol} · {selection.timeframe.value}")
ohlcv = selected_ohlcv()
overlays, show_levels = chart_controls()
try:
    chart = build_price_chart(ohlcv, overlays, show_levels=show_levels)
except PinelabError as exc:
    show_error(exc)
    st.stop()
if chart.is_downsampled:
    st.caption(chart.downsample_note)
st.plotly_chart(chart.figure, theme=None, config={"scrollZoom": True, "displaylogo": False})
st.subheader("Bars")
bars_table(ohlcv, file_stem=f"{selection.symbol}_{selection.timeframe.value}")
