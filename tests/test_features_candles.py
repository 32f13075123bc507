"""The compiled candlestick pass gives exactly TA-Lib's pattern outputs, on markets where every pattern fires."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from pinelab_core.data import load_ohlcv
from pinelab_core.features import build_features
from pinelab_core.features.candles import CANDLE_PATTERNS, candle_patterns
from tests.conftest import random_walk_ohlcv


def _ticks_and_flat_bars(n: int = 20_000, seed: int = 1) -> pd.DataFrame:
    """Prices on a 0.25 tick grid with 10% flat bars (high == low): exact ties against every threshold."""
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.choice([-0.25, 0.0, 0.25], n))
    open_ = np.concatenate([[100.0], close[:-1]]) + rng.choice([-0.25, 0.0, 0.0, 0.25], n)
    high = np.maximum(open_, close) + rng.choice([0.0, 0.25, 0.5], n)
    low = np.minimum(open_, close) - rng.choice([0.0, 0.25, 0.5], n)
    flat = rng.random(n) < 0.1
    open_[flat] = high[flat] = low[flat] = close[flat]
    index = pd.date_range("2024-01-01", periods=n, freq="5min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def _gappy_bars(n: int = 20_000, seed: int = 5) -> pd.DataFrame:
    """Bars that open away from the last close and often have no shadows: kicking, belt holds, stars."""
    rng = np.random.default_rng(seed)
    open_ = 100 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    close = open_ * np.exp(rng.normal(0.0, 0.01, n))
    shadow = np.where(rng.random(n) < 0.5, 0.0, rng.exponential(0.002, n)) * open_
    high, low = np.maximum(open_, close) + shadow, np.minimum(open_, close) - shadow[::-1]
    index = pd.date_range("2024-01-01", periods=n, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


MARKETS = {
    "random_walk": lambda: random_walk_ohlcv(20_000, seed=3),
    "demo_equity_daily": lambda: load_ohlcv("DEMO-EQUITY", "1d", source="demo"),
    "demo_btc_hourly": lambda: load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-8_000:],
    "demo_fx_minutes": lambda: load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-20", tz="UTC"), source="demo"),
    "ticks_and_flat_bars": _ticks_and_flat_bars,
    "gappy_bars": _gappy_bars,
}


def _judge(bars: pd.DataFrame) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    o, h, low, c = (np.ascontiguousarray(bars[k].to_numpy()) for k in ("open", "high", "low", "close"))
    judged = np.empty((len(CANDLE_PATTERNS), len(c)))
    candle_patterns(o, h, low, c, judged)
    return (o, h, low, c), judged


@pytest.mark.parametrize("market", sorted(MARKETS))
def test_every_pattern_equals_talib(market: str) -> None:
    prices, judged = _judge(MARKETS[market]())
    for (function, first), values in zip(CANDLE_PATTERNS, judged, strict=True):
        expected = getattr(talib, function)(*prices) / 100.0
        expected[:first] = np.nan
        np.testing.assert_array_equal(values, expected, err_msg=function)


def test_every_pattern_fires_on_the_markets_above() -> None:
    """Equality only means something for a pattern that is actually found, bullish and bearish alike."""
    found = np.zeros((len(CANDLE_PATTERNS), 2), dtype=int)
    for make in MARKETS.values():
        judged = np.nan_to_num(_judge(make())[1])
        found += np.stack([(judged > 0).sum(axis=1), (judged < 0).sum(axis=1)], axis=1)
    bearish_only = {"CDLHANGINGMAN", "CDLSHOOTINGSTAR", "CDLDARKCLOUDCOVER", "CDLEVENINGSTAR", "CDLEVENINGDOJISTAR",
                    "CDL3BLACKCROWS"}
    one_sided = bearish_only | {"CDLDOJI", "CDLDRAGONFLYDOJI", "CDLGRAVESTONEDOJI", "CDLHAMMER", "CDLINVERTEDHAMMER",
                                "CDLPIERCING", "CDLMORNINGSTAR", "CDLMORNINGDOJISTAR", "CDL3WHITESOLDIERS"}
    for (function, _), (bullish, bearish) in zip(CANDLE_PATTERNS, found, strict=True):
        if function not in bearish_only:
            assert bullish >= 5, f"{function}: found bullish {bullish} times"
        if function not in one_sided or function in bearish_only:
            assert bearish >= 5, f"{function}: found bearish {bearish} times"


@pytest.mark.parametrize("n", [0, 1, 2, 5, 11, 13, 14])
def test_short_frames_are_all_warm_up(n: int) -> None:
    bars = random_walk_ohlcv(n, seed=2)
    features = build_features(bars, groups="patterns")
    for (_, first), name in zip(CANDLE_PATTERNS, features.columns, strict=True):
        assert features[name].iloc[:first].isna().all() and features[name].iloc[first:].notna().all(), name


def test_float32_and_subset_builds_match_the_in_place_float64_build() -> None:
    bars = random_walk_ohlcv(3_000, seed=8)
    full = build_features(bars)[build_features(bars, groups="patterns").columns]
    alone = build_features(bars, groups="patterns")
    small = build_features(bars, groups=["patterns"], dtype="float32")
    pd.testing.assert_frame_equal(alone, full)
    np.testing.assert_array_equal(small.to_numpy(), full.to_numpy().astype(np.float32))
