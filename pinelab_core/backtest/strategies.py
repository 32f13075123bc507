"""Rule strategies chosen by a short name: each turns OHLCV into target positions, with a default grid.

A strategy returns a Series on the OHLCV index: +1 long, -1 short, 0 flat on the bars where it decides,
NaN where it keeps its last decision (so a cross enters on the cross, not on the first bar where both
averages exist). Every value at bar t uses bars <= t only. Add one with `register_strategy`.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import talib

from pinelab_core.errors import DataValidationError

__all__ = ["STRATEGIES", "Strategy", "get_strategy", "param_grid", "register_strategy", "strategy_positions"]

StrategyFunction = Callable[..., pd.Series]


@dataclass(frozen=True)
class Strategy:
    """A named rule: its function, default parameters, parameter grid and a one-line description."""

    name: str
    function: StrategyFunction
    defaults: dict[str, float]
    grid: dict[str, list[float]] = field(default_factory=dict)
    description: str = ""
    check: Callable[[dict[str, float]], str | None] | None = None

    def positions(self, ohlcv: pd.DataFrame, **params: float) -> pd.Series:
        """Target positions on `ohlcv` with `params` over the defaults (unknown names are refused)."""
        return self.function(ohlcv, **self.resolve(params))

    def resolve(self, params: Mapping[str, Any]) -> dict[str, float]:
        unknown = [p for p in params if p not in self.defaults]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], list(self.defaults), n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise DataValidationError(f"{self.name} has no parameter {unknown[0]!r}.{suggestion} "
                                      f"Parameters: {', '.join(f'{k}={v}' for k, v in self.defaults.items())}.")
        merged = {**self.defaults, **{k: _number(k, v) for k, v in params.items()}}
        problem = self.check(merged) if self.check else None
        if problem:
            raise DataValidationError(f"{self.name}: {problem}")
        return merged


STRATEGIES: dict[str, Strategy] = {}


def register_strategy(strategy: Strategy) -> None:
    """Add (or replace) a strategy under its name."""
    STRATEGIES[strategy.name] = strategy


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`, or an error naming the closest one."""
    try:
        return STRATEGIES[name]
    except KeyError:
        hint = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise DataValidationError(f"Unknown strategy {name!r}.{suggestion} Known: {', '.join(STRATEGIES)}.") from None


def strategy_positions(ohlcv: pd.DataFrame, name: str, **params: float) -> pd.Series:
    """Target positions of the named strategy with `params` (the rest at their defaults)."""
    return get_strategy(name).positions(ohlcv, **params)


def param_grid(name: str, grid: Mapping[str, list[float]] | None = None) -> list[dict[str, float]]:
    """Every combination of a grid (default: the strategy's own), valid ones only, in a stable order."""
    strategy = get_strategy(name)
    axes = dict(grid or strategy.grid)
    keys = list(axes)
    combos = []
    for values in itertools.product(*(axes[k] for k in keys)):
        params = dict(zip(keys, values, strict=True))
        merged = {**strategy.defaults, **params}
        if strategy.check is None or strategy.check(merged) is None:
            combos.append(params)
    return combos


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataValidationError(f"Parameter {name}={value!r} must be a number.") from None
    return int(number) if number.is_integer() else number


# --- the rules ----------------------------------------------------------------------------------------


def _cross_decisions(fast: np.ndarray, slow: np.ndarray, index: pd.Index) -> pd.Series:
    """+1 on the bar fast crosses above slow (below before, above now), -1 on a cross below, NaN elsewhere."""
    prev_fast, prev_slow = np.concatenate([[np.nan], fast[:-1]]), np.concatenate([[np.nan], slow[:-1]])
    with np.errstate(invalid="ignore"):
        up = (prev_fast < prev_slow) & (fast > slow)
        down = (prev_fast > prev_slow) & (fast < slow)
    return pd.Series(np.where(up, 1.0, np.where(down, -1.0, np.nan)), index=index, name="position")


def _close(ohlcv: pd.DataFrame) -> np.ndarray:
    return ohlcv["close"].to_numpy(np.float64)


def sma_cross(ohlcv: pd.DataFrame, fast: int = 10, slow: int = 20) -> pd.Series:
    """Long when the fast simple moving average crosses above the slow one, short when it crosses below."""
    close = _close(ohlcv)
    return _cross_decisions(talib.SMA(close, int(fast)), talib.SMA(close, int(slow)), ohlcv.index)


def ema_cross(ohlcv: pd.DataFrame, fast: int = 12, slow: int = 26) -> pd.Series:
    """Long when the fast exponential moving average crosses above the slow one, short when below."""
    close = _close(ohlcv)
    return _cross_decisions(talib.EMA(close, int(fast)), talib.EMA(close, int(slow)), ohlcv.index)


