"""validate_ohlcv: the contract's output shape, its errors, and the fixes it makes with a warning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import validate_ohlcv
from pinelab_core.errors import DataValidationError
from tests.conftest import random_walk_ohlcv


def test_output_meets_the_contract_and_keeps_attrs() -> None:
    frame = random_walk_ohlcv(100)
    frame.index = frame.index.tz_localize(None)  # naive -> UTC
    frame["volume"] = frame["volume"].round().astype("int64")
    frame = frame[["close", "volume", "open", "low", "high"]]
    frame.attrs["note"] = "kept"
    clean = validate_ohlcv(frame)
    assert list(clean.columns) == ["open", "high", "low", "close", "volume"]
    assert (clean.dtypes == np.float64).all()
    assert str(clean.index.tz) == "UTC" and clean.index.name == "time" and clean.attrs == {"note": "kept"}


def test_aware_index_is_converted_to_utc() -> None:
    frame = random_walk_ohlcv(10)
    frame.index = frame.index.tz_convert("America/New_York")
    assert validate_ohlcv(frame).index[0] == pd.Timestamp("2022-01-03", tz="UTC")


def test_string_index_is_parsed_and_bad_dates_are_named() -> None:
    frame = random_walk_ohlcv(3)
    frame.index = ["2024-01-01", "2024-01-02", "someday"]
    with pytest.raises(DataValidationError, match=r"not dates at row 3 \(someday\)"):
        validate_ohlcv(frame, where="my frame")


def test_missing_columns_list_what_was_found() -> None:
    frame = random_walk_ohlcv(3).drop(columns=["volume", "low"])
    with pytest.raises(DataValidationError, match=r"lacks the column\(s\) low, volume \(found: open, high, close\)"):
        validate_ohlcv(frame)


def test_empty_frame_is_refused() -> None:
    with pytest.raises(DataValidationError, match="holds no bars"):
        validate_ohlcv(random_walk_ohlcv(3).iloc[:0])


def test_nan_names_the_timestamp_and_line() -> None:
    frame = random_walk_ohlcv(5)
    frame.loc[frame.index[3], "high"] = np.nan
    with pytest.raises(DataValidationError, match=r"'high' has missing \(NaN\) or infinite values at line 14 "
                                                  r"\(2022-01-03 03:00 UTC\)"):
        validate_ohlcv(frame, line_numbers=[11, 12, 13, 14, 15])


def test_unsorted_input_warns_with_the_count() -> None:
    frame = random_walk_ohlcv(10)
    shuffled = frame.iloc[[0, 1, 5, 2, 3, 4, 6, 7, 9, 8]]
    with pytest.warns(UserWarning, match="4 row"):
        clean = validate_ohlcv(shuffled)
    pd.testing.assert_frame_equal(clean, frame, check_freq=False)


def test_duplicates_keep_the_last_row_and_warn() -> None:
    frame = random_walk_ohlcv(4)
    doubled = pd.concat([frame, frame.iloc[[1]].assign(volume=7.0)])
    with pytest.warns(UserWarning, match="1 row"):
        clean = validate_ohlcv(doubled)
    assert len(clean) == 4 and clean["volume"].iloc[1] == 7.0 and clean.index.is_unique
