"""The opt-in fitted-model feature groups (hmm, garch, anomaly): out of the default build, catalogued honestly,
causal (the look-ahead audit with every fit redone from scratch), the same on the trailing `history` slice as on
the full history, defined after the warm-up on awkward markets, and scale-free where they say so."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import load_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.features import (
    FEATURE_GROUPS,
    build_features,
    causality_audit,
    feature_catalog,
    model_feature_names,
    required_history,
)
from pinelab_core.features.builder import build_feature_frame
from pinelab_core.features.hmm_regime import fit_hmm, hmm_inputs
from pinelab_core.features.registry import OPT_IN_GROUPS
from pinelab_core.features.walkforward import clear_fit_caches, refit_positions, segments
from tests.conftest import random_walk_ohlcv
from tests.test_features_defined import no_volume_flat_bars

GROUPS = ["hmm", "garch", "anomaly"]  # the fitted-model groups (mtf, the other opt-in group: test_features_mtf.py)


def test_opt_in_groups_stay_out_of_the_default_build_and_catalog() -> None:
    assert set(OPT_IN_GROUPS) == {*GROUPS, "mtf"} and not set(OPT_IN_GROUPS) & set(FEATURE_GROUPS)
    default = feature_catalog()
    assert not set(default["group"]) & set(OPT_IN_GROUPS)
    assert not {n for n in model_feature_names() if n.startswith(("hmm_", "garch_", "gjr_", "rz_", "iforest"))}
    bars = random_walk_ohlcv(1_200, seed=3)
    opted = build_features(bars, groups=[*FEATURE_GROUPS, "hmm"])
    assert list(opted.columns) == list(feature_catalog([*FEATURE_GROUPS, "hmm"])["name"])
    assert list(opted.columns[: len(default)]) == list(default["name"])  # opt-in columns come after the default


def test_opt_in_catalog_rows_are_honest_about_inputs() -> None:
    catalog = feature_catalog(GROUPS).set_index("name")
    assert len(catalog) == 25 and catalog["scale_free"].all() and not catalog["start_dependent"].any()
    assert (catalog["history"] == catalog["lookback"] + 1).all()
    assert model_feature_names("hmm") == [n for n in catalog.index if n.startswith("hmm_")]
    assert required_history(GROUPS) == int(catalog["history"].max())
    with pytest.raises(DataValidationError, match="opt-in: hmm, garch, anomaly"):
        feature_catalog("regimes")


def _fresh_build(bars: pd.DataFrame, groups: object = None) -> pd.DataFrame:
    """A build that refits every model: no value may come from a fit cached by an earlier, longer build."""
    clear_fit_caches()
    return build_feature_frame(bars, groups=groups)  # type: ignore[arg-type]


@pytest.mark.slow
def test_opt_in_features_pass_the_look_ahead_audit_with_every_fit_redone() -> None:
    bars = random_walk_ohlcv(1_500, seed=11)
    report = causality_audit(bars, n_cuts=3, seed=0, groups=GROUPS, builder=_fresh_build)
    assert list(report["feature"]) == list(feature_catalog(GROUPS)["name"])
    assert report["passed"].all(), report.loc[~report["passed"], "feature"].tolist()


def test_opt_in_features_pass_the_audit() -> None:
    report = causality_audit(random_walk_ohlcv(1_300, seed=5), n_cuts=3, seed=1, groups=GROUPS)
    assert report["passed"].all(), report.loc[~report["passed"], "feature"].tolist()


@cache
def _market(kind: str) -> pd.DataFrame:
    if kind == "daily equity":
        return load_ohlcv("DEMO-EQUITY", "1d", source="demo")
    if kind == "hourly crypto":
        return load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-3_000:]
    return load_ohlcv("DEMO-FX", "1m", source="demo").iloc[-3_000:]  # weekend gaps cross the refit periods


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["daily equity", "hourly crypto", "minute FX"])
def test_each_group_needs_no_more_than_its_own_history_with_fresh_fits(kind: str) -> None:
    """The refit schedule is anchored to the clock, the fits see rolling windows: a slice of `history` bars
    refits the same windows and reproduces the full-history value at its last bar."""
    bars = _market(kind)
    full = build_features(bars, groups=GROUPS)
    catalog = feature_catalog(GROUPS).set_index("name")
    for history, names in catalog.groupby("history").groups.items():
        groups = sorted(set(catalog.loc[names, "group"]))
        for cut in (int(len(bars) * 0.75), len(bars)):
            clear_fit_caches()
            sliced = build_features(bars.iloc[cut - history : cut], groups=groups)[list(names)].iloc[-1]
            reference = full[list(names)].iloc[cut - 1]
            floor = np.maximum(reference.abs(), full[list(names)].std())
            assert ((sliced - reference).abs() <= 1e-6 * floor).all(), f"history {history}, cut {cut}"


def test_a_slice_shorter_than_the_history_gives_no_value_rather_than_another() -> None:
    """The warm-up covers the first fit on any frame: a slice too short for a whole fit window plus a refit
    period reads NaN (never a value from a model fitted on fewer bars), one of `history` bars reads the value."""
    bars = _market("daily equity")
    history = required_history("hmm")
    full = build_features(bars, groups="hmm")["hmm_exp_vol"]
    short = build_features(bars.iloc[-(history - 1):], groups="hmm")["hmm_exp_vol"]
    enough = build_features(bars.iloc[-history:], groups="hmm")["hmm_exp_vol"]
    assert short.isna().all()
    assert enough.iloc[:-1].isna().all() and enough.iloc[-1] == pytest.approx(full.iloc[-1], rel=1e-9)


@pytest.mark.parametrize("market", ["no volume, flat bars, halt, gaps", "hourly crypto"])
def test_every_value_after_the_warm_up_is_finite(market: str) -> None:
    bars = no_volume_flat_bars() if market.startswith("no volume") else _market("hourly crypto")
    matrix = build_features(bars, groups=GROUPS)
    lookback = feature_catalog(GROUPS).set_index("name")["lookback"]
    broken = {name: int((~np.isfinite(matrix[name].to_numpy()[lookback[name]:])).sum()) for name in matrix}
    assert not {k: v for k, v in broken.items() if v}, broken
    leading = {name: int(np.argmax(np.isfinite(matrix[name].to_numpy()))) for name in matrix}
    assert all(leading[name] >= lookback[name] for name in matrix)  # nothing before the promised warm-up


@pytest.mark.parametrize("kind", ["daily equity", "hourly crypto"])
def test_scale_free_on_real_looking_markets(kind: str) -> None:
    """Fitted on returns, standardised per window: 250x the price and 1000x the volume read the same.

    (On a pure random walk the GARCH likelihood is flat, alpha ~ 0 leaves beta unidentified, and the optimiser
    stops wherever rounding sends it: its parameters are not worth reading there at any scale.)"""
    bars = _market(kind).iloc[-1_700:]
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 250.0
    scaled["volume"] *= 1_000.0
    clear_fit_caches()
    base = build_features(bars, groups=GROUPS).iloc[-400:]
    clear_fit_caches()
    big = build_features(scaled, groups=GROUPS).iloc[-400:]
    floor = np.maximum(base.abs().to_numpy(), base.std().clip(lower=1e-12).to_numpy())
    worst = pd.Series(np.nanmax(np.abs(big.to_numpy() - base.to_numpy()) / floor, axis=0), index=base.columns)
    assert (worst < 1e-3).all(), worst[worst >= 1e-3].to_dict()


def test_refit_bars_are_anchored_to_the_clock_not_to_the_frame_start() -> None:
    index = random_walk_ohlcv(3_000, seed=0).index
    full = refit_positions(index, every=100, window=500)
    assert np.all(np.diff(full) == 100)  # regular hourly bars: one refit per 100 bars
    for start in (1, 37, 499):
        late = refit_positions(index[start:], every=100, window=500) + start
        assert set(late) == {r for r in full if r >= start + 500}
    parts = segments(index, window=500, every=100, warmup=10)
    assert all(p.refit - p.fit_start == 500 and p.fit_start >= 10 for p in parts)
    assert [p.end for p in parts[:-1]] == [p.refit for p in parts[1:]] and parts[-1].end == len(index)


def test_a_fit_depends_only_on_its_window_and_the_cache_returns_it() -> None:
    close = random_walk_ohlcv(700, seed=8)["close"].to_numpy()
    inputs = hmm_inputs(close)[10:510]
    clear_fit_caches()
    first = fit_hmm(inputs)
    assert fit_hmm(inputs) is first  # cached by the bytes of the window
    clear_fit_caches()
    again = fit_hmm(inputs.copy())
    np.testing.assert_array_equal(again.transmat, first.transmat)
    np.testing.assert_array_equal(again.means, first.means)
    assert list(np.argsort(first.means[:, 1])) == list(range(first.n_states))  # calmest first
