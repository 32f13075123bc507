"""Predictions: the ensemble's calibrated calls on a watchlist (auto-refreshing), and the sidebar market in
detail: confidence, each model's view, forecast fan, news sentiment and chart patterns at the bar, the market
regime, the market across timeframes, past predictions against outcomes (also split by regime), drift alerts."""

import pandas as pd
import streamlit as st
from streamlit_autorefresh import st_autorefresh

from pinelab_core.data import load_ohlcv
from pinelab_core.errors import ModelNotFoundError, PinelabError
from pinelab_core.insights import DEFAULT_TIMEFRAMES, multi_timeframe_view
from pinelab_core.models.active import load_active
from pinelab_core.models.calibration import reliability_table
from pinelab_core.models.inference import predict
from pinelab_core.models.monitor import drift_report
from pinelab_core.models.starter import submit_starter
from pinelab_core.models.tracking import prediction_history, resolve_outcomes
from pinelab_core.structure import regime_track_record
from pinelab_core.types import Timeframe
from pinelab_core.ui import (
    app_engine,
    app_settings,
    bar_context,
    current_selection,
    load_symbols,
    selected_ohlcv,
    show_error,
)
from pinelab_core.viz.predictions import (
    confidence_gauge,
    forecast_fan,
    in_sample_note,
    member_breakdown,
    outcome_chart,
    reliability_chart,
    watchlist_frame,
)

REFRESH = {"off": 0, "every 30 s": 30, "every minute": 60, "every 5 minutes": 300, "every 15 minutes": 900}

settings = app_settings()
selection = current_selection()

timeframe = selection.timeframe.value
st.title("Predictions")

interval = st.selectbox("Refresh the watchlist", list(REFRESH), index=2, key="predictions_refresh")
if REFRESH[interval]:
    st_autorefresh(interval=REFRESH[interval] * 1000, key="predictions_autorefresh")
ohlcv = selected_ohlcv()

try:
    prediction = predict(selection.symbol, timeframe, selection.source, settings, ohlcv=ohlcv,
                         latest=selection.end is None)
except ModelNotFoundError as exc:
    st.info(f"{exc}")
    st.write("Train the quick starter preset (LightGBM + XGBoost, a small walk-forward; about a minute) on "
             f"{selection.symbol} {timeframe} in the background, then come back here.")
    if st.button("Train starter models", type="primary", key="predictions_train_starter"):
        try:
            job = submit_starter(settings, selection.symbol, timeframe, selection.source,
                                 start=str(selection.start) if selection.start else None,
                                 end=str(selection.end) if selection.end else None)
            st.success(f"Training job {job} queued. Follow it on the Training page; predictions appear when it ends.")
        except PinelabError as error:
            show_error(error)
    st.stop()
except PinelabError as exc:
    show_error(exc)
    st.stop()

watchlist_text = st.text_input("Watchlist (comma separated)", value=f"{selection.symbol}",
                               key="predictions_watchlist")
symbols = [s.strip() for s in watchlist_text.split(",") if s.strip()]
# The watchlist reads the same cached bars as the detail below, so a row and the detail never disagree.
results: dict[str, object] = {}
for symbol, frame in load_symbols(symbols, selection, settings).items():
    try:
        results[symbol] = frame if isinstance(frame, PinelabError) else predict(
            symbol, timeframe, selection.source, settings, ohlcv=frame, latest=selection.end is None)
    except PinelabError as exc:
        results[symbol] = exc
share = st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent")
st.dataframe(watchlist_frame(results), hide_index=True, width="stretch",
             column_config={"confidence": share, "agreement": share})

st.header(f"{selection.symbol} · {timeframe} · bar {prediction.bar_time:%Y-%m-%d %H:%M} UTC")
if prediction.in_sample:
    st.warning(in_sample_note(prediction.bar_time, prediction.trained_through, latest=selection.end is None),
               icon=":material/history:")
