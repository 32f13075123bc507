"""Feature selection: rank features against a label, drop near-duplicates, order a correlation matrix.

Leakage guard: every ranking is fitted on the head of the sample only (rows before `train_end`);
model-based importance is measured on the held-out tail after a `gap` of bars, which must be at least
the label's horizon so no label window straddles the two. Nothing is fitted on the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError

__all__ = ["clustered_correlation", "drop_correlated", "forward_direction_label", "rank_features"]

RankMethod = Literal["mutual_info", "lightgbm", "permutation"]
_METHODS = ("mutual_info", "lightgbm", "permutation")
_MIN_TRAIN_ROWS = 50


@dataclass(frozen=True)
class _Split:
    """Head (fit) and tail (evaluate) rows of the aligned sample, by position."""

    X_head: pd.DataFrame
    y_head: np.ndarray
    X_tail: pd.DataFrame
    y_tail: np.ndarray
    is_classification: bool


def forward_direction_label(close: pd.Series, horizon: int = 5, threshold: float = 0.0) -> pd.Series:
    """Direction of the next `horizon` bars: +1 up, -1 down, 0 within +/- `threshold` (a return fraction).

    This is a *label* (it looks forward by definition), never a feature. The last `horizon` rows are NaN.
    """
    if horizon < 1:
        raise DataValidationError(f"The label horizon must be at least 1 bar, got {horizon}.")
    forward = close.shift(-horizon) / close - 1.0
    label = np.sign(forward).where(forward.abs() > threshold, 0.0)
    return label.where(forward.notna()).rename(f"direction_{horizon}")


def rank_features(
    features: pd.DataFrame,
    label: pd.Series,
    method: RankMethod = "mutual_info",
    *,
    train_end: int | pd.Timestamp | None = None,
    train_fraction: float = 0.7,
    gap: int = 0,
    seed: int = 0,
    n_repeats: int = 3,
) -> pd.DataFrame:
    """Rank features by how much they tell about `label`, fitted on the head of the sample only.

    Args:
        features: Feature matrix (rows = consecutive bars), e.g. from `build_features`.
        label: Target on the same index (direction classes or a forward return); NaN rows are skipped.
        method: "mutual_info" (sklearn, on the head), "lightgbm" (gain of a model fit on the head) or
            "permutation" (score drop on the held-out tail of a LightGBM model fit on the head). The
            first two are in-sample and flatter slow features on overlapping labels; permutation is
            the out-of-sample verdict.
        train_end: Last bar (timestamp) or row count of the head; default `train_fraction` of the rows.
        train_fraction: Share of rows in the head when `train_end` is not given.
        gap: Bars skipped between head and tail (purge); use at least the label horizon.
        seed: Random seed (mutual information's noise, LightGBM, permutations).
        n_repeats: Permutation repeats.

    Returns:
        Columns feature, score, rank (1 = most informative), sorted by rank. Features that are
        constant or empty on the head score 0.
    """
    if method not in _METHODS:
        raise DataValidationError(f"Unknown ranking method {method!r}. Use one of: {', '.join(_METHODS)}.")
    split = _split(features, label, train_end, train_fraction, gap, need_tail=method == "permutation")
    usable = [c for c in split.X_head.columns if split.X_head[c].notna().any() and split.X_head[c].nunique() > 1]
    if not usable:
        raise DataValidationError("Every feature is empty or constant in the training window; use more data.")
    if method == "mutual_info":
        scores = _mutual_information(split, usable, seed)
    else:
        scores = _model_importance(split, usable, seed, n_repeats, permutation=method == "permutation")
    ranking = pd.Series(0.0, index=features.columns)
    ranking[usable] = scores
    ranking = ranking.sort_values(ascending=False, kind="stable")
    return pd.DataFrame({"feature": ranking.index, "score": ranking.to_numpy(), "rank": np.arange(1, len(ranking) + 1)})


def _split(
    features: pd.DataFrame,
    label: pd.Series,
    train_end: int | pd.Timestamp | None,
    train_fraction: float,
    gap: int,
    *,
    need_tail: bool,
) -> _Split:
    aligned = label.reindex(features.index)
    keep = aligned.notna().to_numpy()
    X, y = features.loc[keep], aligned.to_numpy()[keep]
    if isinstance(train_end, pd.Timestamp):
        head_rows = int(np.searchsorted(X.index, train_end, side="right"))
    elif train_end is not None:
        head_rows = int(train_end)
    else:
        if not 0.0 < train_fraction < 1.0:
            raise DataValidationError(f"train_fraction must be between 0 and 1, got {train_fraction}.")
        head_rows = int(len(X) * train_fraction)
    if gap < 0:
        raise DataValidationError(f"gap must be >= 0 bars, got {gap}.")
    if head_rows < _MIN_TRAIN_ROWS:
        raise DataValidationError(
            f"Only {head_rows} labelled rows in the training window; ranking needs at least {_MIN_TRAIN_ROWS}. "
            "Load more history or move train_end later."
        )
    tail_start = head_rows + gap
    if need_tail and len(X) - tail_start < 20:
        raise DataValidationError("The held-out tail has fewer than 20 rows; lower train_fraction or the gap.")
    values = np.unique(y[:head_rows])
    is_classification = len(values) <= 10 and np.allclose(values, np.round(values))
    return _Split(X.iloc[:head_rows], y[:head_rows], X.iloc[tail_start:], y[tail_start:], is_classification)


def _mutual_information(split: _Split, usable: list[str], seed: int) -> np.ndarray:
    """Mutual information of each feature with the label, on the head rows where that feature is known.

    Per feature rather than on rows where *every* feature is known: event features (nearest resistance
    is unknown at a new high) would otherwise throw away a biased share of the sample. Features with a
    handful of integer values (candlestick patterns, regimes) are scored as discrete.
    """
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    scores = np.zeros(len(usable))
    for position, name in enumerate(usable):
        values = split.X_head[name].to_numpy(dtype=np.float64)
        known = np.isfinite(values)
        if known.sum() < _MIN_TRAIN_ROWS:
            continue
        column, target = values[known].reshape(-1, 1), split.y_head[known]
        levels = np.unique(column)
        discrete = len(levels) <= 5 and bool(np.all(levels == np.round(levels)))
        if split.is_classification:
            scores[position] = mutual_info_classif(column, target.astype(int), discrete_features=discrete,
                                                   random_state=seed)[0]
        else:
            scores[position] = mutual_info_regression(column, target, discrete_features=discrete,
                                                      random_state=seed)[0]
    return scores


def _model_importance(split: _Split, usable: list[str], seed: int, n_repeats: int, *, permutation: bool) -> np.ndarray:
    import lightgbm as lgb

    params: dict[str, Any] = {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 15, "min_child_samples": 20,
              "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": seed,
              "n_jobs": 1, "verbose": -1}
    model = lgb.LGBMClassifier(**params) if split.is_classification else lgb.LGBMRegressor(**params)
    y_head = split.y_head.astype(int) if split.is_classification else split.y_head
    model.fit(split.X_head[usable], y_head)  # LightGBM handles warm-up NaNs itself
    if not permutation:
        gain = model.booster_.feature_importance(importance_type="gain")
        total = gain.sum()
        return gain / total if total > 0 else gain
    from sklearn.inspection import permutation_importance

    y_tail = split.y_tail.astype(int) if split.is_classification else split.y_tail
    result = permutation_importance(model, split.X_tail[usable], y_tail, n_repeats=n_repeats, random_state=seed)
    return result.importances_mean


def _correlation(features: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation on rows where every column is known (past all warm-ups); constant columns dropped."""
    known = features.loc[:, features.notna().any()]
    complete = known.dropna()
    complete = complete.loc[:, complete.std(ddof=0) > 0]  # constant columns have no correlation
    if len(complete) < 30:
        raise DataValidationError(
            f"Only {len(complete)} rows have every selected feature; correlations need at least 30. "
            "Load more history or pick fewer groups."
        )
    matrix = np.corrcoef(complete.to_numpy(dtype=np.float64), rowvar=False)
    return pd.DataFrame(matrix, index=complete.columns, columns=complete.columns)


def drop_correlated(
    features: pd.DataFrame, threshold: float = 0.95, *, prefer: Sequence[str] | None = None
) -> pd.DataFrame:
    """Drop near-duplicate features: of any pair with |correlation| > `threshold`, keep the preferred one.

    Args:
        features: Feature matrix. Pass the training window only (the correlations are fitted on it).
        threshold: Absolute Pearson correlation above which two features count as duplicates.
        prefer: Feature order of preference (e.g. a ranking's `feature` column); default column order.

    Returns:
        `features` without the dropped columns (constant or empty columns are dropped too).
    """
    if not 0.0 < threshold <= 1.0:
        raise DataValidationError(f"threshold must be in (0, 1], got {threshold}.")
    corr = _correlation(features).abs()
    preferred = [c for c in (list(prefer) if prefer is not None else []) if c in corr.index]
    order = list(dict.fromkeys(preferred)) + [c for c in corr.index if c not in set(preferred)]
    kept: list[str] = []
    values = corr.loc[order, order].to_numpy()
    keep_mask = np.zeros(len(order), dtype=bool)
    for i in range(len(order)):  # greedy over features (not rows): a few hundred steps at most
        if not (values[i, keep_mask] > threshold).any():
            keep_mask[i] = True
            kept.append(order[i])
    return features[[c for c in features.columns if c in set(kept)]]


def clustered_correlation(features: pd.DataFrame) -> pd.DataFrame:
    """Correlation matrix reordered by hierarchical clustering, so related features sit in blocks.

    Distance is 1 - |correlation|, average linkage with optimal leaf ordering (scipy).
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    corr = _correlation(features)
    if len(corr) < 3:
        return corr
    distance = np.clip(1.0 - np.abs(corr.to_numpy()), 0.0, None)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform((distance + distance.T) / 2.0, checks=False)
    tree = optimal_leaf_ordering(linkage(condensed, method="average"), condensed)
    order = corr.index[leaves_list(tree)]
    return corr.loc[order, order]
