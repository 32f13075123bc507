"""`BacktestResult` and how the kernels' raw arrays become one: equity frame, trade table, stats."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import talib

from pinelab_core.backtest.execution import REASONS, ExecutionModel
from pinelab_core.backtest.kernel import (
    T_ASSET,
    T_COSTS,
    T_ENTRY_BAR,
    T_ENTRY_PRICE,
    T_EXIT_BAR,
    T_EXIT_PRICE,
    T_PNL,
    T_REASON,
    T_RETURN,
    T_SIZE,
)
from pinelab_core.backtest.metrics import backtest_stats, drawdown, periods_per_year

__all__ = ["TRADE_COLUMNS", "BacktestResult", "MarketArrays", "bars_per_year", "build_result", "market_arrays",
           "trade_table"]

TRADE_COLUMNS: tuple[str, ...] = ("symbol", "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl",
                                  "return", "costs", "duration", "reason")


@dataclass(frozen=True)
class BacktestResult:
    """What a strategy earned, bar by bar and trade by trade.

    Attributes:
        stats: `metrics.STAT_FIELDS` as a float Series (returns as fractions; drawdown duration in days).
        equity: per bar: equity, drawdown, position (signed exposure / equity), units, cash.
        trades: one row per trade: symbol, entry/exit time and price, size (units, negative = short), pnl (cash,
            net of its own costs), return (pnl / entry notional), costs, duration, reason (signal, stop,
            take-profit, trailing-stop, liquidation; "open" for a trade still open at the end, marked at the
            last close and left out of the trade statistics).
        execution: the costs, stops and sizing the run used.
    """

    stats: pd.Series
    equity: pd.DataFrame
    trades: pd.DataFrame
    execution: ExecutionModel
    symbols: tuple[str, ...] = field(default=("",))

    @property
    def returns(self) -> pd.Series:
        """Per-bar simple returns of the equity (0 on the first bar)."""
        return self.equity["equity"].pct_change().fillna(0.0).rename("return")

    @property
    def final_equity(self) -> float:
        return float(self.equity["equity"].iloc[-1]) if len(self.equity) else self.execution.init_cash


@dataclass(frozen=True)
class MarketArrays:
    """The float arrays the kernels read, computed once per market (all causal: row t uses bars <= t)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    atr: np.ndarray
    scale: np.ndarray


def market_arrays(ohlcv: pd.DataFrame, execution: ExecutionModel) -> MarketArrays:
    """OHLC, ATR(14) (for ATR slippage) and the sizing scale per bar (fraction x volatility target, capped)."""
    o, h, low, c = (np.ascontiguousarray(ohlcv[name].to_numpy(np.float64)) for name in ("open", "high", "low",
                                                                                         "close"))
    atr = talib.ATR(h, low, c, timeperiod=14) if execution.slippage_atr > 0 and len(c) > 14 else np.full(len(c),
                                                                                                         np.nan)
    scale = np.full(len(c), execution.fraction)
    if execution.vol_target is not None and len(c) > 2:
        log_returns = np.diff(np.log(c), prepend=np.nan)
        realised = pd.Series(log_returns).rolling(execution.vol_lookback).std().to_numpy() * np.sqrt(
            bars_per_year(ohlcv.index))
        with np.errstate(divide="ignore", invalid="ignore"):
            targeted = execution.fraction * execution.vol_target / realised
        # before the lookback fills, size at the plain fraction
        scale = np.where(np.isfinite(targeted), targeted, execution.fraction)
    scale = np.minimum(scale, execution.max_leverage)
    return MarketArrays(o, h, low, c, np.ascontiguousarray(atr), np.ascontiguousarray(scale))


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year measured on the index (spans under 30 days: from the median bar spacing)."""
    if len(index) >= 3 and (index[-1] - index[0]) >= pd.Timedelta(days=30):
        return periods_per_year(index)
    if len(index) >= 2:
        spacing = float(np.median(np.diff(index.asi8))) / 1e9
        if spacing > 0:
            return 365.25 * 86400.0 / spacing if spacing < 86400 else 252.0 * 86400.0 / spacing
    return 252.0


def trade_table(records: np.ndarray, index: pd.DatetimeIndex, symbols: tuple[str, ...]) -> pd.DataFrame:
    """The kernels' trade records as a readable frame."""
    if len(records) == 0:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in TRADE_COLUMNS})
    entry_times = index[records[:, T_ENTRY_BAR].astype(np.int64)]
    exit_times = index[records[:, T_EXIT_BAR].astype(np.int64)]
    return pd.DataFrame({
        "symbol": [symbols[int(j)] for j in records[:, T_ASSET]],
        "entry_time": entry_times,
        "exit_time": exit_times,
        "entry_price": records[:, T_ENTRY_PRICE],
        "exit_price": records[:, T_EXIT_PRICE],
        "size": records[:, T_SIZE],
        "pnl": records[:, T_PNL],
        "return": records[:, T_RETURN],
        "costs": records[:, T_COSTS],
        "duration": exit_times - entry_times,
        "reason": [REASONS[int(r)] for r in records[:, T_REASON]],
    })


def build_result(index: pd.DatetimeIndex, close: pd.Series, execution: ExecutionModel, equity: np.ndarray,
                 cash: np.ndarray, value: np.ndarray, units: np.ndarray | None, records: np.ndarray,
                 traded_notional: float, symbols: tuple[str, ...] = ("",)) -> BacktestResult:
    """Assemble a result from per-bar equity, cash and position value (signed, in cash)."""
    equity_series = pd.Series(equity, index=index, name="equity")
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.where(equity > 0, value / equity, 0.0)
    frame = pd.DataFrame({"equity": equity, "drawdown": drawdown(equity), "position": position, "cash": cash},
                         index=index)
    if units is not None:
        frame.insert(3, "units", units)
    trades = trade_table(records, index, symbols)
    stats = backtest_stats(equity_series, np.abs(position), trades, traded_notional, close, bars_per_year(index))
    return BacktestResult(stats=stats, equity=frame, trades=trades, execution=execution, symbols=symbols)


def _dtype(name: str) -> str:
    if name in ("symbol", "reason"):
        return "object"
    if name in ("entry_time", "exit_time"):
        return "datetime64[ns, UTC]"
    if name == "duration":
        return "timedelta64[ns]"
    return "float64"
