"""Same features at training and at inference (issue 10): for every default model input, the value at the last
bar is the same whether built on the full history or on the trailing `required_history` bars inference uses;
the catalog's `start_dependent` and `scale_free` flags say the truth both ways."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import load_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.features import build_features, feature_catalog, model_feature_names, required_history
from tests.conftest import random_walk_ohlcv

RELATIVE = 1e-6
CUT_SHARES = (0.45, 0.7, 1.0)


@cache
def _series(kind: str) -> pd.DataFrame:
    if kind == "daily equity":
        return load_ohlcv("DEMO-EQUITY", "1d", start=pd.Timestamp("1999-01-01", tz="UTC"), source="demo")
    if kind == "hourly crypto":
        return load_ohlcv("DEMO-BTC", "1h", source="demo").iloc[-9_000:]
    return load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-01", tz="UTC"), source="demo").iloc[-9_000:]


@cache
def _full(kind: str) -> pd.DataFrame:
    return build_features(_series(kind))


def _mismatches(sliced: pd.Series, full: pd.Series, scale: pd.Series) -> list[str]:
    """Features whose values differ by more than 1e-6 of max(|value|, the feature's spread on this market)."""
    floor = np.maximum(full.abs(), np.maximum(scale, 1e-12))
    bad = ~((sliced - full).abs() <= RELATIVE * floor)
    return [f"{name}: {sliced[name]!r} vs {full[name]!r}" for name in full.index[bad]]


@pytest.mark.parametrize("kind", ["daily equity", "hourly crypto", "minute FX"])
def test_default_model_inputs_match_on_the_trailing_slice_inference_uses(kind: str) -> None:
    names = model_feature_names()
    history = required_history(names)
    bars, full = _series(kind), _full(kind)[names]
    scale = full.std()
    for share in CUT_SHARES:
        cut = int(len(bars) * share)
        assert cut > 2 * history, "the cut must leave older history for the slice to drop"
        sliced = build_features(bars.iloc[cut - history : cut])[names].iloc[-1]
        assert not _mismatches(sliced, full.iloc[cut - 1], scale), f"cut at bar {cut} of {kind}"


def test_recursive_smoothings_need_more_than_their_warm_up() -> None:
    """The check above can fail: sliced to just past their warm-up, EMA- and Wilder-based features differ."""
    bars, full = _series("hourly crypto"), _full("hourly crypto")
    names = ["dist_ema_50", "rsi_14", "adx_14", "dist_kama_30", "macd_hist_atr"]
    sliced = build_features(bars.iloc[-120:])[names].iloc[-1]
    assert len(_mismatches(sliced, full[names].iloc[-1], full[names].std())) == len(names)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["daily equity", "hourly crypto", "minute FX"])
def test_each_feature_needs_no_more_than_its_own_history(kind: str) -> None:
    """The catalog's per-feature `history` holds on its own (features grouped by equal history)."""
    catalog = feature_catalog().set_index("name").loc[model_feature_names()]
    bars, full = _series(kind), _full(kind)
    scale = full.std()
    for history, names in catalog.groupby("history").groups.items():
        groups = sorted(set(catalog.loc[names, "group"]))
        for share in CUT_SHARES:
            cut = int(len(bars) * share)
            sliced = build_features(bars.iloc[cut - history : cut], groups=groups)[list(names)].iloc[-1]
            reference = full[list(names)].iloc[cut - 1]
            assert not _mismatches(sliced, reference, scale[list(names)]), f"history {history}, cut {cut}"


def test_start_dependent_features_really_depend_on_the_start() -> None:
    bars = random_walk_ohlcv(2_000, seed=4)
    full, late = build_features(bars, groups="volume"), build_features(bars.iloc[500:], groups="volume")
    catalog = feature_catalog("volume").set_index("name")
    for name in catalog.index[catalog["start_dependent"]]:
        assert (full[name].iloc[-1] - late[name].iloc[-1]) != pytest.approx(0.0, abs=1.0), name
    with pytest.raises(DataValidationError, match="depend on where the data starts"):
        required_history(["obv"])


def test_scale_free_flags_are_true_both_ways() -> None:
    """Scale-free features read the same at 250x the price and 1000x the volume; the others change."""
    bars = random_walk_ohlcv(1_500, seed=9)
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 250.0
    scaled["volume"] *= 1_000.0
    base, big = build_features(bars).iloc[-300:], build_features(scaled).iloc[-300:]
    catalog = feature_catalog().set_index("name")
    for name, free in catalog["scale_free"].items():
        same = np.allclose(big[name], base[name], rtol=1e-6, atol=1e-9 * max(base[name].abs().max(), 1.0))
        assert same == free, f"{name}: scale_free={free} but {'unchanged' if same else 'changed'} when rescaled"


def test_model_feature_names_selects_in_matrix_order() -> None:
    catalog = feature_catalog()
    default = model_feature_names()
    assert default == [n for n, free, dep in catalog[["name", "scale_free", "start_dependent"]].itertuples(index=False)
                       if free and not dep]
    assert "sma_200" not in default and "obv" not in default and "dist_sma_200" in default
    groups = catalog.set_index("name")["group"]
    assert model_feature_names(["rsi_14", "trend", "sma_50"]) == [n for n in default
                                                                  if n == "rsi_14" or groups[n] == "trend"]
    assert "sma_50" in model_feature_names("sma_50, volume", include_price_levels=True)
    assert "obv" in model_feature_names("volume", include_start_dependent=True, include_price_levels=True)
    assert required_history(["rsi_14"]) < required_history(["kama_30"]) == required_history(default)
    with pytest.raises(DataValidationError, match="did you mean 'rsi_14'"):
        model_feature_names(["rsi14"])