def _reversion(value: np.ndarray, lower: np.ndarray | float, upper: np.ndarray | float,
               middle: np.ndarray | float, index: pd.Index) -> pd.Series:
    """Long when `value` comes back above `lower`, short back below `upper`, flat when it crosses `middle`."""
    n = len(value)
    lower, upper, middle = (np.broadcast_to(np.asarray(x, dtype=float), (n,)) for x in (lower, upper, middle))
    prev = np.concatenate([[np.nan], value[:-1]])
    with np.errstate(invalid="ignore"):
        long_in = (prev <= np.concatenate([[np.nan], lower[:-1]])) & (value > lower)
        short_in = (prev >= np.concatenate([[np.nan], upper[:-1]])) & (value < upper)
        prev_mid = np.concatenate([[np.nan], middle[:-1]])
        exit_ = ((prev < prev_mid) & (value >= middle)) | ((prev > prev_mid) & (value <= middle))
    values = np.where(long_in, 1.0, np.where(short_in, -1.0, np.where(exit_, 0.0, np.nan)))
    return pd.Series(values, index=index, name="position")


def rsi_reversion(ohlcv: pd.DataFrame, period: int = 14, oversold: float = 30, overbought: float = 70) -> pd.Series:
    """RSI mean reversion: long when RSI climbs back above `oversold`, short back below `overbought`, flat at 50."""
    rsi = talib.RSI(_close(ohlcv), int(period))
    return _reversion(rsi, oversold, overbought, 50.0, ohlcv.index)


def bollinger_reversion(ohlcv: pd.DataFrame, period: int = 20, width: float = 2.0) -> pd.Series:
    """Bollinger mean reversion: long on re-entry above the lower band, short below the upper, flat at the middle."""
    close = _close(ohlcv)
    upper, middle, lower = talib.BBANDS(close, int(period), float(width), float(width))
    return _reversion(close, lower, upper, middle, ohlcv.index)


def breakout(ohlcv: pd.DataFrame, lookback: int = 20, exit_lookback: int = 10) -> pd.Series:
    """Donchian breakout: long above the prior `lookback`-bar high, short below the low, flat on the exit channel."""
    high, low, close = (ohlcv[c].to_numpy(np.float64) for c in ("high", "low", "close"))
    prior_high = np.concatenate([[np.nan], talib.MAX(high, int(lookback))[:-1]])
    prior_low = np.concatenate([[np.nan], talib.MIN(low, int(lookback))[:-1]])
    exit_high = np.concatenate([[np.nan], talib.MAX(high, int(exit_lookback))[:-1]])
    exit_low = np.concatenate([[np.nan], talib.MIN(low, int(exit_lookback))[:-1]])
    with np.errstate(invalid="ignore"):
        values = np.where(close > prior_high, 1.0, np.where(close < prior_low, -1.0, np.nan))
        # a long exits when the close breaks the shorter channel's low (and a short its high)
        held = pd.Series(values).ffill().to_numpy()
        exit_ = ((held > 0) & (close < exit_low)) | ((held < 0) & (close > exit_high))
    values = np.where(np.isnan(values) & exit_, 0.0, values)
    return pd.Series(values, index=ohlcv.index, name="position")


def _fast_below_slow(params: dict[str, float]) -> str | None:
    return None if 1 <= params["fast"] < params["slow"] else "fast must be at least 1 and below slow."


def _band_order(params: dict[str, float]) -> str | None:
    ok = 0 < params["oversold"] < 50 < params["overbought"] < 100 and params["period"] >= 2
    return None if ok else "need 0 < oversold < 50 < overbought < 100 and period >= 2."


def _positive_period(params: dict[str, float]) -> str | None:
    return None if params["period"] >= 2 and params["width"] > 0 else "need period >= 2 and width > 0."


def _channels(params: dict[str, float]) -> str | None:
    ok = params["lookback"] >= 2 and 1 <= params["exit_lookback"] <= params["lookback"]
    return None if ok else "need lookback >= 2 and 1 <= exit_lookback <= lookback."


for _strategy in (
    Strategy("sma_cross", sma_cross, {"fast": 10, "slow": 20},
             {"fast": [5, 10, 15, 20, 30], "slow": [20, 40, 60, 100, 150, 200]},
             "SMA cross: long above, short below", _fast_below_slow),
    Strategy("ema_cross", ema_cross, {"fast": 12, "slow": 26},
             {"fast": [5, 8, 12, 20], "slow": [26, 50, 100, 200]}, "EMA cross: long above, short below",
             _fast_below_slow),
    Strategy("rsi_reversion", rsi_reversion, {"period": 14, "oversold": 30, "overbought": 70},
             {"period": [7, 14, 21], "oversold": [20, 25, 30, 35], "overbought": [65, 70, 75, 80]},
             "RSI mean reversion", _band_order),
    Strategy("bollinger_reversion", bollinger_reversion, {"period": 20, "width": 2.0},
             {"period": [10, 20, 30, 50], "width": [1.5, 2.0, 2.5, 3.0]}, "Bollinger band mean reversion",
             _positive_period),
    Strategy("breakout", breakout, {"lookback": 20, "exit_lookback": 10},
             {"lookback": [10, 20, 40, 55, 100], "exit_lookback": [5, 10, 20]}, "Donchian channel breakout",
             _channels),
):
    register_strategy(_strategy)
