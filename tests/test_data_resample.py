"""resample_ohlcv: first/max/min/last/sum per bin, no invented bars, no upsampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pinelab_core.data import resample_ohlcv
from pinelab_core.data.resample import infer_timeframe_seconds
from pinelab_core.data.simulator import simulate_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.types import Timeframe
from tests.conftest import random_walk_ohlcv


def _reference(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """pandas' own resample, for comparison (it keeps empty bins, which we drop); weeks open on Monday."""
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    monday = pd.Timestamp("1970-01-05", tz="UTC")
    return frame.resample(rule, label="left", closed="left", origin=monday).agg(agg).dropna(subset=["open"])


@pytest.mark.parametrize(("source_freq", "target", "rule"),
                         [("1min", "5m", "5min"), ("5min", "15m", "15min"), ("15min", "1h", "1h"),
                          ("1h", "4h", "4h"), ("4h", "1d", "24h"), ("1D", "1w", "168h")])
def test_matches_pandas_for_each_step(source_freq: str, target: str, rule: str) -> None:
    frame = random_walk_ohlcv(3_000, seed=3, freq=source_freq)
    ours = resample_ohlcv(frame, target)
    expected = _reference(frame, rule)
    pd.testing.assert_frame_equal(ours, expected, check_freq=False)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=2, max_value=400), st.integers(min_value=0, max_value=10_000),
       st.sampled_from(["5m", "15m", "1h", "4h", "1d"]), st.floats(min_value=0.0, max_value=0.9))
def test_any_sparse_minute_series_aggregates_consistently(n: int, seed: int, target: str, holes: float) -> None:
    keep = np.random.default_rng(seed).random(n) >= holes
    keep[0] = True  # gaps anywhere but the first bar
    frame = random_walk_ohlcv(n, seed=seed, freq="1min").loc[keep]
    spacing = infer_timeframe_seconds(frame)
    assume(spacing is None or spacing <= Timeframe.parse(target).seconds)  # coarser data is refused, tested below
    bars = resample_ohlcv(frame, target)
    assert bars["volume"].sum() == pytest.approx(frame["volume"].sum())
    assert bars["high"].max() == frame["high"].max() and bars["low"].min() == frame["low"].min()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert len(bars) == len(frame.index.floor(target.replace("m", "min").replace("d", "D")).unique())
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert bars["open"].iloc[0] == frame["open"].iloc[0] and bars["close"].iloc[-1] == frame["close"].iloc[-1]


def test_empty_bins_are_dropped_not_filled() -> None:
    minutes = simulate_ohlcv("DEMO-FX", "1m", start="2026-10-23", end="2026-10-26")  # spans a weekend
    hourly = resample_ohlcv(minutes, "1h")
    assert not (hourly.index.day_of_week == 5).any()
    assert len(hourly) == len(minutes.index.floor("h").unique())


def test_hand_computed_bar() -> None:
    index = pd.date_range("2024-01-01 09:00", periods=4, freq="15min", tz="UTC", name="time")
    frame = pd.DataFrame({"open": [10.0, 11, 12, 13], "high": [12.0, 15, 13, 14], "low": [9.0, 10, 8, 12],
                          "close": [11.0, 12, 13, 12.5], "volume": [1.0, 2, 3, 4]}, index=index)
    bar = resample_ohlcv(frame, "1h").iloc[0]
    assert bar.tolist() == [10.0, 15.0, 8.0, 12.5, 10.0]


def test_same_timeframe_is_a_copy_and_attrs_survive() -> None:
    frame = random_walk_ohlcv(50)
    frame.attrs["provenance"] = {"source": "x"}
    assert resample_ohlcv(frame, "1h").equals(frame)
    assert resample_ohlcv(frame, "1d").attrs == {"provenance": {"source": "x"}}


def test_finer_than_the_source_is_refused() -> None:
    with pytest.raises(DataValidationError, match="bars are 1h apart.*only aggregates to coarser"):
        resample_ohlcv(random_walk_ohlcv(50), "15m")


def test_bars_spaced_like_the_target_but_off_its_grid_are_still_binned() -> None:
    """Sparse minute bars whose most common gap is 5 minutes are not 5-minute bars (hypothesis found it):
    00:01 and 00:12 fall in the 00:00 and 00:10 bins, and two bars in one bin are aggregated."""
    minutes = random_walk_ohlcv(60, seed=1, freq="1min")
    frame = minutes.iloc[[0, 1, 12, 17, 22, 27, 41]]
    bars = resample_ohlcv(frame, "5m")
    assert list(bars.index.strftime("%H:%M")) == ["00:00", "00:10", "00:15", "00:20", "00:25", "00:40"]
    assert bars["volume"].iloc[0] == pytest.approx(frame["volume"].iloc[:2].sum())
    aligned = minutes.iloc[::5]
    pd.testing.assert_frame_equal(resample_ohlcv(aligned, "5m"), aligned)
