"""Paper trading: accounts that follow a strategy and fill through the execution engine, reconciled against a
backtest of the same decisions; the scheduler that keeps them live; notifications. No real order is ever sent."""

import pandas as pd
import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.live import (
    EVENTS,
    RiskLimits,
    add_rule,
    create_account,
    delivery_log,
    get_account,
    inbox,
    list_rules,
    live_overview,
    paper_report,
    request_stop,
    start_scheduler,
    watch_market,
)
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui import app_engine, app_settings, current_selection, load_selection, show_error
from pinelab_core.viz.backtest import equity_drawdown_figure

selection = current_selection()
settings, engine = app_settings(), app_engine()
st.title("Paper trading")
st.info("Paper trading only: no order is sent to any broker or exchange. Fills are simulated by PineLab's "
        "execution engine at the next bar's open, with the account's costs.", icon=":material/shield:")
overview = live_overview(engine)

with st.expander("Scheduler (`pinelab run`)", expanded=overview.scheduler is None):
    if overview.scheduler is not None:
        st.success(f"Running: process {overview.scheduler.pid} on {overview.scheduler.host}, last heartbeat "
                   f"{overview.scheduler.heartbeat_at:%H:%M:%S} UTC.")
        if st.button("Stop the scheduler", key="paper_stop"):
            request_stop(engine)
            st.rerun()
    else:
        st.warning("The scheduler is not running: accounts only move when it runs (or `pinelab paper advance`).")
        left, middle, right = st.columns(3)
        interval = left.number_input("Seconds between ticks", 1.0, 3600.0, 30.0, key="paper_interval")
        replay = middle.text_input("Replay demo/file history from (blank = live)",
                                   "2026-10-01" if selection.source == "demo" else "", key="paper_replay")
        if right.button("Start the scheduler", type="primary", key="paper_start"):
            pid = start_scheduler(settings, interval_s=float(interval), replay_from=replay.strip() or None)
            st.toast(f"Scheduler started (process {pid}); its log is in the data folder as scheduler.log.")
    if st.button(f"Watch {selection.symbol} {selection.timeframe.value} ({selection.source})", key="paper_watch"):
        watch_market(engine, selection.source, selection.symbol, selection.timeframe.value)
        st.rerun()
    st.dataframe(overview.watched, hide_index=True, width="stretch")
    if len(overview.steps):
        st.caption("Newest steps")
        st.dataframe(overview.steps, hide_index=True, width="stretch")

with st.expander(f"Open an account on {selection.symbol} {selection.timeframe.value}"):
    a, b, c = st.columns(3)
    name = a.text_input("Name", f"{selection.symbol.lower()}-{selection.timeframe.value}-consensus", key="paper_name")
    strategy = b.selectbox("Follows", ["consensus", "ensemble", "source:rsi", "source:macd", "source:bollinger",
                                       "source:candlestick", "tradingview"], key="paper_strategy")
    cash = c.number_input("Starting cash", 100.0, 1e9, 10_000.0, key="paper_cash")
    fees = a.number_input("Fees per side", 0.0, 0.05, 0.001, 0.0001, format="%.4f", key="paper_fees")
    slippage = b.number_input("Slippage", 0.0, 0.05, 0.0005, 0.0001, format="%.4f", key="paper_slippage")
    sizing = c.selectbox("Sizing", ["fixed", "signal"], key="paper_sizing",
                         help="fixed: full position in the call's direction; signal: the strategy's own size")
    max_position = a.number_input("Max position (fraction of equity)", 0.01, 1.0, 1.0, key="paper_maxpos")
    daily = b.number_input("Kill switch: max daily loss (0 = off)", 0.0, 0.99, 0.0, key="paper_daily")
    drawdown = c.number_input("Kill switch: max drawdown (0 = off)", 0.0, 0.99, 0.2, key="paper_drawdown")
    if st.button("Open account", type="primary", key="paper_create"):
        try:
            create_account(engine, name, source=selection.source, symbol=selection.symbol,
                           timeframe=selection.timeframe.value, strategy=strategy, init_cash=cash, sizing=sizing,
                           risk=RiskLimits(max_position, daily or None, drawdown or None), fees=fees, slippage=slippage)
            watch_market(engine, selection.source, selection.symbol, selection.timeframe.value)
            st.rerun()
        except PinelabError as exc:
            show_error(exc)

if overview.accounts.empty:
    st.info("No paper account yet: open one above, then start the scheduler.")
    st.stop()
st.dataframe(overview.accounts, hide_index=True, width="stretch", column_config={
    "return": st.column_config.NumberColumn(format="percent"), "equity": st.column_config.NumberColumn(format="%.2f")})
