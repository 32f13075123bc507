"""Walk-forward integrity: no edge on a random walk, the planted edge found, reproducible, nothing leaks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.training.labels import LabelSpec, make_labels
from pinelab_core.training.report import PROBABILITY_COLUMNS
from pinelab_core.training.walk_forward import WalkForwardProgress, walk_forward
from tests.conftest import random_walk_ohlcv
from tests.training_helpers import LogisticModel, lagged_return_features, planted_market


def _chance_tolerance(y_true: pd.Series) -> float:
    """Four standard deviations of balanced accuracy under "predictions independent of the truth".

    Each class recall is a binomial share with variance <= 1/(4 n_c); balanced accuracy averages K of them.
    """
    counts = y_true.value_counts()
    return 4.0 * math.sqrt(float(np.sum(1.0 / (4.0 * counts)))) / len(counts)


def test_random_walk_shows_no_edge() -> None:
    ohlcv = random_walk_ohlcv(3_000, seed=11, freq="1D")
    report = walk_forward(ohlcv, LogisticModel, horizon=5, features=lagged_return_features(ohlcv), seed=0)
    tolerance = _chance_tolerance(report.oos["y_true"])
    assert len(report.oos) > 1_000
    assert abs(report.metrics["balanced_accuracy"] - 1 / 3) < tolerance, (report.metrics, tolerance)
    # the baseline a skeptic asks for is there, and the model does not beat it by much either
    assert report.metrics["baseline_balanced_accuracy"] == pytest.approx(1 / 3, abs=0.01)


def test_planted_pattern_is_found_clearly_above_chance() -> None:
    ohlcv, features = planted_market(1_500, seed=2)
    report = walk_forward(ohlcv, LogisticModel, horizon=1, features=features, seed=0, fees=0.0)
    tolerance = _chance_tolerance(report.oos["y_true"])
    assert report.metrics["balanced_accuracy"] > 1 / 3 + 3 * tolerance, report.metrics
    assert report.metrics["accuracy"] > report.metrics["baseline_accuracy"] + 0.1
    assert report.metrics["sharpe"] > 1.0
    assert report.feature_importance is not None and report.feature_importance.index[0] == "signal"


def test_same_seed_and_data_give_identical_results() -> None:
    ohlcv, features = planted_market(800, seed=4)
    first = walk_forward(ohlcv, LogisticModel, horizon=2, features=features, seed=7)
    second = walk_forward(ohlcv, LogisticModel, horizon=2, features=features, seed=7)
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.oos, second.oos)


def test_folds_are_purged_and_oos_rows_are_complete() -> None:
    ohlcv, features = planted_market(600, seed=5)
    horizon = 3
    report = walk_forward(ohlcv, LogisticModel, horizon=horizon, features=features, train_size=300, test_size=50)
    folds = report.folds
    assert list(folds["fold"]) == list(range(1, len(folds) + 1))
    bar = {t: i for i, t in enumerate(ohlcv.index)}
    for row in folds.itertuples():
        # the last training label (train_end .. train_end + h) ends before the test window starts
        assert bar[row.train_end] + horizon < bar[row.test_start]
    expected = make_labels(ohlcv, LabelSpec("direction", horizon)).dropna().iloc[300:]
    assert report.oos.index.equals(expected.index)
    np.testing.assert_array_equal(report.oos["y_true"].to_numpy(), expected.to_numpy().astype(int))
    proba = report.oos[list(PROBABILITY_COLUMNS)].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (report.oos["y_pred"].to_numpy() == proba.argmax(axis=1)).all()
    assert report.oos.index.is_monotonic_increasing and not report.oos.index.has_duplicates


def test_report_carries_baselines_strategy_and_final_model() -> None:
    ohlcv, features = planted_market(600, seed=6)
    ticks: list[WalkForwardProgress] = []
    report = walk_forward(ohlcv, LogisticModel, horizon=1, features=features, progress=ticks.append, C=0.5)
    for key in ("accuracy", "balanced_accuracy", "log_loss", "f1_macro", "brier", "baseline_accuracy",
                "sharpe", "max_drawdown", "win_rate", "profit_factor", "buy_and_hold_sharpe",
                "buy_and_hold_max_drawdown", "buy_and_hold_win_rate", "buy_and_hold_profit_factor"):
        assert key in report.metrics, key
    equity = report.equity
    assert list(equity.columns) == ["strategy", "buy_and_hold"] and len(equity) == len(report.oos)
    assert report.model is not None and report.model.params == {"C": 0.5}
    assert report.feature_names == ["signal", "noise_a", "noise_b"]
    assert report.device == "cpu"
    n_folds = len(report.folds)
    assert ticks[-1].fold == n_folds + 1  # the final refit reports too
    assert ticks[0].fraction == 0.0 and ticks[-1].fraction == 1.0
    assert set(report.history["fold"]) == set(range(1, n_folds + 2))


def test_overfitting_flag_follows_the_train_validation_gap() -> None:
    ohlcv = random_walk_ohlcv(800, seed=3, freq="1D")
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.normal(size=(800, 60)), index=ohlcv.index).add_prefix("noise_")
    # 60 noise columns and weak regularisation: the fit rows are memorised, validation stays at chance
    report = walk_forward(ohlcv, LogisticModel, horizon=1, features=noise, C=1e4, overfit_threshold=0.05)
    assert report.overfit and report.metrics["overfit_gap"] > 0.05
    calm = walk_forward(ohlcv, LogisticModel, horizon=1, features=noise, C=1e4, overfit_threshold=0.9)
    assert not calm.overfit


def test_inputs_are_validated_where_they_enter() -> None:
    ohlcv, features = planted_market(300, seed=1)
    with pytest.raises(DataValidationError, match="index differs"):
        walk_forward(ohlcv, LogisticModel, features=features.iloc[1:])
    with pytest.raises(DataValidationError, match="lacks"):
        walk_forward(ohlcv.drop(columns="volume"), LogisticModel, features=features)
    with pytest.raises(DataValidationError, match="nothing to test"):
        walk_forward(ohlcv, LogisticModel, features=features, train_size=5_000)


@pytest.mark.slow
def test_whole_pipeline_reports_no_edge_on_a_random_walk() -> None:
    """Real features (causal, from the feature engine) and a real LightGBM: still nothing on a random walk."""
    from pinelab_core.features import build_features

    ohlcv = random_walk_ohlcv(1_400, seed=21, freq="1D")
    features = build_features(ohlcv, groups=["momentum", "volatility"])
    report = walk_forward(ohlcv, "lightgbm", horizon=5, features=features, n_estimators=25, num_threads=1)
    tolerance = _chance_tolerance(report.oos["y_true"])
    assert abs(report.metrics["balanced_accuracy"] - 1 / 3) < tolerance, (report.metrics, tolerance)
    assert report.model is not None and report.model.kind == "lightgbm"


def test_unknown_model_names_get_a_suggestion() -> None:
    from pinelab_core.errors import ConfigError

    ohlcv, features = planted_market(300, seed=1)
    with pytest.raises(ConfigError, match="Did you mean 'lightgbm'"):
        walk_forward(ohlcv, "lightgmb", features=features)
    with pytest.raises(ConfigError, match="Invalid parameters"):
        walk_forward(ohlcv, "lstm", features=features, model_params={"window": 0})


def test_sequence_models_get_their_history_before_each_test_fold() -> None:
    from tests.training_helpers import WindowedLogistic

    ohlcv, features = planted_market(500, seed=9)
    windowed = walk_forward(ohlcv, WindowedLogistic, horizon=1, features=features, model_params={"window": 20})
    plain = walk_forward(ohlcv, LogisticModel, horizon=1, features=features)
    columns = list(PROBABILITY_COLUMNS)
    # every test row got a full window from the rows before its fold, so nothing fell back to "no opinion"
    pd.testing.assert_frame_equal(windowed.oos[columns], plain.oos[columns])
    # only the in-sample train score differs: the first window - 1 fit rows have no history to score on
    assert {k: v for k, v in windowed.metrics.items() if k != "overfit_gap"} == \
        {k: v for k, v in plain.metrics.items() if k != "overfit_gap"}


def test_train_models_runs_each_model_on_the_same_folds() -> None:
    from pinelab_core.training import train_models
    from tests.training_helpers import WindowedLogistic

    ohlcv, features = planted_market(400, seed=10)
    reports = train_models(ohlcv, [LogisticModel, WindowedLogistic], horizon=1, features=features, refit=False)
    assert list(reports) == ["logistic", "windowed_logistic"]
    first, second = reports.values()
    assert first.oos.index.equals(second.oos.index) and first.model is None


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lightgbm", "xgboost", "random_forest"])
def test_real_models_reproduce_with_the_same_seed(model: str) -> None:
    ohlcv = random_walk_ohlcv(400, seed=2, freq="1D")
    features = lagged_return_features(ohlcv)
    params = {"n_estimators": 10}
    first = walk_forward(ohlcv, model, horizon=3, features=features, seed=5, model_params=params, device="cpu")
    second = walk_forward(ohlcv, model, horizon=3, features=features, seed=5, model_params=params, device="cpu")
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.oos, second.oos)


def test_out_of_sample_covers_every_bar_after_the_warm_up_with_all_feature_groups() -> None:
    """Rows with an undefined feature (no resistance above a breakout) were dropped: 18-24% of bars, the
    volatile ones, vanished from the out-of-sample record. Only warm-up and unlabelled rows may go."""
    from pinelab_core.data import load_ohlcv

    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", start="2019-01-01", source="demo")
    report = walk_forward(ohlcv, "lightgbm", horizon=5, refit=False, n_estimators=15, num_leaves=7)
    positions = ohlcv.index.get_indexer(report.oos.index)
    assert report.oos.index.is_unique and (positions >= 0).all()
    assert (np.diff(positions) == 1).all(), "the out-of-sample record has gaps"
    assert positions[-1] == len(ohlcv) - 1 - 5  # through the last bar whose 5-bar label is known
    for fold in report.folds.itertuples():
        span = ohlcv.index.get_loc(fold.test_end) - ohlcv.index.get_loc(fold.test_start) + 1
        assert fold.n_test == span, f"fold {fold.fold} tested {fold.n_test} of its {span} bars"


def test_a_feature_without_any_value_is_named() -> None:
    ohlcv, features = planted_market(300, seed=1)
    features = features.assign(never_defined=np.nan)
    with pytest.raises(DataValidationError, match="never_defined"):
        walk_forward(ohlcv, LogisticModel, horizon=1, features=features)


class _EarlyStopper(LogisticModel):
    """Reports a best iteration per fold (5, 7, 9, ...) and records what each fit saw."""

    kind = "early_stopper"
    iterations_param = "rounds"
    fits: list[tuple[int, bool, object]] = []

    def fit(self, X, y, *, validation=None, progress=None):  # type: ignore[no-untyped-def,override]
        summary = super().fit(X, y, validation=validation, progress=progress)
        _EarlyStopper.fits.append((len(X), validation is not None, self.params.get("rounds")))
        summary.best_iteration = 3 + 2 * len(_EarlyStopper.fits)
        return summary


def test_the_deployed_refit_learns_from_every_labelled_row() -> None:
    """The refit held back its newest 20% for early stopping; it now trains on all of them for the folds'
    median best iteration."""
    ohlcv, features = planted_market(600, seed=8)
    _EarlyStopper.fits = []
    report = walk_forward(ohlcv, _EarlyStopper, horizon=2, features=features, test_size=60)
    n_folds = len(report.folds)
    *fold_fits, (final_rows, final_has_validation, final_rounds) = _EarlyStopper.fits
    assert len(fold_fits) == n_folds and all(has_validation for _, has_validation, _ in fold_fits)
    assert final_rows == report.options["n_rows"] and not final_has_validation
    assert final_rounds == int(np.median(report.folds["best_iteration"])) == report.options["refit_params"]["rounds"]
    assert report.options["trained_through"] == features.index[-1 - 2].isoformat()


def test_models_learn_from_scale_free_start_independent_features_by_default() -> None:
    """`sma_200 = 202.7` was the starter model's top SHAP input: a price threshold that never recurs."""
    ohlcv = random_walk_ohlcv(900, seed=4, freq="1D")
    report = walk_forward(ohlcv, "lightgbm", horizon=5, refit=False, n_estimators=5, num_threads=1)
    assert {"sma_200", "bb_upper_20", "atr_14", "obv", "ad"}.isdisjoint(report.feature_names)
    assert {"rsi_14", "adx_14", "roc_10"} <= set(report.feature_names)
    opted_in = walk_forward(ohlcv, "lightgbm", horizon=5, refit=False, n_estimators=5, num_threads=1,
                            include_price_levels=True, include_start_dependent=True)
    assert {"sma_200", "obv"} <= set(opted_in.feature_names)


