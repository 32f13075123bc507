"""`random_forest`: scikit-learn's RandomForestClassifier, stored without pickle.

scikit-learn has no safe native file format (its models are pickles, which run code when loaded). So the
fitted trees are exported as plain arrays (children, split feature, threshold, missing-value direction,
class fractions per node) into `forest.npz`, read back with `allow_pickle=False`, and predicted by
`TreeArrays.predict_proba`, a vectorised traversal that reproduces sklearn's `predict_proba` (same float32
input cast, same `<=` split rule, same NaN routing, trees summed in order then averaged).

SHAP: `explainer_model()` returns the forest in the dictionary format `shap.TreeExplainer` accepts
(one dict per tree, values scaled by 1 / n_trees, as shap does for sklearn forests), so a loaded forest is
explained exactly like a freshly fitted one. After `fit` the sklearn estimator is also kept as `estimator_`
(None after `load`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.base import FitSummary, Model, ProgressCallback, TrainingProgress
from pinelab_core.models.schema import balanced_class_weights, check_features, check_training_data, to_matrix

__all__ = ["RandomForestModel", "TreeArrays"]

_ARRAYS_FILE, _CONFIG_FILE = "forest.npz", "forest.json"
_CELLS_PER_CHUNK = 4_000_000  # trees x rows traversed at once: bounds memory to a few tens of MB


@dataclass(frozen=True)
class TreeArrays:
    """A fitted tree ensemble as arrays of shape (n_trees, max_nodes[, n_classes]); -1 pads short trees."""

    children_left: np.ndarray  # int32, -1 at leaves
    children_right: np.ndarray  # int32
    feature: np.ndarray  # int32, -2 at leaves (sklearn's TREE_UNDEFINED)
    threshold: np.ndarray  # float64: go left when x <= threshold
    missing_left: np.ndarray  # bool: where NaN goes
    node_weight: np.ndarray  # float64 weighted samples per node (for SHAP's path-dependent algorithm)
    class_fraction: np.ndarray  # float64 (n_trees, max_nodes, n_classes), each node's normalised class mix
    node_count: np.ndarray  # int32 (n_trees,)
    max_depth: int

    @classmethod
    def from_sklearn(cls, forest: Any, n_classes: int) -> TreeArrays:
        """Export a fitted RandomForestClassifier; its class columns land on positions `forest.classes_`."""
        trees = [estimator.tree_ for estimator in forest.estimators_]
        width = max(tree.node_count for tree in trees)
        classes = np.asarray(forest.classes_, dtype=np.int64)

        def padded(attribute: str, dtype: Any, fill: Any) -> np.ndarray:
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, tree in enumerate(trees):
                out[i, : tree.node_count] = getattr(tree, attribute)
            return out

        fractions = np.zeros((len(trees), width, n_classes))
        for i, tree in enumerate(trees):
            value = tree.value[:, 0, :]
            total = value.sum(axis=1, keepdims=True)
            # The same normalisation sklearn applies in predict_proba (zero rows stay zero).
            fractions[i, : tree.node_count][:, classes] = value / np.where(total == 0.0, 1.0, total)
        return cls(
            children_left=padded("children_left", np.int32, -1),
            children_right=padded("children_right", np.int32, -1),
            feature=padded("feature", np.int32, -2),
            threshold=padded("threshold", np.float64, -2.0),
            missing_left=padded("missing_go_to_left", np.bool_, False),
            node_weight=padded("weighted_n_node_samples", np.float64, 0.0),
            class_fraction=fractions,
            node_count=np.array([tree.node_count for tree in trees], dtype=np.int32),
            max_depth=max(tree.max_depth for tree in trees),
        )

    @property
    def n_trees(self) -> int:
        return len(self.node_count)

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Average of the trees' leaf class mixes for each row of `matrix` (n_rows, n_features)."""
        rows = np.asarray(matrix, dtype=np.float32)  # sklearn casts inputs to float32 before splitting
        out = np.empty((len(rows), self.class_fraction.shape[2]))
        step = max(1, _CELLS_PER_CHUNK // max(self.n_trees, 1))
        for start in range(0, len(rows), step):
            leaves = self.apply(rows[start:start + step])
            # Adding tree by tree (axis 0) keeps sklearn's accumulation order, then one division.
            out[start:start + step] = self.class_fraction[np.arange(self.n_trees)[:, None], leaves].sum(axis=0)
        return out / self.n_trees

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Leaf index reached in every tree by every row: (n_trees, n_rows)."""
        tree = np.arange(self.n_trees)[:, None]
        row = np.arange(len(rows))[None, :]
        node = np.zeros((self.n_trees, len(rows)), dtype=np.int64)
        for _ in range(self.max_depth):
            left = self.children_left[tree, node]
            inner = left >= 0
            if not inner.any():
                break
            value = rows[row, np.maximum(self.feature[tree, node], 0)]
            go_left = np.where(np.isnan(value), self.missing_left[tree, node], value <= self.threshold[tree, node])
            node = np.where(inner, np.where(go_left, left, self.children_right[tree, node]), node)
        return node

    def shap_trees(self) -> dict[str, Any]:
        """The ensemble in `shap.TreeExplainer`'s dictionary format (probability output, averaged trees)."""
        trees = []
        for i, count in enumerate(self.node_count):
            left, right = self.children_left[i, :count], self.children_right[i, :count]
            trees.append({
                "children_left": left, "children_right": right,
                "children_default": np.where(self.missing_left[i, :count], left, right),
                "features": self.feature[i, :count], "thresholds": self.threshold[i, :count],
                "values": self.class_fraction[i, :count] / self.n_trees,
                "node_sample_weight": self.node_weight[i, :count],
            })
        return {"trees": trees, "tree_output": "probability", "input_dtype": np.float32,
                "internal_dtype": np.float64, "base_offset": 0.0}

    def save(self, path: Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "max_depth"}
        np.savez_compressed(path, max_depth=np.array(self.max_depth), **arrays)

    @classmethod
    def load(cls, path: Path) -> TreeArrays:
        with np.load(path, allow_pickle=False) as data:
            values = {f.name: data[f.name] for f in fields(cls)}
        values["max_depth"] = int(values["max_depth"])
        return cls(**values)


class RandomForestModel(Model):
    """Balanced-class random forest (scikit-learn), seeded; saved as arrays, never pickled."""

    kind: ClassVar[str] = "random_forest"
    default_params: ClassVar[dict[str, Any]] = {
        "n_estimators": 300, "max_depth": 8, "min_samples_leaf": 20, "max_features": "sqrt", "n_jobs": None,
    }

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        super().__init__(seed=seed, device=device, **{**self.default_params, **params})
        self.trees_: TreeArrays | None = None
        self.estimator_: Any = None

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        validation: tuple[pd.DataFrame, np.ndarray] | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        """Grow the forest on X, y (no early stopping: `validation` only reports the balanced log loss)."""
        from sklearn.ensemble import RandomForestClassifier

        from pinelab_core.models.device import cpu_threads

        labels = check_training_data(X, y, self.n_classes_)
        self.feature_names_ = [str(c) for c in X.columns]
        params = {k: v for k, v in self.params.items() if k != "n_jobs"}
        forest = RandomForestClassifier(class_weight="balanced", random_state=self.seed,
                                        n_jobs=self.params.get("n_jobs") or cpu_threads(), **params)
        matrix = to_matrix(X)
        forest.fit(matrix, labels)
        self.estimator_, self.trees_ = forest, TreeArrays.from_sklearn(forest, self.n_classes_)
        class_weight = balanced_class_weights(labels, self.n_classes_)
        train_loss = _balanced_log_loss(self.trees_.predict_proba(matrix), labels, class_weight)
        val_loss = None
        if validation is not None:
            X_val, y_val = validation
            val_labels = check_training_data(X_val, y_val, self.n_classes_, what="validation")
            check_features(self.feature_names_, X_val, model="this random_forest model's validation")
            val_loss = _balanced_log_loss(self.trees_.predict_proba(to_matrix(X_val)), val_labels, class_weight)
        tick = TrainingProgress(1, 1, train_loss, val_loss, f"{forest.n_estimators} trees grown")
        if progress is not None:
            progress(tick)
        self.fitted_device_ = "cpu"
        return FitSummary(train_loss, val_loss, forest.n_estimators, "cpu", [tick])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.trees_ is None:
            raise ModelSchemaError("This random_forest model is not fitted yet. Call fit (or load a saved one) first.")
        check_features(self.feature_names_, X, model="this random_forest model")
        return self.trees_.predict_proba(to_matrix(X))

    def feature_importance(self) -> pd.Series | None:
        """Weighted impurity decrease per feature, summed over the trees and normalised to 1."""
        if self.trees_ is None:
            return None
        return _impurity_importance(self.trees_, len(self.feature_names_), self.feature_names_)

    def explainer_model(self) -> dict[str, Any]:
        """The trees in `shap.TreeExplainer`'s dictionary format (see the module docstring)."""
        if self.trees_ is None:
            raise ModelSchemaError("This random_forest model is not fitted yet.")
        return self.trees_.shap_trees()

    def save(self, directory: Path) -> list[Path]:
        if self.trees_ is None:
            raise ModelSchemaError("This random_forest model is not fitted yet; nothing to save.")
        directory.mkdir(parents=True, exist_ok=True)
        arrays, config = directory / _ARRAYS_FILE, directory / _CONFIG_FILE
        self.trees_.save(arrays)
        config.write_text(json.dumps({"kind": self.kind, "seed": self.seed, "params": self.params,
                                      "feature_names": self.feature_names_}, indent=2), encoding="utf-8")
        return [arrays, config]

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> RandomForestModel:
        config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("kind") != cls.kind:
            raise ModelSchemaError(f"{directory} holds a {config.get('kind')!r} model, not {cls.kind!r}.")
        model = cls(seed=int(config["seed"]), device=device, **config["params"])
        model.feature_names_ = list(config["feature_names"])
        model.trees_ = TreeArrays.load(directory / _ARRAYS_FILE)
        return model


def _balanced_log_loss(proba: np.ndarray, labels: np.ndarray, class_weight: np.ndarray) -> float:
    picked = np.clip(proba[np.arange(len(labels)), labels], 1e-15, 1.0)
    weights = class_weight[labels]
    return float(-(weights * np.log(picked)).sum() / weights.sum())


def _impurity_importance(trees: TreeArrays, n_features: int, names: list[str]) -> pd.Series:
    """Mean decrease in Gini impurity (sklearn's feature_importances_), from the stored arrays."""
    fractions = trees.class_fraction
    gini = 1.0 - (fractions**2).sum(axis=2)
    importance = np.zeros(n_features)
    for i, count in enumerate(trees.node_count):
        left, right = trees.children_left[i, :count], trees.children_right[i, :count]
        inner = np.flatnonzero(left >= 0)
        weight, impurity = trees.node_weight[i, :count], gini[i, :count]
        decrease = (weight[inner] * impurity[inner] - weight[left[inner]] * impurity[left[inner]]
                    - weight[right[inner]] * impurity[right[inner]])
        per_tree = np.bincount(trees.feature[i, inner], weights=decrease, minlength=n_features)
        total = per_tree.sum()
        importance += per_tree / total if total > 0 else per_tree
    importance /= max(trees.n_trees, 1)
    total = importance.sum()
    return pd.Series(importance / total if total > 0 else importance, index=names, name="importance").sort_values(
        ascending=False)
