"""The ensemble's SHAP values: the pool's weighted sum of its members' attributions, exactly additive.

The ensemble score of class c (`Ensemble.scores`) is sum_m (w_m / T) * clr_m,c + b_c. Each member's
attribution explains its clr_m,c as base_m + sum_j phi_m,j, so the ensemble's base value is
sum_m (w_m / T) * base_m + b_c and its contribution of feature j is sum_m (w_m / T) * phi_m,j (members
reading different inputs contribute to different feature names). `softmax` of the scores is the
calibrated ensemble probability, so the explained output is that probability's centred log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinelab_core.explain.attribution import OUTPUT_SPACE, Attribution
from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.models.ensemble import Ensemble

__all__ = ["Explanation", "MemberExplanation", "ensemble_attribution", "explanation_at"]


@dataclass
class MemberExplanation:
    """One member's explanation of the same class at the same bar, and its coefficient in the pool."""

    key: str
    method: str
    coefficient: float  # w_m / T used for this bar (0 when the member had no input window)
    base_value: float
    output: float
    contributions: dict[str, float]


@dataclass
class Explanation:
    """Why the ensemble chose `target_class` at `bar_time`: base_value + sum(contributions) == output."""

    symbol: str
    timeframe: str
    bar_time: pd.Timestamp
    target_class: str
    output_space: str
    base_value: float
    output: float
    probability: float  # calibrated ensemble probability of target_class (= softmax of the scores)
    contributions: dict[str, float]  # feature -> contribution, largest |value| first
    feature_values: dict[str, float]
    members: dict[str, MemberExplanation] = field(default_factory=dict)
    model_versions: list[str] = field(default_factory=list)
    additivity_gap: float = 0.0
    in_sample: bool = False  # the bar is not the newest, or the models learned from it (see `predict`)
    trained_through: pd.Timestamp | None = None  # the newest bar the models learned from


def ensemble_attribution(ensemble: Ensemble, attributions: Mapping[str, Attribution],
                         available: np.ndarray) -> Attribution:
    """Combine members' attributions (same bars, same target class per bar) into the ensemble's.

    Args:
        ensemble: the pool (its member order is the column order of `available`).
        attributions: member key -> its `Attribution`; a member absent here must be unavailable on every bar.
        available: (n_bars, n_members) bool, whether each member had an input window at each bar.
    """
    first = next(iter(attributions.values()))
    coefficients = ensemble.coefficients(available)
    names: list[str] = []
    for attribution in attributions.values():
        names += [n for n in attribution.feature_names if n not in names]
    position = {name: i for i, name in enumerate(names)}
    n = len(first.index)
    values, feature_values = np.zeros((n, len(names))), np.full((n, len(names)), np.nan)
    bias = ensemble.calibration.centred_bias()[first.target]
    base, output = bias.copy(), bias.copy()
    for m, key in enumerate(ensemble.members):
        member = attributions.get(key)
        if member is None:
            continue
        columns = [position[name] for name in member.feature_names]
        weight = coefficients[:, m]
        values[:, columns] += weight[:, None] * member.values
        feature_values[:, columns] = member.feature_values
        base += weight * member.base
        output += weight * member.output
    return Attribution(tuple(names), first.index, first.target, base, values, output, feature_values, "ensemble")


def explanation_at(i: int, combined: Attribution, attributions: Mapping[str, Attribution], ensemble: Ensemble,
                   available: np.ndarray, *, symbol: str, timeframe: str, probability: float) -> Explanation:
    """The `Explanation` of bar `i` of an ensemble attribution and the members' attributions behind it."""
    coefficients = ensemble.coefficients(available)
    members = {}
    for m, key in enumerate(ensemble.members):
        attribution = attributions.get(key)
        if attribution is None:
            continue
        members[key] = MemberExplanation(key, attribution.method, float(coefficients[i, m]),
                                         float(attribution.base[i]), float(attribution.output[i]),
                                         _ranked(attribution.feature_names, attribution.values[i]))
    return Explanation(
        symbol=symbol, timeframe=timeframe, bar_time=combined.index[i],
        target_class=DIRECTION_CLASSES[int(combined.target[i])], output_space=OUTPUT_SPACE,
        base_value=float(combined.base[i]), output=float(combined.output[i]), probability=probability,
        contributions=_ranked(combined.feature_names, combined.values[i]),
        feature_values={name: float(v) for name, v in zip(combined.feature_names, combined.feature_values[i],
                                                           strict=True)},
        members=members, model_versions=list(ensemble.members), additivity_gap=float(combined.gap[i]),
    )


def _ranked(names: tuple[str, ...], values: np.ndarray) -> dict[str, float]:
    order = np.argsort(-np.abs(values), kind="stable")
    return {names[j]: float(values[j]) for j in order}
