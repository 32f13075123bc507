"""Monte Carlo: how different the same strategy could have looked with the luck reshuffled.

Two resamplings of a finished run:
    trades    bootstrap the closed trades' returns on equity (with replacement, same count), compounded
    blocks    stationary block bootstrap (Politis & Romano) of per-bar returns, mean block length `block`,
              which keeps volatility clusters and short-range dependence that a plain shuffle destroys
Both report percentile bands of the equity path, and percentiles of final return and max drawdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinelab_core.backtest.result import BacktestResult
from pinelab_core.errors import DataValidationError

__all__ = ["MONTE_CARLO_METHODS", "MonteCarloResult", "monte_carlo"]

MONTE_CARLO_METHODS: tuple[str, ...] = ("trades", "blocks")
PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class MonteCarloResult:
    """Percentile bands of resampled equity paths and the spread of their outcomes.

    Attributes:
        method: "trades" or "blocks".
        bands: one row per step (trade number or bar), columns p5, p25, p50, p75, p95 of equity (start = 1).
        final_return: the percentiles of the paths' total returns (fractions), indexed p5..p95.
        max_drawdown: the percentiles of the paths' max drawdowns (negative fractions), indexed p5..p95.
        n_paths: how many paths were drawn.
    """

    method: str
    bands: pd.DataFrame
    final_return: pd.Series
    max_drawdown: pd.Series
    n_paths: int


def monte_carlo(result: BacktestResult, *, method: str = "trades", n_paths: int = 1_000, block: int = 20,
                seed: int = 0) -> MonteCarloResult:
    """Resample a backtest's trades or bar returns `n_paths` times; seeded, so repeatable.

    Args:
        result: a finished `run_backtest` result.
        method: "trades" (bootstrap of closed trades) or "blocks" (stationary block bootstrap of bar returns).
        n_paths: number of simulated paths.
        block: mean block length in bars for "blocks".
        seed: random seed.
    """
    if method not in MONTE_CARLO_METHODS:
        raise DataValidationError(f"Unknown Monte Carlo method {method!r}; use one of {MONTE_CARLO_METHODS}.")
    if n_paths < 10 or block < 1:
        raise DataValidationError("Use at least 10 paths and a block length of at least 1 bar.")
    rng = np.random.default_rng(seed)
    if method == "trades":
        steps = _trade_returns_on_equity(result)
        if len(steps) < 2:
            raise DataValidationError("A trade bootstrap needs at least 2 closed trades; try method='blocks'.")
        samples = steps[rng.integers(0, len(steps), size=(n_paths, len(steps)))]
        index = pd.RangeIndex(0, len(steps) + 1, name="trade")
    else:
        returns = result.returns.to_numpy()[1:]
        samples = returns[_stationary_indices(len(returns), n_paths, block, rng)]
        index = pd.Index(result.equity.index, name="time")
    paths = np.concatenate([np.ones((n_paths, 1)), np.cumprod(1.0 + samples, axis=1)], axis=1)
    drawdowns = np.min(paths / np.maximum.accumulate(paths, axis=1) - 1.0, axis=1)
    bands = pd.DataFrame(np.percentile(paths, PERCENTILES, axis=0).T, index=index,
                         columns=[f"p{p}" for p in PERCENTILES])
    labels = [f"p{p}" for p in PERCENTILES]
    return MonteCarloResult(method, bands, pd.Series(np.percentile(paths[:, -1] - 1.0, PERCENTILES), index=labels),
                            pd.Series(np.percentile(drawdowns, PERCENTILES), index=labels), n_paths)


def _trade_returns_on_equity(result: BacktestResult) -> np.ndarray:
    """Each closed trade's P&L as a fraction of the equity at its entry (what it did to the account)."""
    trades = result.trades[result.trades["reason"] != "open"]
    if trades.empty:
        return np.array([])
    equity = result.equity["equity"]
    before = equity.shift(1, fill_value=result.execution.init_cash).reindex(trades["entry_time"]).to_numpy()
    return trades["pnl"].to_numpy() / before


def _stationary_indices(n: int, n_paths: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(n_paths, n) indices: each step continues the current block, or with probability 1/block starts anew."""
    indices = np.empty((n_paths, n), dtype=np.int64)
    indices[:, 0] = rng.integers(0, n, n_paths)
    restart = rng.random((n_paths, n)) < 1.0 / block
    fresh = rng.integers(0, n, (n_paths, n))
    for t in range(1, n):
        indices[:, t] = np.where(restart[:, t], fresh[:, t], (indices[:, t - 1] + 1) % n)
    return indices
