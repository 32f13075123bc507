"""Drift: has the market moved away from what the models learned, and are they getting worse?

Feature drift is the population stability index (PSI) of each feature's recent values against its
values over the training window, on the training window's decile bins: below 0.1 stable, 0.1-0.25
moderate, above 0.25 significant. Accuracy decay compares a model's live (resolved) hit rate with its
out-of-fold walk-forward hit rate; a drop of more than `DEGRADATION_POINTS` points raises an alert.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEGRADATION_POINTS",
    "DriftAlert",
    "accuracy_alerts",
    "feature_alerts",
    "feature_drift",
    "population_stability_index",
]

DEGRADATION_POINTS = 10.0
_MIN_RESOLVED = 20  # fewer live outcomes than this say nothing about decay
_EPS = 1e-4  # floor of a bin's share, so an empty bin does not make PSI infinite


@dataclass(frozen=True)
class DriftAlert:
    """Something a trader should look at: a degrading model or a drifting feature set."""

    kind: str  # "accuracy" or "features"
    subject: str  # model key, "ensemble", or the feature names
    message: str
    severity: str  # "warning" or "critical"


def population_stability_index(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of `current` against `reference` on the reference's quantile bins (NaN values ignored).

    Returns:
        sum((cur% - ref%) * ln(cur% / ref%)); NaN when either side has no finite values.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1) / len(reference)
    cur_share = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1) / len(current)
    ref_share, cur_share = np.maximum(ref_share, _EPS), np.maximum(cur_share, _EPS)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """PSI per feature of `current` rows against `reference` rows (the training window).

    Returns:
        Columns `feature`, `psi`, `status` ("stable" / "moderate" / "significant"), largest PSI first.
    """
    rows = []
    for name in reference.columns.intersection(current.columns):
        psi = population_stability_index(reference[name].to_numpy(), current[name].to_numpy(), bins)
        status = "stable" if not psi > 0.1 else "moderate" if psi <= 0.25 else "significant"
        rows.append({"feature": str(name), "psi": psi, "status": status})
    frame = pd.DataFrame(rows, columns=["feature", "psi", "status"])
    return frame.sort_values("psi", ascending=False, na_position="last").reset_index(drop=True)


def accuracy_alerts(live: pd.DataFrame, oof_hit_rates: dict[str, float],
                    threshold_points: float = DEGRADATION_POINTS) -> list[DriftAlert]:
    """Alerts for models whose live hit rate fell more than `threshold_points` below the out-of-fold one.

    Args:
        live: `tracking.performance(...)` output (columns `model`, `n`, `rolling_hit_rate`).
        oof_hit_rates: model key (and "ensemble") -> out-of-fold hit rate.
    """
    alerts = []
    for row in live.itertuples(index=False):
        expected = oof_hit_rates.get(str(row.model))
        if expected is None or row.n < _MIN_RESOLVED:
            continue
        drop = 100.0 * (expected - float(row.rolling_hit_rate))
        if drop > threshold_points:
            severity = "critical" if drop > 2 * threshold_points else "warning"
            alerts.append(DriftAlert("accuracy", str(row.model), (
                f"{row.model}: live hit rate {100 * row.rolling_hit_rate:.0f}% is {drop:.0f} points below its "
                f"walk-forward {100 * expected:.0f}%. Retrain it or lower its weight."), severity))
    return alerts


def feature_alerts(drift: pd.DataFrame, share: float = 0.2) -> list[DriftAlert]:
    """One alert when more than `share` of the features drifted significantly."""
    if drift.empty:
        return []
    significant = drift[drift["status"] == "significant"]
    if len(significant) <= share * len(drift):
        return []
    names = ", ".join(significant["feature"].head(5))
    return [DriftAlert("features", names, (
        f"{len(significant)} of {len(drift)} features drifted significantly from the training data "
        f"(PSI > 0.25, e.g. {names}). The market regime may have changed; consider retraining."), "warning")]
