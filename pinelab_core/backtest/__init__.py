"""The execution engine: the only code in PineLab that turns target positions into money.

    run_backtest(ohlcv, positions, *, fees=0.0, slippage=0.0, init_cash=10_000, **options) -> BacktestResult
        (.stats, .equity, .trades); `positions` a Series in [-1, 1] (NaN = hold), a function of the frame,
        or with {symbol: ohlcv} a frame of portfolio weights
    ExecutionModel(fees, fixed_fee, half_spread, slippage, slippage_atr, stop_loss, take_profit, trailing_stop,
        fraction, vol_target, max_leverage, kelly_cap, min_order, lot_size, allow_short, ...)
    Stepper(ohlcv, **options).step(target) -> StepResult   the same engine one bar at a time (RL, paper trading)
    round_trip_returns(ohlcv, decided_at, exit_decided_at, direction, fees=, slippage=) -> net returns
    STRATEGIES, strategy_positions(ohlcv, name, **params), param_grid(name), register_strategy(Strategy(...))
    backtest_strategy(ohlcv, "sma_cross" | "rule:rsi" | "tradingview" | "ensemble" | "model:NAME", params)
    sweep(ohlcv, strategy, method="grid" | "optuna" | "genetic", ...) -> SweepResult (n_trials, DSR, PBO)
    walk_forward_optimise(ohlcv, strategy, ...) -> WalkForwardResult (stitched out-of-sample run)
    monte_carlo(result, method="trades" | "blocks") -> MonteCarloResult (percentile bands)
    walk_forward_weights / portfolio_backtest(markets, method) -> weights, BacktestResult
    promotion_checklist(sharpe, walk_forward_win_rate, monte_carlo_p5_drawdown, PromotionRule())
    save_run / list_runs / load_run(engine, ...)   stored runs, compared side by side
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
from pinelab_core.backtest.montecarlo import MonteCarloResult, monte_carlo
from pinelab_core.backtest.overfitting import deflated_sharpe_ratio, probability_of_overfitting
from pinelab_core.backtest.portfolio import (
    PORTFOLIO_METHODS,
    optimise_weights,
    portfolio_backtest,
    walk_forward_weights,
)
from pinelab_core.backtest.promotion import PromotionRule, promotion_checklist
from pinelab_core.backtest.result import BacktestResult
from pinelab_core.backtest.roundtrip import round_trip_returns
from pinelab_core.backtest.run import run_backtest
from pinelab_core.backtest.search import SweepResult, sweep
from pinelab_core.backtest.service import StrategyRun, backtest_strategy, strategy_names
from pinelab_core.backtest.sources import source_positions
from pinelab_core.backtest.stepper import Stepper, StepResult
from pinelab_core.backtest.store import list_runs, load_run, save_run
from pinelab_core.backtest.strategies import STRATEGIES, Strategy, param_grid, register_strategy, strategy_positions
from pinelab_core.backtest.walkforward import WalkForwardResult, walk_forward_optimise

__all__ = [
    "PORTFOLIO_METHODS",
    "STRATEGIES",
    "BacktestResult",
    "ExecutionModel",
    "MonteCarloResult",
    "PromotionRule",
    "StepResult",
    "Stepper",
    "Strategy",
    "StrategyRun",
    "SweepResult",
    "WalkForwardResult",
    "backtest_strategy",
    "cagr",
    "deflated_sharpe_ratio",
    "list_runs",
    "load_run",
    "max_drawdown",
    "monte_carlo",
    "optimise_weights",
    "param_grid",
    "periods_per_year",
    "portfolio_backtest",
    "probability_of_overfitting",
    "profit_factor",
    "promotion_checklist",
    "register_strategy",
    "round_trip_returns",
    "run_backtest",
    "save_run",
    "sharpe_ratio",
    "source_positions",
    "strategy_names",
    "strategy_positions",
    "sweep",
    "walk_forward_optimise",
    "walk_forward_weights",
    "win_rate",
]
