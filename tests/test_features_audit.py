"""The look-ahead audit passes every real feature and catches the classic leaks (centred window, back-fill,
full-sample normalisation, a peek at the next bar)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinelab_core.errors import DataValidationError
from pinelab_core.features import build_features, causality_audit, feature_catalog
from pinelab_core.features.audit import audit_cut_points
from tests.conftest import random_walk_ohlcv

Leak = Callable[[pd.DataFrame], pd.Series]

LEAKS: dict[str, Leak] = {
    "centred_mean": lambda bars: bars["close"].rolling(11, center=True).mean(),
    "backfilled_sma": lambda bars: bars["close"].rolling(20).mean().bfill(),
    "full_sample_zscore": lambda bars: (bars["close"] - bars["close"].mean()) / bars["close"].std(),
    "next_bar_return": lambda bars: bars["close"].pct_change().shift(-1),
}


def _leaky_builder(leaks: dict[str, Leak]) -> Callable[..., pd.DataFrame]:
    """The real matrix plus the given leaky columns, to show the audit finds exactly those."""

    def build(bars: pd.DataFrame, groups: object = None) -> pd.DataFrame:
        matrix = build_features(bars, groups=groups)  # type: ignore[arg-type]
        extra = pd.DataFrame({name: leak(bars) for name, leak in leaks.items()}, index=bars.index)
        return pd.concat([matrix, extra], axis=1)

    return build


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    # a few hundred bars past the longest warm-up (vol_pctile_252: 271 bars)
    return random_walk_ohlcv(1_200, seed=11)


def test_every_feature_passes_the_audit(bars: pd.DataFrame) -> None:
    report = causality_audit(bars, n_cuts=10, seed=0)
    assert list(report.columns) == ["feature", "passed", "max_abs_diff", "first_bad_time"]
    assert list(report["feature"]) == list(feature_catalog()["name"])
    failed = report.loc[~report["passed"], "feature"].tolist()
    assert not failed, f"look-ahead in {failed}"
    assert report["first_bad_time"].isna().all()
    assert report["max_abs_diff"].max() < 1e-9


def test_audit_also_passes_on_intraday_simulated_data() -> None:
    from pinelab_core.data import load_ohlcv

    bars = load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-900:]
    report = causality_audit(bars, n_cuts=4, seed=3)
    assert report["passed"].all(), report.loc[~report["passed"], "feature"].tolist()


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_audit_catches_each_kind_of_leak(bars: pd.DataFrame, leak: str) -> None:
    report = causality_audit(bars, n_cuts=6, seed=1, groups="trend", builder=_leaky_builder({leak: LEAKS[leak]}))
    by_name = report.set_index("feature")
    assert not by_name.loc[leak, "passed"]
    assert by_name.loc[leak, "max_abs_diff"] > 0 and pd.notna(by_name.loc[leak, "first_bad_time"])
    assert by_name.drop(index=leak)["passed"].all()  # the real features stay green beside it


def test_backfill_is_caught_at_the_start_of_the_data(bars: pd.DataFrame) -> None:
    report = causality_audit(bars, n_cuts=2, seed=0, groups="regime",
                             builder=_leaky_builder({"backfilled_sma": LEAKS["backfilled_sma"]}))
    first_bad = report.set_index("feature").loc["backfilled_sma", "first_bad_time"]
    assert first_bad < bars.index[19]  # inside the 20-bar warm-up that the back-fill filled from the future


def test_cut_points_cover_short_prefixes_and_are_seeded() -> None:
    cuts = audit_cut_points(2_000, 12, seed=5)
    assert cuts[:4] == [1, 2, 4, 8] and max(cuts) < 2_000
    assert cuts == audit_cut_points(2_000, 12, seed=5) and cuts != audit_cut_points(2_000, 12, seed=6)
    assert len([c for c in cuts if c >= 500]) >= 10


def test_audit_rejects_too_little_data() -> None:
    with pytest.raises(DataValidationError, match="at least 10 bars"):
        causality_audit(random_walk_ohlcv(5))
    with pytest.raises(DataValidationError, match="n_cuts"):
        causality_audit(random_walk_ohlcv(50), n_cuts=0)


def test_raw_cumulative_lines_depend_on_the_start_but_their_scale_free_variants_do_not() -> None:
    bars = random_walk_ohlcv(600, seed=4)
    full, late = build_features(bars, groups="volume"), build_features(bars.iloc[100:], groups="volume")
    tail = late.index[-100:]
    offset = full.loc[tail, "obv"] - late.loc[tail, "obv"]
    assert offset.abs().min() > 1.0 and np.ptp(offset) < 1e-6  # a constant shift: causal, but start-dependent
    for name in ("obv_slope_20", "obv_z_50", "ad_slope_20"):
        np.testing.assert_allclose(late.loc[tail, name], full.loc[tail, name], rtol=1e-7, atol=1e-9, err_msg=name)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(40, 400), cut_share=st.floats(0.05, 0.95))
def test_any_prefix_reproduces_the_full_matrix(seed: int, n: int, cut_share: float) -> None:
    """Property: for any market and any cut, the prefix's features equal the full matrix's first rows."""
    bars = random_walk_ohlcv(n, seed=seed, freq="15min")
    cut = max(1, int(n * cut_share))
    groups = ["volatility", "statistics", "structure", "time", "spectral", "patterns"]
    full = build_features(bars, groups=groups).iloc[:cut]
    part = build_features(bars.iloc[:cut], groups=groups)
    pd.testing.assert_frame_equal(part, full, check_freq=False, rtol=1e-9, atol=1e-12)
