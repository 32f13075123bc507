"""Labels look only forward from t, use volatility known at t, and are NaN (never guessed) past the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.training.labels import (
    LabelSpec,
    direction_labels,
    forward_log_returns,
    make_labels,
    rolling_volatility,
    triple_barrier_labels,
)
from tests.conftest import random_walk_ohlcv


def test_direction_labels_match_a_hand_computation() -> None:
    ohlcv = random_walk_ohlcv(300, seed=3)
    close = ohlcv["close"]
    labels = direction_labels(close, horizon=5, k=0.5, vol_window=20)
    log_close = np.log(close.to_numpy())
    vol = np.std(np.diff(log_close)[:20], ddof=1)  # returns of bars 1..20 -> known at bar 20
    forward = log_close[25] - log_close[20]
    threshold = 0.5 * vol * np.sqrt(5)
    expected = 2 if forward > threshold else 0 if forward < -threshold else 1
    assert labels.iloc[20] == expected
    assert labels.iloc[:20].isna().all()  # volatility not yet known
    assert labels.iloc[-5:].isna().all()  # horizon runs past the data
    assert labels.iloc[20:-5].notna().all()
    assert set(labels.dropna().unique()) <= {0.0, 1.0, 2.0}


@pytest.mark.parametrize("kind", ["direction", "triple_barrier"])
def test_labels_do_not_depend_on_bars_beyond_the_horizon(kind: str) -> None:
    ohlcv = random_walk_ohlcv(200, seed=5)
    spec = LabelSpec(kind, horizon=4)
    before = make_labels(ohlcv, spec)
    changed = ohlcv.copy()
    changed.iloc[120:, :4] *= 0.5  # a crash from bar 120 on
    after = make_labels(changed, spec)
    # labels up to t = 115 only read bars <= 119: untouched
    pd.testing.assert_series_equal(before.iloc[:116], after.iloc[:116])
    # the label at 119 looks at bar 120 first, so it must see the crash
    assert after.iloc[119] == 0.0


def test_rolling_volatility_is_causal() -> None:
    close = random_walk_ohlcv(100, seed=1)["close"]
    vol = rolling_volatility(close, 10)
    shocked = close.copy()
    shocked.iloc[50:] *= 2
    pd.testing.assert_series_equal(vol.iloc[:50], rolling_volatility(shocked, 10).iloc[:50])


def test_forward_log_returns_for_several_horizons() -> None:
    close = pd.Series([100.0, 110.0, 121.0, 100.0])
    frame = forward_log_returns(close, (1, 2))
    assert list(frame.columns) == ["fwd_ret_1", "fwd_ret_2"]
    assert frame["fwd_ret_1"].iloc[0] == pytest.approx(np.log(1.1))
    assert frame["fwd_ret_2"].iloc[1] == pytest.approx(np.log(100 / 110))
    assert frame["fwd_ret_2"].iloc[2:].isna().all()


def _bars(close: list[float], high: list[float], low: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="1h", tz="UTC", name="time")
    return pd.DataFrame({"open": close, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def test_triple_barrier_first_touch_by_hand() -> None:
    # volatility window 2: bars 0..1 flat-ish; labels start at bar 2 where vol is known
    close = [100.0, 101.0, 100.0, 100.5, 99.0, 100.0, 100.0, 100.0]
    high = [c + 0.1 for c in close]
    low = [c - 0.1 for c in close]
    high[3] = 103.0  # bar 3 pierces the upper barrier of bar 2
    low[4] = 95.0  # bar 4 pierces everyone's lower barrier
    labels = triple_barrier_labels(_bars(close, high, low), horizon=2, profit_take=1.0, stop_loss=1.0, vol_window=2)
    log_close = np.log(close)
    width = np.std(np.diff(log_close)[:2], ddof=1) * np.sqrt(2)
    assert 100.0 * np.exp(width) < 103.0  # the planted spike does cross the barrier
    assert labels.iloc[2] == 2.0  # upper first
    assert labels.iloc[3] == 0.0  # lower at bar 4
    assert labels.iloc[-2:].isna().all() and labels.iloc[:2].isna().all()


def test_label_spec_validates_and_round_trips() -> None:
    spec = LabelSpec("triple_barrier", 7, {"profit_take": 2.0})
    assert spec.params == {"profit_take": 2.0, "stop_loss": 1.0, "vol_window": 20}
    assert LabelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(DataValidationError, match="Unknown label"):
        LabelSpec("regression", 5)
    with pytest.raises(DataValidationError, match="at least 1"):
        LabelSpec("direction", 0)
    with pytest.raises(DataValidationError, match="known: k, vol_window"):
        LabelSpec("direction", 5, {"profit_take": 1.0})
