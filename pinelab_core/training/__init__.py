"""Training: labels, purged walk-forward validation, nested tuning, reports and background jobs."""

from pinelab_core.training.labels import (
    LABEL_KINDS,
    LabelSpec,
    direction_labels,
    forward_log_returns,
    make_labels,
    rolling_volatility,
    triple_barrier_labels,
)
from pinelab_core.training.report import PROBABILITY_COLUMNS, TrainReport
from pinelab_core.training.splits import WINDOWS, WalkForwardFold, purged_training_rows, walk_forward_splits
from pinelab_core.training.tuning import DEFAULT_SEARCH_SPACES, TuningResult, tune
from pinelab_core.training.walk_forward import WalkForwardProgress, train_models, walk_forward

__all__ = [
    "DEFAULT_SEARCH_SPACES",
    "LABEL_KINDS",
    "WINDOWS",
    "PROBABILITY_COLUMNS",
    "LabelSpec",
    "TrainReport",
    "TuningResult",
    "WalkForwardFold",
    "WalkForwardProgress",
    "direction_labels",
    "forward_log_returns",
    "make_labels",
    "purged_training_rows",
    "rolling_volatility",
    "train_models",
    "triple_barrier_labels",
    "tune",
    "walk_forward",
    "walk_forward_splits",
]
