"""The health of an active ensemble on one market: feature drift against its training data, live scores, alerts.

`drift_report` puts together what the Predictions page shows under "Drift": PSI per feature of the
recent bars against the bars the models were trained on (up to the last out-of-fold bar), live hit rate
and Brier per model from the tracked predictions, and the alerts both raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.models.active import ActiveEnsemble, member_inputs
from pinelab_core.models.drift import DriftAlert, accuracy_alerts, feature_alerts, feature_drift
from pinelab_core.models.tracking import performance, prediction_history

__all__ = ["DriftReport", "drift_report"]

RECENT_BARS = 100


@dataclass
class DriftReport:
    """Feature drift, live performance and alerts of one market's active ensemble."""

    features: pd.DataFrame  # feature, psi, status
    performance: pd.DataFrame  # model, n, hit_rate, brier, mean_confidence, rolling_hit_rate
    alerts: list[DriftAlert] = field(default_factory=list)
    reference_bars: int = 0
    current_bars: int = 0


def drift_report(settings: Settings, active: ActiveEnsemble, ohlcv: pd.DataFrame,
                 recent_bars: int = RECENT_BARS) -> DriftReport:
    """Compare the last `recent_bars` bars with the training window and score the tracked predictions.

    Args:
        settings: where the tracked predictions are.
        active: the market's active ensemble (`load_active`).
        ohlcv: the market's bars, long enough to cover part of the training window.
        recent_bars: bars in the "current" sample.
    """
    inputs = member_inputs(active, ohlcv)
    frame = next((inputs[m.key] for m in active.members if not m.reads_candles), next(iter(inputs.values())))
    current = frame.iloc[-recent_bars:]
    reference = frame.iloc[:-recent_bars]
    if active.trained_through is not None:
        reference = reference[reference.index <= active.trained_through]
    drift = feature_drift(reference, current) if len(reference) >= 2 * recent_bars // 5 else \
        pd.DataFrame(columns=["feature", "psi", "status"])
    live = performance(prediction_history(settings, active.symbol, active.timeframe))
    alerts = accuracy_alerts(live, active.oof_hit_rates) + feature_alerts(drift)
    return DriftReport(drift, live, alerts, len(reference), len(current))
