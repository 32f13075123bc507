"""Training: launch a purged walk-forward run (or an RL agent) as a background job, watch it, read its honest
results."""

import pandas as pd
import streamlit as st
from streamlit_autorefresh import st_autorefresh

from pinelab_core.errors import PinelabError
from pinelab_core.features import FEATURE_GROUPS, OPT_IN_GROUPS, OPT_IN_NOTE
from pinelab_core.models import list_models
from pinelab_core.models.registry import set_status
from pinelab_core.rl.agents import AGENT_KINDS
from pinelab_core.rl.desk import ROLE_FEATURES, ROLES
from pinelab_core.rl.results import agent_learning_curve, agent_results
from pinelab_core.training.jobs import cancel_job, dispatch_jobs, get_job, list_jobs, submit_job
from pinelab_core.training.results import job_loss_curve, job_versions, version_results
from pinelab_core.training.runner import TrainRequest
from pinelab_core.ui import app_settings, current_selection, show_error
from pinelab_core.viz.rl import agent_equity_figure, learning_curve_figure
from pinelab_core.viz.training import (
    calibration_figure,
    confusion_figure,
    equity_figure,
    fold_scores_figure,
    importance_figure,
    loss_curve_figure,
)

settings = app_settings()
selection = current_selection()
st.title(f"Training · {selection.symbol} · {selection.timeframe.value}")
st.caption("Purged walk-forward: each test fold is predicted by a model that never saw it or any label "
           "overlapping it. Training runs in a background process; this page only reads its progress.")

with st.form("training_form"):
    left, middle, right = st.columns(3)
    extra = left.text_input("Extra symbols (comma separated)", key="training_extra_symbols",
                            help=f"Trained in the same job, besides the sidebar's {selection.symbol}.")
    models = middle.multiselect("Models", [m for m in list_models() if m not in AGENT_KINDS], default=["lightgbm"],
                                key="training_models")
    groups = right.multiselect("Feature groups", [*FEATURE_GROUPS, *OPT_IN_GROUPS], default=list(FEATURE_GROUPS),
                               key="training_groups", help=OPT_IN_NOTE)
    left, middle, right, far = st.columns(4)
    label = left.selectbox("Label", ["direction", "triple_barrier"], key="training_label")
    horizon = int(middle.number_input("Horizon (bars)", 1, 500, 5, key="training_horizon"))
    seed = int(right.number_input("Seed", 0, 2**31 - 1, 0, key="training_seed"))
    device = far.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="training_device")
    with st.expander("Walk-forward and costs"):
        a, b, c, d = st.columns(4)
        window = a.radio("Window", ["expanding", "rolling"], horizontal=True, key="training_window")
        train_size = int(b.number_input("Initial train rows (0 = half)", 0, 10**7, 0, key="training_train_size"))
        test_size = int(c.number_input("Test rows per fold (0 = 5 folds)", 0, 10**7, 0, key="training_test_size"))
        embargo = int(d.number_input("Embargo (bars)", 0, 10_000, 0, key="training_embargo"))
        a, b, c, d = st.columns(4)
        validation = a.slider("Validation tail", 0.0, 0.5, 0.2, 0.05, key="training_validation")
        fees = b.number_input("Fees (fraction)", 0.0, 0.05, 0.0005, 0.0001, format="%.4f", key="training_fees")
        slippage = c.number_input("Slippage (fraction)", 0.0, 0.05, 0.0, 0.0001, format="%.4f",
                                  key="training_slippage")
        activate = d.checkbox("Activate the new versions", key="training_activate")
        a, b, c, d = st.columns(4)
        k = b.number_input("Direction: sideways band k (× vol × √h)", 0.0, 5.0, 0.5, 0.1, key="training_k")
        profit_take = c.number_input("Triple barrier: profit-take (× vol × √h)", 0.1, 10.0, 1.0, 0.1,
                                     key="training_pt")
        stop_loss = d.number_input("Triple barrier: stop-loss (× vol × √h)", 0.1, 10.0, 1.0, 0.1, key="training_sl")
        tune_trials = int(a.number_input("Tuning trials (0 = off)", 0, 200, 0, key="training_tune",
                                         help="Pick hyperparameters by nested walk-forward on the history before "
                                         "the first test fold, so no test fold influences the choice."))
        a, b, c = st.columns(3)
        price_levels = a.checkbox("Also learn from price levels", key="training_price_levels",
                                  help="sma_200, Bollinger bands, pivots, atr_14 in price units: thresholds that "
                                  "never recur once the price has moved on. Off: scale-free features only.")
        start_dependent = b.checkbox("Also learn from cumulative sums (obv, ad)", key="training_start_dependent",
                                     help="Their values depend on where the data starts, so a prediction on "
                                     "recent bars cannot reproduce what the model was trained on.")
        news = c.checkbox("Also learn from news sentiment", key="training_sentiment",
                          help="sentiment_1d (the mean score of the headlines published in the day before each bar "
                          "opened) and sentiment_headlines_1d (how many), from the headlines stored on the "
                          "Sentiment page. Predictions then read the market's stored headlines too.")
    launched = st.form_submit_button("Launch training", type="primary")

