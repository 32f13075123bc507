"""Performance metrics of a return series, and the implied strategy of a direction classifier.

Conventions (DESIGN.md): a signal decided at bar t's close fills at bar t+1's open, so the position
decided at t earns the open-to-open return from bar t+1 to bar t+2. Fees and slippage are fractions
of traded notional, charged on every change of position (going from short to long trades twice the
notional). Returns are simple (not log) per-bar returns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.types import Timeframe

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

#: Position per direction class index (DOWN, SIDEWAYS, UP): short, flat, long.
CLASS_POSITIONS: tuple[float, float, float] = (-1.0, 0.0, 1.0)

_FALLBACK_PERIODS = {"1d": 252.0, "1w": 52.0}


def periods_per_year(index: pd.DatetimeIndex | None = None, timeframe: Timeframe | str | None = None) -> float:
    """Bars per year, for annualising Sharpe and CAGR.

    Measured from the data when `index` spans at least 30 days (so equities' 252 trading days, crypto's
    365 and a 6.5-hour session's intraday bars all come out right); otherwise taken from `timeframe`
    (252 days a year for daily bars, 52 weeks, round-the-clock for intraday bars).
    """
    if index is not None and len(index) >= 3:
        span_days = (index[-1] - index[0]).total_seconds() / 86400.0
        if span_days >= 30:
            return float((len(index) - 1) / (span_days / 365.25))
    if timeframe is None:
        raise DataValidationError("Cannot annualise: give a timeframe or an index spanning at least 30 days.")
    tf = Timeframe.parse(timeframe)
    return _FALLBACK_PERIODS.get(tf.value, 365.25 * 86400.0 / tf.seconds)


def sharpe_ratio(returns: pd.Series | np.ndarray, periods: float) -> float:
    """Annualised Sharpe ratio (risk-free rate 0): mean / std (ddof=1) * sqrt(periods). 0.0 without variance."""
    values = _finite(returns)
    if len(values) < 2:
        return 0.0
    std = float(np.std(values, ddof=1))
    if std <= 1e-15:
        return 0.0
    return float(np.mean(values) / std * np.sqrt(periods))


def equity_curve(returns: pd.Series | np.ndarray, start: float = 1.0) -> np.ndarray | pd.Series:
    """Compounded equity of simple per-bar returns, starting from `start` (NaN returns count as 0)."""
    if isinstance(returns, pd.Series):
        return start * (1.0 + returns.fillna(0.0)).cumprod()
    return start * np.cumprod(1.0 + np.nan_to_num(np.asarray(returns, dtype=float)))


def max_drawdown(returns: pd.Series | np.ndarray) -> float:
    """Worst peak-to-trough loss of the compounded equity, as a negative fraction (0.0 if none)."""
    equity = np.asarray(equity_curve(returns), dtype=float)
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return float(np.min(equity / peaks - 1.0, initial=0.0))


def cagr(returns: pd.Series | np.ndarray, periods: float) -> float:
    """Compound annual growth rate of the compounded returns; -1.0 if the equity was wiped out."""
    values = np.nan_to_num(np.asarray(returns, dtype=float))
    if len(values) == 0:
        return 0.0
    final = float(np.prod(1.0 + values))
    if final <= 0:
        return -1.0
    return float(final ** (periods / len(values)) - 1.0)


def trade_returns(positions: pd.Series | np.ndarray, returns: pd.Series | np.ndarray) -> np.ndarray:
    """Compounded return of each trade: a run of consecutive bars holding the same non-zero position."""
    pos = np.asarray(positions, dtype=float)
    ret = np.nan_to_num(np.asarray(returns, dtype=float))
    if len(pos) == 0:
        return np.array([], dtype=float)
    starts = np.flatnonzero(np.concatenate([[True], pos[1:] != pos[:-1]]))
    growth = np.multiply.reduceat(1.0 + ret, starts) - 1.0
    return growth[pos[starts] != 0]


def win_rate(trades: np.ndarray) -> float:
    """Share of trades that made money; NaN when there were no trades."""
    trades = np.asarray(trades, dtype=float)
    return float(np.mean(trades > 0)) if len(trades) else float("nan")


def profit_factor(trades: np.ndarray) -> float:
    """Gross profit / gross loss over trades; inf with no losing trade, NaN with no trades."""
    trades = np.asarray(trades, dtype=float)
    if len(trades) == 0:
        return float("nan")
    gains, losses = trades[trades > 0].sum(), -trades[trades < 0].sum()
    if losses == 0:
        return float("inf") if gains > 0 else float("nan")
    return float(gains / losses)


def implied_positions(predicted_classes: pd.Series | np.ndarray) -> np.ndarray:
    """Long (+1) on UP, flat (0) on SIDEWAYS, short (-1) on DOWN, from class indices 0/1/2."""
    classes = np.asarray(predicted_classes)
    if classes.size and (np.nanmin(classes) < 0 or np.nanmax(classes) > 2):
        raise DataValidationError("Predicted classes must be 0 (DOWN), 1 (SIDEWAYS) or 2 (UP).")
    return np.asarray(CLASS_POSITIONS, dtype=float)[classes.astype(int)]


def buy_and_hold_positions(n: int) -> np.ndarray:
    """Long on every bar: the benchmark a strategy has to beat over the same bars."""
    return np.ones(n, dtype=float)


def next_open_returns(ohlcv: pd.DataFrame, times: pd.Index | None = None) -> pd.Series:
    """For each bar t, the return from the open of t+1 to the open of t+2: what a decision at t's close earns.

    The last bars have no t+2 open; there the position is marked at the last close instead, and a decision
    at the very last bar (no t+1 to fill at) earns nothing.
    """
    opens = ohlcv["open"].to_numpy(dtype=float)
    closes = ohlcv["close"].to_numpy(dtype=float)
    earned = np.zeros(len(opens))
    if len(opens) >= 2:
        entry = opens[1:]
        exit_ = np.append(opens[2:], closes[-1])
        earned[:-1] = exit_ / entry - 1.0
    result = pd.Series(earned, index=ohlcv.index, name="next_open_return")
    return result if times is None else result.reindex(times)


def strategy_returns(
    positions: pd.Series | np.ndarray,
    bar_returns: pd.Series | np.ndarray,
    *,
    fees: float = 0.0,
    slippage: float = 0.0,
    initial_position: float = 0.0,
) -> np.ndarray:
    """Per-bar net returns of holding `positions` over `bar_returns`, paying costs on every position change.

    Args:
        positions: position decided at each bar (-1..+1, fractions allowed).
        bar_returns: what a unit position decided at that bar earns (see `next_open_returns`).
        fees: commission as a fraction of traded notional (0.0005 = 5 bp).
        slippage: fill slippage as a fraction of traded notional.
        initial_position: the position held before the first bar.
    """
    if fees < 0 or slippage < 0:
        raise DataValidationError(f"Fees ({fees}) and slippage ({slippage}) must be non-negative fractions.")
    pos = np.asarray(positions, dtype=float)
    ret = np.nan_to_num(np.asarray(bar_returns, dtype=float))
    if pos.shape != ret.shape:
        raise DataValidationError(f"{len(pos)} positions but {len(ret)} bar returns: they must align.")
    traded = np.abs(np.diff(pos, prepend=initial_position))
    return pos * ret - traded * (fees + slippage)


def summarize_strategy(
    positions: Sequence[float] | np.ndarray, net_returns: np.ndarray, periods: float
) -> dict[str, float]:
    """Sharpe, max drawdown, win rate, profit factor, CAGR, total return, exposure and trade count."""
    trades = trade_returns(positions, net_returns)
    net = np.nan_to_num(np.asarray(net_returns, dtype=float))
    return {
        "sharpe": sharpe_ratio(net, periods),
        "max_drawdown": max_drawdown(net),
        "win_rate": win_rate(trades),
        "profit_factor": profit_factor(trades),
        "cagr": cagr(net, periods),
        "total_return": float(np.prod(1.0 + net) - 1.0) if len(net) else 0.0,
        "exposure": float(np.mean(np.asarray(positions, dtype=float) != 0)) if len(net) else 0.0,
        "n_trades": float(len(trades)),
    }


def _finite(values: pd.Series | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]
