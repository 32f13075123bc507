"""SHAP for tabular models: exact native tree contributions, or SHAP's permutation explainer.

LightGBM (`pred_contrib=True`) and XGBoost (`pred_contribs=True`) return exact TreeSHAP values of each
class's raw margin. With softmax, the centred log-probability of class c is z_c - mean_k z_k, so the
contributions of that score are the class's contributions minus the mean over classes: exact, and
computed in C++ in about a millisecond per bar. Other tabular models (a random forest averages leaf
probabilities, which are not additive in log space) go through `shap.PermutationExplainer` on their
centred log-probabilities; it satisfies additivity by construction (every permutation telescopes from
the background's output to the bar's output).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.explain.attribution import Attribution, select_class
from pinelab_core.models.base import Model
from pinelab_core.models.calibration import centred_log_probs
from pinelab_core.models.schema import to_matrix

__all__ = ["explain_tabular", "native_tree_contributions"]

#: Native contributions must reproduce the model's own probabilities this closely, else we fall back.
_CONSISTENCY_TOLERANCE = 1e-4
_BOOSTER_ATTRIBUTES = ("booster_", "booster", "model_", "_model", "estimator_", "_booster", "clf_")


def explain_tabular(model: Model, X: pd.DataFrame, target: np.ndarray, background: pd.DataFrame,
                    *, seed: int = 0) -> Attribution:
    """SHAP values of a tabular model's centred log-probability of class `target[i]` at each row of `X`.

    Args:
        model: a fitted tabular `Model`.
        X: the bars to explain, columns = the model's features in order.
        target: (len(X),) class index to explain per bar.
        background: feature rows standing for "typical" data (only the permutation explainer uses it).
        seed: seed of the permutation explainer's sampling.
    """
    native = native_tree_contributions(model, X)
    if native is not None:
        base_all, values_all, method = *native, "tree-native"
    else:
        base_all, values_all = _permutation_contributions(model, X, background, seed)
        method = "permutation"
    target = np.asarray(target, dtype=int)
    base = select_class(base_all, target)
    values = select_class(values_all, target)
    output = select_class(centred_log_probs(model.predict_proba(X)), target)
    return Attribution(tuple(str(c) for c in X.columns), pd.DatetimeIndex(X.index), target, base, values, output,
                       to_matrix(X, np.float64), method)


def native_tree_contributions(model: Model, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """(base (n, K), contributions (n, F, K)) of each class's centred score, or None if not a GBDT booster.

    None also when the contributions do not reproduce the model's own `predict_proba` (for example a
    wrapper that post-processes probabilities), so a caller never explains something else than the model.
    """
    raw = _raw_margin_contributions(_find_booster(model), to_matrix(X))
    if raw is None:
        return None
    raw = raw - raw.mean(axis=1, keepdims=True)  # centre over classes: (n, K, F + 1)
    base, values = raw[:, :, -1], np.transpose(raw[:, :, :-1], (0, 2, 1))
    expected = centred_log_probs(model.predict_proba(X))
    reproduced = base + values.sum(axis=1)
    if not np.allclose(reproduced, expected, atol=_CONSISTENCY_TOLERANCE, rtol=0):
        return None
    return base, values


def _find_booster(model: Model) -> Any:
    import lightgbm
    import xgboost

    explainer_model = getattr(model, "explainer_model", None)
    candidates = [explainer_model() if callable(explainer_model) else None, model]
    candidates += [getattr(model, name, None) for name in _BOOSTER_ATTRIBUTES]
    for candidate in candidates:
        if isinstance(candidate, lightgbm.LGBMModel) and getattr(candidate, "fitted_", True):
            return candidate.booster_
        if isinstance(candidate, xgboost.XGBModel):
            return candidate.get_booster()
        if isinstance(candidate, lightgbm.Booster | xgboost.Booster):
            return candidate
    return None


def _raw_margin_contributions(booster: Any, matrix: np.ndarray) -> np.ndarray | None:
    """Per-class margin contributions (n, K, F + 1), last column the expected margin; None if unknown."""
    import lightgbm
    import xgboost

    if isinstance(booster, lightgbm.Booster):
        flat = np.asarray(booster.predict(matrix, pred_contrib=True), dtype=np.float64)
        n_classes = booster.num_model_per_iteration()
        return flat.reshape(len(matrix), n_classes, -1)
    if isinstance(booster, xgboost.Booster):
        dmatrix = xgboost.DMatrix(matrix, feature_names=booster.feature_names, missing=np.nan)
        best = booster.attributes().get("best_iteration")
        iteration_range = (0, int(best) + 1) if best is not None else (0, 0)
        contribs = np.asarray(booster.predict(dmatrix, pred_contribs=True, iteration_range=iteration_range),
                              dtype=np.float64)
        return contribs if contribs.ndim == 3 else None
    return None


def _permutation_contributions(model: Model, X: pd.DataFrame, background: pd.DataFrame,
                               seed: int) -> tuple[np.ndarray, np.ndarray]:
    import shap

    columns = list(X.columns)

    def scores(matrix: np.ndarray) -> np.ndarray:
        return centred_log_probs(model.predict_proba(pd.DataFrame(matrix, columns=columns)))

    masker = shap.maskers.Independent(to_matrix(background[columns], np.float64), max_samples=50)
    explainer = shap.PermutationExplainer(scores, masker, seed=seed)
    explained = explainer(to_matrix(X, np.float64), max_evals=2 * len(columns) + 1, silent=True)
    return np.asarray(explained.base_values, dtype=np.float64), np.asarray(explained.values, dtype=np.float64)
