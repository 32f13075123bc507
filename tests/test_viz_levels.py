"""Swing pivots and support/resistance levels on hand-made series where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.features.levels import confirmed_pivots, support_resistance_levels, swing_pivots
from tests.conftest import random_walk_ohlcv


def _bars(highs: list[float], lows: list[float] | None = None, closes: list[float] | None = None) -> pd.DataFrame:
    high = np.asarray(highs, dtype=float)
    low = np.asarray(lows, dtype=float) if lows is not None else high - 1.0
    close = np.asarray(closes, dtype=float) if closes is not None else (high + low) / 2
    index = pd.date_range("2024-01-01", periods=len(high), freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def test_swing_high_and_low_by_hand() -> None:
    #          0  1  2  3  4  5  6  7  8  9 10
    highs = [1, 2, 3, 9, 3, 2, 1, 2, 3, 4, 5]
    lows = [0, 1, 2, 8, 2, 1, 0.5, 1, 2, 3, 4]
    pivots = swing_pivots(_bars(highs, lows), left=2, right=2)
    assert pivots["pivot_high"].dropna().to_dict() == {pivots.index[3]: 9.0}
    assert pivots["pivot_low"].dropna().to_dict() == {pivots.index[6]: 0.5}


def test_flat_top_counts_once_and_the_last_right_bars_are_never_pivots() -> None:
    highs = [1, 2, 5, 5, 2, 1, 2, 3, 4, 6]  # plateau at 2..3; bar 9 is the highest but unconfirmed
    pivots = swing_pivots(_bars(highs), left=2, right=2)
    assert list(np.flatnonzero(pivots["pivot_high"].notna())) == [2]
    assert pivots["pivot_high"].iloc[-2:].isna().all()


def test_confirmed_pivots_appear_right_bars_later_and_are_causal() -> None:
    ohlcv = random_walk_ohlcv(600, seed=8)
    marked = swing_pivots(ohlcv, 3, 4)
    confirmed = confirmed_pivots(ohlcv, 3, 4)
    pd.testing.assert_frame_equal(confirmed, marked.shift(4))
    for cut in (50, 333, 599):
        prefix = confirmed_pivots(ohlcv.iloc[:cut], 3, 4)
        pd.testing.assert_frame_equal(prefix, confirmed.iloc[:cut])


def _range_market() -> pd.DataFrame:
    """A market bouncing between ~100 (support) and ~110 (resistance), ending at 105."""
    cycle = [100.0, 102, 104, 106, 108, 110, 108, 106, 104, 102]
    closes = np.array(cycle * 6 + [100.0, 102, 104, 105])
    closes[5::10] += np.array([0.1, -0.1, 0.2, 0.0, -0.2, 0.1])  # tops differ slightly: still one level
    return _bars(list(closes + 0.5), list(closes - 0.5), list(closes))


def test_levels_cluster_the_range_with_touch_counts() -> None:
    levels = support_resistance_levels(_range_market(), left=2, right=2, atr_multiple=0.5)
    assert [lv.kind for lv in levels] == ["support", "resistance"]
    support, resistance = levels
    assert support.price == pytest.approx(99.5)
    assert support.touches == 6  # lows at bars 10, 20, ..., 60 (bar 0 has no left bars)
    assert resistance.price == pytest.approx(110.5, abs=0.05)
    assert resistance.touches == 6
    assert support.first_touch == _range_market().index[10]
    assert resistance.last_touch == _range_market().index[55]


def test_min_touches_and_max_levels_pick_the_nearest_levels() -> None:
    assert support_resistance_levels(_range_market(), 2, 2, min_touches=7) == []
    ohlcv = random_walk_ohlcv(3_000, seed=9)
    levels = support_resistance_levels(ohlcv, 5, 5, max_levels=4, min_touches=2)
    last_close = ohlcv["close"].iloc[-1]
    assert 1 <= len(levels) <= 4
    assert levels == sorted(levels, key=lambda lv: lv.price)
    assert all((lv.price <= last_close) == (lv.kind == "support") for lv in levels)
    wider = support_resistance_levels(ohlcv, 5, 5, max_levels=50, min_touches=2)
    supports = sorted((lv for lv in wider if lv.kind == "support"), key=lambda lv: last_close - lv.price)
    chosen = [lv for lv in levels if lv.kind == "support"]
    assert set(chosen) == set(supports[: len(chosen)])  # nearest supports first, not the busiest far away


def test_short_history_has_no_levels_and_bad_windows_are_rejected() -> None:
    assert support_resistance_levels(_bars([1.0, 2.0, 1.0]), 5, 5) == []
    with pytest.raises(DataValidationError, match="at least 1 bar"):
        swing_pivots(_bars([1.0, 2.0, 1.0]), left=0, right=2)
    with pytest.raises(DataValidationError, match="high"):
        swing_pivots(pd.DataFrame({"close": [1.0]}), 1, 1)
