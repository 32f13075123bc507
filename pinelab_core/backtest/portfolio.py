"""Portfolio optimisation over a watchlist, estimated on the past only and rebalanced walk-forward.

At each rebalancing bar t, the weights are estimated from the `lookback` closes up to and including t (known
at t's close) and filled at t+1's open by the engine, like any other decision. Methods (PyPortfolioOpt):
mean-variance (quadratic utility), minimum variance, maximum Sharpe, risk parity (equal risk contribution)
and equal weights, all long-only within `bounds` and fully invested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest.result import BacktestResult, bars_per_year
from pinelab_core.backtest.run import run_backtest
from pinelab_core.errors import DataValidationError

__all__ = ["PORTFOLIO_METHODS", "optimise_weights", "portfolio_backtest", "walk_forward_weights"]

PORTFOLIO_METHODS: tuple[str, ...] = ("mean_variance", "min_variance", "max_sharpe", "risk_parity", "equal")


def optimise_weights(closes: pd.DataFrame, method: str = "min_variance", *, bounds: tuple[float, float] = (0.0, 1.0),
                     risk_aversion: float = 1.0, periods: float = 252.0) -> pd.Series:
    """Weights (summing to 1) of the columns of `closes`, estimated from these closes only.

    Args:
        closes: past closes, one column per symbol (the estimation window).
        method: one of `PORTFOLIO_METHODS`.
        bounds: (min, max) weight per symbol.
        risk_aversion: the mean-variance trade-off (higher = closer to minimum variance).
        periods: bars per year, to annualise returns and covariance.
    """
    if method not in PORTFOLIO_METHODS:
        raise DataValidationError(f"Unknown portfolio method {method!r}; use one of {', '.join(PORTFOLIO_METHODS)}.")
    low, high = bounds
    k = closes.shape[1]
    if not 0 <= low <= 1 / k <= high <= 1:
        raise DataValidationError(f"Bounds {bounds} cannot hold {k} fully invested weights; need low <= 1/{k} <= high.")
    if method == "equal" or len(closes) < 3:
        return pd.Series(1.0 / k, index=closes.columns)
    from pypfopt import EfficientFrontier, expected_returns, risk_models
    from pypfopt.exceptions import OptimizationError

    returns = closes.pct_change().dropna()
    cov = risk_models.fix_nonpositive_semidefinite(returns.cov() * periods, fix_method="spectral")
    if method == "risk_parity":
        return pd.Series(_equal_risk_contribution(cov.to_numpy(), low, high), index=closes.columns)
    mu = expected_returns.mean_historical_return(closes, frequency=int(round(periods)))
    frontier = EfficientFrontier(mu, cov, weight_bounds=(low, high))
    try:
        if method == "min_variance":
            frontier.min_volatility()
        elif method == "max_sharpe":
            frontier.max_sharpe(risk_free_rate=0.0)
        else:
            frontier.max_quadratic_utility(risk_aversion=risk_aversion)
    except (OptimizationError, ValueError):
        # no portfolio beats cash (max Sharpe needs one positive expected return): fall back to minimum variance
        frontier = EfficientFrontier(mu, cov, weight_bounds=(low, high))
        frontier.min_volatility()
    weights = pd.Series(frontier.clean_weights(), dtype="float64").reindex(closes.columns).fillna(0.0)
    return weights / weights.sum()


def _equal_risk_contribution(cov: np.ndarray, low: float, high: float, iterations: int = 200) -> np.ndarray:
    """Long-only weights whose risk contributions w_i (C w)_i are equal, by multiplicative fixed-point steps."""
    weights = 1.0 / np.sqrt(np.clip(np.diag(cov), 1e-18, None))
    weights /= weights.sum()
    for _ in range(iterations):
        contribution = weights * (cov @ weights)
        weights = weights * np.sqrt(contribution.mean() / np.clip(contribution, 1e-18, None))
        weights = np.clip(weights / weights.sum(), low, high)
        weights /= weights.sum()
    return weights


def walk_forward_weights(markets: Mapping[str, pd.DataFrame], method: str = "min_variance", *, lookback: int = 252,
                         rebalance_every: int = 21, bounds: tuple[float, float] = (0.0, 1.0),
                         **options: Any) -> pd.DataFrame:
    """Weights decided every `rebalance_every` bars from the `lookback` closes up to each decision bar.

    Returns a frame on the rebalancing bars (one column per symbol) for `run_backtest(markets, weights)`.
    """
    closes = pd.DataFrame({symbol: frame["close"] for symbol, frame in markets.items()})
    if closes.isna().any().any():
        raise DataValidationError("The symbols' bars differ: align them on common bars first.")
    if lookback < 20 or rebalance_every < 1 or len(closes) <= lookback:
        raise DataValidationError(f"Need lookback >= 20 bars (got {lookback}), rebalance_every >= 1 and more than "
                                  f"{lookback} bars of history (got {len(closes)}).")
    periods = bars_per_year(closes.index)
    decisions = range(lookback - 1, len(closes) - 1, rebalance_every)
    rows = {closes.index[t]: optimise_weights(closes.iloc[t - lookback + 1:t + 1], method, bounds=bounds,
                                              periods=periods, **options) for t in decisions}
    return pd.DataFrame(rows).T.rename_axis("time")


def portfolio_backtest(markets: Mapping[str, pd.DataFrame], method: str = "min_variance", *, lookback: int = 252,
                       rebalance_every: int = 21, bounds: tuple[float, float] = (0.0, 1.0),
                       **execution: Any) -> tuple[pd.DataFrame, BacktestResult]:
    """Walk-forward weights of `method`, traded by the engine: (weights, result)."""
    weights = walk_forward_weights(markets, method, lookback=lookback, rebalance_every=rebalance_every, bounds=bounds)
    return weights, run_backtest(dict(markets), weights, **execution)
