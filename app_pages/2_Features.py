"""Features: the causal feature matrix of the sidebar's market, its catalog, correlations, regimes,
importance against a forward label, the look-ahead audit and the export."""

import pandas as pd
import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.features import (
    FEATURE_GROUPS,
    OPT_IN_GROUPS,
    OPT_IN_NOTE,
    build_features_cached,
    causality_audit,
    clustered_correlation,
    data_fingerprint,
    feature_catalog,
    forward_direction_label,
    rank_features,
)
from pinelab_core.training.labels import LabelSpec, make_labels
from pinelab_core.ui import app_settings, current_selection, selected_ohlcv, show_error
from pinelab_core.viz.features import (
    audit_figure,
    correlation_heatmap,
    feature_under_price,
    importance_figure,
    regime_distribution,
)

_LABELS = {"direction": "volatility-scaled direction (training label)", "triple_barrier": "triple barrier",
           "sign": "sign of the forward return"}

# Underscored arguments are not hashed by st.cache_data: the data fingerprint stands in for the frame.


@st.cache_data(show_spinner="Computing features…", max_entries=4)
def feature_matrix(key: str, groups: tuple[str, ...], _ohlcv: pd.DataFrame) -> pd.DataFrame:
    return build_features_cached(_ohlcv, app_settings(), groups=list(groups))


@st.cache_data(show_spinner="Clustering correlations…", max_entries=8)
def correlations(key: str, groups: tuple[str, ...], window: int, _matrix: pd.DataFrame) -> pd.DataFrame:
    return clustered_correlation(_matrix.tail(window))


@st.cache_data(show_spinner="Ranking features…", max_entries=8)
def ranking(key: str, groups: tuple[str, ...], window: int, method: str, label_kind: str, horizon: int,
            _ohlcv: pd.DataFrame, _matrix: pd.DataFrame) -> pd.DataFrame:
    recent = _ohlcv.tail(window)
    if label_kind == "sign":
        label = forward_direction_label(recent["close"], horizon)
    else:  # the labels the models train on (volatility-scaled direction, triple barrier)
        label = make_labels(recent, LabelSpec(kind=label_kind, horizon=horizon))
    return rank_features(_matrix.tail(window), label, method=method, gap=horizon)  # type: ignore[arg-type]


@st.cache_data(show_spinner="Auditing for look-ahead…", max_entries=8)
def audit(key: str, groups: tuple[str, ...], window: int, cuts: int, _ohlcv: pd.DataFrame) -> pd.DataFrame:
    return causality_audit(_ohlcv.tail(window), n_cuts=cuts, groups=list(groups))


selection = current_selection()
st.title(f"Features · {selection.symbol} · {selection.timeframe.value}")
ohlcv = selected_ohlcv()
groups = tuple(st.multiselect("Feature groups", [*FEATURE_GROUPS, *OPT_IN_GROUPS], default=list(FEATURE_GROUPS),
                             key="features_groups", help=OPT_IN_NOTE))
if not groups:
    st.info("Pick at least one feature group.")
    st.stop()
key = data_fingerprint(ohlcv)
try:
    matrix = feature_matrix(key, groups, ohlcv)
except PinelabError as exc:
    show_error(exc)
    st.stop()
catalog = feature_catalog(list(groups))
window = int(st.number_input("Analysis window (latest bars)", min_value=min(300, len(ohlcv)), max_value=len(ohlcv),
                             value=min(len(ohlcv), 3_000), step=500, key="features_window",
                             help="Correlation, regimes, ranking and the audit use the latest bars only."))
st.caption(f"{matrix.shape[1]} features × {len(matrix):,} bars; warm-up rows are NaN, never back-filled.")

tabs = st.tabs(["Catalog", "Matrix", "Chart", "Correlation", "Regimes", "Importance", "Leakage audit", "Export"])

with tabs[0]:
    query = st.text_input("Search the catalog", key="features_search", placeholder="e.g. rsi, volatility, swing")
    shown = catalog
    if query:
        text = catalog["name"] + " " + catalog["group"] + " " + catalog["description"]
        shown = catalog[text.str.contains(query, case=False, regex=False)]
    st.dataframe(shown, hide_index=True, width="stretch", height=420)

