"""Probability calibration and the scores that check it: so "70% confident" means right ~70% of the time.

PineLab calibrates in log-probability space: a calibrated distribution is
`softmax(log_scores / temperature + class_bias)`. That keeps the map monotone per class and, more
importantly, *linear* in the log scores, so SHAP contributions computed on a model's centred
log-probabilities stay exactly additive after calibration (see `pinelab_core.explain`).
The parameters are always fit on out-of-fold walk-forward predictions, never on in-sample ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from pinelab_core.errors import DataValidationError

__all__ = [
    "PROBABILITY_FLOOR",
    "Calibration",
    "brier_score",
    "centred_log_probs",
    "expected_calibration_error",
    "fit_calibration",
    "log_loss",
    "reliability_table",
]

#: Probabilities are floored here before taking logs: a model that says 0.0 must not produce -inf.
PROBABILITY_FLOOR = 1e-6


def centred_log_probs(probs: np.ndarray) -> np.ndarray:
    """Log-probabilities minus their mean over classes (the additive "score" space of PineLab's SHAP).

    For a softmax model with logits z this equals z - mean(z); for a pool of models it is the weighted
    sum of the members' centred log-probabilities. Shape is kept; the last axis holds the classes.
    """
    logs = np.log(np.clip(probs, PROBABILITY_FLOOR, 1.0))
    return logs - logs.mean(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Calibration:
    """`softmax(score / temperature + class_bias)`; the identity is temperature 1, zero bias."""

    temperature: float = 1.0
    class_bias: tuple[float, ...] = (0.0, 0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        return self.temperature == 1.0 and not any(self.class_bias)

    def centred_bias(self) -> np.ndarray:
        """The class bias minus its mean: the part that survives in centred log-probability space."""
        bias = np.asarray(self.class_bias, dtype=float)
        return bias - bias.mean()

    def apply(self, log_scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from log scores (log-probabilities or centred ones), last axis = classes."""
        return softmax(np.asarray(log_scores, dtype=float) / self.temperature + self.centred_bias(), axis=-1)

    def to_dict(self) -> dict[str, object]:
        return {"temperature": self.temperature, "class_bias": list(self.class_bias)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        bias = data.get("class_bias", (0.0, 0.0, 0.0))
        return cls(temperature=float(data.get("temperature", 1.0)), class_bias=tuple(float(b) for b in bias))


def fit_calibration(probs: np.ndarray, y_true: np.ndarray) -> Calibration:
    """Fit temperature and class bias on out-of-fold probabilities by minimising multi-class log loss.

    Args:
        probs: (n, n_classes) out-of-fold probabilities of one model (rows with NaN are skipped).
        y_true: (n,) integer classes realised for those rows.

    Returns:
        The fitted `Calibration`; the identity when fewer than 30 usable rows exist.
    """
    probs, y_true = _usable_rows(probs, y_true)
    n_classes = probs.shape[1]
    if len(y_true) < 30:
        return Calibration(class_bias=(0.0,) * n_classes)
    scores = centred_log_probs(probs)

    def loss(params: np.ndarray) -> float:
        inv_temperature, bias = params[0], np.concatenate([[0.0], params[1:]])
        logp = log_softmax(scores * inv_temperature + bias, axis=1)
        return float(-logp[np.arange(len(y_true)), y_true].mean())

    start = np.concatenate([[1.0], np.zeros(n_classes - 1)])
    bounds = [(1e-3, 100.0)] + [(-10.0, 10.0)] * (n_classes - 1)
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    bias = np.concatenate([[0.0], result.x[1:]])
    return Calibration(temperature=float(1.0 / result.x[0]), class_bias=tuple(float(b) for b in bias - bias.mean()))


def log_loss(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Mean multi-class log loss (natural log) of the rows without NaN."""
    probs, y_true = _usable_rows(probs, y_true)
    if len(y_true) == 0:
        return float("nan")
    picked = np.clip(probs[np.arange(len(y_true)), y_true], PROBABILITY_FLOOR, 1.0)
    return float(-np.log(picked).mean())


def brier_score(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Multi-class Brier score: mean over rows of the squared distance to the one-hot outcome (0 is perfect)."""
    probs, y_true = _usable_rows(probs, y_true)
    if len(y_true) == 0:
        return float("nan")
    onehot = np.eye(probs.shape[1])[y_true]
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def reliability_table(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Confidence (top-class probability) against hit rate, in equal-width bins.

    Returns:
        One row per non-empty bin: `bin_low`, `bin_high`, `mean_confidence`, `hit_rate`, `count`.
    """
    probs, y_true = _usable_rows(probs, y_true)
    confidence = probs.max(axis=1)
    hits = (probs.argmax(axis=1) == y_true).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for b in np.unique(which):
        mask = which == b
        rows.append({"bin_low": edges[b], "bin_high": edges[b + 1], "mean_confidence": float(confidence[mask].mean()),
                     "hit_rate": float(hits[mask].mean()), "count": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "mean_confidence", "hit_rate", "count"])


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> float:
    """Count-weighted mean |confidence - hit rate| over the reliability bins (0 is perfectly calibrated)."""
    table = reliability_table(probs, y_true, n_bins)
    if table.empty:
        return float("nan")
    gap = (table["mean_confidence"] - table["hit_rate"]).abs()
    return float((gap * table["count"]).sum() / table["count"].sum())


def _usable_rows(probs: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float)
    y_true = np.asarray(y_true)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise DataValidationError(
            f"Probabilities of shape {probs.shape} do not match {len(y_true)} outcomes; pass (n, n_classes) and (n,)."
        )
    keep = np.isfinite(probs).all(axis=1) & pd.notna(y_true)
    return probs[keep], y_true[keep].astype(int)
