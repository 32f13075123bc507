"""Backtest metrics: hand-computed values, the next-open fill rule and cost accounting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import (
    cagr,
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
from pinelab_core.errors import DataValidationError


def _bars(opens: list[float], closes: list[float] | None = None) -> pd.DataFrame:
    closes = closes or opens
    index = pd.date_range("2024-01-01", periods=len(opens), freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": opens, "high": opens, "low": opens, "close": closes, "volume": 1.0}, index=index)


def test_signal_at_close_fills_at_next_open() -> None:
    bars = _bars([100.0, 110.0, 121.0, 133.1], closes=[105.0, 115.0, 125.0, 140.0])
    earned = next_open_returns(bars)
    # decision at bar 0 -> buy at open[1]=110, exit at open[2]=121: +10%
    assert earned.iloc[0] == pytest.approx(0.10)
    assert earned.iloc[1] == pytest.approx(0.10)
    # bar 2: fill at open[3]=133.1, no open[4], marked at the last close 140
    assert earned.iloc[2] == pytest.approx(140.0 / 133.1 - 1.0)
    # the last bar has no next bar to fill at
    assert earned.iloc[3] == 0.0


def test_costs_are_charged_on_traded_notional() -> None:
    positions = np.array([1.0, 1.0, -1.0, 0.0])
    bar_returns = np.array([0.01, 0.02, -0.03, 0.05])
    net = strategy_returns(positions, bar_returns, fees=0.001, slippage=0.0005)
    cost = 0.0015
    expected = [0.01 - cost, 0.02, 0.03 - 2 * cost, 0.0 - cost]
    np.testing.assert_allclose(net, expected)


def test_trades_win_rate_and_profit_factor() -> None:
    positions = np.array([1, 1, 0, -1, -1, 1])
    returns = np.array([0.1, 0.1, 0.5, 0.02, -0.05, -0.1])
    trades = trade_returns(positions, returns)
    np.testing.assert_allclose(trades, [1.1 * 1.1 - 1, 1.02 * 0.95 - 1, -0.1])
    assert win_rate(trades) == pytest.approx(1 / 3)
    gains = 1.1 * 1.1 - 1
    losses = -(1.02 * 0.95 - 1) + 0.1
    assert profit_factor(trades) == pytest.approx(gains / losses)
    assert math.isnan(win_rate(np.array([])))
    assert profit_factor(np.array([0.1])) == math.inf


def test_max_drawdown_and_cagr_by_hand() -> None:
    returns = np.array([0.5, -0.5, 0.2])  # equity 1.5, 0.75, 0.9
    assert max_drawdown(returns) == pytest.approx(-0.5)
    assert max_drawdown(np.array([0.1, 0.1])) == 0.0
    assert cagr(np.array([0.21]), periods=0.5) == pytest.approx(1.21**0.5 - 1)
    assert cagr(np.array([-1.0]), periods=252) == -1.0


def test_sharpe_is_annualised_and_zero_without_variance() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.001, 0.01, 500)
    daily = np.mean(returns) / np.std(returns, ddof=1)
    assert sharpe_ratio(returns, 252) == pytest.approx(daily * math.sqrt(252))
    assert sharpe_ratio(np.zeros(10), 252) == 0.0


def test_periods_per_year_measured_from_the_index() -> None:
    business = pd.bdate_range("2020-01-01", "2023-12-31", tz="UTC")
    assert periods_per_year(business) == pytest.approx(261, abs=2)
    calendar = pd.date_range("2020-01-01", "2023-12-31", freq="1D", tz="UTC")
    assert periods_per_year(calendar) == pytest.approx(365.25, rel=1e-3)
    assert periods_per_year(None, "1h") == pytest.approx(8766)
    assert periods_per_year(None, "1d") == 252
    with pytest.raises(DataValidationError):
        periods_per_year(None, None)


def test_implied_positions_and_summary() -> None:
    assert implied_positions(np.array([0, 1, 2])).tolist() == [-1.0, 0.0, 1.0]
    with pytest.raises(DataValidationError):
        implied_positions(np.array([3]))
    stats = summarize_strategy(np.array([1.0, 1.0, 0.0]), np.array([0.01, 0.02, 0.0]), periods=252)
    assert stats["n_trades"] == 1 and stats["win_rate"] == 1.0
    assert stats["exposure"] == pytest.approx(2 / 3)
    assert stats["total_return"] == pytest.approx(1.01 * 1.02 - 1)


def test_misaligned_inputs_are_rejected() -> None:
    with pytest.raises(DataValidationError):
        strategy_returns(np.ones(3), np.ones(2))
    with pytest.raises(DataValidationError):
        strategy_returns(np.ones(2), np.ones(2), fees=-0.1)
