"""Walk-forward folds: train on the past, test on the next block, never shuffle, never overlap labels.

A label at bar i describes bars i .. i+h. Training row i *overlaps* a test window starting at bar s when
i + h >= s: its label was computed from prices inside the test window, so the model would have seen test
outcomes. **Purging** drops those rows. In forward-only walk-forward the training window always ends
before the test window, so the purge is exactly "drop the last h rows before the test start".

**Embargo** (López de Prado) drops training rows that *follow* a test window, because features at the
start of a later training block are correlated with the test block's end. Forward walk-forward never
trains on rows after its own test window (in expanding mode, earlier test windows lie in the past of
later folds, which is legitimate history), so that case does not arise here. PineLab's `embargo` is
therefore applied as a conservative extra gap of `embargo` bars *before* each test window, on top of
the purge, for features whose serial correlation outlasts the label horizon (the same role as
scikit-learn's `TimeSeriesSplit(gap=...)`). `purged_training_rows` implements the general rule on both
sides for layouts where training does follow testing.

Positions are row numbers of the labelled sample; `bar_positions` maps them to bar numbers of the
original series so that purging counts bars, not surviving rows, when rows were dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pinelab_core.errors import DataValidationError

__all__ = ["WINDOWS", "WalkForwardFold", "purged_training_rows", "validation_tail", "walk_forward_splits"]

WINDOWS: tuple[str, ...] = ("expanding", "rolling")


@dataclass(frozen=True)
class WalkForwardFold:
    """One fold: row positions to fit on, to early-stop on (the training window's tail) and to test on."""

    fold: int
    fit: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    @property
    def train(self) -> np.ndarray:
        """Fit and validation rows together: the purged training window."""
        return np.concatenate([self.fit, self.validation])


def purged_training_rows(
    train: np.ndarray,
    test_start: int,
    test_stop: int,
    horizon: int,
    embargo: int = 0,
    bar_positions: np.ndarray | None = None,
) -> np.ndarray:
    """The rows of `train` whose label interval [i, i+h] stays clear of the test window [test_start, test_stop).

    Rows before the test window are dropped when i + h >= test_start. Rows after it are dropped when their
    label interval overlaps the test labels (i <= test_stop - 1 + h) or they fall within `embargo` bars
    after that (i < test_stop + h + embargo). Positions are compared in bars via `bar_positions`.
    """
    bars = np.arange(max(test_stop, int(np.max(train, initial=0)) + 1)) if bar_positions is None else bar_positions
    train = np.asarray(train, dtype=int)
    row_bar = bars[train]
    first_test_bar = bars[test_start]
    last_test_bar = bars[test_stop - 1]
    before = row_bar + horizon < first_test_bar
    after = row_bar >= last_test_bar + horizon + embargo + 1
    return train[before | after]


def walk_forward_splits(
    n_rows: int,
    *,
    train_size: int,
    test_size: int,
    horizon: int,
    step: int | None = None,
    window: str = "expanding",
    embargo: int = 0,
    validation_size: int = 0,
    bar_positions: np.ndarray | None = None,
) -> list[WalkForwardFold]:
    """Walk-forward folds over `n_rows` consecutive labelled rows.

    Args:
        n_rows: rows in the labelled sample.
        train_size: rows in the first training window (rolling mode keeps this length).
        test_size: rows per test window; the last fold may be shorter.
        horizon: the label horizon h, used to purge.
        step: rows the test window advances per fold (default `test_size`: adjacent tests). A step below
            `test_size` is refused: overlapping test windows would score (and trade) the same bars twice.
        window: "expanding" (training starts at row 0) or "rolling" (the last `train_size` rows).
        embargo: extra bars left out between the purged training window and the test window (see module doc).
        validation_size: rows at the training window's end held out for early stopping; the fit rows
            before them are purged by h as well, so early stopping never sees labels it will be scored on.
        bar_positions: bar number of each row (default 0..n_rows-1), when rows were dropped from the series.

    Returns:
        The folds in time order.
    """
    step = test_size if step is None else step
    _validate(n_rows, train_size, test_size, horizon, step, window, embargo, validation_size)
    bars = np.arange(n_rows) if bar_positions is None else np.asarray(bar_positions, dtype=int)
    if len(bars) != n_rows:
        raise DataValidationError(f"bar_positions has {len(bars)} entries for {n_rows} rows.")
    folds: list[WalkForwardFold] = []
    test_start = train_size
    while test_start < n_rows:
        test_stop = min(test_start + test_size, n_rows)
        first = 0 if window == "expanding" else max(0, test_start - train_size)
        candidates = np.arange(first, test_start)
        train = candidates[bars[candidates] + horizon + embargo < bars[test_start]]
        fit, validation = validation_tail(train, validation_size, horizon, bars)
        if len(fit) == 0:
            raise DataValidationError(
                f"Fold {len(folds) + 1} has no rows left to fit after purging {horizon} bars, embargo {embargo} and "
                f"validation {validation_size}: increase train_size ({train_size})."
            )
        folds.append(WalkForwardFold(len(folds), fit, validation, np.arange(test_start, test_stop)))
        test_start += step
    return folds


def validation_tail(
    train: np.ndarray, validation_size: int, horizon: int, bars: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split the training window into fit rows and a validation tail, purging fit rows that overlap the tail."""
    if validation_size <= 0 or len(train) == 0:
        return train, np.array([], dtype=int)
    validation = train[-validation_size:]
    head = train[:-validation_size]
    fit = head[bars[head] + horizon < bars[validation[0]]]
    return fit, validation


def _validate(
    n_rows: int, train_size: int, test_size: int, horizon: int, step: int, window: str, embargo: int,
    validation_size: int,
) -> None:
    if window not in WINDOWS:
        raise DataValidationError(f"Unknown window {window!r}. Use 'expanding' or 'rolling'.")
    if min(test_size, step, horizon) < 1:
        raise DataValidationError(f"test_size ({test_size}), step ({step}) and horizon ({horizon}) must be >= 1.")
    if step < test_size:
        raise DataValidationError(
            f"step ({step}) is smaller than test_size ({test_size}): test folds would overlap and score the same "
            f"bars twice. Use step >= test_size (the default step equals test_size)."
        )
    if embargo < 0 or validation_size < 0:
        raise DataValidationError(f"embargo ({embargo}) and validation_size ({validation_size}) must be >= 0.")
    if train_size <= horizon + embargo + validation_size:
        raise DataValidationError(
            f"train_size ({train_size}) must exceed horizon + embargo + validation rows "
            f"({horizon} + {embargo} + {validation_size}) so that something is left to fit."
        )
    if train_size >= n_rows:
        raise DataValidationError(
            f"Only {n_rows} labelled rows: train_size ({train_size}) leaves nothing to test. "
            "Load a longer history or shrink train_size."
        )
