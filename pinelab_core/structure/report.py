"""`market_structure`: everything the Market structure page shows about one market window, in one call.

The window is the latest `bars` bars; the walk-forward models also read the history just before it (each its
own `history`, from the feature catalog), so regimes, GARCH forecasts and anomaly scores are there from the
window's first bar and equal what the full history gives for those bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features.anomaly import ROBUST_WINDOW
from pinelab_core.features.builder import check_ohlcv
from pinelab_core.features.inputs import required_history
from pinelab_core.structure.anomalies import AnomalyAlert, anomaly_alerts, anomaly_scores
from pinelab_core.structure.regimes import (
    RegimeModel,
    RegimeState,
    regime_at,
    regime_history,
    regime_history_bars,
    regime_model,
)
from pinelab_core.structure.spectrum import (
    SparseFit,
    causal_denoise,
    dominant_cycles,
    periodogram,
    sparse_reconstruction,
    wavelet_levels,
)
from pinelab_core.structure.volatility import VolatilityForecast, volatility_forecasts

__all__ = ["MIN_BARS", "MarketStructure", "market_structure"]

#: The shortest window the page analyses: the periodogram and the 256-bar denoiser need that much.
MIN_BARS = 300


@dataclass(frozen=True)
class MarketStructure:
    """One market window's regimes, volatility, spectrum, wavelet levels and anomalies (see `market_structure`)."""

    ohlcv: pd.DataFrame
    regimes: pd.DataFrame
    current: RegimeState
    model: RegimeModel | None
    volatility: VolatilityForecast
    spectrum: pd.DataFrame
    cycles: pd.DataFrame
    wavelets: pd.DataFrame
    denoised: pd.Series
    sparse: SparseFit
    anomalies: pd.DataFrame
    alerts: list[AnomalyAlert]


def market_structure(ohlcv: pd.DataFrame, *, bars: int = 500, alert_threshold: float = 4.0) -> MarketStructure:
    """Analyse the latest `bars` bars of a market.

    Args:
        ohlcv: the market (the whole loaded history: the models warm up on the bars before the window).
        bars: the window shown, at least `MIN_BARS`.
        alert_threshold: robust z-score from which a bar is flagged.

    Raises:
        DataValidationError: fewer than `MIN_BARS` bars.
    """
    frame = check_ohlcv(ohlcv)
    if len(frame) < MIN_BARS or bars < MIN_BARS:
        raise DataValidationError(f"Market structure needs at least {MIN_BARS} bars; got {len(frame)} loaded and "
                                  f"a window of {bars}. Load a longer date range.")
    window = frame.iloc[-bars:]
    start = window.index[0]

    def warmed(history: int) -> pd.DataFrame:
        return frame.iloc[-(bars + history):]

    regimes = regime_history(warmed(regime_history_bars())).loc[start:]
    spectrum = periodogram(window)
    per_bar = (window.index[-1] - window.index[0]) / (len(window) - 1)  # gaps (nights, weekends) included
    return MarketStructure(
        ohlcv=window,
        regimes=regimes,
        current=regime_at(frame),
        model=regime_model(frame),
        volatility=volatility_forecasts(warmed(required_history("garch")), start=start),
        spectrum=spectrum,
        cycles=dominant_cycles(spectrum, bar_duration=per_bar),
        wavelets=wavelet_levels(warmed(256)).loc[start:],
        denoised=causal_denoise(warmed(256)).loc[start:],
        sparse=sparse_reconstruction(window),
        anomalies=anomaly_scores(warmed(required_history("anomaly"))).loc[start:],
        alerts=anomaly_alerts(warmed(ROBUST_WINDOW + 1), threshold=alert_threshold, limit=bars, max_bars=bars),
    )