with tabs[1]:
    st.dataframe(matrix.tail(200).iloc[::-1], width="stretch", height=420)

with tabs[2]:
    name = st.selectbox("Feature", list(matrix.columns), key="features_plot",
                        index=list(matrix.columns).index("rsi_14") if "rsi_14" in matrix.columns else 0)
    st.plotly_chart(feature_under_price(ohlcv.tail(window), matrix[name].tail(window)), theme=None)

with tabs[3]:
    try:
        st.plotly_chart(correlation_heatmap(correlations(key, groups, window, matrix)), theme=None)
    except PinelabError as exc:
        show_error(exc)

with tabs[4]:
    regimes = [c for c in ("vol_regime", "trend_regime") if c in matrix.columns]
    if not regimes:
        st.info("Add the 'regime' group to see distributions per regime.")
    else:
        left, middle, right = st.columns(3)
        by = left.selectbox("Regime", regimes, key="features_regime")
        value = middle.selectbox("Feature", list(matrix.columns), key="features_regime_value")
        kind = right.radio("Plot", ["box", "violin"], horizontal=True, key="features_regime_kind")
        names = {"vol_regime": {0: "calm", 1: "normal", 2: "stressed"},
                 "trend_regime": {-1: "downtrend", 0: "no trend", 1: "uptrend"}}[by]
        recent = matrix.tail(window)
        st.plotly_chart(regime_distribution(recent[value], recent[by], kind=kind, regime_names=names), theme=None)

with tabs[5]:
    left, middle, right = st.columns(3)
    method = left.selectbox("Method", ["mutual_info", "lightgbm", "permutation"], key="features_rank_method",
                            help="Fitted on the first 70% of the window; permutation scores the held-out rest.")
    label_kind = middle.selectbox("Label", list(_LABELS), format_func=_LABELS.get, key="features_rank_label")
    horizon = int(right.number_input("Label horizon (bars)", 1, 100, 5, key="features_rank_horizon",
                                     help="How many bars ahead the label looks."))
    if st.button("Rank features", key="features_rank_go"):
        st.session_state["features_rank_on"] = True
    if st.session_state.get("features_rank_on"):
        try:
            result = ranking(key, groups, window, method, label_kind, horizon, ohlcv, matrix)
            title = f"{method} vs {_LABELS[label_kind]}, {horizon} bars"
            st.plotly_chart(importance_figure(result, title=title), theme=None)
            st.dataframe(result, hide_index=True, width="stretch", height=300)
        except PinelabError as exc:
            show_error(exc)

with tabs[6]:
    cuts = int(st.number_input("Random cut points", 2, 50, 8, key="features_audit_cuts"))
    st.caption("Recomputes every feature on truncated copies of the window and checks that no value changes "
               "when later bars are removed.")
    if st.button("Run the audit", key="features_audit_go"):
        st.session_state["features_audit_on"] = True
    if st.session_state.get("features_audit_on"):
        try:
            report = audit(key, groups, window, cuts, ohlcv)
        except PinelabError as exc:
            show_error(exc)
        else:
            failed = int((~report["passed"]).sum())
            (st.error if failed else st.success)(f"{len(report) - failed} of {len(report)} features passed.")
            st.plotly_chart(audit_figure(report, catalog), theme=None)
            st.dataframe(report, hide_index=True, width="stretch", height=300)

with tabs[7]:
    stem = f"features_{selection.symbol}_{selection.timeframe.value}".replace("/", "-")
    st.download_button("Download CSV", data=lambda: matrix.to_csv(index_label="time"), file_name=f"{stem}.csv",
                       mime="text/csv", on_click="ignore", key="features_csv")
    st.download_button("Download Parquet", data=lambda: matrix.to_parquet(), file_name=f"{stem}.parquet",
                       mime="application/octet-stream", on_click="ignore", key="features_parquet")
    st.download_button("Download the catalog (CSV)", data=catalog.to_csv(index=False), file_name="feature_catalog.csv",
                       mime="text/csv", on_click="ignore", key="features_catalog_csv")
