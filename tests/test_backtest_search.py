"""Sweeps: trial counts, the deflated Sharpe ratio, PBO, resuming from the store, identical executors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete
from sqlmodel import Session

from pinelab_core.backtest import run_backtest
from pinelab_core.backtest import search as search_module
from pinelab_core.backtest.overfitting import block_moments, deflated_sharpe_ratio, probability_of_overfitting
from pinelab_core.backtest.search import sweep
from pinelab_core.backtest.strategies import param_grid, strategy_positions
from pinelab_core.backtest.trials import TrialSpec, evaluate_trial
from pinelab_core.store.tables import BacktestTrialRow

GRID = {"fast": [5, 10, 20], "slow": [20, 40, 80]}


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 1_200
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2019-01-01", periods=n, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.003,
                         "low": np.minimum(open_, close) * 0.997, "close": close, "volume": 1.0}, index=index)


def test_a_grid_sweep_counts_its_trials_and_agrees_with_run_backtest(market: pd.DataFrame) -> None:
    result = sweep(market, "sma_cross", grid=GRID, fees=0.001)
    assert result.n_trials == len(param_grid("sma_cross", GRID)) == 8  # fast=20/slow=20 is not a valid pair
    best = run_backtest(market, strategy_positions(market, "sma_cross", **result.best_params), fees=0.001)
    for name in ("sharpe", "total_return", "cagr", "max_drawdown", "n_trades", "win_rate", "exposure"):
        assert result.best[name] == pytest.approx(best.stats[name], rel=1e-9, abs=1e-12), name
    assert 0 <= result.deflated_sharpe <= 1 and 0 <= result.pbo <= 1


def test_pbo_is_zero_when_one_trial_wins_everywhere_and_near_half_for_noise() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (40, 1_600))
    dominant = noise.copy()
    dominant[0] += 0.01  # trial 0 is better in every block
    assert probability_of_overfitting(np.stack([block_moments(r) for r in dominant])) == 0.0
    pbo = probability_of_overfitting(np.stack([block_moments(r) for r in noise]))
    assert 0.3 < pbo < 0.7


def test_deflated_sharpe_falls_as_the_number_of_trials_grows() -> None:
    few = deflated_sharpe_ratio(0.08, n_trials=1, sharpe_variance=0.001, n_obs=1_000)
    many = deflated_sharpe_ratio(0.08, n_trials=1_000, sharpe_variance=0.001, n_obs=1_000)
    assert few > 0.99 and many < few
    assert deflated_sharpe_ratio(0.0, n_trials=100, sharpe_variance=0.001, n_obs=1_000) < 0.05


def test_a_killed_sweep_resumes_and_runs_only_the_missing_trials(market: pd.DataFrame, engine,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = sweep(market, "sma_cross", grid=GRID, engine=engine, study="resume", fees=0.001)
    with Session(engine) as session:  # as if the sweep had died after five trials
        rows = session.query(BacktestTrialRow).order_by(BacktestTrialRow.id).all()
        session.execute(delete(BacktestTrialRow).where(BacktestTrialRow.id.in_([r.id for r in rows[5:]])))
        session.commit()
    calls: list[TrialSpec] = []
    real = search_module.map_trials

    def counting(ohlcv, specs, **kwargs):  # type: ignore[no-untyped-def]
        calls.extend(specs)
        return real(ohlcv, specs, **kwargs)

    monkeypatch.setattr(search_module, "map_trials", counting)
    again = sweep(market, "sma_cross", grid=GRID, engine=engine, study="resume", fees=0.001)
    assert len(calls) == 3
    pd.testing.assert_frame_equal(again.trials, first.trials)
    assert again.pbo == first.pbo and again.deflated_sharpe == first.deflated_sharpe
    with Session(engine) as session:
        assert session.query(BacktestTrialRow).count() == 8


@pytest.mark.parametrize("method", ["optuna", "genetic"])
def test_searches_are_repeatable_with_a_seed(market: pd.DataFrame, method: str) -> None:
    grid = {"fast": [3, 5, 8, 10, 15, 20], "slow": [25, 30, 40, 60, 90]}
    one = sweep(market, "sma_cross", method=method, grid=grid, n_trials=16, seed=3)
    two = sweep(market, "sma_cross", method=method, grid=grid, n_trials=16, seed=3)
    pd.testing.assert_frame_equal(one.trials, two.trials)
    assert one.best_params == two.best_params and one.n_trials == len(one.trials) >= 4


def test_serial_and_local_process_executors_agree(market: pd.DataFrame) -> None:
    serial = sweep(market, "sma_cross", grid=GRID, executor="serial", fees=0.001)
    pooled = sweep(market, "sma_cross", grid=GRID, executor="process", fees=0.001)
    pd.testing.assert_frame_equal(serial.trials, pooled.trials)


@pytest.mark.slow
def test_a_local_ray_instance_gives_the_same_trials(market: pd.DataFrame) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        serial = sweep(market, "sma_cross", grid=GRID, executor="serial", fees=0.001)
        on_ray = sweep(market, "sma_cross", grid=GRID, executor="ray", fees=0.001)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(serial.trials, on_ray.trials)


def test_bad_sweeps_are_refused(market: pd.DataFrame) -> None:
    from pinelab_core.errors import DataValidationError

    with pytest.raises(DataValidationError, match="Did you mean 'fast'"):
        sweep(market, "sma_cross", grid={"fats": [5]})
    with pytest.raises(DataValidationError, match="sharpe"):
        sweep(market, "sma_cross", grid=GRID, metric="profit")
    with pytest.raises(DataValidationError, match="sma_cross"):
        evaluate_trial(market, TrialSpec("sma_cros", {}))
