"""Learning analytics: what the system learned and decided (retrains, challengers, promotions, drift), the market
regime as seen at each bar, and each model version's live record day by day."""

import pandas as pd
import streamlit as st

from pinelab_core.live import learning_frames
from pinelab_core.ui import app_engine

st.title("Learning analytics")
frames = learning_frames(app_engine())
events, regimes, performance = frames.events, frames.regimes, frames.performance
if events.empty and regimes.empty and performance.empty:
    st.info("Nothing learned yet. Watch a market and start the scheduler (Paper Trading page or `pinelab run`): "
            "regimes, daily model performance and learning events appear as bars close.")
    st.stop()

events_tab, regime_tab, performance_tab = st.tabs(["Learning events", "Market regime", "Model performance"])
with events_tab:
    kinds = st.multiselect("Kinds", sorted(events["kind"].unique()), key="learning_kinds")
    shown = events[events["kind"].isin(kinds)] if kinds else events
    st.dataframe(shown[["time", "kind", "model_name", "version", "job_id", "message"]], hide_index=True,
                 width="stretch")
    tuned = events[events["kind"] == "fine_tuned"]
    if len(tuned):
        st.caption("Incremental fine-tuning against a full retrain on the same held-out bars")
        st.dataframe(pd.DataFrame([{"model": r.model_name, "version": r.version, **r.detail.get("comparison", {})}
                                   for r in tuned.itertuples()]), hide_index=True, width="stretch")
with regime_tab:
    if regimes.empty:
        st.caption("No regime recorded yet.")
    else:
        markets = (regimes["symbol"] + " " + regimes["timeframe"] + " (" + regimes["data_source"] + ")").unique()
        market = st.selectbox("Market", sorted(markets), key="learning_market")
        mine = regimes[(regimes["symbol"] + " " + regimes["timeframe"] + " (" + regimes["data_source"] + ")")
                       == market].set_index("bar_time")
        st.caption("As seen at each bar's close: trend (+1 up, -1 down, 0 none; ADX) and volatility regime "
                   "(0 calm, 1 normal, 2 stressed), from the bars up to it.")
        st.line_chart(mine[["trend_regime", "vol_regime"]])
        st.dataframe(mine["label"].value_counts().rename("bars"), width="stretch")
with performance_tab:
    if performance.empty:
        st.caption("No daily snapshot yet: versions need resolved live calls (shadow predictions).")
    else:
        performance["ref"] = performance["model_name"] + "@v" + performance["version"].astype(str)
        metric = st.selectbox("Metric", ["hit_rate", "log_loss", "brier", "strategy_return", "n"],
                              key="learning_metric")
        st.line_chart(performance.pivot_table(index="day", columns="ref", values=metric))
        st.dataframe(performance.drop(columns=["ref"]), hide_index=True, width="stretch")
