"""Registry: every trained version, compared side by side; activate, challenge, archive or delete them."""

import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.models.registry import STATUSES, compare_versions, delete_version, set_status, versions_frame
from pinelab_core.training.results import version_results
from pinelab_core.ui import app_settings, show_error
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
