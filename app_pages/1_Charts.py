"""Charts: candlesticks with volume, overlays and support/resistance for the sidebar's market, optionally shaded
by HMM regime, with unusual bars (return, volume, range) flagged."""

import pandas as pd
import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.features import data_fingerprint
from pinelab_core.structure import anomaly_alerts, regime_history
from pinelab_core.ui import bars_table, chart_controls, current_selection, selected_ohlcv, show_error
from pinelab_core.viz import build_price_chart

SHADED_BARS = 3_000  # regimes of the latest bars only: one HMM fit per 100 bars keeps the page interactive


@st.cache_data(show_spinner="Fitting market regimes…", max_entries=4)
def chart_regimes(key: str, _ohlcv: pd.DataFrame) -> pd.Series:
    return regime_history(_ohlcv, last=min(SHADED_BARS, len(_ohlcv)))["regime"]


selection = current_selection()
st.title(f"{selection.symbol} · {selection.timeframe.value}")
ohlcv = selected_ohlcv()
overlays, show_levels = chart_controls()
shade, flag = st.columns(2)
shaded = shade.toggle("Shade HMM regimes", value=False, key="chart_regimes",
                      help=f"The regime of each of the latest {SHADED_BARS:,} bars as known at its close "
                           "(forward-filtered HMM, refitted walk-forward); see the Market structure page.")
flagged = flag.toggle("Flag unusual bars", value=True, key="chart_alerts",
                      help="Return, volume or range at least 4 robust standard deviations from the previous 250 bars.")
try:
    regimes = chart_regimes(data_fingerprint(ohlcv), ohlcv) if shaded else None
    alerts = anomaly_alerts(ohlcv) if flagged else []
    chart = build_price_chart(ohlcv, overlays, show_levels=show_levels, regimes=regimes, alerts=alerts)
except PinelabError as exc:
    show_error(exc)
    st.stop()
if chart.is_downsampled:
    st.caption(chart.downsample_note)
st.plotly_chart(chart.figure, theme=None, config={"scrollZoom": True, "displaylogo": False})
if alerts:
    with st.expander(f"{len(alerts)} unusual bars, newest first"):
        for alert in alerts:
            st.markdown(f"- {alert.message}")
st.subheader("Bars")
bars_table(ohlcv, file_stem=f"{selection.symbol}_{selection.timeframe.value}")
