"""Backtest: build a strategy, see its trades and costs, Monte Carlo bands, sweeps with overfitting statistics,
walk-forward optimisation, the promotion checklist, and stored runs side by side."""

import pandas as pd
import streamlit as st

from pinelab_core.backtest import (
    STRATEGIES,
    backtest_strategy,
    list_runs,
    load_run,
    monte_carlo,
    promotion_checklist,
    save_run,
    strategy_names,
    sweep,
    walk_forward_optimise,
)
from pinelab_core.backtest.promotion import PromotionRule
from pinelab_core.errors import PinelabError
from pinelab_core.ui import app_engine, app_settings, current_selection, selected_ohlcv, show_error
from pinelab_core.viz.backtest import (
    compare_runs_figure,
    equity_drawdown_figure,
    monte_carlo_figure,
    sweep_heatmap,
    trades_price_figure,
    walk_forward_figure,
)

selection = current_selection()
settings, engine = app_settings(), app_engine()
symbol, timeframe = selection.symbol, selection.timeframe.value
st.title(f"Backtest · {symbol} · {timeframe}")
st.caption("One execution engine: a decision at a bar's close fills at the next open; fees and slippage are "
           "fractions of traded notional, charged on every leg; stops are checked against each bar's low and high.")

left, right = st.columns([1, 2])
strategy = left.selectbox("Strategy or signal source", strategy_names(), key="bt_strategy")
params: dict[str, float] = {}
hold_bars = None
if strategy in STRATEGIES:
    defaults = STRATEGIES[strategy].defaults
    columns = right.columns(len(defaults))
    for column, (name, value) in zip(columns, defaults.items(), strict=True):
        params[name] = column.number_input(name, value=float(value), key=f"bt_{strategy}_{name}")
else:
    held = right.number_input("Close each call after N bars (0 = hold until the next call)", 0, 500, 0,
                              key="bt_hold")
    hold_bars = int(held) or None
with st.expander("Costs, stops and sizing"):
    a, b, c, d = st.columns(4)
    execution = {
        "fees": a.number_input("Fees per side", 0.0, 0.05, 0.001, 0.0001, format="%.4f", key="bt_fees"),
        "slippage": b.number_input("Slippage", 0.0, 0.05, 0.0, 0.0001, format="%.4f", key="bt_slippage"),
        "half_spread": c.number_input("Half spread", 0.0, 0.05, 0.0, 0.0001, format="%.4f", key="bt_spread"),
        "fixed_fee": d.number_input("Fixed fee per order", 0.0, 100.0, 0.0, key="bt_fixed"),
        "init_cash": a.number_input("Starting cash", 100.0, 1e9, 10_000.0, key="bt_cash"),
        "allow_short": b.checkbox("Allow shorts", True, key="bt_short"),
        "lot_size": c.number_input("Lot size (0 = fractional)", 0.0, 1e6, 0.0, key="bt_lot"),
        "min_order": d.number_input("Minimum order (cash)", 0.0, 1e9, 0.0, key="bt_min_order"),
    }
    a, b, c, d = st.columns(4)
    for column, name, label in ((a, "stop_loss", "Stop-loss"), (b, "take_profit", "Take-profit"),
                                (c, "trailing_stop", "Trailing stop"), (d, "vol_target", "Volatility target")):
        value = column.number_input(f"{label} (0 = off)", 0.0, 5.0, 0.0, 0.01, key=f"bt_{name}")
        execution[name] = value or None
    execution["max_leverage"] = a.number_input("Max leverage", 1.0, 10.0, 1.0, 0.5, key="bt_leverage")
    kelly = b.number_input("Kelly cap (x Kelly, 0 = off)", 0.0, 2.0, 0.0, 0.25, key="bt_kelly")
    execution["kelly_cap"] = kelly or None

ohlcv = selected_ohlcv()
try:
    run = backtest_strategy(ohlcv, strategy, params, symbol=symbol, timeframe=timeframe, engine=engine,
                            settings=settings, hold_bars=hold_bars, **execution)
except PinelabError as exc:
    show_error(exc)
    st.stop()
result, stats = run.result, run.result.stats

cols = [*st.columns(3), *st.columns(3)]  # six in a row cut the values off below ~1,400 px
cols[0].metric("Total return", f"{stats['total_return']:.1%}", f"buy-and-hold {stats['buy_and_hold_return']:.1%}",
               delta_color="off")
cols[1].metric("CAGR", f"{stats['cagr']:.1%}")
cols[2].metric("Sharpe", f"{stats['sharpe']:.2f}")
cols[3].metric("Max drawdown", f"{stats['max_drawdown']:.1%}")
cols[4].metric("Trades", f"{int(stats['n_trades'])}", f"costs {result.trades['costs'].sum():,.2f}", delta_color="off")
cols[5].metric("Win rate", "-" if pd.isna(stats["win_rate"]) else f"{stats['win_rate']:.0%}")

tabs = st.tabs(["Equity", "Trades", "Stats", "Monte Carlo", "Sweep", "Walk-forward", "Promotion", "Stored runs"])
with tabs[0]:
    st.plotly_chart(equity_drawdown_figure(result.equity, ohlcv["close"]), theme=None, key="bt_equity")
with tabs[1]:
    st.plotly_chart(trades_price_figure(ohlcv, result.trades), theme=None, key="bt_trades")
    st.dataframe(result.trades, hide_index=True, column_config={
        "return": st.column_config.NumberColumn(format="percent")})
    st.download_button("Download trades (CSV)", data=result.trades.to_csv(index=False),
                       file_name=f"{symbol}_{strategy}_trades.csv".replace("/", "-").replace(":", "-"),
                       mime="text/csv", key="bt_download")
