"""Market structure: causal HMM regimes, GARCH volatility forecasts, spectral views and anomalies.

Built on the opt-in feature groups `hmm`, `garch` and `anomaly` (this package imports `features`, never the
reverse); everything drawn or returned per bar uses bars <= that bar.

    regime_history(ohlcv) -> regime per bar (name, probability, p_<regime>, state, n_states, refit)
    regime_at(ohlcv, at=None) -> RegimeState: the regime at one bar from the trailing regime_history_bars() bars
    regime_model(ohlcv, at=None) -> RegimeModel: the fitted HMM behind a bar (states, transitions, BIC)
    REGIME_NAMES: calm bull, calm bear, volatile bull, volatile bear, crisis
    volatility_forecasts(ohlcv, start=None) -> VolatilityForecast (GARCH / GJR vs realised, QLIKE and MSE)
    periodogram(ohlcv), dominant_cycles(spectrum, n=5) -> power per frequency, the strongest cycles
    wavelet_levels(ohlcv) -> causal db4 levels d1..d5 and the smooth; causal_denoise(ohlcv) -> denoised close
    sparse_reconstruction(ohlcv, window=128, atoms=12, method="omp" | "lasso") -> SparseFit
    anomaly_scores(ohlcv) -> robust z of return/volume/range, isolation forest, sparse error per bar
    anomaly_alerts(ohlcv, threshold=4.0) -> [AnomalyAlert] ("Unusual volume at 14:00 on ...")
    with_regime(records, regimes), track_record_by_regime(records, regimes, by="source") -> split track records
    regime_weights(outcomes, regimes, learn, at=None), weights_in_regime(...) -> consensus weights per regime
    regime_track_record(ohlcv, records, by=None, engine=None, ...) -> RegimeTrackRecord (regime now, split record)
    market_regimes(ohlcv, since=None, engine=None, ...) -> regime_history of the recent bars, kept in the store
    store_regimes(engine, history, symbol=, timeframe=), load_regimes(engine, symbol=, timeframe=) -> market_regime
    market_structure(ohlcv, bars=500) -> MarketStructure: every view of the Market structure page
"""

from __future__ import annotations

from pinelab_core.structure.anomalies import AnomalyAlert, anomaly_alerts, anomaly_scores
from pinelab_core.structure.regimes import (
    REGIME_NAMES,
    UNKNOWN,
    RegimeModel,
    RegimeState,
    regime_at,
    regime_history,
    regime_history_bars,
    regime_model,
)
from pinelab_core.structure.report import MIN_BARS, MarketStructure, market_structure
from pinelab_core.structure.spectrum import (
    SparseFit,
    causal_denoise,
    dominant_cycles,
    periodogram,
    sparse_reconstruction,
    wavelet_levels,
)
from pinelab_core.structure.store import load_regimes, store_regimes
from pinelab_core.structure.tracks import (
    MAX_REGIME_BARS,
    RegimeTrackRecord,
    market_regimes,
    regime_track_record,
    regime_weights,
    track_record_by_regime,
    weights_in_regime,
    with_regime,
)
from pinelab_core.structure.volatility import VolatilityForecast, volatility_forecasts

__all__ = [
    "MAX_REGIME_BARS",
    "MIN_BARS",
    "REGIME_NAMES",
    "UNKNOWN",
    "AnomalyAlert",
    "MarketStructure",
    "RegimeModel",
    "RegimeState",
    "RegimeTrackRecord",
    "SparseFit",
    "VolatilityForecast",
    "anomaly_alerts",
    "anomaly_scores",
    "causal_denoise",
    "dominant_cycles",
    "load_regimes",
    "market_regimes",
    "market_structure",
    "periodogram",
    "regime_at",
    "regime_history",
    "regime_history_bars",
    "regime_model",
    "regime_track_record",
    "regime_weights",
    "sparse_reconstruction",
    "store_regimes",
    "track_record_by_regime",
    "volatility_forecasts",
    "wavelet_levels",
    "weights_in_regime",
    "with_regime",
]