chosen = st.selectbox("Account", overview.accounts["name"].tolist(), key="paper_account")
try:
    account = get_account(engine, chosen)
    bars = load_selection(MarketSelection(account.data_source, account.symbol, Timeframe.parse(account.timeframe)),
                          settings)
    report = paper_report(engine, account, bars)
except PinelabError as exc:
    show_error(exc)
    st.stop()

if account.status == "killed":
    st.error(f"Kill switch hit at {account.kill_time:%Y-%m-%d %H:%M} UTC: {account.kill_reason}.")
cols = [*st.columns(3), *st.columns(3)]
cols[0].metric("Equity", f"{report.equity['equity'].iloc[-1]:,.2f}" if len(report.equity) else "-",
               f"{report.total_return:+.2%}")
cols[1].metric("Buy and hold", f"{report.buy_and_hold_return:+.2%}")
cols[2].metric("Position", f"{report.units:+,.4g} units", f"{report.position:+.1%} of equity")
cols[3].metric("Realised P&L", f"{report.realised_pnl:+,.2f}")
cols[4].metric("Unrealised P&L", f"{report.unrealised_pnl:+,.2f}")
cols[5].metric("Kill switch", {"active": "armed" if account.risk.max_drawdown or account.risk.max_daily_loss
                               else "no limits", "killed": "HIT", "stopped": "stopped"}.get(account.status, "-"))
rec = report.reconciliation
if rec is not None and rec.identical:
    st.success(f"Reconciled with a backtest of the same decisions: identical ({rec.paper_fills} fills, final equity "
               f"{rec.paper_final_equity:,.6f} = {rec.backtest_final_equity:,.6f}).", icon=":material/verified:")
elif rec is not None:
    st.error(f"The shadow backtest differs: paper {rec.paper_final_equity:,.6f} vs backtest "
             f"{rec.backtest_final_equity:,.6f}; {rec.paper_fills} vs {rec.backtest_fills} fills.")

equity_tab, orders_tab, fills_tab, reconcile_tab, alerts_tab = st.tabs(
    ["Equity", "Orders", "Fills", "Reconciliation", "Notifications"])
with equity_tab:
    if len(report.equity) >= 2:
        st.plotly_chart(equity_drawdown_figure(report.equity, report.equity["close"],
                                               title=f"{account.name} vs buy-and-hold"), theme=None)
    else:
        st.caption("The account has not been marked on two bars yet.")
with orders_tab:
    st.dataframe(report.orders, hide_index=True, width="stretch")
with fills_tab:
    if len(report.fills):
        slip = report.fills[["slippage_bps", "model_bps"]].mean()
        st.caption(f"Mean cost against the price at the decision: {slip['slippage_bps']:+.1f} bp, of which the cost "
                   f"model charged {slip['model_bps']:+.1f} bp at the open (the rest is the move to the next open).")
    st.dataframe(report.fills, hide_index=True, width="stretch")
with reconcile_tab:
    if rec is None:
        st.caption("Nothing to reconcile yet.")
    else:
        st.dataframe(pd.DataFrame({"paper": [rec.paper_final_equity, rec.paper_fills],
                                   "shadow backtest": [rec.backtest_final_equity, rec.backtest_fills]},
                                  index=["final equity", "fills"]), width="stretch")
        st.dataframe(rec.differences, hide_index=True, width="stretch")
with alerts_tab:
    a, b, c, d = st.columns(4)
    event = a.selectbox("When", EVENTS, key="rule_event")
    channel = b.selectbox("Deliver to", ["inbox", "webhook", "email"], key="rule_channel")
    target = c.text_input("URL or address", key="rule_target")
    body_format = d.selectbox("Body", ["json", "slack", "discord", "telegram"], key="rule_format")
    threshold = a.number_input("Confidence above", 0.0, 1.0, 0.7, key="rule_threshold")
    only_here = b.checkbox(f"Only {account.symbol}", True, key="rule_symbol")
    if st.button("Add rule", key="rule_add"):
        try:
            add_rule(engine, f"{event}-{channel}-{len(list_rules(engine)) + 1}", event, channel=channel,
                     target=target, body_format=body_format, symbol=account.symbol if only_here else "",
                     threshold=threshold if event == "confidence_above" else None)
            st.rerun()
        except PinelabError as exc:
            show_error(exc)
    st.dataframe(pd.DataFrame([vars(r) for r in list_rules(engine)]), hide_index=True, width="stretch")
    st.caption("Inbox")
    st.dataframe(inbox(engine), hide_index=True, width="stretch")
    st.caption("Delivery log (every attempt)")
    st.dataframe(delivery_log(engine), hide_index=True, width="stretch")