with tabs[2]:
    st.dataframe(stats.rename("value").to_frame(), width="stretch")
with tabs[3]:
    a, b = st.columns(2)
    method = a.radio("Resample", ["trades", "blocks"], horizontal=True, key="bt_mc_method",
                     help="trades: bootstrap of closed trades; blocks: stationary block bootstrap of bar returns")
    paths = int(b.number_input("Paths", 100, 10_000, 1_000, 100, key="bt_mc_paths"))
    try:
        bands = monte_carlo(result, method=method, n_paths=paths)
        actual = result.equity["equity"] / result.execution.init_cash if method == "blocks" else None
        st.plotly_chart(monte_carlo_figure(bands.bands, actual), theme=None, key="bt_mc")
        st.dataframe(pd.DataFrame({"final return": bands.final_return, "max drawdown": bands.max_drawdown}).T)
        st.session_state["bt_mc_p5_drawdown"] = float(bands.max_drawdown["p5"])
    except PinelabError as exc:
        show_error(exc)
with tabs[4]:
    if strategy not in STRATEGIES:
        st.info("Sweeps search a rule strategy's parameters: pick one of " + ", ".join(STRATEGIES) + ".")
    else:
        a, b, c = st.columns(3)
        search = a.selectbox("Search", ["grid", "optuna", "genetic"], key="bt_sweep_method")
        budget = int(b.number_input("Trials (optuna, genetic)", 8, 500, 40, key="bt_sweep_trials"))
        metric = c.selectbox("Maximise", ["sharpe", "total_return", "cagr", "profit_factor"], key="bt_metric")
        if st.button("Run sweep", key="bt_run_sweep"):
            with st.spinner("Sweeping..."):
                st.session_state["bt_sweep"] = sweep(ohlcv, strategy, method=search, n_trials=budget, metric=metric,
                                                     **execution)
        found = st.session_state.get("bt_sweep")
        if found is not None and set(found.best_params) <= set(STRATEGIES[strategy].defaults):
            a, b, c, d = st.columns(4)
            a.metric("Trials", found.n_trials)
            b.metric("Best", ", ".join(f"{k}={v:g}" for k, v in found.best_params.items()))
            c.metric("Deflated Sharpe", f"{found.deflated_sharpe:.2f}", help="> 0.95: unlikely to be search luck")
            d.metric("Prob. of overfitting", f"{found.pbo:.0%}", help="CSCV over 16 blocks; 50%+ = coin flip")
            names = list(found.best_params)
            if len(names) >= 2:
                st.plotly_chart(sweep_heatmap(found.trials, names[0], names[1], found.metric), theme=None,
                                key="bt_heatmap")
            st.dataframe(found.trials, hide_index=True)
with tabs[5]:
    if strategy not in STRATEGIES:
        st.info("Walk-forward optimisation needs a rule strategy with a parameter grid.")
    elif st.button("Run walk-forward optimisation", key="bt_run_wfo"):
        with st.spinner("Optimising each train window, trading each test window..."):
            try:
                st.session_state["bt_wfo"] = walk_forward_optimise(ohlcv, strategy, **execution)
            except PinelabError as exc:
                show_error(exc)
    wfo = st.session_state.get("bt_wfo")
    if wfo is not None and strategy in STRATEGIES:
        a, b, c = st.columns(3)
        a.metric("Out-of-sample Sharpe", f"{wfo.result.stats['sharpe']:.2f}")
        b.metric("Degradation (IS -> OOS Sharpe)", f"{wfo.degradation:.0%}")
        c.metric("Out-of-sample trade win rate", f"{wfo.result.stats['win_rate']:.0%}")
        st.plotly_chart(walk_forward_figure(wfo.windows, wfo.equity), theme=None, key="bt_wfo_chart")
        st.dataframe(wfo.windows, hide_index=True)
with tabs[6]:
    limit = st.slider("Monte Carlo 5th-percentile drawdown limit", -0.9, -0.01, -0.25, 0.01, key="bt_dd_limit")
    wfo = st.session_state.get("bt_wfo")
    wf_win_rate = None if wfo is None else float(wfo.result.stats["win_rate"])
    checklist = promotion_checklist(float(stats["sharpe"]), wf_win_rate, st.session_state.get("bt_mc_p5_drawdown"),
                                    PromotionRule(max_drawdown_limit=limit))
    st.dataframe(checklist.assign(passed=checklist["passed"].map({True: "pass", False: "fail"})), hide_index=True)
    if wfo is None:
        st.caption("Run the walk-forward optimisation to score the second check.")
with tabs[7]:
    if st.button("Save this run", key="bt_save"):
        run_id = save_run(engine, result, symbol=symbol, timeframe=timeframe, strategy=strategy, params=run.params,
                          source=selection.source)
        st.success(f"Stored as run #{run_id}.")
    runs = list_runs(engine)
    if runs.empty:
        st.info("No stored runs yet: save one to compare it with others.")
    else:
        chosen = st.multiselect("Compare", runs["id"].tolist(), default=runs["id"].tolist()[:3], key="bt_compare")
        stored = [load_run(engine, int(i)) for i in chosen]
        curves = {f"#{r.id} {r.strategy} {r.symbol}": r.equity["equity"] for r in stored}
        st.plotly_chart(compare_runs_figure(curves), theme=None, key="bt_compare_chart")
        st.dataframe(pd.DataFrame({name: r.stats for name, r in zip(curves, stored, strict=True)}), width="stretch")
