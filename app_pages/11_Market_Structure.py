"""Market structure: HMM regimes, GARCH volatility forecasts, the spectrum, wavelet levels and anomalies of the
sidebar's market, over its latest bars (the models warm up on the bars before them)."""

from dataclasses import asdict

import pandas as pd
import streamlit as st

from pinelab_core.errors import PinelabError
from pinelab_core.features import data_fingerprint
from pinelab_core.structure import MIN_BARS, MarketStructure, market_structure
from pinelab_core.ui import current_selection, selected_ohlcv, show_error
from pinelab_core.viz.structure import (
    anomaly_figure,
    regime_figure,
    sparse_figure,
    spectrum_figure,
    volatility_figure,
    wavelet_figure,
)

_CAUSAL = ("Every line drawn per bar uses bars up to that bar only: regimes are forward-filtered probabilities "
           "under HMMs refitted walk-forward, forecasts were made the bar before, wavelet levels are causal filters.")


@st.cache_data(show_spinner="Fitting regimes, volatility and anomaly models…", max_entries=4)
def analyse(key: str, bars: int, threshold: float, _ohlcv: pd.DataFrame) -> MarketStructure:
    return market_structure(_ohlcv, bars=bars, alert_threshold=threshold)


selection = current_selection()
st.title(f"Market structure · {selection.symbol} · {selection.timeframe.value}")
ohlcv = selected_ohlcv()
left, right = st.columns(2)
bars = int(left.number_input("Bars analysed (latest)", min_value=MIN_BARS, max_value=max(MIN_BARS, len(ohlcv)),
                             value=max(MIN_BARS, min(500, len(ohlcv))), step=250, key="structure_bars",
                             help="The window shown; the models also read the bars before it to warm up."))
threshold = float(right.number_input("Alert threshold (robust z)", 2.0, 20.0, 4.0, 0.5, key="structure_threshold",
                                     help="A bar is unusual when its return, volume or range is this many robust "
                                          "standard deviations from the previous 250 bars."))
try:
    view = analyse(data_fingerprint(ohlcv), bars, threshold, ohlcv)
except PinelabError as exc:
    show_error(exc)
    st.stop()

st.markdown(f"**Regime now:** {view.current.summary} · **Next-bar volatility (GARCH):** "
            f"{view.volatility.next_bar['garch']:.1%} annualised · **Unusual bars in the window:** {len(view.alerts)}")
st.caption(_CAUSAL)
tabs = st.tabs(["Regimes", "Volatility", "Spectrum", "Wavelets", "Anomalies"])

with tabs[0]:
    st.plotly_chart(regime_figure(view.ohlcv, view.regimes, title="HMM regimes (forward-filtered)"), theme=None)
    if view.model is None:
        st.info("No HMM serves the last bar yet: load a longer history.")
    else:
        st.caption(f"The fit serving the last bar saw {view.model.fit_start:%Y-%m-%d %H:%M} to "
                   f"{view.model.fit_end:%Y-%m-%d %H:%M} and serves from {view.model.refit_time:%Y-%m-%d %H:%M}; "
                   f"state count by BIC (lower wins): "
                   + ", ".join(f"{k} states {v:,.0f}" for k, v in sorted(view.model.bic.items())))
        st.dataframe(view.model.states, width="stretch", column_config={
            "mean_return": st.column_config.NumberColumn(format="%.4f"),
            "volatility": st.column_config.NumberColumn(format="%.4f"),
            "annualised_volatility": st.column_config.NumberColumn(format="percent"),
            "persistence": st.column_config.NumberColumn(format="%.3f"),
            "expected_bars": st.column_config.NumberColumn(format="%.1f")})
        st.dataframe(view.model.transitions.style.format("{:.3f}"), width="stretch")

with tabs[1]:
    st.plotly_chart(volatility_figure(view.volatility), theme=None)
    st.caption("QLIKE and MSE of each forecast's variance against the bar's squared return (lower is better); "
               "the naive forecast is the realised volatility of the 20 bars before.")
    st.dataframe(view.volatility.losses, hide_index=True, width="stretch")
    fits = {name: asdict(fit) for name, fit in view.volatility.fits.items() if fit is not None}
    if fits:
        st.dataframe(pd.DataFrame(fits).T, width="stretch")

with tabs[2]:
    st.plotly_chart(spectrum_figure(view.spectrum, view.cycles, title="Periodogram of the detrended log close"),
                    theme=None)
    st.caption("The periodogram and the sparse fit describe the whole window, not a bar.")
    st.dataframe(view.cycles, hide_index=True, width="stretch")
    st.plotly_chart(sparse_figure(view.sparse, view.anomalies["sparse_error"],
                                  title=f"Sparse reconstruction of the last {len(view.sparse.frame)} bars "
                                        f"(DCT + Haar atoms; error {view.sparse.error:.1%})"), theme=None)

with tabs[3]:
    st.plotly_chart(wavelet_figure(view.ohlcv, view.wavelets, view.denoised), theme=None)

with tabs[4]:
    st.plotly_chart(anomaly_figure(view.ohlcv, view.anomalies, view.alerts, threshold=threshold), theme=None)
    if view.alerts:
        st.dataframe(pd.DataFrame([{"time": a.time, "kind": a.kind, "robust z": a.score, "alert": a.message}
                                   for a in view.alerts]), hide_index=True, width="stretch")
    else:
        st.info(f"No bar in the window reached a robust z of {threshold:g}.")
