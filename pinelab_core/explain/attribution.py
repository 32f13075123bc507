"""The record every explainer returns: SHAP values of one model for one class per bar.

PineLab explains in *centred log-probability* space (`clr`): the score of class c is
log p_c - mean_k log p_k. For a softmax model this is the logit of c minus the mean logit, so gradient
boosting's native per-class contributions and a net's logits are explained exactly there, and the
ensemble (a log-linear pool, `pinelab_core.models.ensemble`) is a weighted sum of its members' scores.
Positive contributions push the bar towards the class, negative ones away from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinelab_core.models.base import DIRECTION_CLASSES

__all__ = ["OUTPUT_SPACE", "Attribution", "select_class"]

OUTPUT_SPACE = "centred log-probability"


@dataclass(frozen=True)
class Attribution:
    """SHAP values of one model on `len(index)` bars.

    `output[i] == base[i] + values[i].sum()` up to `gap[i]` (0 to float precision for trees and the
    permutation explainer; the integration error, checked against a tolerance, for integrated gradients).
    """

    feature_names: tuple[str, ...]
    index: pd.DatetimeIndex
    target: np.ndarray  # (n,) class explained per bar, index into DIRECTION_CLASSES
    base: np.ndarray  # (n,) expected score of that class over the background
    values: np.ndarray  # (n, n_features) contribution of each feature
    output: np.ndarray  # (n,) the model's score of that class at the bar
    feature_values: np.ndarray  # (n, n_features) the inputs at the bar
    method: str

    @property
    def gap(self) -> np.ndarray:
        """output - (base + sum of contributions): how far additivity is from exact."""
        return self.output - self.base - self.values.sum(axis=1)

    @property
    def target_names(self) -> list[str]:
        return [DIRECTION_CLASSES[int(t)] for t in self.target]

    def frame(self) -> pd.DataFrame:
        """The contributions as a frame: one row per bar, one column per feature."""
        return pd.DataFrame(self.values, index=self.index, columns=list(self.feature_names))

    def mean_abs(self) -> pd.Series:
        """Global importance: mean |SHAP| per feature, largest first."""
        return self.frame().abs().mean().sort_values(ascending=False)


def select_class(per_class: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pick class `target[i]` of row i from an array whose last axis is the class."""
    target = np.asarray(target, dtype=int)
    return np.take_along_axis(per_class, target.reshape((-1,) + (1,) * (per_class.ndim - 1)), axis=-1)[..., 0]
