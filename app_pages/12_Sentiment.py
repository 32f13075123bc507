"""Sentiment: the market's headlines with their scores, the daily score, and which scorer produced them."""

import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.sentiment import describe_scorer, fetch_news, import_headlines, sentiment_panel
from pinelab_core.ui import app_engine, app_settings, current_selection, show_error
from pinelab_core.viz.sentiment import daily_sentiment_chart

selection = current_selection()
settings, engine = app_settings(), app_engine()
st.title(f"Sentiment · {selection.symbol}")

with st.expander("Add headlines", expanded=False):
    upload = st.file_uploader("Headlines CSV (published_at, headline; optional symbol, publisher, url)", type="csv",
                              key="sentiment_upload")
    fetch = st.button("Fetch Yahoo Finance news", key="sentiment_fetch", disabled=selection.source == "demo",
                      help="needs the network; the demo markets use the shipped demo headlines")
try:
    if upload is not None and st.session_state.get("sentiment_imported") != upload.file_id:
        added = import_headlines(engine, upload.getvalue(), symbol=selection.symbol, settings=settings)
        st.session_state["sentiment_imported"] = upload.file_id
        st.success(f"{added} new headline(s) stored from {upload.name}.")
    if fetch:
        st.success(f"{fetch_news(engine, selection.symbol, settings=settings)} new headline(s) from Yahoo Finance.")
    panel = sentiment_panel(engine, selection.symbol, settings=settings)
except PinelabError as exc:
    show_error(exc)
    st.stop()

st.caption(f"Scores by **{panel.scorer}**: {describe_scorer(panel.scorer)}. A score lies in [-1, 1]; each "
           "headline counts from the bar after it was published (the `sentiment` source on the Signals page).")
if panel.demo:
    st.info("Demo data: these headlines are handwritten and fictional, shipped so the demo works offline. "
            "They do not describe the simulated prices, so the sentiment source's track record here is noise.")
if panel.headlines.empty:
    st.info("No headlines for this market yet. Upload a CSV, fetch Yahoo Finance news, or send TradingView "
            "alerts with a \"headline\" field.")
    st.stop()

latest = panel.daily.iloc[-1]
cols = st.columns(3)
cols[0].metric(f"Latest day ({panel.daily.index[-1]:%Y-%m-%d})", f"{latest['score']:+.2f}")
cols[1].metric("Headlines", len(panel.headlines))
cols[2].metric("Positive / negative", f"{int(panel.daily['positive'].sum())} / {int(panel.daily['negative'].sum())}")
st.plotly_chart(daily_sentiment_chart(panel.daily, title=f"{selection.symbol} · daily sentiment"), theme=None)
st.dataframe(panel.headlines, hide_index=True, column_config={
    "published_at": st.column_config.DatetimeColumn("published (UTC)", format="YYYY-MM-DD HH:mm"),
    "score": st.column_config.ProgressColumn("score", min_value=-1.0, max_value=1.0, format="%+.2f"),
    "url": st.column_config.LinkColumn("link")})
