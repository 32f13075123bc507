"""Markets with known structure for the market-structure tests: planted volatility regimes and GARCH paths."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _frame(log_returns: np.ndarray, seed: int, freq: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    n = len(log_returns)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(log_returns) * 0.5 + 0.001
    high = np.maximum(open_, close) * np.exp(wick * rng.random(n))
    low = np.minimum(open_, close) * np.exp(-wick * rng.random(n))
    index = pd.date_range("2021-01-04", periods=n, freq=freq, tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.lognormal(10.0, 0.3, n)}, index=index)


def regime_switching_ohlcv(n: int = 3_000, seed: int = 0, block: int = 150, freq: str = "1h",
                           calm: float = 0.004, stressed: float = 0.02) -> tuple[pd.DataFrame, np.ndarray]:
    """Alternating calm and stressed blocks of `block` bars (volatility x5); returns (bars, stressed per bar)."""
    rng = np.random.default_rng(seed)
    stressed_bar = (np.arange(n) // block) % 2 == 1
    returns = rng.normal(0.0, np.where(stressed_bar, stressed, calm))
    return _frame(returns, seed, freq), stressed_bar


def garch_ohlcv(n: int = 3_000, seed: int = 0, *, omega: float = 2e-6, alpha: float = 0.08, gamma: float = 0.0,
                beta: float = 0.9, nu: float = 6.0, freq: str = "1h") -> tuple[pd.DataFrame, np.ndarray]:
    """A GJR-GARCH(1,1,1) path with Student-t shocks (unit variance); returns (bars, true per-bar volatility)."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(nu, n) / np.sqrt(nu / (nu - 2.0))
    variance = np.empty(n)
    returns = np.empty(n)
    variance[0] = omega / (1.0 - alpha - gamma / 2.0 - beta)
    for t in range(n):
        returns[t] = np.sqrt(variance[t]) * shocks[t]
        if t + 1 < n:
            weight = alpha + (gamma if returns[t] < 0 else 0.0)
            variance[t + 1] = omega + weight * returns[t] ** 2 + beta * variance[t]
    return _frame(returns, seed, freq), np.sqrt(variance)
