"""Registry: every trained version, compared side by side; activate, challenge, archive or delete them; the live
head-to-head of challengers against their champions, the promotion rule, retraining."""

import pandas as pd
import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.live import (
    get_policy,
    head_to_head,
    promote,
    promotion_verdict,
    request_retrain,
    set_policy,
    shadow_frame,
)
from pinelab_core.live.promotion import MODES, SCHEDULES
from pinelab_core.models.registry import STATUSES, compare_versions, delete_version, set_status, versions_frame
from pinelab_core.training.results import version_results
from pinelab_core.types import MarketSelection, Timeframe
from pinelab_core.ui import app_engine, app_settings, load_selection, show_error
from pinelab_core.viz.training import equity_comparison_figure, importance_comparison_figure

settings = app_settings()
st.title("Model registry")
table = versions_frame(settings)
if table.empty:
    st.info("No models registered yet. Train one on the Training page or with `pinelab train`.")
    st.stop()

status_filter = st.multiselect("Status", STATUSES, default=list(STATUSES), key="registry_status")
shown = table[table["status"].isin(status_filter)]
headline = [c for c in ("model", "version", "status", "kind", "symbol", "timeframe", "label", "horizon",
                        "balanced_accuracy", "baseline_balanced_accuracy", "log_loss", "sharpe",
                        "buy_and_hold_sharpe", "max_drawdown", "device", "created_at") if c in shown.columns]
st.dataframe(shown[headline], hide_index=True, width="stretch")

refs = [f"{row.model}@v{row.version}" for row in shown.itertuples()]
picked = st.multiselect("Compare versions", refs, default=refs[:2], key="registry_compare")
pairs = [(ref.rsplit("@v", 1)[0], int(ref.rsplit("@v", 1)[1])) for ref in picked]
if pairs:
    try:
        results = [version_results(settings, name, version) for name, version in pairs]
        st.dataframe(compare_versions(settings, pairs), width="stretch")
        left, right = st.columns(2)
        left.plotly_chart(equity_comparison_figure({r.ref: r.equity["strategy"] for r in results if len(r.equity)}),
                          theme=None, key="registry_equity")
        right.plotly_chart(importance_comparison_figure({r.ref: r.importance for r in results}), theme=None,
                           key="registry_importance")
    except PinelabError as exc:
        show_error(exc)

st.subheader("Manage a version")
if not refs:
    st.stop()
target = st.selectbox("Version", refs, key="registry_target")
name, version = target.rsplit("@v", 1)[0], int(target.rsplit("@v", 1)[1])
cols = st.columns(4)
actions = {"active": cols[0].button("Activate", key="registry_activate", type="primary"),
           "challenger": cols[1].button("Mark challenger", key="registry_challenger"),
           "archived": cols[2].button("Archive", key="registry_archive")}
for status, clicked in actions.items():
    if clicked:
        try:
            set_status(settings, name, version, status)
            st.session_state["registry_note"] = f"{target} is now {status}."
            st.rerun()
        except PinelabError as exc:
            show_error(exc)
if cols[3].button("Delete…", key="registry_delete"):
    st.session_state["registry_confirm"] = target
if st.session_state.get("registry_confirm") == target:
    st.warning(f"Delete {target}: its artifact folder and its registry rows go together. This cannot be undone.")
    yes, no = st.columns(2)
    if yes.button(f"Yes, delete {target}", key="registry_delete_yes"):
        try:
            delete_version(settings, name, version)
            st.session_state["registry_note"] = f"{target} deleted."
        except PinelabError as exc:
            show_error(exc)
        st.session_state.pop("registry_confirm", None)
        st.rerun()
    if no.button("Keep it", key="registry_delete_no"):
        st.session_state.pop("registry_confirm", None)
        st.rerun()
if note := st.session_state.pop("registry_note", None):
    st.success(note)

st.subheader("Champion and challenger")
st.caption("Challengers make shadow predictions beside the active version on the same bars: logged, never acted on, "
           "and only for bars after each version's training range.")
calls = shadow_frame(app_engine())
challenged = sorted(calls.loc[calls["role"] == "challenger", "model_name"].unique())
if not challenged:
    st.info("No challenger has a live call yet. Retrain a version (below, or automatically on drift with "
            "`pinelab run`) and keep the scheduler running.")
else:
    model = st.selectbox("Model", challenged, key="registry_h2h_model")
    market = calls[calls["model_name"] == model].iloc[-1]
    try:
        bars = load_selection(MarketSelection(market["data_source"], market["symbol"],
                                              Timeframe.parse(market["timeframe"])), settings)
        duel = head_to_head(app_engine(), model, ohlcv=bars)
        policy = get_policy(app_engine(), model)
    except PinelabError as exc:
        show_error(exc)
        st.stop()
    st.write(f"**v{duel.challenger}** (challenger) against **v{duel.champion}** (champion) on {duel.n_bars} "
             f"resolved bars of {market['symbol']} {market['timeframe']}")
    st.dataframe(duel.scores, width="stretch")
    a, b, c = st.columns(3)
    a.metric("Log-loss gain", f"{duel.log_loss_gain:+.4f}")
    b.metric("Diebold-Mariano p", f"{duel.dm_p_value:.3f}")
    c.metric("McNemar p (hits)", f"{duel.mcnemar_p_value:.3f}")
    if len(duel.equity):
        st.line_chart(duel.equity)
    with st.form("registry_policy"):
        st.caption("Promotion rule")
        a, b, c, d = st.columns(4)
        rule = {"min_shadow_bars": int(a.number_input("Min shared bars", 1, 100_000, policy.min_shadow_bars)),
                "max_p_value": float(b.number_input("Max p-value", 0.001, 1.0, policy.max_p_value)),
                "min_log_loss_gain": float(c.number_input("Min log-loss gain", -1.0, 1.0, policy.min_log_loss_gain,
                                                          format="%.4f")),
                "auto_promote": d.checkbox("Promote automatically", policy.auto_promote),
                "schedule": a.selectbox("Retrain schedule", SCHEDULES, SCHEDULES.index(policy.schedule)),
                "mode": b.selectbox("Retrain as", MODES, MODES.index(policy.mode)),
                "on_drift": c.checkbox("Retrain on feature drift", policy.on_drift),
                "on_accuracy": d.checkbox("Retrain on accuracy decay", policy.on_accuracy)}
        if st.form_submit_button("Save rule"):
            policy = set_policy(app_engine(), model, **rule)
    verdict = promotion_verdict(duel, policy)
    (st.success if verdict.promote else st.info)(
        ("The challenger meets the promotion rule. " if verdict.promote else "Keep the champion for now. ")
        + "; ".join(verdict.reasons))
    if st.button(f"Promote v{duel.challenger}", disabled=not verdict.promote, key="registry_promote"):
        promote(settings, app_engine(), model, duel.challenger, reason="promoted on the Registry page",
                detail={"log_loss_gain": duel.log_loss_gain, "dm_p_value": duel.dm_p_value, "n_bars": duel.n_bars})
        st.rerun()
if st.button(f"Retrain {target} now (registers a challenger)", key="registry_retrain"):
    try:
        job = request_retrain(settings, app_engine(), name, version, reason="requested on the Registry page",
                              key=f"retrain|{name}|v{version}|page|{pd.Timestamp.now(tz='UTC').isoformat()}",
                              mode=get_policy(app_engine(), name).mode)
        st.success(f"Retrain job {job} queued; follow it on the Training page.")
    except PinelabError as exc:
        show_error(exc)
