"""Charts: candlesticks with volume, overlays and support/resistance for the sidebar's market, optionally shaded
by HMM regime, with unusual bars (return, volume, range) flagged, detected chart patterns marked, a "Patterns
now" panel and the event study of each pattern on this market."""

import pandas as pd
import streamlit as st

from pinelab_core.errors import ModelNotFoundError, PinelabError
from pinelab_core.features import data_fingerprint
from pinelab_core.patterns import install_pretrained_pattern_model, latest_pattern_job, submit_pattern_training
from pinelab_core.structure import anomaly_alerts, regime_history
from pinelab_core.ui import (
    app_settings,
    bars_table,
    chart_controls,
    current_selection,
    pattern_report,
    selected_ohlcv,
    show_error,
)
from pinelab_core.viz import build_price_chart
from pinelab_core.viz.patterns import add_pattern_markers, patterns_now_bar

SHADED_BARS = 3_000  # regimes of the latest bars only: one HMM fit per 100 bars keeps the page interactive


@st.cache_data(show_spinner="Fitting market regimes…", max_entries=4)
def chart_regimes(key: str, _ohlcv: pd.DataFrame) -> pd.Series:
    return regime_history(_ohlcv, last=min(SHADED_BARS, len(_ohlcv)))["regime"]


settings = app_settings()
selection = current_selection()
st.title(f"{selection.symbol} · {selection.timeframe.value}")
ohlcv = selected_ohlcv()
overlays, show_levels = chart_controls()
shade, flag, mark, scan, level = st.columns(5)
shaded = shade.toggle("Shade HMM regimes", value=False, key="chart_regimes",
                      help=f"The regime of each of the latest {SHADED_BARS:,} bars as known at its close "
                           "(forward-filtered HMM, refitted walk-forward); see the Market structure page.")
flagged = flag.toggle("Flag unusual bars", value=True, key="chart_alerts",
                      help="Return, volume or range at least 4 robust standard deviations from the previous 250 bars.")
show_patterns = mark.toggle("Mark chart patterns", value=True, key="charts_patterns")
scan_bars = scan.number_input("Bars to scan", 50, 5000, 300, step=50, key="charts_pattern_bars")
threshold = level.slider("Report at probability", 0.3, 0.95, 0.5, step=0.05, key="charts_pattern_threshold")
try:
    regimes = chart_regimes(data_fingerprint(ohlcv), ohlcv) if shaded else None
    alerts = anomaly_alerts(ohlcv) if flagged else []
    chart = build_price_chart(ohlcv, overlays, show_levels=show_levels, regimes=regimes, alerts=alerts)
except PinelabError as exc:
    show_error(exc)
    st.stop()
report = None
if show_patterns:
    try:
        report = pattern_report(ohlcv, settings, last=int(scan_bars), threshold=threshold)
        add_pattern_markers(chart.figure, report.events, ohlcv)
    except ModelNotFoundError as exc:
        job = latest_pattern_job(settings)
        if job is not None and job.is_active:
            st.progress(job.progress, text=f"Training the pattern model (job {job.id}): {job.stage}")
        else:
            st.info(f"{exc}")
            if job is not None and job.status == "failed":
                st.error(f"The last pattern training (job {job.id}) failed: {job.error}")
            shipped, own = st.columns(2)
            if shipped.button("Use the shipped pattern model", type="primary", key="charts_install_patterns",
                              help="Trained by PineLab on synthetic patterns (the `pinelab patterns train` "
                              "defaults), registered now as your first chart-patterns version; train your own "
                              "any time."):
                try:
                    install_pretrained_pattern_model(settings)
                    st.rerun()
                except PinelabError as error:
                    show_error(error)
            if own.button("Train the pattern model", key="charts_train_patterns",
                          help="About a minute on a CPU, seconds on a GPU; runs in the background."):
                try:
                    st.success(f"Training job {submit_pattern_training(settings)} queued; its progress shows here "
                               "(rerun the page). Patterns appear when it ends.")
                except PinelabError as error:
                    show_error(error)
    except PinelabError as exc:
        show_error(exc)
if chart.is_downsampled:
    st.caption(chart.downsample_note)
st.plotly_chart(chart.figure, theme=None, config={"scrollZoom": True, "displaylogo": False})
if alerts:
    with st.expander(f"{len(alerts)} unusual bars, newest first"):
        for alert in alerts:
            st.markdown(f"- {alert.message}")
if report is not None:
    st.subheader("Patterns now")
    st.caption(f"{report.model_ref} · probabilities at the last bar, each from the window length (bars) that looks "
               "most like a completed pattern; a marker sits at the bar a pattern completed, never earlier.")
    st.plotly_chart(patterns_now_bar(report.now), theme=None, key="charts_patterns_now")
    st.subheader("What followed each pattern here")
    st.caption("Trade in the pattern's breakout direction from the next bar's open, held 10 bars, 0.1% cost per "
               "side, against random entries in the same direction; p-value from 2,000 random draws, "
               "'significant' after a Bonferroni correction over the patterns.")
    st.dataframe(report.study, key="charts_pattern_study")
st.subheader("Bars")
bars_table(ohlcv, file_stem=f"{selection.symbol}_{selection.timeframe.value}")
