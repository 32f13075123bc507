"""Walk-forward folds on tiny hand-checked examples: purge, embargo, validation tail, rolling window."""

from __future__ import annotations

import numpy as np
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.training.splits import purged_training_rows, walk_forward_splits


def _rows(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]


def test_expanding_folds_purge_the_last_h_rows() -> None:
    folds = walk_forward_splits(20, train_size=10, test_size=4, horizon=2)
    assert [_rows(f.test) for f in folds] == [[10, 11, 12, 13], [14, 15, 16, 17], [18, 19]]
    # label of row 7 covers bars 7..9: clear of test bar 10; row 8 (8..10) would overlap
    assert _rows(folds[0].fit) == list(range(0, 8))
    assert _rows(folds[1].fit) == list(range(0, 12))
    assert _rows(folds[2].fit) == list(range(0, 16))
    for fold in folds:
        assert fold.fit.max() + 2 < fold.test.min()


def test_embargo_adds_a_gap_before_the_test_window() -> None:
    folds = walk_forward_splits(20, train_size=10, test_size=4, horizon=2, embargo=1)
    assert _rows(folds[0].fit) == list(range(0, 7))


def test_validation_tail_is_purged_from_the_fit_rows() -> None:
    fold = walk_forward_splits(20, train_size=10, test_size=4, horizon=2, validation_size=3)[0]
    assert _rows(fold.validation) == [5, 6, 7]
    assert _rows(fold.fit) == [0, 1, 2]  # row 3's label (3..5) reaches the validation tail
    assert _rows(fold.train) == [0, 1, 2, 5, 6, 7]


def test_rolling_window_keeps_its_length_and_step_skips() -> None:
    folds = walk_forward_splits(20, train_size=10, test_size=2, step=4, horizon=1, window="rolling")
    assert [_rows(f.test) for f in folds] == [[10, 11], [14, 15], [18, 19]]
    assert _rows(folds[1].fit) == list(range(4, 13))
    assert _rows(folds[2].fit) == list(range(8, 17))


def test_purge_counts_bars_not_rows_when_rows_were_dropped() -> None:
    bars = np.array([0, 1, 2, 3, 4, 5, 9, 10, 11, 12])  # bars 6..8 missing (e.g. NaN features)
    fold = walk_forward_splits(10, train_size=6, test_size=4, horizon=2, bar_positions=bars)[0]
    # test starts at bar 9: rows at bars <= 6 are clear, so all six training rows survive
    assert _rows(fold.fit) == [0, 1, 2, 3, 4, 5]


def test_general_purge_and_embargo_on_both_sides_of_a_test_window() -> None:
    train = np.array([i for i in range(20) if not 8 <= i < 12])
    kept = purged_training_rows(train, test_start=8, test_stop=12, horizon=2, embargo=1)
    # before: labels 0..5 end by bar 7; after: 12, 13 overlap test labels (up to bar 13), 14 is embargoed
    assert _rows(kept) == [0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 19]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_size": 20, "test_size": 5, "horizon": 2}, "nothing to test"),
        ({"train_size": 3, "test_size": 5, "horizon": 2, "validation_size": 1}, "must exceed"),
        ({"train_size": 10, "test_size": 0, "horizon": 2}, ">= 1"),
        ({"train_size": 10, "test_size": 5, "horizon": 2, "window": "sliding"}, "Unknown window"),
    ],
)
def test_bad_split_options_say_what_to_change(kwargs: dict, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        walk_forward_splits(20, **kwargs)


def test_overlapping_test_folds_are_refused() -> None:
    """A step below the test size scored bars twice (708 out-of-sample rows for 379 bars, 21.9x instead of 4.6x)."""
    with pytest.raises(DataValidationError, match="overlap"):
        walk_forward_splits(100, train_size=50, test_size=10, step=5, horizon=1)
    folds = walk_forward_splits(100, train_size=50, test_size=10, horizon=1)
    tested = np.concatenate([fold.test for fold in folds])
    assert len(tested) == len(np.unique(tested)) == 50