def _starter_params(model: str) -> dict:  # type: ignore[type-arg]
    from pinelab_core.models.starter import starter_request

    return {**starter_request("ANY", "1d", "demo").model_params[model], "num_threads": 1}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lightgbm", "xgboost"])
def test_the_starter_preset_with_every_feature_group_reports_no_edge_on_a_random_walk(model: str) -> None:
    ohlcv = random_walk_ohlcv(2_000, seed=31, freq="1D")
    report = walk_forward(ohlcv, model, horizon=5, refit=False, **_starter_params(model))
    assert len(report.feature_names) > 100  # every group, the default model inputs
    tolerance = _chance_tolerance(report.oos["y_true"])
    assert abs(report.metrics["balanced_accuracy"] - 1 / 3) < tolerance, (report.metrics, tolerance)


@pytest.mark.slow
def test_the_starter_preset_with_every_feature_group_finds_a_planted_pattern() -> None:
    """The next bars lean on the sign of the last three bars' move: visible in the causal features."""
    rng = np.random.default_rng(17)
    n = 2_000
    returns = rng.normal(0, 0.01, n)
    for t in range(3, n):
        returns[t] += 0.6 * 0.01 * np.sign(returns[t - 3:t].sum())
    close = 100.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.003, n)) * close
    index = pd.date_range("2018-01-01", periods=n, freq="1D", tz="UTC", name="time")
    ohlcv = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                          "low": np.minimum(open_, close) - spread, "close": close,
                          "volume": rng.lognormal(10, 0.3, n)}, index=index)
    report = walk_forward(ohlcv, "lightgbm", horizon=3, refit=False, **_starter_params("lightgbm"))
    tolerance = _chance_tolerance(report.oos["y_true"])
    assert report.metrics["balanced_accuracy"] > 1 / 3 + 3 * tolerance, (report.metrics, tolerance)
    assert report.metrics["sharpe"] > report.metrics["buy_and_hold_sharpe"]
