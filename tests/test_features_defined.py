"""Only warm-up rows may be NaN: after each feature's catalog warm-up every value is finite, on real-looking
markets and on the awkward ones (no volume, flat bars, a halted stretch, gaps), so walk-forward keeps every
bar instead of silently dropping breakouts and quiet hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import load_ohlcv
from pinelab_core.features import build_features, feature_catalog
from tests.conftest import random_walk_ohlcv


def no_volume_flat_bars(n: int = 3_000, seed: int = 5) -> pd.DataFrame:
    """An index-like market: no volume at all, 20% of bars flat (high == low), a 300-bar halt (every price
    equal) in the middle, a flat start, and weekend-sized gaps in the timestamps."""
    bars = random_walk_ohlcv(n, seed=seed)
    bars["volume"] = 0.0
    flat = np.random.default_rng(seed).random(n) < 0.2
    for column in ("open", "high", "low"):
        bars.loc[flat, column] = bars.loc[flat, "close"]
    bars.iloc[1_000:1_300, :4] = bars["close"].iloc[999]
    bars.iloc[:80, :4] = 100.0
    gaps = np.cumsum(np.where(np.arange(n) % 500 == 499, 49, 1))  # every 500 bars, two days missing
    bars.index = pd.date_range("2022-01-03", periods=gaps[-1] + 1, freq="1h", tz="UTC", name="time")[gaps]
    return bars


MARKETS = {
    "DEMO-EQUITY daily": lambda: load_ohlcv("DEMO-EQUITY", "1d", source="demo"),
    "DEMO-FX minutes": lambda: load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-15", tz="UTC"), source="demo"),
    "DEMO-BTC hourly": lambda: load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-6_000:],
    "random walk": lambda: random_walk_ohlcv(3_000, seed=2),
    "no volume, flat bars, halt, gaps": no_volume_flat_bars,
}


@pytest.mark.parametrize("market", list(MARKETS))
def test_every_value_after_the_warm_up_is_finite(market: str) -> None:
    matrix = build_features(MARKETS[market]())
    catalog = feature_catalog().set_index("name")
    broken = {}
    for name in matrix.columns:
        values = matrix[name].to_numpy()
        warm_up = int(catalog.loc[name, "lookback"])
        bad = np.flatnonzero(~np.isfinite(values[warm_up:]))
        if len(bad):
            broken[name] = f"{len(bad)} rows, first at {matrix.index[warm_up + bad[0]]}"
    assert not broken, f"non-finite values after the warm-up on {market}: {broken}"


def test_undefined_by_design_becomes_a_defined_value_and_an_indicator() -> None:
    """A breakout above every recent swing has no resistance: the distance is capped, and a column says so."""
    bars = random_walk_ohlcv(1_500, seed=2)
    bars.iloc[-60:, :4] = bars.iloc[-60:, :4].mul(np.linspace(1.0, 1.6, 60), axis=0)  # a straight rally
    features = build_features(bars, groups="structure").iloc[-20:]
    assert (features["above_all_resistance"] == 1.0).all()
    assert np.isfinite(features["dist_resistance"]).all() and (features["dist_resistance"] > 0).all()
    assert (features["below_all_support"] == 0.0).all() and (features["dist_support"] > 0).all()
