"""Chart overlays: moving averages and bands equal TA-Lib; VWAP is causal and anchored per period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from pinelab_core.errors import DataValidationError
from pinelab_core.features.overlays import Overlay, anchored_vwap, bollinger_bands, compute_overlay, ema, sma
from tests.conftest import random_walk_ohlcv


def test_sma_and_ema_equal_talib() -> None:
    ohlcv = random_walk_ohlcv(500, seed=3)
    close = ohlcv["close"].to_numpy()
    np.testing.assert_array_equal(sma(ohlcv, 50).to_numpy(), talib.SMA(close, timeperiod=50))
    np.testing.assert_array_equal(ema(ohlcv, 20).to_numpy(), talib.EMA(close, timeperiod=20))
    assert sma(ohlcv, 50).index.equals(ohlcv.index)
    assert sma(ohlcv, 50).iloc[:49].isna().all() and sma(ohlcv, 50).iloc[49:].notna().all()


def test_bollinger_bands_equal_talib_and_match_the_feature_names() -> None:
    ohlcv = random_walk_ohlcv(300, seed=4)
    bands = bollinger_bands(ohlcv, 20, 2.5)
    upper, middle, lower = talib.BBANDS(ohlcv["close"].to_numpy(), timeperiod=20, nbdevup=2.5, nbdevdn=2.5)
    assert list(bands.columns) == ["bb_upper_20", "bb_middle_20", "bb_lower_20"]
    np.testing.assert_array_equal(bands["bb_upper_20"].to_numpy(), upper)
    np.testing.assert_array_equal(bands["bb_middle_20"].to_numpy(), middle)
    np.testing.assert_array_equal(bands["bb_lower_20"].to_numpy(), lower)


def _two_sessions() -> pd.DataFrame:
    index = pd.to_datetime(
        ["2024-03-04 22:00", "2024-03-04 23:00", "2024-03-05 00:00", "2024-03-05 01:00"], utc=True
    ).rename("time")
    return pd.DataFrame({
        "open": [10.0, 11.0, 20.0, 21.0], "high": [12.0, 13.0, 22.0, 24.0], "low": [9.0, 10.0, 19.0, 18.0],
        "close": [11.0, 12.0, 21.0, 21.0], "volume": [100.0, 300.0, 50.0, 150.0],
    }, index=index)


def test_vwap_by_hand_restarts_every_session() -> None:
    vwap = anchored_vwap(_two_sessions())  # hourly bars -> "auto" anchors per UTC day
    typical = [(12 + 9 + 11) / 3, (13 + 10 + 12) / 3, (22 + 19 + 21) / 3, (24 + 18 + 21) / 3]
    expected = [
        typical[0],
        (typical[0] * 100 + typical[1] * 300) / 400,
        typical[2],  # a new day starts from scratch
        (typical[2] * 50 + typical[3] * 150) / 200,
    ]
    np.testing.assert_allclose(vwap.to_numpy(), expected)


def test_vwap_on_daily_bars_anchors_per_month_and_zero_volume_has_no_value() -> None:
    ohlcv = random_walk_ohlcv(70, seed=5, freq="1D")
    ohlcv.loc[ohlcv.index[0], "volume"] = 0.0
    vwap = anchored_vwap(ohlcv)
    assert np.isnan(vwap.iloc[0])  # no traded volume yet this month: no VWAP, not a division by zero
    february = ohlcv.index.month == 2
    first_feb = ohlcv[february].iloc[0]
    assert vwap[february].iloc[0] == pytest.approx((first_feb["high"] + first_feb["low"] + first_feb["close"]) / 3)
    session = anchored_vwap(ohlcv, "session")  # per day on daily bars = each bar's typical price
    typical = (ohlcv["high"] + ohlcv["low"] + ohlcv["close"]) / 3
    np.testing.assert_allclose(session.iloc[1:].to_numpy(), typical.iloc[1:].to_numpy())


def test_vwap_is_causal() -> None:
    ohlcv = random_walk_ohlcv(400, seed=6, freq="15min")
    full = anchored_vwap(ohlcv)
    prefix = anchored_vwap(ohlcv.iloc[:250])
    pd.testing.assert_series_equal(full.iloc[:250], prefix)


def test_compute_overlay_shapes_and_labels() -> None:
    ohlcv = random_walk_ohlcv(100, seed=7)
    assert list(compute_overlay(ohlcv, Overlay("sma", 10)).columns) == ["sma_10"]
    assert list(compute_overlay(ohlcv, Overlay("vwap")).columns) == ["vwap"]
    assert compute_overlay(ohlcv, Overlay("bollinger", 20)).shape == (100, 3)
    assert Overlay("sma", 50).label == "SMA 50"
    assert Overlay("bollinger", 20, num_std=2).label == "BB 20 2"
    assert Overlay("vwap", anchor="week").label == "VWAP (week)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "macd"}, "Unknown overlay"),
        ({"kind": "sma", "window": 1}, "at least 2"),
        ({"kind": "bollinger", "num_std": 0.0}, "positive"),
        ({"kind": "vwap", "anchor": "year"}, "Unknown VWAP anchor"),
    ],
)
def test_bad_overlay_requests_say_what_to_use(kwargs: dict, message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        Overlay(**kwargs)


def test_overlays_need_ohlcv_columns() -> None:
    with pytest.raises(DataValidationError, match="close"):
        sma(pd.DataFrame({"price": [1.0, 2.0]}), 2)
    with pytest.raises(DataValidationError, match="volume"):
        anchored_vwap(random_walk_ohlcv(10).drop(columns="volume"))
