"""The execution engine: the only code in PineLab that turns positions into money.

Front door: `run_backtest(ohlcv, positions, *, fees, slippage, init_cash, **options) -> BacktestResult`.
"""

from pinelab_core.backtest.execution import ExecutionModel
from pinelab_core.backtest.metrics import (
    cagr,
    max_drawdown,
    periods_per_year,
    profit_factor,
    sharpe_ratio,
    win_rate,
)
from pinelab_core.backtest.result import BacktestResult
from pinelab_core.backtest.run import run_backtest

__all__ = [
    "BacktestResult",
    "ExecutionModel",
    "cagr",
    "max_drawdown",
    "periods_per_year",
    "profit_factor",
    "run_backtest",
    "sharpe_ratio",
    "win_rate",
]
