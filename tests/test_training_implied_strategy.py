"""Issue 10: the Training page's implied strategy and buy-and-hold go through the execution engine.

Each test reproduces a defect of the old per-row arithmetic: a gappy out-of-sample sample, annualising by
row count, and trade statistics that dropped a close-to-flat exit cost or charged a reversal's exit cost
to the next trade.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.training.report import strategy_scores


def _market(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n, freq="1D", tz="UTC", name="time")
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.012, n)))
    open_ = np.concatenate([[100.0], close[:-1] * np.exp(rng.normal(0, 0.004, n - 1))])
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1.0}, index=index)


def _oos(index: pd.DatetimeIndex, predicted: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"fold": 1, "y_true": predicted, "y_pred": predicted}, index=index)


def test_buy_and_hold_covers_the_contiguous_span_of_the_test_folds() -> None:
    ohlcv = _market()
    test_bars = ohlcv.index[100:380]
    gappy = test_bars[(np.arange(len(test_bars)) // 10) % 4 != 3]  # every fourth block of ten bars is missing
    _, metrics = strategy_scores(_oos(gappy, np.full(len(gappy), 2)), ohlcv, fees=0.0, slippage=0.0)
    first, last = ohlcv.index.get_loc(gappy[0]), ohlcv.index.get_loc(gappy[-1])
    # long from the open after the first test bar's close, marked at the last test bar's close
    expected = ohlcv["close"].iloc[last] / ohlcv["open"].iloc[first + 1] - 1.0
    assert metrics["buy_and_hold_total_return"] == pytest.approx(expected, rel=1e-9)
    assert metrics["total_return"] == pytest.approx(expected, rel=1e-9)  # always UP = long throughout


def test_cagr_annualises_by_elapsed_time_not_by_rows() -> None:
    ohlcv = _market()
    test_bars = ohlcv.index[50:390]
    gappy = test_bars[(np.arange(len(test_bars)) // 10) % 2 == 0]  # half the rows, the same calendar span
    _, metrics = strategy_scores(_oos(gappy, np.full(len(gappy), 2)), ohlcv, fees=0.0, slippage=0.0)
    years = (gappy[-1] - gappy[0]).total_seconds() / 86400 / 365.25
    assert metrics["buy_and_hold_cagr"] == pytest.approx((1 + metrics["buy_and_hold_total_return"]) ** (1 / years)
                                                         - 1, rel=1e-9)


def test_a_close_to_flat_exit_cost_is_charged_to_its_trade() -> None:
    index = pd.date_range("2022-01-03", periods=8, freq="1D", tz="UTC", name="time")
    opens = np.array([100, 100, 100.5, 100.5, 100.5, 100.5, 100.5, 100.5])  # +0.5% between entry and exit
    ohlcv = pd.DataFrame({"open": opens, "high": opens, "low": opens, "close": opens, "volume": 1.0}, index=index)
    predicted = np.array([2, 1, 1, 1, 1, 1, 1, 1])  # UP once, then SIDEWAYS (flat)
    _, metrics = strategy_scores(_oos(index, predicted), ohlcv, fees=0.004, slippage=0.0, timeframe="1d")
    # +0.5% gross minus 0.4% in and 0.4% out is a loss: the exit cost belongs to the trade
    assert metrics["n_trades"] == 1
    assert metrics["win_rate"] == 0.0


def test_a_reversals_exit_cost_belongs_to_the_trade_it_closes() -> None:
    index = pd.date_range("2022-01-03", periods=8, freq="1D", tz="UTC", name="time")
    opens = np.array([100, 100, 100.5, 100.5, 100.0, 100.0, 100.0, 100.0])
    ohlcv = pd.DataFrame({"open": opens, "high": opens, "low": opens, "close": opens, "volume": 1.0}, index=index)
    predicted = np.array([2, 0, 1, 1, 1, 1, 1, 1])  # long at 100, reverse to short at 100.5, flat at 100.5
    oos, metrics = strategy_scores(_oos(index, predicted), ohlcv, fees=0.004, slippage=0.0, timeframe="1d")
    # the long (+0.5% gross) and the short (0% gross) both lose once each pays its own two legs
    assert metrics["n_trades"] == 2
    assert metrics["win_rate"] == 0.0
    equity = (1 + oos["strategy_return"]).prod()
    long_leg = (100.5 / 100) - 1 - 0.004 * (1 + 100.5 / 100)
    assert equity - 1 == pytest.approx(metrics["total_return"], rel=1e-12)
    assert metrics["total_return"] < long_leg  # the short's own costs come on top


def test_returns_compound_to_the_engine_equity_over_the_rows() -> None:
    ohlcv = _market()
    bars = ohlcv.index[120:300]
    rng = np.random.default_rng(0)
    oos, metrics = strategy_scores(_oos(bars, rng.integers(0, 3, len(bars))), ohlcv, fees=0.001, slippage=0.0005)
    assert {"position", "strategy_return", "buy_and_hold_return"} <= set(oos.columns)
    assert (1 + oos["strategy_return"]).prod() - 1 == pytest.approx(metrics["total_return"], rel=1e-9)
    assert (1 + oos["buy_and_hold_return"]).prod() - 1 == pytest.approx(metrics["buy_and_hold_total_return"],
                                                                        rel=1e-9)
