"""How good the pattern model is: per-class precision and recall and a confusion matrix on labelled windows.

Two sets are scored: a held-out synthetic set (drawn with a seed the model never trained on) and a small
hand-labelled set of windows read from a CSV (`read_labelled_windows`). The CSV has one row per bar:
`window` (an id), `label` (a class in `PATTERN_CLASSES`), `time, open, high, low, close, volume`; every
row of a window carries the same label, and the pattern (if any) completes at the window's last bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.patterns.synthetic import PATTERN_CLASSES, PatternSamples

__all__ = ["PatternEvaluation", "evaluate_patterns", "read_labelled_windows"]

_LABELLED_COLUMNS = ("window", "label", "time", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class PatternEvaluation:
    """Scores of a pattern model on one labelled set.

    Attributes:
        per_class: one row per class: precision, recall, f1, support (windows of that true class).
        confusion: counts, rows = true class, columns = predicted class (both in `PATTERN_CLASSES` order).
        accuracy: share of windows whose most probable class is the true one.
        macro_f1: the unweighted mean f1 over the classes present in the set.
    """

    per_class: pd.DataFrame
    confusion: pd.DataFrame
    accuracy: float
    macro_f1: float
    n_windows: int

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat numbers for a manifest: accuracy, macro f1 and each present class's recall."""
        out = {f"{prefix}accuracy": self.accuracy, f"{prefix}macro_f1": self.macro_f1,
               f"{prefix}windows": float(self.n_windows)}
        present = self.per_class[self.per_class["support"] > 0]
        out.update({f"{prefix}recall_{name}": float(row.recall) for name, row in present.iterrows()})
        return out


def evaluate_patterns(model: object, samples: PatternSamples) -> PatternEvaluation:
    """Score `model` (anything with `predict_windows(windows) -> probabilities`) on labelled windows."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if len(samples) == 0:
        raise DataValidationError("No labelled windows to evaluate on.")
    probabilities = model.predict_windows(samples.windows)  # type: ignore[attr-defined]
    predicted = np.argmax(probabilities, axis=1)
    labels = np.arange(len(PATTERN_CLASSES))
    precision, recall, f1, support = precision_recall_fscore_support(
        samples.labels, predicted, labels=labels, zero_division=0)
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support},
                             index=pd.Index(PATTERN_CLASSES, name="pattern"))
    confusion = pd.DataFrame(confusion_matrix(samples.labels, predicted, labels=labels),
                             index=pd.Index(PATTERN_CLASSES, name="true"),
                             columns=pd.Index(PATTERN_CLASSES, name="predicted"))
    present = support > 0
    return PatternEvaluation(per_class, confusion, float(np.mean(predicted == samples.labels)),
                             float(f1[present].mean()), len(samples))


def read_labelled_windows(path: str | Path) -> PatternSamples:
    """Labelled windows from a CSV (format in the module docstring), in the order they appear.

    Raises:
        DataValidationError: a column is missing, a label is unknown, or a window mixes labels.
    """
    frame = pd.read_csv(path)
    missing = [c for c in _LABELLED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{path}: missing columns {missing}; expected {list(_LABELLED_COLUMNS)}.")
    unknown = sorted(set(frame["label"]) - set(PATTERN_CLASSES))
    if unknown:
        raise DataValidationError(f"{path}: unknown labels {unknown}; use one of {list(PATTERN_CLASSES)}.")
    windows, labels = [], []
    for _, rows in frame.groupby("window", sort=False):
        if rows["label"].nunique() != 1:
            raise DataValidationError(f"{path}: window {rows['window'].iloc[0]} has more than one label.")
        bars = rows.set_index(pd.DatetimeIndex(pd.to_datetime(rows["time"], utc=True), name="time"))
        windows.append(bars[["open", "high", "low", "close", "volume"]].astype("float64"))
        labels.append(PATTERN_CLASSES.index(str(rows["label"].iloc[0])))
    return PatternSamples(windows, np.asarray(labels, dtype=np.int64))
