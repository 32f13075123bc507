"""Ensemble weights learned out of fold, the fixed fallback, calibration and agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from pinelab_core.errors import DataValidationError
from pinelab_core.models.calibration import (
    Calibration,
    brier_score,
    centred_log_probs,
    expected_calibration_error,
    fit_calibration,
    log_loss,
    reliability_table,
)
from pinelab_core.models.ensemble import PROB_COLUMNS, fallback_weights, fit_ensemble, signal_for
from pinelab_core.types import Action


def _planted(n: int = 3_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True class probabilities with a real edge, and outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    truth = softmax(rng.normal(0, 1.2, (n, 3)), axis=1)
    y = np.array([rng.choice(3, p=p) for p in truth])
    return truth, y


def _oof(probs: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2021-01-01", periods=len(y), freq="1h", tz="UTC", name="time")
    frame = pd.DataFrame(probs, columns=list(PROB_COLUMNS), index=index)
    frame["y_true"] = y
    return frame


def test_fallback_weights_follow_the_seed_shares() -> None:
    weights = fallback_weights({"lgb/v1": "lightgbm", "xgb/v2": "xgboost", "lstm/v1": "lstm", "cnn/v1": "cnn"})
    assert weights == pytest.approx({"lgb/v1": 0.2, "xgb/v2": 0.2, "lstm/v1": 0.35, "cnn/v1": 0.25})
    only_trees = fallback_weights({"lgb/v1": "lightgbm", "rf/v1": "random_forest"})
    assert only_trees == pytest.approx({"lgb/v1": 0.5, "rf/v1": 0.5})


def test_no_oof_means_fallback_weights_and_identity_calibration() -> None:
    ensemble = fit_ensemble({"lgb/v1": "lightgbm", "lstm/v1": "lstm"}, None)
    assert ensemble.weights_source == "fallback"
    assert ensemble.weights == pytest.approx((0.40 / 0.75, 0.35 / 0.75))
    assert ensemble.calibration.is_identity


def test_learned_weights_prefer_the_informative_member() -> None:
    truth, y = _planted()
    rng = np.random.default_rng(1)
    noise = softmax(rng.normal(0, 1.0, truth.shape), axis=1)
    ensemble = fit_ensemble({"good/v1": "lightgbm", "noise/v1": "cnn"},
                            {"good/v1": _oof(truth, y), "noise/v1": _oof(noise, y)})
    assert ensemble.weights_source == "out-of-fold"
    assert ensemble.n_oof_rows == len(y)
    good, bad = ensemble.weights
    assert good > 0.9 and bad < 0.1
    assert sum(ensemble.weights) == pytest.approx(1.0)
    # Scored cross-fitted (each block by a pool fitted before it), the pool is about as good as the
    # informative member alone on the same rows.
    scored = ensemble.cross_fitted
    rows = np.flatnonzero(np.isin(_oof(truth, y).index, scored.index))
    assert ensemble.oof_metrics["log_loss"] <= log_loss(truth[rows], y[rows]) + 0.01


def test_calibration_cools_an_overconfident_model() -> None:
    truth, y = _planted(seed=3)
    overconfident = softmax(np.log(truth) * 3.0, axis=1)
    calibration = fit_calibration(overconfident, y)
    assert calibration.temperature > 2.0
    calibrated = calibration.apply(centred_log_probs(overconfident))
    assert expected_calibration_error(calibrated, y) < expected_calibration_error(overconfident, y) / 2
    assert log_loss(calibrated, y) < log_loss(overconfident, y)
    assert brier_score(calibrated, y) < brier_score(overconfident, y)


def test_calibrated_confidence_matches_hit_rate() -> None:
    truth, y = _planted(n=6_000, seed=4)
    sharp = softmax(np.log(truth) * 2.5, axis=1)
    ensemble = fit_ensemble({"m/v1": "xgboost"}, {"m/v1": _oof(sharp, y)})
    pooled = ensemble.combine(sharp[:, None, :])
    table = reliability_table(pooled, y, n_bins=5)
    big = table[table["count"] > 300]
    assert not big.empty
    assert np.abs(big["mean_confidence"] - big["hit_rate"]).max() < 0.06


def test_pool_handles_a_member_without_a_window() -> None:
    ensemble = fit_ensemble({"a/v1": "lightgbm", "b/v1": "lstm"}, None)
    probs = np.array([[[0.2, 0.3, 0.5], [np.nan, np.nan, np.nan]],
                      [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]])
    pooled = ensemble.combine(probs)
    assert pooled.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert pooled[0] == pytest.approx([0.2, 0.3, 0.5])  # only member a: identity calibration returns it
    agreement = ensemble.agreement(probs, pooled.argmax(axis=1))
    assert agreement[0] == pytest.approx(1.0)
    assert 0.0 <= agreement[1] <= 1.0


def test_no_edge_pool_predicts_base_rates() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(3, size=2_000, p=[0.3, 0.4, 0.3])
    noise = softmax(rng.normal(0, 1.0, (2_000, 3)), axis=1)
    ensemble = fit_ensemble({"m/v1": "lightgbm"}, {"m/v1": _oof(noise, y)})
    pooled = ensemble.combine(noise[:, None, :])
    assert np.abs(pooled.mean(axis=0) - [0.3, 0.4, 0.3]).max() < 0.03
    assert pooled.max(axis=1).max() < 0.5  # no false certainty


def test_signal_mapping_and_threshold() -> None:
    assert signal_for(np.array([0.1, 0.2, 0.7]))[0] is Action.BUY
    assert signal_for(np.array([0.6, 0.2, 0.2]))[0] is Action.SELL
    assert signal_for(np.array([0.2, 0.6, 0.2]))[0] is Action.HOLD
    signal, chosen, confidence = signal_for(np.array([0.3, 0.3, 0.4]), min_confidence=0.5)
    assert (signal, chosen, confidence) == (Action.HOLD, 2, pytest.approx(0.4))


def test_calibration_round_trips_and_rejects_bad_shapes() -> None:
    calibration = Calibration(temperature=1.7, class_bias=(0.1, -0.2, 0.1))
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    with pytest.raises(DataValidationError, match="do not match"):
        fit_calibration(np.ones((5, 3)) / 3, np.zeros(4))


def test_pool_scores_are_cross_fitted_never_fitted_on_their_own_outcomes() -> None:
    """The pool was fitted on every out-of-fold row and then scored on the same rows, so its reported hit
    rate, log loss and reliability were in-sample. Each row's pooled probability must not depend on its
    own outcome, nor on any later one."""
    truth, y = _planted(n=1_000, seed=6)
    noise = softmax(np.random.default_rng(7).normal(0, 1.0, truth.shape), axis=1)
    kinds = {"good/v1": "lightgbm", "noise/v1": "cnn"}
    first = fit_ensemble(kinds, {"good/v1": _oof(truth, y), "noise/v1": _oof(noise, y)})
    row = 600
    changed = y.copy()
    changed[row:] = (changed[row:] + 1) % 3  # a different outcome at the row and after it
    second = fit_ensemble(kinds, {"good/v1": _oof(truth, changed), "noise/v1": _oof(noise, changed)})
    at = _oof(truth, y).index[row]
    columns = list(PROB_COLUMNS)
    pd.testing.assert_frame_equal(first.cross_fitted.loc[:at, columns], second.cross_fitted.loc[:at, columns])
    assert first.weights != second.weights  # the deployed pool does learn from every row
    assert first.cross_fitted.index[0] == _oof(truth, y).index[200]  # the first block has no past: unscored
    assert first.oof_metrics["n_scored"] == 800


def test_cross_fitted_scores_report_no_edge_on_noise() -> None:
    """Fitted in-sample, a pool of many noise members finds spurious weights and reports a log loss below
    the base rates; cross-fitted, it reports none."""
    rng = np.random.default_rng(8)
    y = rng.choice(3, size=300, p=[0.3, 0.4, 0.3])
    members = {f"noise{i}/v1": _oof(softmax(rng.normal(0, 1.5, (300, 3)), axis=1), y) for i in range(8)}
    ensemble = fit_ensemble({key: "lightgbm" for key in members}, members)
    scored = ensemble.cross_fitted
    base_rates = np.bincount(y[:60], minlength=3) / 60  # what the first scored block could have known
    base = log_loss(np.tile(base_rates, (len(scored), 1)), scored["y_true"].to_numpy(dtype=int))
    assert ensemble.oof_metrics["log_loss"] >= base - 0.02
