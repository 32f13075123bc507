"""`Stepper`: the execution engine one bar at a time, for a trading environment or a paper account.

It calls the same Numba `run_bars` that `run_backtest` runs, one bar per call, on the same state vectors, so feeding
it the same targets bar by bar gives the same fills and the same equity as the vectorised run, exactly.
Python's per-call overhead is a few microseconds per bar; use `run_backtest` for whole histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest.execution import ExecutionModel
from pinelab_core.backtest.kernel import (
    L_UNITS,
    N_LEDGER,
    N_TRADE,
    ST_EQUITY,
    ST_TRADED,
    new_state,
    open_trade_record,
    run_bars,
)
from pinelab_core.backtest.result import BacktestResult, build_result, market_arrays, trade_table
from pinelab_core.backtest.run import check_market
from pinelab_core.errors import DataValidationError

__all__ = ["StepResult", "Stepper"]


@dataclass(frozen=True)
class StepResult:
    """The account after one bar: marked at its close, with the trades that closed during it."""

    bar: int
    time: pd.Timestamp
    equity: float
    cash: float
    units: float
    closed_trades: int
    done: bool


class Stepper:
    """Walk an OHLCV frame bar by bar, deciding a target position at each close.

    Example:
        stepper = Stepper(ohlcv, fees=0.001)
        while not stepper.done:
            info = stepper.step(policy(stepper.bar))  # the target decided at this bar's close
        result = stepper.result()  # identical to run_backtest(ohlcv, targets, fees=0.001)
    """

    def __init__(self, ohlcv: pd.DataFrame, *, fees: float = 0.0, slippage: float = 0.0,
                 init_cash: float = 10_000.0, execution: ExecutionModel | None = None, **options: Any) -> None:
        check_market(ohlcv)
        base = execution.to_dict() if execution is not None else {}
        self.execution = ExecutionModel.from_options(**{**base, "fees": fees, "slippage": slippage,
                                                        "init_cash": init_cash, **options})
        self._ohlcv = ohlcv
        self._arrays = market_arrays(ohlcv, self.execution)
        self._params = self.execution.pack()
        self._state = new_state(self._params)
        self._ledger = np.zeros((1, N_LEDGER))
        n_bars = len(ohlcv)
        self._trades = np.empty((2 * n_bars + 2, N_TRADE))
        self._n_trades = 0
        self._equity, self._cash, self._units = np.empty(n_bars), np.empty(n_bars), np.empty(n_bars)
        self._targets = np.full(n_bars, np.nan)  # what was decided at each stepped bar
        self.bar = 0

    @property
    def done(self) -> bool:
        """True once every bar has been stepped."""
        return self.bar >= len(self._ohlcv)

    @property
    def equity(self) -> float:
        """Equity at the last stepped close (the starting cash before the first step)."""
        return float(self._state[ST_EQUITY])

    @property
    def units(self) -> float:
        return float(self._ledger[0, L_UNITS])

    def step(self, target: float | None) -> StepResult:
        """Run the next bar: fill the previous decision at its open, stops intrabar, then decide `target`.

        Args:
            target: the position decided at this bar's close, in [-1, 1]; None (or NaN) keeps the last one.
        """
        if self.done:
            raise DataValidationError("The stepper is past the last bar; build a new one to start over.")
        value = np.nan if target is None else float(target)
        if np.isfinite(value) and abs(value) > 1.0 + 1e-12:
            raise DataValidationError(f"Target {value} outside [-1, 1].")
        i, a = self.bar, self._arrays
        before = self._n_trades
        self._targets[i] = value
        self._n_trades = run_bars(a.open, a.high, a.low, a.close, a.atr, a.scale, self._targets, self._params,
                                  self._state, self._ledger, self._trades, self._n_trades, i, i + 1, self._equity,
                                  self._cash, self._units)
        self.bar += 1
        return StepResult(i, self._ohlcv.index[i], float(self._equity[i]), float(self._cash[i]),
                          float(self._units[i]), self._n_trades - before, self.done)

    @property
    def trades(self) -> pd.DataFrame:
        """Trades closed so far (without the open one)."""
        return trade_table(self._trades[:self._n_trades], self._ohlcv.index, ("",))

    def result(self) -> BacktestResult:
        """The `BacktestResult` of the bars stepped so far (the open trade marked at the last close)."""
        if self.bar < 2:
            raise DataValidationError("Step at least two bars before asking for a result.")
        end = self.bar
        records = np.concatenate([self._trades[:self._n_trades], np.empty((1, N_TRADE))])
        n = open_trade_record(self._ledger, 0, end - 1, self._arrays.close[end - 1], records, self._n_trades)
        return build_result(self._ohlcv.index[:end], self._ohlcv["close"].iloc[:end], self.execution,
                            self._equity[:end].copy(), self._cash[:end].copy(),
                            self._units[:end] * self._arrays.close[:end], self._units[:end].copy(), records[:n],
                            float(self._state[ST_TRADED]))
