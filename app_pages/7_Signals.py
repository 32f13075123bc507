"""Signals: the live feed, the consensus of every source with learned weights (optionally learned per HMM regime),
track records split by regime, and the webhook's status."""

import streamlit as st
from streamlit_autorefresh import st_autorefresh

from pinelab_core.errors import PinelabError
from pinelab_core.signals import (
    SIGNAL_SOURCES,
    alert_template,
    filter_feed,
    latest_consensus,
    run_signal_desk,
    signal_feed,
    webhook_activity,
)
from pinelab_core.ui import app_engine, app_settings, current_selection, selected_ohlcv, show_error
from pinelab_core.viz.signals import (
    contributions_chart,
    signals_price_chart,
    track_record_chart,
    weight_path_chart,
)

selection = current_selection()
settings, engine = app_settings(), app_engine()
st.title(f"Signals · {selection.symbol} · {selection.timeframe.value}")

with st.expander("Settings", expanded=False):
    left, middle, right = st.columns(3)
    sources = left.multiselect("Sources", list(SIGNAL_SOURCES), default=list(SIGNAL_SOURCES))
    horizon = middle.slider("Horizon (bars held before a call is judged)", 1, 50, 5)
    refresh = right.number_input("Refresh every (seconds, 0 = off)", 0, 600, 15)
    per_regime = left.toggle("Weights learned per regime", value=False, key="signals_regime_weights",
                             help="Fuse with weights learned only from the calls placed in the current HMM regime "
                                  "(resolved by this bar's close); off: from every call.")
if refresh:
    st_autorefresh(interval=int(refresh) * 1000, key="signals_refresh")
if not sources:
    st.info("Pick at least one signal source in Settings.")
    st.stop()

ohlcv = selected_ohlcv()
try:
    desk = run_signal_desk(ohlcv, selection.symbol, selection.timeframe.value, engine=engine, settings=settings,
                           sources=sources, horizon=horizon, regimes=True, regime_weights=per_regime)
    feed = signal_feed(engine)
    activity = webhook_activity(engine, secrets=(settings.webhook_secret, settings.webhook_hmac_secret))
    markets = latest_consensus(engine)
except PinelabError as exc:
    show_error(exc)
    st.stop()

agg = desk.aggregate
st.caption(f"Consensus as of the bar of {agg.time:%Y-%m-%d %H:%M} UTC (the last closed bar).")
cols = [*st.columns(3), *st.columns(2)]  # more than three in a row cut the values off at ~1,000 px
cols[0].metric("Consensus", agg.action.value, f"{agg.score:+.2f}")
cols[1].metric("Confidence", f"{agg.confidence:.0%}")
cols[2].metric("Position size", f"{agg.position_size:+.1%}", help="volatility-targeted (15%/yr), capped at 100%")
cols[3].metric("Volatility", f"{agg.volatility:.1%}/yr")
cols[4].metric("Market regime", desk.regime.current.regime if desk.regime else "unknown",
               help=desk.regime.current.summary if desk.regime else None)
if desk.weights_regime:
    st.caption(f"Weights learned from the calls placed in a {desk.weights_regime} market (the regime now).")
st.plotly_chart(contributions_chart(agg), theme=None)

chart_tab, feed_tab, weights_tab, webhook_tab = st.tabs(["Chart", "Live feed", "Weights & track record", "Webhook"])
with chart_tab:
    st.plotly_chart(signals_price_chart(ohlcv, desk.signals, title=f"{selection.symbol} · calls by source"),
                    theme=None, config={"scrollZoom": True, "displaylogo": False})
with feed_tab:
    left, middle, right = st.columns(3)
    chosen_symbols = left.multiselect("Symbol", sorted(feed["symbol"].dropna().unique()))
    chosen_sources = middle.multiselect("Source", sorted(feed["source"].dropna().unique()))
    chosen_actions = right.multiselect("Action", ["BUY", "SELL", "FLAT"])
    shown = filter_feed(feed, symbols=chosen_symbols, sources=chosen_sources, actions=chosen_actions)
    st.dataframe(shown, hide_index=True, column_config={
        "realised_return": st.column_config.NumberColumn("result", format="percent"),
        "strength": st.column_config.ProgressColumn("strength", min_value=0.0, max_value=1.0)})
    st.caption("Latest consensus of every market a signal round has run on")
    st.dataframe(markets, hide_index=True, column_config={
        "position_size": st.column_config.NumberColumn("position", format="percent")})
with weights_tab:
    st.dataframe(desk.performance, hide_index=True, column_config={
        "hit_rate": st.column_config.NumberColumn(format="percent"),
        "mean_return": st.column_config.NumberColumn(format="percent"),
        "total_return": st.column_config.NumberColumn(format="percent")})
    if desk.regime is not None:
        st.caption("Track record by HMM regime (the regime at each call's bar, as known at its close)")
        st.dataframe(desk.regime.by_regime, hide_index=True, column_config={
            "hit_rate": st.column_config.NumberColumn(format="percent"),
            "mean_return": st.column_config.NumberColumn(format="percent"),
            "total_return": st.column_config.NumberColumn(format="percent"),
            "share": st.column_config.NumberColumn("share of its calls", format="percent")})
    if not desk.weight_path.empty:
        st.plotly_chart(weight_path_chart(desk.weight_path), theme=None)
        st.plotly_chart(track_record_chart(desk.signals), theme=None)
    for source, similar in desk.similar.items():
        st.caption(f"{source}: {similar.count} similar past calls (same symbol, direction, regime), "
                   f"hit rate {similar.hit_rate:.0%}, mean {similar.mean_return:+.2%}" if similar.count
                   else f"{source}: no similar past call yet")
with webhook_tab:
    url = settings.webhook_public_url or f"http://{settings.webhook_host}:{settings.webhook_port}/webhook/tradingview"
    st.markdown(f"Alert URL: `{url}` — run `pinelab webhook`; TradingView needs a public HTTPS address "
                "(a tunnel or reverse proxy) in front of it.")
    st.code(alert_template(include_passphrase=bool(settings.webhook_secret)), language="json")
    counts = st.columns(3)
    counts[0].metric("Requests", activity.total_requests)
    counts[1].metric("Accepted", activity.by_outcome.get("accepted", 0) + activity.by_outcome.get("duplicate", 0))
    last = activity.last_alert_at  # the time as the value, the day below it: a full timestamp is cut off
    counts[2].metric("Last alert", f"{last:%H:%M:%S}" if last else "none yet",
                     delta=f"{last:%Y-%m-%d} UTC" if last else None, delta_color="off")
    if not activity.rejections.empty:
        st.dataframe(activity.rejections, hide_index=True)
