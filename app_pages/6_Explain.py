"""Explain: why the ensemble (and each model in it) made its call at any bar, in additive SHAP values;
the LSTM members' attention over their window; plus the global picture over recent bars: mean |SHAP| ranking,
beeswarm and dependence plots."""

import streamlit as st

from pinelab_core.errors import ModelNotFoundError, PinelabError
from pinelab_core.explain import explain, explain_attention, explain_history
from pinelab_core.ui import app_settings, current_selection, selected_ohlcv, show_error
from pinelab_core.viz.explain import beeswarm, dependence_plot, importance_bar, waterfall
from pinelab_core.viz.patterns import attention_bar
from pinelab_core.viz.predictions import in_sample_note

settings = app_settings()
selection = current_selection()
timeframe = selection.timeframe.value
st.title(f"Explain · {selection.symbol} · {timeframe}")
ohlcv = selected_ohlcv()

bars = list(ohlcv.index[-1000:])
left, right = st.columns([3, 1])
bar = left.select_slider("Bar to explain", options=bars, value=bars[-1], key="explain_bar",
                         format_func=lambda t: f"{t:%Y-%m-%d %H:%M}")
typed = right.text_input("…or any earlier bar", placeholder="e.g. 2021-03-05", key="explain_bar_typed")
bar = typed.strip() or bar
try:
    explanation = explain(selection.symbol, timeframe, selection.source, bar=bar, settings=settings, ohlcv=ohlcv,
                          latest=selection.end is None)
except ModelNotFoundError as exc:
    st.info(f"{exc} The Predictions page has a button that trains starter models in the background.")
    st.stop()
except PinelabError as exc:
    show_error(exc)
    st.stop()

if explanation.in_sample:
    st.warning(in_sample_note(explanation.bar_time, explanation.trained_through,
                              latest=selection.end is None and explanation.bar_time == ohlcv.index[-1]),
               icon=":material/history:")
st.markdown(
    f"**{explanation.target_class}** with calibrated probability **{explanation.probability:.1%}**. "
    f"Values are contributions to the {explanation.output_space} of that class: base "
    f"{explanation.base_value:+.4f} + contributions {sum(explanation.contributions.values()):+.4f} = "
    f"output {explanation.output:+.4f}."
)
tabs = st.tabs(["Ensemble", *explanation.members])
with tabs[0]:
    st.plotly_chart(waterfall(explanation.base_value, explanation.contributions, explanation.output,
                              feature_values=explanation.feature_values, title="Ensemble"), theme=None,
                    key="explain_waterfall_ensemble")
for tab, (key, member) in zip(tabs[1:], explanation.members.items(), strict=True):
    with tab:
        st.caption(f"{member.method}; coefficient in the pool {member.coefficient:.3f}")
        st.plotly_chart(waterfall(member.base_value, member.contributions, member.output,
                                  feature_values=explanation.feature_values, title=key), theme=None,
                        key=f"explain_waterfall_{key}")

try:
    attention = explain_attention(selection.symbol, timeframe, selection.source, bar=bar, settings=settings,
                                  ohlcv=ohlcv)
except PinelabError as exc:
    show_error(exc)
    attention = {}
if attention:
    st.header("LSTM attention")
    st.caption("How much the explained bar's LSTM output attends to each bar of its window (averaged over heads, "
               "sums to 1). Attention shows where the net looked, not why: the SHAP values above are the "
               "additive explanation.")
    for key, weights in attention.items():
        st.plotly_chart(attention_bar(weights, title=key), theme=None, key=f"explain_attention_{key}")

st.header("Global view")
left, right = st.columns(2)
n_bars = left.slider("Recent bars", 30, 300, 120, step=10, key="explain_history_bars")
target = right.selectbox("Class", ["chosen per bar", "UP", "DOWN", "SIDEWAYS"], key="explain_history_class")
try:
    with st.spinner("Explaining recent bars…"):
        combined, members = explain_history(selection.symbol, timeframe, selection.source, settings, ohlcv=ohlcv,
                                            bars=n_bars, target_class=None if target == "chosen per bar" else target)
except PinelabError as exc:
    show_error(exc)
    st.stop()
whose = st.radio("Model", ["ensemble", *members], horizontal=True, key="explain_history_model")
attribution = combined if whose == "ensemble" else members[whose]
left, right = st.columns(2)
left.plotly_chart(importance_bar(attribution), theme=None, key="explain_importance")
right.plotly_chart(beeswarm(attribution), theme=None, key="explain_beeswarm")
ranked = list(attribution.mean_abs().index)
feature = st.selectbox("Dependence plot for", ranked, key="explain_dependence_feature")
colour = st.selectbox("Colour by", ["none", *ranked[:20]], key="explain_dependence_colour")
st.plotly_chart(dependence_plot(attribution, feature, colour_by=None if colour == "none" else colour), theme=None,
                key="explain_dependence")
