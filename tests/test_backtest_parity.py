"""Parity: the same rules and costs give the same trades and final equity as backtesting.py and vectorbt."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

from pinelab_core.backtest import run_backtest
from pinelab_core.backtest.strategies import sma_cross


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 1500
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = np.concatenate([[100.0], close[:-1] * np.exp(rng.normal(0, 0.005, n - 1))])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    index = pd.date_range("2018-01-01", periods=n, freq="D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": 1e3}, index=index)


class _SmaCross(Strategy):
    def init(self) -> None:
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 20)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.sell()


def test_sma_cross_matches_backtesting_py(market: pd.DataFrame) -> None:
    frame = market.rename(columns=str.capitalize)
    frame.index = frame.index.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Backtest(frame, _SmaCross, cash=10_000, commission=0.002).run()
    # backtesting.py buys whole units with the equity left after commission
    ours = run_backtest(market, sma_cross(market, fast=10, slow=20), fees=0.002, lot_size=1)
    closed = ours.trades[ours.trades["reason"] != "open"].reset_index(drop=True)
    their_trades = theirs["_trades"]
    assert len(closed) == len(their_trades) > 50
    np.testing.assert_array_equal(closed["size"], their_trades["Size"])
    np.testing.assert_allclose(closed["entry_price"], their_trades["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["exit_price"], their_trades["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["pnl"], their_trades["PnL"], atol=1e-6)
    assert ours.final_equity == pytest.approx(theirs["Equity Final [$]"], abs=0.005)


@pytest.mark.parametrize("long_only", [True, False])
def test_sma_cross_matches_vectorbt_from_signals(market: pd.DataFrame, long_only: bool) -> None:
    decisions = sma_cross(market, fast=10, slow=20)
    # vectorbt fills on the signal's own bar: shift the decisions one bar and fill at the open
    buy = (decisions == 1).shift(1, fill_value=False).to_numpy()
    sell = (decisions == -1).shift(1, fill_value=False).to_numpy()
    none = np.zeros(len(market), dtype=bool)
    if long_only:
        theirs = vbt.Portfolio.from_signals(market["close"], entries=buy, exits=sell, price=market["open"],
                                            fees=0.002, init_cash=10_000, freq="1D")
        ours = run_backtest(market, decisions.clip(lower=0), fees=0.002)
    else:
        theirs = vbt.Portfolio.from_signals(market["close"], entries=buy, exits=none, short_entries=sell,
                                            short_exits=none, price=market["open"], fees=0.002, init_cash=10_000,
                                            freq="1D")
        ours = run_backtest(market, decisions, fees=0.002)
    records = theirs.trades.records_readable
    assert len(records) == len(ours.trades)
    np.testing.assert_allclose(ours.trades["entry_price"], records["Avg Entry Price"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["pnl"], records["PnL"], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(ours.equity["equity"], theirs.value().to_numpy(), rtol=1e-9)
    assert ours.final_equity == pytest.approx(theirs.final_value(), abs=0.005)
