"""Multi-timeframe features: a coarser timeframe's indicators aligned to the frame's bars, using only the
higher-timeframe bars closed by each bar's close; an optional group with honest catalog flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import load_ohlcv, resample_ohlcv
from pinelab_core.features import FEATURE_GROUPS, build_features, causality_audit, feature_catalog, required_history
from pinelab_core.features.inputs import groups_to_build, model_feature_names
from pinelab_core.features.registry import OPT_IN_GROUPS
from tests.conftest import random_walk_ohlcv
from tests.test_features_defined import no_volume_flat_bars


def _markets() -> dict[str, pd.DataFrame]:
    return {
        "hourly random walk": random_walk_ohlcv(1_500, seed=3),
        "hourly crypto": load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-1_500:],
        "daily equity": load_ohlcv("DEMO-EQUITY", "1d", source="demo").iloc[-1_500:],
        "minute FX with weekends": load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-20", tz="UTC"),
                                              source="demo").iloc[-4_000:],
    }


def test_mtf_is_an_optional_group_outside_the_default_build() -> None:
    assert "mtf" in OPT_IN_GROUPS and "mtf" not in FEATURE_GROUPS
    bars = random_walk_ohlcv(300, seed=1)
    assert not any(c.startswith("htf") for c in build_features(bars).columns)
    assert not any(n.startswith("htf") for n in feature_catalog()["name"])
    both = build_features(bars, groups=["trend", "mtf"])
    assert list(both.columns) == list(feature_catalog(["trend", "mtf"])["name"])
    assert groups_to_build(["rsi_14", "adx_14"]) is None
    assert groups_to_build(["rsi_14", "htf4_rsi_14"]) == [*FEATURE_GROUPS, "mtf"]
    assert model_feature_names("mtf") == list(feature_catalog("mtf")["name"])


def test_catalog_flags_are_honest() -> None:
    catalog = feature_catalog("mtf")
    assert len(catalog) == 12
    assert catalog["scale_free"].all() and not catalog["start_dependent"].any()
    assert (catalog["history"] == catalog["lookback"] + 1).all()
    assert required_history("mtf") == 529  # the 24x volatility: 21 complete day-bars of hourly data and then some


@pytest.mark.parametrize("market", list(_markets()))
def test_mtf_passes_the_look_ahead_audit(market: str) -> None:
    report = causality_audit(_markets()[market], n_cuts=8, seed=1, groups="mtf")
    assert report["passed"].all(), report.loc[~report["passed"]].to_string()


def test_warm_up_is_exactly_the_catalog_lookback_and_every_later_value_is_finite() -> None:
    for bars in (random_walk_ohlcv(1_500, seed=3), no_volume_flat_bars()):
        matrix = build_features(bars, groups="mtf")
        for name, lookback in feature_catalog("mtf")[["name", "lookback"]].itertuples(index=False):
            values = matrix[name].to_numpy()
            assert np.isnan(values[:lookback]).all(), name
            assert np.isfinite(values[lookback:]).all(), name


def test_values_equal_the_closed_higher_timeframe_bars_resampled_independently() -> None:
    bars = random_walk_ohlcv(600, seed=5).iloc[1:]  # starts at 01:00: the first 4h and daily buckets are partial
    matrix = build_features(bars, groups="mtf")
    for factor, rule in ((4, "4h"), (24, "1d")):
        higher = resample_ohlcv(bars, rule)
        closes_at = higher.index + pd.Timedelta(rule.upper() if rule == '1d' else rule)
        for t in (150, 301, 333, 598):
            bar_close = bars.index[t] + pd.Timedelta("1h")
            closed = higher[(closes_at <= bar_close)].iloc[1:]  # the first, partial bucket never counts
            last = closed.iloc[-1]
            position = (bars["close"].iloc[t] - last["low"]) / (last["high"] - last["low"])
            assert matrix[f"htf{factor}_range_pos"].iloc[t] == pytest.approx(position, rel=1e-12)
            log_return = np.log(closed["close"].iloc[-1] / closed["close"].iloc[-2])
            assert matrix[f"htf{factor}_return_1"].iloc[t] == pytest.approx(log_return, rel=1e-12)
            if len(closed) >= 20:
                trend = np.log(bars["close"].iloc[t] / closed["close"].iloc[-20:].mean())
                assert matrix[f"htf{factor}_trend_20"].iloc[t] == pytest.approx(trend, rel=1e-9, abs=1e-12)


def test_a_forming_higher_timeframe_bar_never_counts() -> None:
    """Hours 12:00-14:00 of the 12:00-16:00 bar see the 08:00-12:00 bar; the 15:00 hour closes its own."""
    bars = random_walk_ohlcv(200, seed=8)
    matrix = build_features(bars, groups="mtf")
    day = bars.index[100].normalize()
    hours = {h: bars.index.get_loc(day + pd.Timedelta(hours=h)) for h in (11, 12, 13, 14, 15)}
    previous = bars.iloc[hours[11] - 3:hours[11] + 1]  # 08:00-11:00
    current = bars.iloc[hours[12]:hours[15] + 1]  # 12:00-15:00

    def position(row: int, bucket: pd.DataFrame) -> float:
        return (bars["close"].iloc[row] - bucket["low"].min()) / (bucket["high"].max() - bucket["low"].min())

    for h in (11, 12, 13, 14):
        assert matrix["htf4_range_pos"].iloc[hours[h]] == pytest.approx(position(hours[h], previous), rel=1e-12)
    assert matrix["htf4_range_pos"].iloc[hours[15]] == pytest.approx(position(hours[15], current), rel=1e-12)
    assert matrix["htf4_progress"].iloc[[hours[h] for h in (12, 13, 14, 15)]].tolist() == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("market", ["hourly crypto", "daily equity"])
def test_the_trailing_history_reproduces_the_full_history_value(market: str) -> None:
    bars = _markets()[market]
    full = build_features(bars, groups="mtf")
    for name, history in feature_catalog("mtf")[["name", "history"]].itertuples(index=False):
        for cut in (len(bars) - 7, len(bars)):
            sliced = build_features(bars.iloc[cut - history:cut], groups="mtf")[name].iloc[-1]
            assert sliced == pytest.approx(full[name].iloc[cut - 1], rel=1e-9, abs=1e-12), (name, cut)


def test_scale_free_values_do_not_change_with_the_price_level() -> None:
    bars = random_walk_ohlcv(800, seed=2)
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 250.0
    scaled["volume"] *= 1_000.0
    pd.testing.assert_frame_equal(build_features(bars, groups="mtf"), build_features(scaled, groups="mtf"),
                                  rtol=1e-9, atol=1e-12)
