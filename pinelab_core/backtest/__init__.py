"""Backtesting: performance metrics and the implied strategy of a classifier's predictions."""

from pinelab_core.backtest.metrics import (
    CLASS_POSITIONS,
    buy_and_hold_positions,
    cagr,
    equity_curve,
    implied_positions,
    max_drawdown,
    next_open_returns,
    periods_per_year,
    profit_factor,
    sharpe_ratio,
    strategy_returns,
    summarize_strategy,
    trade_returns,
    win_rate,
)

__all__ = [
    "CLASS_POSITIONS",
    "buy_and_hold_positions",
    "cagr",
    "equity_curve",
    "implied_positions",
    "max_drawdown",
    "next_open_returns",
    "periods_per_year",
    "profit_factor",
    "sharpe_ratio",
    "strategy_returns",
    "summarize_strategy",
    "trade_returns",
    "win_rate",
]
