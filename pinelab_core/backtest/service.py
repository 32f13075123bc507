"""One call from a strategy name to a backtest, shared by the CLI and the Backtest page (same numbers in both).

A strategy is a rule from `STRATEGIES` (sma_cross, ...) or a signal source (rule:<name>, tradingview,
ensemble, model:<name>[@version]); Python functions go straight to `run_backtest`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.backtest.result import BacktestResult
from pinelab_core.backtest.run import run_backtest
from pinelab_core.backtest.sources import source_positions
from pinelab_core.backtest.strategies import STRATEGIES, get_strategy
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["StrategyRun", "backtest_strategy", "is_signal_source", "strategy_names"]

_SOURCES = ("tradingview", "ensemble")


@dataclass(frozen=True)
class StrategyRun:
    """A strategy's backtest with what produced it: name, parameters and the target positions."""

    strategy: str
    params: dict[str, float]
    positions: pd.Series
    result: BacktestResult
    execution: dict[str, Any] = field(default_factory=dict)


def is_signal_source(name: str) -> bool:
    return name in _SOURCES or name.startswith(("rule:", "model:"))


def strategy_names() -> list[str]:
    """Every name `backtest_strategy` accepts without a parameter (rules, then the signal sources)."""
    from pinelab_core.signals.rules import RULES

    return [*STRATEGIES, *(f"rule:{r}" for r in RULES), *_SOURCES]


def backtest_strategy(ohlcv: pd.DataFrame, strategy: str, params: Mapping[str, Any] | None = None, *,
                      symbol: str = "", timeframe: str = "1d", engine: Engine | None = None,
                      settings: Settings | None = None, hold_bars: int | None = None,
                      **execution: Any) -> StrategyRun:
    """Backtest a named rule strategy or signal source on `ohlcv` with `execution` options (fees=, ...).

    Raises:
        DataValidationError: unknown strategy (with the closest name) or parameter, or bad options.
    """
    params = dict(params or {})
    if is_signal_source(strategy):
        if params:
            raise DataValidationError(f"{strategy} takes no parameters (got {sorted(params)}); "
                                      "use hold_bars to close each call after a number of bars.")
        positions = source_positions(strategy, ohlcv, symbol, timeframe, engine=engine, settings=settings,
                                     hold_bars=hold_bars)
        resolved: dict[str, float] = {}
    elif strategy in STRATEGIES:
        rule = get_strategy(strategy)
        resolved = rule.resolve(params)
        positions = rule.function(ohlcv, **resolved)
    else:
        hint = difflib.get_close_matches(strategy, strategy_names() + ["model:<name>"], n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise DataValidationError(f"Unknown strategy {strategy!r}.{suggestion} Known: "
                                  f"{', '.join(strategy_names())}, model:<name>[@version].")
    result = run_backtest(ohlcv, positions, **execution)
    return StrategyRun(strategy, resolved, positions, result, dict(execution))
