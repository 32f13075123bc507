"""Monte Carlo, walk-forward optimisation and portfolio optimisation: repeatable, causal, adding up."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import run_backtest
from pinelab_core.backtest.montecarlo import _trade_returns_on_equity, monte_carlo
from pinelab_core.backtest.portfolio import _equal_risk_contribution, optimise_weights, walk_forward_weights
from pinelab_core.backtest.search import sweep
from pinelab_core.backtest.strategies import strategy_positions
from pinelab_core.backtest.walkforward import walk_forward_optimise


def _market(seed: int, n: int = 900, drift: float = 0.0003) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.012, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2019-01-01", periods=n, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.003,
                         "low": np.minimum(open_, close) * 0.997, "close": close, "volume": 1.0}, index=index)


@pytest.fixture(scope="module")
def run() -> object:
    market = _market(1)
    return run_backtest(market, strategy_positions(market, "sma_cross", fast=5, slow=20).fillna(0.0), fees=0.001)


def test_trade_returns_on_equity_compound_to_the_run(run) -> None:  # type: ignore[no-untyped-def]
    steps = _trade_returns_on_equity(run)
    open_pnl = run.trades.loc[run.trades["reason"] == "open", "pnl"].sum()
    assert np.prod(1 + steps) * 10_000 + open_pnl == pytest.approx(run.final_equity, rel=1e-9)


@pytest.mark.parametrize("method", ["trades", "blocks"])
def test_monte_carlo_bands_are_ordered_and_repeatable(run, method: str) -> None:  # type: ignore[no-untyped-def]
    one = monte_carlo(run, method=method, n_paths=200, seed=4)
    two = monte_carlo(run, method=method, n_paths=200, seed=4)
    pd.testing.assert_frame_equal(one.bands, two.bands)
    assert (one.bands.diff(axis=1).iloc[:, 1:] >= -1e-12).all().all()  # p5 <= p25 <= ... <= p95 everywhere
    assert one.max_drawdown.is_monotonic_increasing and (one.max_drawdown <= 0).all()
    assert one.final_return["p5"] < one.final_return["p95"]
    if method == "blocks":
        assert len(one.bands) == len(run.equity)


def test_walk_forward_stitches_one_out_of_sample_run() -> None:
    market = _market(2)
    grid = {"fast": [5, 10], "slow": [20, 40]}
    wfo = walk_forward_optimise(market, "sma_cross", grid=grid, train_bars=300, test_bars=120, fees=0.001)
    windows = wfo.windows
    assert len(windows) == 5 and wfo.n_trials == windows["n_trials"].sum()
    assert wfo.equity.index[0] == windows["test_start"].iloc[0] and wfo.equity.index[-1] == windows["test_end"].iloc[-1]
    assert (windows["test_start"].iloc[1:].to_numpy() > windows["test_end"].iloc[:-1].to_numpy()).all()
    # each window's winner comes from its own train window only
    first = sweep(market.iloc[:300], "sma_cross", grid=grid, fees=0.001)
    assert json.loads(windows["params"].iloc[0]) == first.best_params
    assert np.prod(1 + windows["oos_return"]) - 1 == pytest.approx(wfo.result.stats["total_return"], rel=1e-9)
    assert 0 <= wfo.window_win_rate <= 1


def test_portfolio_weights_are_estimated_on_the_past_only() -> None:
    markets = {s: _market(seed, n=400, drift=d) for s, seed, d in (("A", 3, 0.001), ("B", 4, 0.0), ("C", 5, -0.0005))}
    weights = walk_forward_weights(markets, "max_sharpe", lookback=120, rebalance_every=40)
    changed = {s: f.copy() for s, f in markets.items()}
    cut = weights.index[2]
    for frame in changed.values():  # rewrite the future after the third decision
        frame.loc[frame.index > cut, ["open", "high", "low", "close"]] *= 1.5
    again = walk_forward_weights(changed, "max_sharpe", lookback=120, rebalance_every=40)
    pd.testing.assert_frame_equal(weights.loc[:cut], again.loc[:cut])
    assert np.allclose(weights.sum(axis=1), 1.0) and (weights >= -1e-9).all().all()
    result = run_backtest(markets, weights, fees=0.0005)
    assert result.trades["pnl"].sum() == pytest.approx(result.final_equity - 10_000, abs=1e-6)


@pytest.mark.parametrize("method", ["mean_variance", "min_variance", "max_sharpe", "risk_parity", "equal"])
def test_every_method_gives_bounded_fully_invested_weights(method: str) -> None:
    closes = pd.DataFrame({s: _market(seed, n=300)["close"] for s, seed in (("A", 7), ("B", 8), ("C", 9))})
    weights = optimise_weights(closes, method, bounds=(0.1, 0.6))
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0.1 - 1e-6).all() and (weights <= 0.6 + 1e-6).all()


def test_risk_parity_equalises_risk_contributions() -> None:
    cov = np.array([[0.04, 0.006, 0.0], [0.006, 0.01, 0.0], [0.0, 0.0, 0.09]])
    weights = _equal_risk_contribution(cov, 0.0, 1.0)
    contribution = weights * (cov @ weights)
    assert contribution.max() / contribution.min() == pytest.approx(1.0, abs=1e-3)
