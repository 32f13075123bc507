"""HMM regimes: causal by construction (appending future bars changes no past regime or probability), found where
they were planted, ordered and named so labels never swap, and the same from `regime_at`'s trailing slice as
from the full history."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from pinelab_core.errors import DataValidationError
from pinelab_core.features.hmm_regime import (
    REGIME_NAMES,
    _forward_filter,
    emission_loglik,
    fit_hmm,
    hmm_inputs,
    hmm_regime_path,
    state_names,
)
from pinelab_core.features.walkforward import clear_fit_caches
from pinelab_core.structure import regime_at, regime_history, regime_history_bars, regime_model
from tests.structure_helpers import regime_switching_ohlcv


@cache
def _planted() -> tuple[pd.DataFrame, np.ndarray]:
    return regime_switching_ohlcv(2_400, seed=4)


@cache
def _full_history() -> pd.DataFrame:
    return regime_history(_planted()[0])


def test_appending_future_bars_changes_no_past_regime_or_probability() -> None:
    bars, full = _planted()[0], _full_history()
    for cut in (700, 1_333, 2_000):
        clear_fit_caches()  # every model refitted on the shorter data: nothing carried over
        part = regime_history(bars.iloc[:cut])
        pd.testing.assert_frame_equal(part, full.iloc[:cut], rtol=1e-9, atol=1e-12, check_freq=False)


def test_regime_at_reads_the_trailing_slice_and_agrees_with_the_history() -> None:
    bars, full = _planted()[0], _full_history()
    for at in (bars.index[1_100], bars.index[1_777], bars.index[-1]):
        clear_fit_caches()
        state = regime_at(bars, at)
        row = full.loc[at]
        assert state.time == at and state.regime == row["regime"] and state.n_states == row["n_states"]
        assert state.probability == pytest.approx(row["probability"], rel=1e-9)
        assert state.refit_time is not None and state.refit_time <= at
        assert sum(state.probabilities.values()) == pytest.approx(1.0)
    early = regime_at(bars.iloc[:200])
    assert not early.known and np.isnan(early.probability) and "unknown" in early.summary
    assert regime_history_bars() == 711


def test_planted_calm_and_stressed_stretches_are_found_and_named() -> None:
    full, stressed = _full_history(), _planted()[1]
    known = (full["regime"] != "unknown").to_numpy()
    settled = known & (np.arange(len(full)) % 150 >= 10)  # the filter needs a few bars to notice a switch
    volatile = full["regime"].str.startswith(("volatile", "crisis")).to_numpy()
    accuracy = (volatile[settled] == stressed[settled]).mean()
    assert accuracy > 0.9, accuracy
    stressed_vol = full.loc[stressed & known, "exp_vol"].median()
    calm_vol = full.loc[~stressed & known, "exp_vol"].median()
    assert 3.0 < stressed_vol / calm_vol < 7.0  # planted: 5x


def test_every_fit_orders_its_states_by_volatility_so_labels_cannot_swap() -> None:
    bars = _planted()[0]
    path = hmm_regime_path(bars["close"].to_numpy(), bars.index)
    assert len(path.fits) > 10
    for fit in path.fits:
        assert list(np.argsort(fit.means[:, 1], kind="stable")) == list(range(fit.n_states))
        assert set(fit.names) <= set(REGIME_NAMES) and 2 <= fit.n_states <= 4
        assert fit.names[0].startswith("calm") and fit.names[-1].startswith(("volatile", "crisis"))
        calm = [name.startswith("calm") for name in fit.names]
        assert calm == sorted(calm, reverse=True)  # calm states first, then the volatile ones
        assert fit.bic[fit.n_states] == min(fit.bic.values())
        np.testing.assert_allclose(fit.transmat.sum(axis=1), 1.0)


def test_state_names_follow_volatility_and_mean_return() -> None:
    assert state_names(np.array([0.001, -0.002]), np.array([False, True])) == ("calm bull", "volatile bear")
    assert state_names(np.array([0.001, -0.001, -0.01]), np.array([False, False, True])) == (
        "calm bull", "calm bear", "crisis")
    assert state_names(np.array([0.001, 0.002, 0.001, 0.003]), np.array([False, True, True, True])) == (
        "calm bull", "volatile bull", "volatile bull", "volatile bull")


def test_the_regime_is_the_forward_filtered_probability_not_a_smoothed_one() -> None:
    """An independent forward pass (scipy densities, plain numpy) gives the same numbers; hmmlearn's smoothed
    posteriors (which read later bars) do not."""
    close = _planted()[0]["close"].to_numpy()
    inputs = hmm_inputs(close)[10:610]
    fit = fit_hmm(inputs[:500])
    z = (inputs - fit.center) / fit.scale
    density = np.column_stack([multivariate_normal(fit.means[k], fit.covars[k]).pdf(z) for k in range(fit.n_states)])
    expected, alpha = np.empty_like(density), fit.startprob * density[0]
    expected[0] = alpha / alpha.sum()
    for t in range(1, len(z)):
        alpha = (expected[t - 1] @ fit.transmat) * density[t]
        expected[t] = alpha / alpha.sum()
    ours = np.empty_like(expected)
    _forward_filter(emission_loglik(fit, inputs), fit.transmat, fit.startprob, ours)
    np.testing.assert_allclose(ours, expected, rtol=1e-8, atol=1e-12)
    from hmmlearn.hmm import GaussianHMM

    smoother = GaussianHMM(fit.n_states, covariance_type="full")
    smoother.startprob_, smoother.transmat_, smoother.means_, smoother.covars_ = (
        fit.startprob, fit.transmat, fit.means, fit.covars)
    assert np.abs(smoother.predict_proba(z) - ours).max() > 0.05  # smoothing looks ahead; the filter does not


def test_regime_model_describes_the_fit_behind_a_bar() -> None:
    bars = _planted()[0]
    model = regime_model(bars)
    assert model is not None and model.fit_end < model.refit_time <= bars.index[-1]
    assert model.states["regime"].iloc[0].startswith("calm") and len(model.states) >= 2
    np.testing.assert_allclose(model.transitions.sum(axis=1), 1.0)
    assert (model.states["expected_bars"] >= 1.0).all()
    assert regime_model(bars.iloc[:300]) is None


def test_bad_arguments_say_what_to_fix() -> None:
    bars = _planted()[0]
    with pytest.raises(DataValidationError, match="window >= 50"):
        regime_history(bars, window=10)
    with pytest.raises(DataValidationError, match="No bar at or before"):
        regime_at(bars, at="2000-01-01")
    assert len(regime_history(bars, last=300)) == 300


def test_a_fit_never_keeps_a_state_with_a_singular_covariance() -> None:
    """On this DEMO-BTC hourly window hmmlearn leaves one of four states un-updated with a singular covariance
    (det 0) and a lower BIC; its emission density is NaN, so every bar the fit served got the bare prior."""
    from pinelab_core.data import load_ohlcv

    bars = load_ohlcv("DEMO-BTC", "1h", start="2025-03-19 06:00", end="2025-04-09 11:00", source="demo")
    inputs = hmm_inputs(bars["close"].to_numpy())[10:]
    assert len(inputs) == 500
    clear_fit_caches()
    fit = fit_hmm(inputs)
    assert np.linalg.eigvalsh(fit.covars).min() > 0
    assert np.isfinite(emission_loglik(fit, inputs)).all()
