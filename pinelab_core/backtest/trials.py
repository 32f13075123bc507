"""One trial of a sweep: a small config (strategy, parameters, execution) and what it earned.

A trial keeps its headline metrics and its block moments (for the deflated Sharpe ratio and PBO), never
its equity curve, so a sweep of any size runs in bounded memory. `evaluate_trial` is a pure function of
(ohlcv, spec): the serial, local-process and Ray executors give the same numbers for the same trial.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest.execution import ExecutionModel
from pinelab_core.backtest.kernel import R_OPEN, T_PNL, T_REASON, T_RETURN, run_single
from pinelab_core.backtest.metrics import elapsed_years
from pinelab_core.backtest.overfitting import N_BLOCKS, block_moments
from pinelab_core.backtest.result import bars_per_year, market_arrays
from pinelab_core.backtest.strategies import get_strategy

__all__ = ["SWEEP_METRICS", "TrialOutcome", "TrialSpec", "evaluate_trial", "quick_stats"]

#: The metrics every trial reports (a subset of `BacktestResult.stats`, computed without pandas).
SWEEP_METRICS: tuple[str, ...] = ("sharpe", "total_return", "cagr", "max_drawdown", "n_trades", "win_rate",
                                  "profit_factor", "exposure", "expectancy")


@dataclass(frozen=True)
class TrialSpec:
    """What to run: a strategy by name, its parameters and the execution options."""

    strategy: str
    params: dict[str, float]
    execution: dict[str, Any] = field(default_factory=dict)

    @property
    def param_hash(self) -> str:
        """Stable key of the trial within a study (same strategy, parameters and costs -> same hash)."""
        text = json.dumps({"s": self.strategy, "p": self.params, "e": self.execution}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class TrialOutcome:
    """A trial's metrics and its (N_BLOCKS, 5) block moments of per-bar returns."""

    params: dict[str, float]
    metrics: dict[str, float]
    moments: np.ndarray


def evaluate_trial(ohlcv: pd.DataFrame, spec: TrialSpec) -> TrialOutcome:
    """Run one configuration through the engine and keep only its metrics and block moments."""
    model = ExecutionModel.from_options(**spec.execution)
    targets = get_strategy(spec.strategy).positions(ohlcv, **spec.params).to_numpy(np.float64)
    arrays = market_arrays(ohlcv, model)
    equity, _, units, records, _ = run_single(arrays.open, arrays.high, arrays.low, arrays.close, arrays.atr,
                                              arrays.scale, np.ascontiguousarray(targets), model.pack())
    returns = np.diff(equity, prepend=model.init_cash) / np.concatenate([[model.init_cash], equity[:-1]])
    metrics = quick_stats(equity, returns, units, records, ohlcv.index, model.init_cash)
    return TrialOutcome(dict(spec.params), metrics, block_moments(returns, N_BLOCKS))


def quick_stats(equity: np.ndarray, returns: np.ndarray, units: np.ndarray, records: np.ndarray,
                index: pd.DatetimeIndex, init_cash: float) -> dict[str, float]:
    """`SWEEP_METRICS` from the kernel's arrays, with the same definitions as `backtest_stats`."""
    closed = records[records[:, T_REASON] != R_OPEN]
    pnl, rets = closed[:, T_PNL], closed[:, T_RETURN]
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(np.mean(returns) / std * np.sqrt(bars_per_year(index))) if std > 1e-15 else 0.0
    years = elapsed_years(index)
    growth = equity[-1] / equity[0] if equity[0] > 0 else 0.0
    losses = -pnl[pnl < 0].sum()
    return {
        "sharpe": sharpe,
        "total_return": float(equity[-1] / init_cash - 1.0),
        "cagr": _cagr(growth, years),
        "max_drawdown": float(np.min(equity / np.maximum.accumulate(equity) - 1.0, initial=0.0)),
        "n_trades": float(len(closed)),
        "win_rate": float(np.mean(rets > 0)) if len(rets) else float("nan"),
        "profit_factor": float(pnl[pnl > 0].sum() / losses) if losses > 0 else (
            float("inf") if (pnl > 0).any() else float("nan")),
        "exposure": float(np.mean(units != 0)),
        "expectancy": float(np.mean(rets)) if len(rets) else float("nan"),
    }


def _cagr(growth: float, years: float) -> float:
    if growth <= 0:
        return -1.0
    return float(growth ** (1 / years) - 1) if years >= 1 / 365.25 else 0.0
