"""The one `Model` interface every learner implements: fit, predict_proba, save, load.

Models are classifiers over PineLab's three direction classes (`DIRECTION_CLASSES`, encoded
0, 1, 2). Input is a time-indexed feature frame whose rows are consecutive bars; tabular models
read one row at a time, sequence models (`input_kind == "sequence"`) build trailing windows of
`window` rows themselves and return NaN probabilities for rows without a full window of history.

Predicting a test fold with a sequence model: pass the fold together with the `context_rows` rows that
precede it (`X_all.iloc[start - model.context_rows:end]`) and drop the first `context_rows` outputs; every
test row then has a full window, built from feature rows only (no labels), so nothing leaks. Tabular
models have `context_rows == 0`, so the same caller code works for every model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

__all__ = ["DIRECTION_CLASSES", "FitSummary", "Model", "ProgressCallback", "TrainingProgress"]

#: Class order of every classifier's probability columns.
DIRECTION_CLASSES: tuple[str, ...] = ("DOWN", "SIDEWAYS", "UP")


@dataclass(frozen=True)
class TrainingProgress:
    """One progress tick from a model's fit (an epoch of a net, a block of boosting rounds)."""

    step: int
    total: int
    train_loss: float | None = None
    val_loss: float | None = None
    message: str = ""


ProgressCallback = Callable[[TrainingProgress], None]


@dataclass
class FitSummary:
    """What a fit reports back: losses for the overfitting check, where early stopping stopped, the device."""

    train_loss: float | None = None
    val_loss: float | None = None
    best_iteration: int | None = None
    device: str = "cpu"
    history: list[TrainingProgress] = field(default_factory=list)


class Model(ABC):
    """A direction classifier. Subclasses register under a short name in `pinelab_core.models.MODELS`."""

    kind: ClassVar[str] = ""
    input_kind: ClassVar[str] = "tabular"  # "tabular" or "sequence"
    #: What the model predicts: "direction" (the three `DIRECTION_CLASSES`) or "pattern" (chart patterns).
    task: ClassVar[str] = "direction"
    #: The hyperparameter that fixes how many rounds (trees, epochs) `fit` runs when no validation rows are
    #: given; the deployed refit sets it to the walk-forward folds' median best iteration. None: the model
    #: does not early-stop.
    iterations_param: ClassVar[str | None] = None

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        self.seed = seed
        self.device = device
        self.params: dict[str, Any] = dict(params)
        self.feature_names_: list[str] = []
        self.n_classes_: int = len(DIRECTION_CLASSES)
        self.fitted_device_: str = "cpu"  # where fit actually ran ("cuda:0", "cpu"); recorded in the manifest

    @abstractmethod
    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        validation: tuple[pd.DataFrame, np.ndarray] | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        """Fit on `X` (rows = consecutive bars) and integer labels `y`; early-stop on `validation` if given."""

    @abstractmethod
    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities, shape (len(X), n_classes), columns in `DIRECTION_CLASSES` order."""

    @abstractmethod
    def save(self, directory: Path) -> list[Path]:
        """Write the model in a safe format (no pickle) into `directory`; return the files written."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, *, device: str = "auto") -> Model:
        """Read a model written by `save`."""

    @property
    def context_rows(self) -> int:
        """Rows of history before the first row to predict that a full input window needs (0 for tabular)."""
        return 0

    def feature_importance(self) -> pd.Series | None:
        """Importance per feature name if the model has a native notion of it, else None."""
        return None
