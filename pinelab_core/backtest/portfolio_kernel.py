"""The portfolio kernel: weights over several symbols, rebalanced at the next open, with cash.

It fills through the single-symbol kernel's `order` (same fill prices, fees and trade book), so a
one-column portfolio earns what `run_single` earns for the same targets without stops or sizing rules.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pinelab_core.backtest.execution import P_FEES, P_FIXED_FEE, P_LOT, P_MIN_ORDER, P_REBALANCE, P_SHORT
from pinelab_core.backtest.kernel import (
    L_UNITS,
    N_LEDGER,
    N_TRADE,
    R_SIGNAL,
    ST_CASH,
    ST_TRADED,
    fill_price,
    new_state,
    open_trade_record,
    order,
    round_lot,
)

__all__ = ["run_weights"]


@njit(cache=True)
def _equity_at(state: np.ndarray, ledger: np.ndarray, prices: np.ndarray) -> float:
    equity = state[ST_CASH]
    for j in range(len(prices)):
        equity += ledger[j, L_UNITS] * prices[j]
    return equity


@njit(cache=True)
def _rebalance(state: np.ndarray, ledger: np.ndarray, params: np.ndarray, bar: int, opens: np.ndarray,
               weights: np.ndarray, trades: np.ndarray, n: int) -> int:
    """Trade every symbol to its weight of the equity: closes first, then sells, then buys (which need the cash).

    Each phase sizes from the equity at this open after the previous phase's costs, the way a single-symbol
    reversal sizes its new leg from the equity left after closing the old one.
    """
    k = len(opens)
    for j in range(k):
        units, w = ledger[j, L_UNITS], weights[j]
        if units != 0.0 and (w == 0.0 or (w > 0.0) != (units > 0.0)):
            n = order(state, ledger, j, params, bar, -units, opens[j], np.nan, R_SIGNAL, trades, n)
    for phase in range(2):  # 0: sells, 1: buys
        budget = max(_equity_at(state, ledger, opens) - params[P_FIXED_FEE] * k, 0.0)
        for j in range(k):
            units, w = ledger[j, L_UNITS], weights[j]
            if w == 0.0:
                continue
            side = 1.0 if w * budget > units * opens[j] else -1.0
            if (phase == 0) != (side < 0.0):
                continue
            fill = fill_price(opens[j], side, params, np.nan)
            delta = round_lot(w * budget / (fill * (1.0 + params[P_FEES])) - units, params[P_LOT])
            if delta != 0.0 and abs(delta) * fill >= params[P_MIN_ORDER]:
                n = order(state, ledger, j, params, bar, delta, opens[j], np.nan, R_SIGNAL, trades, n)
    return n


@njit(cache=True)
def run_weights(opens: np.ndarray, closes: np.ndarray, weights: np.ndarray, params: np.ndarray) -> tuple:
    """Per-bar equity, cash and gross position value, the trades and the traded notional of a weights frame."""
    n_bars, k = opens.shape
    state = new_state(params)
    ledger = np.zeros((k, N_LEDGER))
    trades = np.empty((2 * n_bars * k + k + 1, N_TRADE))
    equity, cash, value = np.empty(n_bars), np.empty(n_bars), np.empty(n_bars)
    decided = np.zeros(k)
    pending = np.zeros(k)
    has_pending = False
    since = 0
    every = params[P_REBALANCE]
    n = 0
    for i in range(n_bars):
        if has_pending:
            n = _rebalance(state, ledger, params, i, opens[i], pending, trades, n)
            has_pending = False
        gross, net = 0.0, 0.0
        for j in range(k):
            gross += abs(ledger[j, L_UNITS]) * closes[i, j]
            net += ledger[j, L_UNITS] * closes[i, j]
        equity[i], cash[i], value[i] = state[ST_CASH] + net, state[ST_CASH], gross
        since += 1
        decision = False
        for j in range(k):
            w = weights[i, j]
            if not math.isnan(w):
                if w < 0.0 and params[P_SHORT] == 0.0:
                    w = 0.0
                decision = decision or w != decided[j]
                decided[j] = w
        if decision or (every > 0.0 and since >= every):
            pending[:] = decided
            has_pending = True
            since = 0
    for j in range(k):
        n = open_trade_record(ledger, j, n_bars - 1, closes[n_bars - 1, j], trades, n)
    return equity, cash, value, trades[:n].copy(), state[ST_TRADED]
