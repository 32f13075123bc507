"""GARCH volatility: the fits recover planted parameters, the conditional volatility of bar t is known at t - 1's
close (a shock at t moves only the forecast), and on GARCH data the forecasts beat the naive one."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from pinelab_core.features.garch import fit_garch, garch_path
from pinelab_core.structure import volatility_forecasts
from tests.structure_helpers import garch_ohlcv


@cache
def _garch_market() -> tuple[pd.DataFrame, np.ndarray]:
    return garch_ohlcv(3_000, seed=2, alpha=0.08, beta=0.9)


def _returns(bars: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(bars["close"].to_numpy()))


def test_fits_recover_planted_parameters() -> None:
    returns = _returns(_garch_market()[0])[-2_500:]
    fit = fit_garch(np.ascontiguousarray(returns), "garch")
    assert fit.converged and fit.alpha == pytest.approx(0.08, abs=0.04) and fit.beta == pytest.approx(0.9, abs=0.06)
    assert fit.persistence == pytest.approx(0.98, abs=0.03) and 3.0 < fit.nu < 15.0
    skewed = _returns(garch_ohlcv(3_000, seed=5, alpha=0.02, gamma=0.12, beta=0.9)[0])[-2_500:]
    gjr = fit_garch(np.ascontiguousarray(skewed), "gjr")
    assert gjr.converged and gjr.gamma > 0.05 and gjr.gamma > gjr.alpha  # falls raise volatility more


def test_a_flat_window_falls_back_to_zero_volatility() -> None:
    fit = fit_garch(np.zeros(750), "garch")
    assert not fit.converged and fit.omega == fit.alpha == fit.beta == 0.0


def test_conditional_volatility_is_known_the_bar_before_and_a_shock_moves_only_the_forecast() -> None:
    bars = _garch_market()[0].iloc[:2_000]
    shocked = bars.copy()
    shocked.iloc[-1, shocked.columns.get_loc("close")] *= 0.9  # a 10% fall on the last bar
    for kind in ("garch", "gjr"):
        before = garch_path(bars["close"].to_numpy(), bars.index, kind)
        after = garch_path(shocked["close"].to_numpy(), shocked.index, kind)
        assert before.volatility[-1] == after.volatility[-1] and np.isfinite(before.volatility[-1])
        assert after.forecast[-1] > 1.5 * before.forecast[-1]
        np.testing.assert_array_equal(before.forecast[:-1], after.forecast[:-1])


def test_forecasts_track_the_true_volatility_and_beat_the_naive_one() -> None:
    bars, truth = _garch_market()
    forecast = volatility_forecasts(bars)
    known = forecast.frame["garch"].notna().to_numpy()
    per_bar = forecast.frame["garch"].to_numpy()[known] / np.sqrt(forecast.bars_per_year)
    assert np.corrcoef(per_bar, truth[known])[0, 1] > 0.9
    losses = forecast.losses.set_index("model")
    assert losses.loc["GARCH(1,1)", "qlike_vs_naive"] < 0 and losses.loc["GJR-GARCH", "qlike_vs_naive"] < 0
    assert losses.loc["GARCH(1,1)", "bars"] == known.sum()  # every bar the forecasts cover is scored
    assert forecast.next_bar["garch"] > 0 and forecast.fits["gjr"] is not None


def test_start_limits_what_is_shown_and_scored() -> None:
    bars = _garch_market()[0]
    start = bars.index[-500]
    shown = volatility_forecasts(bars, start=start)
    assert shown.frame.index[0] == start and len(shown.frame) == 500
    assert (shown.losses["bars"] == 500).all()