if launched:
    label_params = {"k": k} if label == "direction" else {"profit_take": profit_take, "stop_loss": stop_loss}
    try:
        request = TrainRequest(
            symbols=[selection.symbol, *[s.strip() for s in extra.split(",") if s.strip()]],
            source=selection.source, timeframe=selection.timeframe.value,
            start=selection.start.isoformat() if selection.start is not None else None,
            end=selection.end.isoformat() if selection.end is not None else None,
            models=models, horizon=horizon, label=label, label_params=label_params, groups=list(groups) or None,
            train_size=train_size or None,
            test_size=test_size or None, window=window, embargo=embargo, validation_fraction=validation,
            fees=fees, slippage=slippage, device=device, seed=seed, activate=activate, tune_trials=tune_trials,
            include_price_levels=price_levels, include_start_dependent=start_dependent, sentiment=news,
        ).validate()
        st.session_state["training_job_pick"] = submit_job(settings, "train", request.to_dict())
    except PinelabError as exc:
        show_error(exc)

with (st.expander("Reinforcement-learning agent (PPO, A2C, DQN): trades through the backtester, learns its money"),
      st.form("rl_form")):
        a, b, c, d = st.columns(4)
        kind = a.selectbox("Agent", list(AGENT_KINDS), key="rl_kind")
        role = b.selectbox("Desk role", ["general", *ROLES], key="rl_role",
                           help="trend and mean-reversion agents observe their own features and vote on the desk")
        timesteps = int(c.number_input("Timesteps", 1_000, 10_000_000, 50_000, 1_000, key="rl_timesteps"))
        seeds = int(d.number_input("Evaluation seeds", 3, 10, 3, key="rl_seeds"))
        a, b, c, d = st.columns(4)
        folds = int(a.number_input("Walk-forward test folds", 1, 10, 3, key="rl_folds"))
        action_mode = b.selectbox("Actions", ["discrete", "continuous"], key="rl_actions",
                                  help="discrete: short / flat / long; continuous: any target in [-1, 1] (not DQN)")
        rl_fees = c.number_input("Fees (fraction)", 0.0, 0.05, 0.0005, 0.0001, format="%.4f", key="rl_fees")
        rl_device = d.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="rl_device",
                                help="auto keeps small MLP policies on the CPU, where they train faster")
        a, b, c, d = st.columns(4)
        turnover = a.number_input("Turnover penalty", 0.0, 1.0, 0.0, 0.0001, format="%.4f", key="rl_turnover")
        drawdown = b.number_input("Drawdown penalty", 0.0, 10.0, 0.0, 0.1, key="rl_drawdown")
        rl_activate = c.checkbox("Activate the new agent", key="rl_activate")
        rl_launched = st.form_submit_button("Launch agent training")

if rl_launched:
    params: dict = {"timesteps": timesteps, "eval_seeds": seeds, "eval_folds": folds, "action_mode": action_mode,
                    "turnover_penalty": turnover, "drawdown_penalty": drawdown}
    if role != "general":
        params |= {"role": role, "features": list(ROLE_FEATURES[role])}
    try:
        request = TrainRequest(
            symbols=[selection.symbol], source=selection.source, timeframe=selection.timeframe.value,
            start=selection.start.isoformat() if selection.start is not None else None,
            end=selection.end.isoformat() if selection.end is not None else None, models=[kind], fees=rl_fees,
            device=rl_device, activate=rl_activate, model_params={kind: params}).validate()
        st.session_state["training_job_pick"] = submit_job(settings, "rl", request.to_dict())
    except PinelabError as exc:
        show_error(exc)

dispatch_jobs(settings)  # ends jobs whose worker died and starts queued ones
jobs = [job for job in list_jobs(settings, limit=30) if job.kind in ("train", "rl")]
if not jobs:
    st.info("No training jobs yet: pick models above and launch one.")
    st.stop()
names = {j.id: f"#{j.id} · {j.status} · {', '.join(j.params.get('models', []))} · "
                f"{', '.join(j.params.get('symbols', []))}" for j in jobs}
if st.session_state.get("training_job_pick") not in names:
    st.session_state["training_job_pick"] = next(iter(names))  # the newest
job_id = st.selectbox("Job", list(names), key="training_job_pick", format_func=names.__getitem__)
job = get_job(settings, job_id)

if job.is_active:
    st_autorefresh(interval=2_000, key="training_refresh")
    st.progress(job.progress, text=f"{job.status}: {job.stage or 'waiting for a free worker slot'}")
    if job.kind == "rl":
        st.plotly_chart(learning_curve_figure(agent_learning_curve(settings, job.id)), theme=None, key="rl_curve")
    else:
        st.plotly_chart(loss_curve_figure(job_loss_curve(settings, job.id)), theme=None, key="training_loss")
    if st.button("Cancel this job", key="training_cancel"):
        cancel_job(settings, job.id)
        st.rerun()
    st.stop()

