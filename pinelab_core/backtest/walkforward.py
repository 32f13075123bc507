"""Walk-forward optimisation: choose parameters on each train window, trade the next test window with them.

The test windows' targets (each from its own window's winner, computed on the history up to that bar so
indicators are warm and causal) are stitched into one series and traded in ONE engine run, so positions and
costs carry across window boundaries like a real account. Per window it reports the in-sample winner's
metric and what the same parameters did out of sample; the gap is the degradation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest.metrics import sharpe_ratio
from pinelab_core.backtest.result import BacktestResult, bars_per_year
from pinelab_core.backtest.run import run_backtest
from pinelab_core.backtest.search import sweep
from pinelab_core.backtest.strategies import strategy_positions
from pinelab_core.errors import DataValidationError

__all__ = ["WalkForwardResult", "walk_forward_optimise"]


@dataclass(frozen=True)
class WalkForwardResult:
    """Stitched out-of-sample trading of walk-forward-chosen parameters.

    Attributes:
        windows: per window: train/test start and end, the chosen params (JSON), in-sample Sharpe and total
            return of the winner, the same out of sample, and the trials it took.
        result: the one engine run over every test window (`.stats`, `.equity`, `.trades`).
        degradation: 1 - mean out-of-sample Sharpe / mean in-sample Sharpe (0: none lost; 1: all of it).
        window_win_rate: share of test windows that made money.
        n_trials: trials summed over every window's search (for judging the whole procedure).
    """

    windows: pd.DataFrame
    result: BacktestResult
    degradation: float
    window_win_rate: float
    n_trials: int

    @property
    def equity(self) -> pd.Series:
        return self.result.equity["equity"]


def _windows(n: int, train_bars: int, test_bars: int, anchored: bool) -> list[tuple[int, int, int, int]]:
    spans, start = [], 0
    while start + train_bars + test_bars <= n:
        train_start = 0 if anchored else start
        spans.append((train_start, start + train_bars, start + train_bars, start + train_bars + test_bars))
        start += test_bars
    return spans


def walk_forward_optimise(
    ohlcv: pd.DataFrame,
    strategy: str,
    *,
    grid: dict[str, list[float]] | None = None,
    train_bars: int | None = None,
    test_bars: int | None = None,
    anchored: bool = False,
    metric: str = "sharpe",
    method: str = "grid",
    n_trials: int = 30,
    seed: int = 0,
    executor: str | None = "serial",
    **execution: Any,
) -> WalkForwardResult:
    """Optimise on rolling (or anchored) train windows and trade each following test window out of sample.

    Args:
        ohlcv: the market.
        strategy: a name from `STRATEGIES`.
        grid: the parameter grid (default the strategy's).
        train_bars: bars per train window (default: 40% of the history).
        test_bars: bars per test window (default: a fifth of what is left after the first train window).
        anchored: grow every train window from the first bar instead of rolling it.
        metric, method, n_trials, seed, executor: as in `sweep`.
        **execution: `ExecutionModel` options, the same in and out of sample.
    """
    n = len(ohlcv)
    train_bars = train_bars or int(n * 0.4)
    test_bars = test_bars or max(1, (n - train_bars) // 5)
    spans = _windows(n, train_bars, test_bars, anchored)
    if train_bars < 50 or not spans:
        raise DataValidationError(f"{n} bars cannot hold a train window of {train_bars} (at least 50) and a test "
                                  f"window of {test_bars}; load more history or shrink the windows.")
    targets = pd.Series(np.nan, index=ohlcv.index)
    rows, total_trials = [], 0
    for number, (a, b, c, d) in enumerate(spans, start=1):
        found = sweep(ohlcv.iloc[a:b], strategy, method=method, grid=grid, metric=metric, n_trials=n_trials,
                      seed=seed, executor=executor, **execution)
        total_trials += found.n_trials
        decisions = strategy_positions(ohlcv.iloc[:d], strategy, **found.best_params).ffill()
        targets.iloc[c:d] = decisions.iloc[c:d].fillna(0.0).to_numpy()
        rows.append({"window": number, "train_start": ohlcv.index[a], "train_end": ohlcv.index[b - 1],
                     "test_start": ohlcv.index[c], "test_end": ohlcv.index[d - 1],
                     "params": json.dumps(found.best_params), "is_sharpe": float(found.best["sharpe"]),
                     "is_return": float(found.best["total_return"]), "n_trials": found.n_trials})
    first, last = spans[0][2], spans[-1][3]
    result = run_backtest(ohlcv.iloc[first:last], targets.iloc[first:last], **execution)
    returns = result.returns
    periods = bars_per_year(result.equity.index)
    for row in rows:
        window = returns.loc[row["test_start"]:row["test_end"]]
        row["oos_sharpe"] = sharpe_ratio(window.to_numpy(), periods)
        row["oos_return"] = float(np.prod(1.0 + window.to_numpy()) - 1.0)
    windows = pd.DataFrame(rows)
    mean_is = float(windows["is_sharpe"].mean())
    degradation = float(1.0 - windows["oos_sharpe"].mean() / mean_is) if abs(mean_is) > 1e-12 else float("nan")
    return WalkForwardResult(windows, result, degradation, float((windows["oos_return"] > 0).mean()), total_trials)
