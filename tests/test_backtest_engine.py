"""The execution engine: next-open fills, hand-computed stops and costs, trade accounting, the stepper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import ExecutionModel, run_backtest
from pinelab_core.backtest.roundtrip import round_trip_returns
from pinelab_core.backtest.stepper import Stepper
from pinelab_core.errors import DataValidationError


def _bars(rows: list[tuple[float, float, float, float]], start: str = "2024-01-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=len(rows), freq="1D", tz="UTC", name="time")
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=index, dtype=float)
    return frame.assign(volume=1.0)


def _random_market(n: int = 600, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n)))
    open_ = np.concatenate([[50.0], close[:-1] * np.exp(rng.normal(0, 0.006, n - 1))])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    index = pd.date_range("2020-01-01", periods=n, freq="1D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def test_a_decision_at_the_close_fills_at_the_next_open() -> None:
    bars = _bars([(100, 101, 99, 105), (110, 112, 108, 111), (121, 122, 120, 121), (130, 131, 129, 130)])
    result = run_backtest(bars, pd.Series([1.0, np.nan, 0.0, np.nan], index=bars.index), init_cash=1_000)
    trade = result.trades.iloc[0]
    assert trade["entry_time"] == bars.index[1] and trade["entry_price"] == 110.0
    assert trade["exit_time"] == bars.index[3] and trade["exit_price"] == 130.0
    assert result.equity["equity"].iloc[0] == 1_000  # nothing filled at the decision bar
    assert result.equity["equity"].iloc[1] == pytest.approx(1_000 / 110 * 111)
    assert result.final_equity == pytest.approx(1_000 / 110 * 130)


def test_stop_take_profit_and_gap_by_hand() -> None:
    rows = [
        (100, 100, 100, 100),  # 0: decide long
        (100, 102, 99, 101),  # 1: enter at 100; stop 95, take-profit 110
        (101, 111, 94, 105),  # 2: both touched: the stop is assumed first -> exit at 95
        (100, 100, 100, 100),  # 3: decide flat
        (100, 100, 100, 100),  # 4: decide long
        (100, 101, 99, 100),  # 5: enter at 100
        (90, 92, 89, 91),  # 6: gaps through the 95 stop -> exit at the open, 90; decide flat
        (100, 100, 100, 100),  # 7: decide long
        (100, 103, 99, 102),  # 8: enter at 100
        (104, 112, 103, 108),  # 9: take-profit at 110
        (108, 108, 108, 108),
    ]
    bars = _bars(rows)
    targets = pd.Series([1, np.nan, np.nan, 0, 1, np.nan, 0, 1, np.nan, np.nan, np.nan], index=bars.index, dtype=float)
    result = run_backtest(bars, targets, stop_loss=0.05, take_profit=0.10)
    trades = result.trades
    assert trades["reason"].tolist() == ["stop", "stop", "take-profit"]
    np.testing.assert_allclose(trades["exit_price"], [95.0, 90.0, 110.0])
    assert trades["size"].tolist() == [100.0, 95.0, 85.5]
    np.testing.assert_allclose(trades["pnl"], [-500.0, -950.0, 855.0])
    assert result.final_equity == pytest.approx(10_000 - 500 - 950 + 855)


def test_trailing_stop_follows_the_best_price_of_earlier_bars() -> None:
    rows = [(100, 100, 100, 100), (100, 100, 100, 100), (100, 120, 100, 118), (118, 119, 107, 110), (110,) * 4]
    bars = _bars(rows)
    result = run_backtest(bars, pd.Series([1.0] + [np.nan] * 4, index=bars.index), trailing_stop=0.1)
    trade = result.trades.iloc[0]
    assert trade["reason"] == "trailing-stop" and trade["exit_price"] == pytest.approx(108.0)  # 120 x 0.9


def test_costs_per_side_and_each_trade_pays_its_own_legs() -> None:
    rows = [(100,) * 4, (100,) * 4, (104,) * 4, (104,) * 4, (98,) * 4, (98,) * 4]
    bars = _bars(rows)
    targets = pd.Series([1, np.nan, -1, np.nan, 0, np.nan], index=bars.index, dtype=float)
    fee, slip = 0.01, 0.002
    result = run_backtest(bars, targets, fees=fee, slippage=slip)
    long_in, long_out = 100 * (1 + slip), 104 * (1 - slip)
    units = 10_000 / (long_in * (1 + fee))
    long_pnl = units * (long_out - long_in) - fee * units * (long_in + long_out)
    cash = 10_000 + long_pnl
    short_in, short_out = 104 * (1 - slip), 98 * (1 + slip)
    short_units = cash / (short_in * (1 + fee))
    short_pnl = short_units * (short_in - short_out) - fee * short_units * (short_in + short_out)
    trades = result.trades
    np.testing.assert_allclose(trades["pnl"], [long_pnl, short_pnl], rtol=1e-12)
    np.testing.assert_allclose(trades["costs"].iloc[0], fee * units * (long_in + long_out) + units * slip * 204)
    assert trades["size"].iloc[1] == pytest.approx(-short_units)
    assert result.final_equity == pytest.approx(10_000 + long_pnl + short_pnl, rel=1e-12)


@pytest.mark.parametrize("options", [
    {"fees": 0.001, "slippage": 0.0005, "stop_loss": 0.03, "take_profit": 0.06},
    {"fees": 0.0005, "half_spread": 0.0002, "slippage_atr": 0.1, "trailing_stop": 0.04, "lot_size": 1.0},
    {"fees": 0.001, "vol_target": 0.15, "max_leverage": 2.0, "fraction": 0.5, "kelly_cap": 0.5,
     "kelly_min_trades": 5, "min_order": 50.0, "fixed_fee": 1.0},
    {"fees": 0.002, "allow_short": False, "rebalance_every": 7, "vol_target": 0.2},
])
def test_trade_pnl_adds_up_to_the_equity_change(options: dict) -> None:
    market = _random_market()
    targets = pd.Series(np.round(np.sin(np.arange(len(market)) / 9.0), 1), index=market.index)
    result = run_backtest(market, targets, **options)
    assert result.trades["pnl"].sum() == pytest.approx(result.final_equity - 10_000, abs=1e-6)
    assert (result.equity["equity"] - result.equity["cash"]).abs().max() > 0  # it traded


@pytest.mark.parametrize("options", [
    {"fees": 0.001, "slippage": 0.0005, "stop_loss": 0.03, "take_profit": 0.06},
    {"fees": 0.001, "vol_target": 0.15, "max_leverage": 2.0, "kelly_cap": 0.5, "kelly_min_trades": 5,
     "trailing_stop": 0.05, "slippage_atr": 0.2, "lot_size": 0.5, "rebalance_every": 10},
])
def test_the_stepper_matches_the_vectorised_run_exactly(options: dict) -> None:
    market = _random_market(seed=11)
    rng = np.random.default_rng(5)
    targets = np.where(rng.random(len(market)) < 0.1, rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], len(market)), np.nan)
    whole = run_backtest(market, targets, **options)
    stepper = Stepper(market, **options)
    for target in targets:
        stepper.step(None if np.isnan(target) else float(target))
    stepped = stepper.result()
    np.testing.assert_array_equal(stepped.equity["equity"].to_numpy(), whole.equity["equity"].to_numpy())
    pd.testing.assert_frame_equal(stepped.trades, whole.trades)
    pd.testing.assert_series_equal(stepped.stats, whole.stats)


def test_round_trips_earn_what_the_engine_books() -> None:
    market = _random_market(seed=2)
    targets = pd.Series(np.nan, index=market.index)
    targets.iloc[[10, 40, 70, 95]] = [1.0, 0.0, -1.0, 0.0]
    result = run_backtest(market, targets, fees=0.001, slippage=0.0003, half_spread=0.0001)
    returns = round_trip_returns(market, [10, 70], [40, 95], [1, -1], fees=0.001, slippage=0.0003, half_spread=0.0001)
    np.testing.assert_allclose(returns, result.trades["return"].to_numpy(), rtol=1e-12)
    pending = round_trip_returns(market, [10], [len(market) - 1], [1])
    assert np.isnan(pending[0])  # the exit fill is not a bar yet


def test_a_one_column_portfolio_earns_what_the_single_run_earns() -> None:
    market = _random_market(seed=4)
    weights = pd.Series(np.nan, index=market.index)
    weights.iloc[[20, 80, 150, 300]] = [1.0, -0.5, 0.0, 0.8]
    single = run_backtest(market, weights, fees=0.001, slippage=0.0002)
    portfolio = run_backtest({"X": market}, weights.to_frame("X"), fees=0.001, slippage=0.0002)
    np.testing.assert_allclose(portfolio.equity["equity"], single.equity["equity"], rtol=1e-12)
    assert portfolio.stats["n_trades"] == single.stats["n_trades"]


def test_a_portfolio_rebalances_with_cash() -> None:
    a, b = _random_market(seed=1), _random_market(seed=2)
    weights = pd.DataFrame({"A": 0.3, "B": 0.3}, index=a.index[::21])
    result = run_backtest({"A": a, "B": b}, weights, fees=0.0)
    assert result.equity["cash"].iloc[-1] > 0.3 * result.final_equity  # 40% stays in cash
    assert result.trades["pnl"].sum() == pytest.approx(result.final_equity - 10_000, abs=1e-6)


def test_stats_have_exactly_the_issue_fields() -> None:
    result = run_backtest(_random_market(), lambda ohlcv: np.sign(ohlcv["close"] - ohlcv["close"].rolling(20).mean()))
    assert list(result.stats.index) == [
        "n_trades", "total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_duration",
        "win_rate", "profit_factor", "expectancy", "exposure", "turnover", "buy_and_hold_return", "sqn", "kelly"]
    assert list(result.equity.columns) == ["equity", "drawdown", "position", "units", "cash"]
    assert -1 <= result.stats["max_drawdown"] <= 0 and 0 <= result.stats["exposure"] <= 1


def test_bad_input_is_refused_with_a_hint() -> None:
    market = _random_market(n=50)
    with pytest.raises(DataValidationError, match="stop_loss"):
        run_backtest(market, np.ones(50), stop_los=0.1)
    with pytest.raises(DataValidationError, match="percent"):
        run_backtest(market, np.ones(50), fees=0.5)
    with pytest.raises(DataValidationError, match=r"\[-1, 1\]"):
        run_backtest(market, np.full(50, 2.0))
    with pytest.raises(DataValidationError, match="one per bar"):
        run_backtest(market, np.ones(49))
    with pytest.raises(DataValidationError):
        ExecutionModel(fraction=0.0)


def test_a_wiped_out_account_stops_trading() -> None:
    rows = [(100,) * 4, (100, 100, 100, 100), (100, 260, 100, 250), (250,) * 4]
    result = run_backtest(_bars(rows), [-1.0, np.nan, np.nan, np.nan])
    assert result.trades["reason"].iloc[0] == "liquidation"
    assert result.final_equity <= 0