if prediction.trained_on and selection.symbol not in prediction.trained_on:
    st.caption(f"No model is trained on {selection.symbol} itself: these are the {timeframe} models trained on "
               f"{', '.join(prediction.trained_on)}.")
if prediction.weights_source == "fallback":
    st.caption("Weights are the fixed fallback (no out-of-fold predictions to learn from): confidence is uncalibrated.")
left, right = st.columns([1, 2])
left.plotly_chart(confidence_gauge(prediction), theme=None, key="predictions_gauge")
right.plotly_chart(member_breakdown(prediction), theme=None, key="predictions_members")
st.plotly_chart(forecast_fan(ohlcv, prediction), theme=None, key="predictions_fan")
st.markdown(bar_context(ohlcv, selection.symbol, settings, app_engine()))

st.subheader("Across timeframes")
if st.toggle("Read this market on several timeframes (each at its latest closed bar)", key="predictions_mtf"):
    chosen = st.multiselect("Timeframes", [t.value for t in Timeframe], default=list(DEFAULT_TIMEFRAMES),
                            key="predictions_mtf_timeframes")
    as_of = None if selection.end is None else selection.end + pd.Timedelta(seconds=1)
    try:
        view = multi_timeframe_view(selection.symbol, chosen or DEFAULT_TIMEFRAMES, selection.source, settings,
                                    as_of=as_of)
    except PinelabError as exc:
        show_error(exc)
        st.stop()
    st.dataframe(view.grid(), width="stretch", key="predictions_mtf_grid")
    st.caption(f"Agreement {view.agreement:.0%} ({view.votes['up']} up, {view.votes['down']} down, "
               f"{view.votes['neutral']} neutral; score {view.score:+.2f}, {view.action}). Counted: the ensemble, each "
               "agent and each signal source per timeframe; members and the consensus are shown, not counted. "
               "· = no active call.")
    for read in view.reads:
        if read.note:
            st.caption(f"{read.timeframe}: {read.note}")

st.subheader("Track record")
try:
    resolve_outcomes(settings, lambda source, symbol, tf: load_ohlcv(symbol, tf, source=source, settings=settings))
    history = prediction_history(settings, selection.symbol, timeframe)
    report = drift_report(settings, load_active(settings, selection.symbol, timeframe), ohlcv)
    by_regime = regime_track_record(ohlcv, history, time_column="bar_time", engine=app_engine(),
                                    symbol=selection.symbol, timeframe=timeframe)
except PinelabError as exc:
    show_error(exc)
    st.stop()
st.caption(f"Market regime at this bar: {by_regime.current.summary}")
for alert in report.alerts:
    (st.error if alert.severity == "critical" else st.warning)(alert.message)
st.plotly_chart(outcome_chart(history, ohlcv), theme=None, key="predictions_outcomes")
active = load_active(settings, selection.symbol, timeframe)
if active.oof_reliability is not None:
    st.plotly_chart(reliability_chart(active.oof_reliability, "Calibration out of fold (walk-forward)"), theme=None,
                    key="predictions_oof_calibration")
if report.performance.empty:
    st.caption("No prediction has reached its horizon yet: hit rates appear once outcomes are known.")
else:
    st.dataframe(report.performance, hide_index=True, width="stretch")
    st.caption("By HMM regime at the predicted bar (market return over the horizon, hit = the call was right)")
    st.dataframe(by_regime.by_regime, hide_index=True, width="stretch")
    resolved = history[history["outcome"].notna()]
    probs = resolved[["prob_DOWN", "prob_SIDEWAYS", "prob_UP"]].to_numpy()
    y_true = resolved["outcome"].map({"DOWN": 0, "SIDEWAYS": 1, "UP": 2}).to_numpy()
    st.plotly_chart(reliability_chart(reliability_table(probs, y_true, 5), "Live calibration"), theme=None,
                    key="predictions_calibration")
with st.expander(f"Feature drift (PSI of the last {report.current_bars} bars against the training data)"):
    st.dataframe(report.features.head(30), hide_index=True, width="stretch")
