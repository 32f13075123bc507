"""Checks where data enters a model: training inputs and the feature schema at prediction and load time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError, ModelSchemaError

__all__ = [
    "balanced_class_weights", "check_features", "check_training_data", "feature_schema_difference", "to_matrix",
]

_SHOWN = 8  # names listed per category in a message; the rest are counted


def check_training_data(X: pd.DataFrame, y: np.ndarray, n_classes: int, *, what: str = "training") -> np.ndarray:
    """Validate a feature frame and its labels; return the labels as int64.

    Raises:
        DataValidationError: X is empty or not numeric, lengths differ, or labels are not classes 0..n-1.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataValidationError(f"The {what} features must be a pandas DataFrame, got {type(X).__name__}.")
    if X.empty or X.shape[1] == 0:
        raise DataValidationError(f"The {what} feature frame is empty. Pass at least one row and one column.")
    non_numeric = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise DataValidationError(f"The {what} features must be numeric; these are not: {_names(non_numeric)}.")
    if X.columns.duplicated().any():
        duplicated = [str(c) for c in X.columns[X.columns.duplicated()]]
        raise DataValidationError(f"The {what} features repeat column names: {_names(duplicated)}. Rename them.")
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(X):
        raise DataValidationError(f"{len(X)} {what} rows but {labels.size} labels. Pass one label per row.")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise DataValidationError(f"The {what} labels contain NaN or fractions. Drop unlabelled rows first.")
    elif labels.dtype.kind not in "iub":
        raise DataValidationError(f"The {what} labels must be integer classes, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DataValidationError(
            f"The {what} labels must be classes 0..{n_classes - 1}, found {labels.min()}..{labels.max()}."
        )
    return labels


def feature_schema_difference(expected: Sequence[str], given: Sequence[str]) -> str | None:
    """Say how `given` differs from the `expected` feature names (and order); None when they match."""
    expected, given = [str(c) for c in expected], [str(c) for c in given]
    if expected == given:
        return None
    missing = [c for c in expected if c not in set(given)]
    extra = [c for c in given if c not in set(expected)]
    parts = []
    if missing:
        parts.append(f"missing {len(missing)}: {_names(missing)}")
    if extra:
        parts.append(f"extra {len(extra)}: {_names(extra)}")
    if not missing and not extra:
        if len(set(given)) != len(given):
            parts.append("some columns are repeated")
        else:
            moved = [c for i, c in enumerate(given) if expected[i] != c]
            parts.append(f"same columns in another order ({len(moved)} moved, first: {_names(moved)})")
    return "; ".join(parts)


def check_features(expected: Sequence[str], X: pd.DataFrame, *, model: str = "the model") -> None:
    """Raise ModelSchemaError unless X's columns are exactly the model's features, in the same order."""
    difference = feature_schema_difference(expected, list(X.columns))
    if difference is not None:
        raise ModelSchemaError(
            f"The features given to {model} do not match the ones it was trained on: {difference}. "
            "Build the same feature set (same groups and order) or retrain the model."
        )


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Weight per class, n / (k * count), scikit-learn's "balanced"; classes absent from `y` get weight 1.

    Every learner weighs its training rows (and its validation loss) with these, so a rare UP class counts
    as much as a common SIDEWAYS one and the reported losses are comparable across model kinds.
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(y, dtype=np.int64)
    present = np.unique(labels)
    weights = np.ones(n_classes, dtype=np.float64)
    if len(present):
        weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return weights


def to_matrix(X: pd.DataFrame, dtype: type = np.float32) -> np.ndarray:
    """The frame as a C-ordered float matrix; infinities become NaN (every model treats NaN as missing)."""
    matrix = np.ascontiguousarray(X.to_numpy(dtype=dtype, na_value=np.nan))
    infinite = np.isinf(matrix)
    if infinite.any():
        matrix = matrix.copy()  # to_numpy may hand back a read-only view of the frame's data
        matrix[infinite] = np.nan
    return matrix


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f", ... (+{len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")