if job.status != "succeeded":
    st.error(f"Job {job.id} {job.status}.")
    st.code(job.error or "no details", language=None)
    st.stop()

if job.kind == "rl":
    st.plotly_chart(learning_curve_figure(agent_learning_curve(settings, job.id)), theme=None, key="rl_curve_done")
    for name, version in job_versions(settings, job.id):
        try:
            agent = agent_results(settings, name, version)
        except PinelabError as exc:
            show_error(exc)
            continue
        m, base = agent.metrics, agent.baselines
        st.subheader(f"{agent.ref} · {agent.kind} · {agent.status} · {agent.device}")
        st.caption(f"Out of sample: {len(agent.folds)} walk-forward runs (folds x seeds) on bars the agent never saw. "
                   f"Device: {agent.device_reason}. Weights load without unpickling (see the manifest).")
        cols = st.columns(4)
        cols[0].metric("Sharpe (IQM of seeds)", f"{m['sharpe_iqm']:.2f}",
                       f"{m['sharpe_iqm'] - m['buy_and_hold_sharpe']:+.2f} vs buy-and-hold")
        cols[1].metric("Seed spread", f"{m['sharpe_min']:.2f} .. {m['sharpe_max']:.2f}", delta_color="off")
        cols[2].metric("Total return (IQM)", f"{m['total_return_iqm']:.1%}",
                       f"random {m['random_total_return']:.1%}", delta_color="off")
        cols[3].metric("Max drawdown (IQM)", f"{m['max_drawdown_iqm']:.1%}",
                       f"buy-and-hold {m['buy_and_hold_max_drawdown']:.1%}", delta_color="off")
        st.plotly_chart(agent_equity_figure(agent.equity), theme=None, key=f"rl_equity_{agent.ref}")
        st.dataframe(pd.concat({"agent": agent.per_seed.T, "baselines": base.T}, axis=1), width="stretch")
        st.dataframe(agent.folds, hide_index=True, width="stretch")
        if agent.status != "active" and st.button(f"Activate {agent.ref}", key=f"rl_activate_{agent.ref}"):
            set_status(settings, agent.name, agent.version, "active")
            st.rerun()
    st.stop()

st.plotly_chart(loss_curve_figure(job_loss_curve(settings, job.id)), theme=None, key="training_loss_done")
for name, version in job_versions(settings, job.id):
    try:
        result = version_results(settings, name, version)
    except PinelabError as exc:
        show_error(exc)
        continue
    m = result.metrics
    st.subheader(f"{result.ref} · {result.kind} · {result.device}")
    if result.overfit:
        st.warning(f"Overfitting: train balanced accuracy exceeds validation by {m['overfit_gap']:.2f} on average.")
    cols = [*st.columns(3), *st.columns(3)]  # six in a row cut the values off below ~1,400 px
    cols[0].metric("Balanced accuracy", f"{m['balanced_accuracy']:.3f}",
                   f"{m['balanced_accuracy'] - m['baseline_balanced_accuracy']:+.3f} vs majority")
    cols[1].metric("Accuracy", f"{m['accuracy']:.3f}", f"{m['accuracy'] - m['baseline_accuracy']:+.3f} vs majority")
    cols[2].metric("Log loss", f"{m['log_loss']:.3f}")
    cols[3].metric("Sharpe", f"{m['sharpe']:.2f}", f"{m['sharpe'] - m['buy_and_hold_sharpe']:+.2f} vs buy-and-hold")
    cols[4].metric("Max drawdown", f"{m['max_drawdown']:.1%}", f"buy-and-hold {m['buy_and_hold_max_drawdown']:.1%}",
                   delta_color="off")
    cols[5].metric("Win rate", "-" if m.get("win_rate") is None else f"{m['win_rate']:.1%}",
                   "-" if m.get("profit_factor") is None else f"profit factor {m['profit_factor']:.2f}",
                   delta_color="off")
    tabs = st.tabs(["Folds", "Confusion", "Calibration", "Importance", "Equity", "All metrics"])
    with tabs[0]:
        st.plotly_chart(fold_scores_figure(result.folds), theme=None, key=f"folds_{result.ref}")
        st.dataframe(result.folds, hide_index=True, width="stretch")
    with tabs[1]:
        st.plotly_chart(confusion_figure(result.oos), theme=None, key=f"confusion_{result.ref}")
    with tabs[2]:
        st.plotly_chart(calibration_figure(result.oos), theme=None, key=f"calibration_{result.ref}")
    with tabs[3]:
        st.plotly_chart(importance_figure(result.importance), theme=None, key=f"importance_{result.ref}")
    with tabs[4]:
        st.plotly_chart(equity_figure(result.equity), theme=None, key=f"equity_{result.ref}")
    with tabs[5]:
        st.dataframe(pd.Series(m, name="value").to_frame(), width="stretch")
