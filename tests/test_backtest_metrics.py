"""Backtest metrics: hand-computed values, annualising by elapsed time."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import cagr, max_drawdown, periods_per_year, profit_factor, sharpe_ratio, win_rate
from pinelab_core.backtest.metrics import kelly_fraction, max_drawdown_duration, sortino_ratio, sqn
from pinelab_core.errors import DataValidationError


def test_win_rate_and_profit_factor() -> None:
    pnl = np.array([21.0, -3.1, -10.0])
    assert win_rate(pnl) == pytest.approx(1 / 3)
    assert profit_factor(pnl) == pytest.approx(21.0 / 13.1)
    assert math.isnan(win_rate(np.array([])))
    assert profit_factor(np.array([0.1])) == math.inf


def test_max_drawdown_and_its_duration_by_hand() -> None:
    index = pd.date_range("2024-01-01", periods=5, freq="1D", tz="UTC")
    equity = pd.Series([1.0, 1.5, 0.75, 0.9, 1.6], index=index)
    assert max_drawdown(equity) == pytest.approx(-0.5)
    assert max_drawdown(np.array([1.0, 1.1, 1.2])) == 0.0
    assert max_drawdown_duration(equity) == 2.0  # below the 1.5 peak from day 1 until the new high on day 4


def test_cagr_uses_elapsed_calendar_time() -> None:
    two_years = pd.DatetimeIndex(["2020-01-01", "2021-12-31 12:00"], tz="UTC")
    equity = pd.Series([100.0, 121.0], index=two_years)
    years = (two_years[1] - two_years[0]).days / 365.25 + 0.5 / 365.25
    assert cagr(equity) == pytest.approx(1.21 ** (1 / years) - 1)
    assert cagr(pd.Series([1.0, 0.0], index=two_years)) == -1.0
    assert cagr(equity, years=0.5) == pytest.approx(1.21**2 - 1)


def test_sharpe_sortino_are_annualised_and_zero_without_variance() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.001, 0.01, 500)
    daily = np.mean(returns) / np.std(returns, ddof=1)
    assert sharpe_ratio(returns, 252) == pytest.approx(daily * math.sqrt(252))
    assert sharpe_ratio(np.zeros(10), 252) == 0.0
    downside = np.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert sortino_ratio(returns, 252) == pytest.approx(np.mean(returns) / downside * math.sqrt(252))


def test_sqn_and_kelly_by_hand() -> None:
    pnl = np.array([10.0, -5.0, 20.0, -5.0])
    assert sqn(pnl) == pytest.approx(2 * np.mean(pnl) / np.std(pnl, ddof=1))
    returns = np.array([0.1, -0.05, 0.1, -0.05])  # p = 0.5, payoff 2 -> 0.5 - 0.5 / 2
    assert kelly_fraction(returns) == pytest.approx(0.25)


def test_periods_per_year_measured_from_the_index() -> None:
    business = pd.bdate_range("2020-01-01", "2023-12-31", tz="UTC")
    assert periods_per_year(business) == pytest.approx(261, abs=2)
    calendar = pd.date_range("2020-01-01", "2023-12-31", freq="1D", tz="UTC")
    assert periods_per_year(calendar) == pytest.approx(365.25, rel=1e-3)
    assert periods_per_year(None, "1h") == pytest.approx(8766)
    assert periods_per_year(None, "1d") == 252
    with pytest.raises(DataValidationError):
        periods_per_year(None, None)
