"""Performance metrics of an equity curve and of a trade list; `backtest_stats` assembles them.

Returns are simple per-bar returns of the equity marked at each close. Everything annualises by elapsed
calendar time (DESIGN.md), never by counting rows: a curve with missing bars is not a shorter year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.types import Timeframe

__all__ = [
    "STAT_FIELDS",
    "backtest_stats",
    "cagr",
    "drawdown",
    "elapsed_years",
    "equity_curve",
    "kelly_fraction",
    "max_drawdown",
    "max_drawdown_duration",
    "periods_per_year",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "sqn",
    "win_rate",
]

#: The fields of `BacktestResult.stats`, in order.
STAT_FIELDS: tuple[str, ...] = (
    "n_trades", "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration",
    "win_rate", "profit_factor", "expectancy", "exposure", "turnover", "buy_and_hold_return", "sqn", "kelly",
)

_FALLBACK_PERIODS = {"1d": 252.0, "1w": 52.0}
_DAYS_PER_YEAR = 365.25


def periods_per_year(index: pd.DatetimeIndex | None = None, timeframe: Timeframe | str | None = None) -> float:
    """Bars per year, for annualising Sharpe and Sortino.

    Measured from the data when `index` spans at least 30 days (so equities' 252 trading days, crypto's
    365 and a 6.5-hour session's intraday bars all come out right); otherwise taken from `timeframe`
    (252 days a year for daily bars, 52 weeks, round-the-clock for intraday bars).
    """
    if index is not None and len(index) >= 3:
        span_days = (index[-1] - index[0]).total_seconds() / 86400.0
        if span_days >= 30:
            return float((len(index) - 1) / (span_days / _DAYS_PER_YEAR))
    if timeframe is None:
        raise DataValidationError("Cannot annualise: give a timeframe or an index spanning at least 30 days.")
    tf = Timeframe.parse(timeframe)
    return _FALLBACK_PERIODS.get(tf.value, _DAYS_PER_YEAR * 86400.0 / tf.seconds)


def elapsed_years(index: pd.DatetimeIndex) -> float:
    """Calendar time from the first to the last timestamp, in years of 365.25 days."""
    if len(index) < 2:
        return 0.0
    return float((index[-1] - index[0]).total_seconds() / 86400.0 / _DAYS_PER_YEAR)


def equity_curve(returns: pd.Series | np.ndarray, start: float = 1.0) -> np.ndarray | pd.Series:
    """Compounded equity of simple per-bar returns, starting from `start` (NaN returns count as 0)."""
    if isinstance(returns, pd.Series):
        return start * (1.0 + returns.fillna(0.0)).cumprod()
    return start * np.cumprod(1.0 + np.nan_to_num(np.asarray(returns, dtype=float)))


def sharpe_ratio(returns: pd.Series | np.ndarray, periods: float) -> float:
    """Annualised Sharpe ratio (risk-free rate 0): mean / std (ddof=1) * sqrt(periods). 0.0 without variance."""
    values = _finite(returns)
    if len(values) < 2:
        return 0.0
    std = float(np.std(values, ddof=1))
    if std <= 1e-15:
        return 0.0
    return float(np.mean(values) / std * np.sqrt(periods))


def sortino_ratio(returns: pd.Series | np.ndarray, periods: float) -> float:
    """Annualised Sortino ratio: mean / downside deviation (root mean square of the negative returns)."""
    values = _finite(returns)
    if len(values) < 2:
        return 0.0
    downside = float(np.sqrt(np.mean(np.minimum(values, 0.0) ** 2)))
    if downside <= 1e-15:
        return float("inf") if np.mean(values) > 0 else 0.0
    return float(np.mean(values) / downside * np.sqrt(periods))


def drawdown(equity: pd.Series | np.ndarray) -> np.ndarray:
    """Fractional distance of equity below its running peak (0 at a new high, negative below it)."""
    values = np.asarray(equity, dtype=float)
    if len(values) == 0:
        return values
    return values / np.maximum.accumulate(values) - 1.0


def max_drawdown(equity: pd.Series | np.ndarray) -> float:
    """Worst peak-to-trough loss of an equity curve, as a negative fraction (0.0 if none)."""
    return float(np.min(drawdown(equity), initial=0.0))


def max_drawdown_duration(equity: pd.Series) -> float:
    """Longest time, in days, spent below a previous equity peak (to recovery, or to the end if never)."""
    values = equity.to_numpy(dtype=float)
    if len(values) < 2:
        return 0.0
    at_peak = values >= np.maximum.accumulate(values)
    last_peak = pd.Series(np.where(at_peak, np.arange(len(values)), np.nan)).ffill().to_numpy().astype(int)
    gaps = (equity.index - equity.index[last_peak]).total_seconds().to_numpy()
    return float(gaps.max() / 86400.0)


def cagr(equity: pd.Series, years: float | None = None) -> float:
    """Compound annual growth rate of an equity curve over its elapsed calendar time.

    Args:
        equity: equity marked at each bar, on a DatetimeIndex (the first point is the starting equity).
        years: the elapsed time, when the index cannot tell it (default: from the index).

    Returns:
        The annual rate; -1.0 if the equity was wiped out, 0.0 for a curve shorter than a day.
    """
    values = np.asarray(equity, dtype=float)
    if len(values) < 2 or values[0] <= 0:
        return 0.0
    years = elapsed_years(equity.index) if years is None else years
    final = values[-1] / values[0]
    if final <= 0:
        return -1.0
    if years < 1.0 / _DAYS_PER_YEAR:
        return 0.0
    return float(final ** (1.0 / years) - 1.0)


def win_rate(trade_returns: np.ndarray) -> float:
    """Share of trades that made money; NaN when there were no trades."""
    values = np.asarray(trade_returns, dtype=float)
    return float(np.mean(values > 0)) if len(values) else float("nan")


def profit_factor(trade_pnl: np.ndarray) -> float:
    """Gross profit / gross loss over trades; inf with no losing trade, NaN with no trades."""
    values = np.asarray(trade_pnl, dtype=float)
    if len(values) == 0:
        return float("nan")
    gains, losses = values[values > 0].sum(), -values[values < 0].sum()
    if losses == 0:
        return float("inf") if gains > 0 else float("nan")
    return float(gains / losses)


def sqn(trade_pnl: np.ndarray) -> float:
    """System quality number (Van Tharp): sqrt(trades) x mean P&L / std P&L; NaN below two trades."""
    values = np.asarray(trade_pnl, dtype=float)
    if len(values) < 2 or np.std(values, ddof=1) <= 0:
        return float("nan")
    return float(np.sqrt(len(values)) * np.mean(values) / np.std(values, ddof=1))


def kelly_fraction(trade_returns: np.ndarray) -> float:
    """Kelly criterion of the trade returns: win rate - loss rate / (average win / average loss)."""
    values = np.asarray(trade_returns, dtype=float)
    wins, losses = values[values > 0], values[values <= 0]
    if len(values) == 0:
        return float("nan")
    if len(losses) == 0 or losses.mean() == 0:
        return 1.0
    if len(wins) == 0:
        return -1.0
    p = len(wins) / len(values)
    return float(p - (1 - p) / (wins.mean() / -losses.mean()))


def backtest_stats(equity: pd.Series, exposure: np.ndarray, trades: pd.DataFrame, traded_notional: float,
                   close: pd.Series, periods: float) -> pd.Series:
    """The `STAT_FIELDS` of one run: returns as fractions, drawdown duration in days, turnover per year.

    Args:
        equity: equity at each bar's close.
        exposure: |position value| / equity at each close.
        trades: the run's trades (closed ones count; a still-open trade does not).
        traded_notional: cash value of every fill, summed.
        close: the traded closes, for buy-and-hold over the same bars.
        periods: bars per year.
    """
    returns = equity.pct_change().fillna(0.0).to_numpy()
    closed = trades[trades["reason"] != "open"] if len(trades) else trades
    pnl = closed["pnl"].to_numpy(dtype=float) if len(closed) else np.array([])
    rets = closed["return"].to_numpy(dtype=float) if len(closed) else np.array([])
    years = elapsed_years(equity.index)
    annual = cagr(equity)
    worst = max_drawdown(equity)
    mean_equity = float(np.mean(equity)) if len(equity) else 0.0
    values = {
        "n_trades": float(len(closed)),
        "total_return": float(equity.iloc[-1] / equity.iloc[0] - 1.0) if len(equity) else 0.0,
        "cagr": annual,
        "sharpe": sharpe_ratio(returns, periods),
        "sortino": sortino_ratio(returns, periods),
        "calmar": float(annual / -worst) if worst < 0 else float("nan"),
        "max_drawdown": worst,
        "max_drawdown_duration": max_drawdown_duration(equity),
        "win_rate": win_rate(rets),
        "profit_factor": profit_factor(pnl),
        "expectancy": float(np.mean(rets)) if len(rets) else float("nan"),
        "exposure": float(np.mean(np.asarray(exposure) > 1e-12)) if len(exposure) else 0.0,
        "turnover": float(traded_notional / mean_equity / years) if years > 0 and mean_equity > 0 else float("nan"),
        "buy_and_hold_return": float(close.iloc[-1] / close.iloc[0] - 1.0) if len(close) else 0.0,
        "sqn": sqn(pnl),
        "kelly": kelly_fraction(rets),
    }
    return pd.Series(values, index=list(STAT_FIELDS), dtype="float64", name="stats")


def _finite(values: pd.Series | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]
