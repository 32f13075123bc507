"""Hyperparameter tuning that never looks at the test folds: nested walk-forward.

Candidates (drawn with scikit-learn's `ParameterSampler`) are scored by an *inner* walk-forward run on
the history before the outer run's first test fold only. That history is cut at the first test bar, so
labels near its end, which would look into the test period, are unknown there and dropped. The winner
then runs the ordinary (outer) walk-forward on the whole history, whose test folds no choice has seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.model_selection import ParameterSampler

from pinelab_core.errors import ConfigError, DataValidationError
from pinelab_core.models.base import Model
from pinelab_core.training.labels import LabelSpec, make_labels
from pinelab_core.training.report import TrainReport
from pinelab_core.training.walk_forward import (
    WalkForwardProgress,
    default_sizes,
    labelled_sample,
    model_inputs,
    resolve_model_class,
    walk_forward,
)

__all__ = ["DEFAULT_SEARCH_SPACES", "TuningResult", "tune"]

#: Search spaces used when none is given: the knobs that matter most for each learner.
DEFAULT_SEARCH_SPACES: dict[str, dict[str, list[Any]]] = {
    "lightgbm": {"num_leaves": [7, 15, 31, 63], "learning_rate": [0.02, 0.05, 0.1],
                 "min_data_in_leaf": [20, 50, 100], "feature_fraction": [0.5, 0.8, 1.0], "lambda_l2": [0.0, 1.0, 10.0]},
    "xgboost": {"max_depth": [3, 4, 6], "learning_rate": [0.02, 0.05, 0.1], "min_child_weight": [1.0, 5.0, 10.0],
                "subsample": [0.6, 0.8, 1.0], "colsample_bytree": [0.5, 0.8, 1.0]},
    "random_forest": {"max_depth": [4, 6, 8, 12], "min_samples_leaf": [10, 20, 50],
                      "max_features": ["sqrt", 0.3, 0.5]},
    "lstm": {"hidden": [32, 64], "dropout": [0.0, 0.1, 0.3], "learning_rate": [3e-4, 1e-3]},
    "cnn": {"channels": [16, 32], "kernel_size": [3, 5], "dropout": [0.0, 0.1, 0.3], "learning_rate": [3e-4, 1e-3]},
}

TuningCallback = Callable[[float, str, WalkForwardProgress], None]


@dataclass
class TuningResult:
    """The chosen parameters, every trial's inner score, and the outer walk-forward report of the winner."""

    best_params: dict[str, Any]
    trials: pd.DataFrame
    report: TrainReport
    metric: str
    tuning_end: pd.Timestamp


def tune(
    ohlcv: pd.DataFrame,
    model: str | type[Model] = "lightgbm",
    search_space: dict[str, list[Any]] | None = None,
    n_trials: int = 10,
    seed: int = 0,
    *,
    horizon: int = 5,
    label: str = "direction",
    label_params: dict[str, float] | None = None,
    metric: str = "balanced_accuracy",
    features: pd.DataFrame | None = None,
    groups: list[str] | None = None,
    train_size: int | None = None,
    model_params: dict[str, Any] | None = None,
    progress: TuningCallback | None = None,
    **options: Any,
) -> TuningResult:
    """Pick hyperparameters by nested walk-forward, then walk-forward the winner on the whole history.

    Args:
        ohlcv: the OHLCV frame.
        model: registry name or `Model` subclass.
        search_space: parameter -> list of values to sample from (default `DEFAULT_SEARCH_SPACES[model]`).
        n_trials: candidates to try (fewer if the space is smaller).
        seed: seeds the sampler and every model.
        horizon, label, label_params, features, groups, train_size: as for `walk_forward`.
        metric: the inner out-of-sample score to maximise ("balanced_accuracy", "accuracy", "f1_macro") or
            minimise ("log_loss", "brier").
        model_params: fixed parameters beside the searched ones (e.g. {"n_estimators": 300}).
        progress: called with (fraction of the tuning run, stage text, the walk-forward tick).
        **options: more `walk_forward` options (test_size, window, embargo, fees, device, ...).
    """
    model_cls = resolve_model_class(model)
    space = search_space if search_space is not None else DEFAULT_SEARCH_SPACES.get(model_cls.kind)
    if not space:
        raise ConfigError(f"No search space for {model_cls.kind!r}: pass search_space={{'param': [values]}}.")
    if n_trials < 1:
        raise ConfigError(f"n_trials must be at least 1, got {n_trials}.")
    inputs = model_inputs(model_cls, ohlcv, features, groups,
                          include_price_levels=bool(options.get("include_price_levels", False)),
                          include_start_dependent=bool(options.get("include_start_dependent", False)))
    cut = _first_test_bar(ohlcv, inputs, LabelSpec(label, horizon, label_params or {}), train_size)
    candidates = list(ParameterSampler(space, n_iter=n_trials, random_state=seed))
    total = len(candidates) + 1
    shared = {"horizon": horizon, "label": label, "seed": seed, "label_params": label_params, **options}
    rows = []
    for number, candidate in enumerate(candidates):
        inner = walk_forward(
            ohlcv.iloc[:cut], model_cls, features=inputs.iloc[:cut], refit=False,
            model_params={**(model_params or {}), **candidate},
            progress=_scaled(progress, number, total, f"tuning trial {number + 1} of {len(candidates)}"),
            **{k: v for k, v in shared.items() if k not in ("train_size", "test_size", "step")},
        )
        rows.append({**candidate, "score": inner.metrics[metric], "n_oos": len(inner.oos)})
    trials = pd.DataFrame(rows)
    lower_is_better = metric in ("log_loss", "brier")
    best_row = int(trials["score"].idxmin() if lower_is_better else trials["score"].idxmax())
    best = candidates[best_row]
    report = walk_forward(
        ohlcv, model_cls, features=inputs, train_size=train_size, model_params={**(model_params or {}), **best},
        progress=_scaled(progress, len(candidates), total, "best parameters"), **shared,
    )
    report.options["tuning"] = {"metric": metric, "n_trials": len(candidates), "best_params": best,
                                "tuning_end": str(ohlcv.index[cut - 1])}
    return TuningResult(best, trials, report, metric, ohlcv.index[cut - 1])


def _first_test_bar(ohlcv: pd.DataFrame, inputs: pd.DataFrame, spec: LabelSpec, train_size: int | None) -> int:
    """The bar where the outer run's first test fold starts: tuning may only use the bars before it."""
    sample = labelled_sample(inputs, make_labels(ohlcv, spec))
    train, _ = default_sizes(len(sample.y), train_size, None)
    if train >= len(sample.y):
        raise DataValidationError(f"train_size ({train}) leaves no test fold in {len(sample.y)} labelled rows.")
    return int(sample.bars[train])


def _scaled(progress: TuningCallback | None, done: int, total: int, stage: str
            ) -> Callable[[WalkForwardProgress], None] | None:
    if progress is None:
        return None

    def on_tick(event: WalkForwardProgress) -> None:
        progress((done + event.fraction) / total, stage, event)

    return on_tick
