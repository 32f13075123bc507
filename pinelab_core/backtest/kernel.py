"""The execution engine's arithmetic: Numba kernels shared by the vectorised run and the per-bar stepper.

One bar is one pass of `run_bars`' loop: (1) at the open, fill the order decided at the previous close;
(2) intrabar, check stops against the low/high; (3) at the close, mark equity and accept the next decision.
`run_single` runs `run_bars` over every bar; `Stepper` (stepper.py) runs the very same `run_bars` over one
bar per call. Both therefore produce the same fills and the same equity, to the last bit.

Accounting: cash moves by units x fill price and by fees; equity = cash + units x close. A trade is a run
of a non-zero position of one sign; it is charged the costs of its own entry and its own exit (a reversal
is two legs: the closing leg's costs go to the trade it closes, the opening leg's to the new trade), so
trade P&L adds up to the equity change exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pinelab_core.backtest.execution import (
    P_FEES,
    P_FIXED_FEE,
    P_HALF_SPREAD,
    P_INIT_CASH,
    P_KELLY_CAP,
    P_KELLY_MIN,
    P_LOT,
    P_MIN_ORDER,
    P_REBALANCE,
    P_SHORT,
    P_SLIPPAGE,
    P_SLIPPAGE_ATR,
    P_STOP,
    P_TAKE,
    P_TRAIL,
)

# account state (one vector per run)
ST_CASH, ST_DECIDED, ST_PENDING, ST_PEND_SCALE, ST_PEND_ATR, ST_LAST_ATR = 0, 1, 2, 3, 4, 5
ST_BUST, ST_N_WIN, ST_SUM_WIN, ST_N_LOSS, ST_SUM_LOSS, ST_SINCE_REBALANCE = 6, 7, 8, 9, 10, 11
ST_TRADED, ST_EQUITY, ST_COSTS = 12, 13, 14
N_STATE = 15
# per-asset ledger of the open trade
L_UNITS, L_ENTRY, L_ENTRY_BAR, L_COSTS, L_REALISED, L_MAX_UNITS, L_EXIT_UNITS, L_EXIT_VALUE = 0, 1, 2, 3, 4, 5, 6, 7
L_ENTRY_VALUE, L_PEAK = 8, 9
N_LEDGER = 10
# one closed (or still open) trade
T_ASSET, T_ENTRY_BAR, T_EXIT_BAR, T_SIZE, T_ENTRY_PRICE, T_EXIT_PRICE, T_PNL, T_RETURN, T_COSTS, T_REASON = range(10)
N_TRADE = 10
R_SIGNAL, R_STOP, R_TAKE, R_TRAIL, R_OPEN, R_LIQUIDATION = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def new_state(params: np.ndarray) -> np.ndarray:
    state = np.zeros(N_STATE)
    state[ST_CASH] = params[P_INIT_CASH]
    state[ST_EQUITY] = params[P_INIT_CASH]
    state[ST_PENDING] = np.nan
    state[ST_LAST_ATR] = np.nan
    return state


@njit(cache=True, inline="always")
def fill_price(reference: float, side: float, params: np.ndarray, atr: float) -> float:
    """The price a `side` (+1 buy, -1 sell) order gets against a `reference` quote: spread and slippage adverse."""
    price = reference * (1.0 + side * (params[P_HALF_SPREAD] + params[P_SLIPPAGE]))
    if params[P_SLIPPAGE_ATR] > 0.0 and not math.isnan(atr):
        price += side * params[P_SLIPPAGE_ATR] * atr
    return price


@njit(cache=True, inline="always")
def _book(ledger: np.ndarray, j: int, bar: int, delta: float, fill: float, fee: float, cost: float,
          reason: int, trades: np.ndarray, n: int) -> int:
    """Record a fill of `delta` units in asset j's open trade; write the trade out when it closes."""
    units = ledger[j, L_UNITS]
    size = abs(delta)
    if units == 0.0:
        ledger[j, L_ENTRY], ledger[j, L_ENTRY_BAR], ledger[j, L_COSTS] = fill, bar, cost
        ledger[j, L_REALISED], ledger[j, L_MAX_UNITS], ledger[j, L_ENTRY_VALUE] = -fee, delta, size * fill
        ledger[j, L_EXIT_UNITS], ledger[j, L_EXIT_VALUE], ledger[j, L_PEAK] = 0.0, 0.0, fill
        ledger[j, L_UNITS] = delta
        return n
    ledger[j, L_COSTS] += cost
    if (delta > 0.0) == (units > 0.0):  # adding to the position: average the entry price
        ledger[j, L_ENTRY] = (abs(units) * ledger[j, L_ENTRY] + size * fill) / (abs(units) + size)
        ledger[j, L_REALISED] -= fee
        ledger[j, L_ENTRY_VALUE] += size * fill
        ledger[j, L_UNITS] = units + delta
        if abs(ledger[j, L_UNITS]) > abs(ledger[j, L_MAX_UNITS]):
            ledger[j, L_MAX_UNITS] = ledger[j, L_UNITS]
        return n
    ledger[j, L_REALISED] += -delta * (fill - ledger[j, L_ENTRY]) - fee
    ledger[j, L_EXIT_UNITS] += size
    ledger[j, L_EXIT_VALUE] += size * fill
    ledger[j, L_UNITS] = units + delta
    if ledger[j, L_UNITS] != 0.0:
        return n
    _write_trade(ledger, j, bar, ledger[j, L_EXIT_VALUE] / ledger[j, L_EXIT_UNITS], ledger[j, L_REALISED],
                 reason, trades, n)
    return n + 1


@njit(cache=True, inline="always")
def _write_trade(ledger: np.ndarray, j: int, bar: int, exit_price: float, pnl: float, reason: int,
                 trades: np.ndarray, n: int) -> None:
    trades[n, T_ASSET], trades[n, T_ENTRY_BAR], trades[n, T_EXIT_BAR] = j, ledger[j, L_ENTRY_BAR], bar
    trades[n, T_SIZE], trades[n, T_ENTRY_PRICE], trades[n, T_EXIT_PRICE] = ledger[j, L_MAX_UNITS], \
        ledger[j, L_ENTRY], exit_price
    trades[n, T_PNL], trades[n, T_RETURN] = pnl, pnl / ledger[j, L_ENTRY_VALUE]
    trades[n, T_COSTS], trades[n, T_REASON] = ledger[j, L_COSTS], reason


@njit(cache=True, inline="always")
def order(state: np.ndarray, ledger: np.ndarray, j: int, params: np.ndarray, bar: int, delta: float,
          reference: float, atr: float, reason: int, trades: np.ndarray, n: int) -> int:
    """Fill `delta` units of asset j against `reference`: move cash, charge costs, book the trade."""
    side = 1.0 if delta > 0.0 else -1.0
    fill = fill_price(reference, side, params, atr)
    fee = abs(delta) * fill * params[P_FEES] + params[P_FIXED_FEE]
    cost = fee + abs(delta) * abs(fill - reference)
    state[ST_CASH] -= delta * fill + fee
    state[ST_TRADED] += abs(delta) * fill
    state[ST_COSTS] += cost
    before = n
    n = _book(ledger, j, bar, delta, fill, fee, cost, reason, trades, n)
    if n > before:  # a trade closed: it joins the Kelly statistics
        ret = trades[n - 1, T_RETURN]
        if ret > 0.0:
            state[ST_N_WIN] += 1.0
            state[ST_SUM_WIN] += ret
        else:
            state[ST_N_LOSS] += 1.0
            state[ST_SUM_LOSS] -= ret
    return n


@njit(cache=True, inline="always")
def kelly_limit(state: np.ndarray, params: np.ndarray) -> float:
    """The largest |exposure| the Kelly cap allows now (inf while it is off or too few trades closed)."""
    closed = state[ST_N_WIN] + state[ST_N_LOSS]
    if math.isnan(params[P_KELLY_CAP]) or closed < params[P_KELLY_MIN]:
        return np.inf
    if state[ST_N_WIN] == 0.0:
        return 0.0
    if state[ST_N_LOSS] == 0.0 or state[ST_SUM_LOSS] == 0.0:
        return params[P_KELLY_CAP]
    p = state[ST_N_WIN] / closed
    payoff = (state[ST_SUM_WIN] / state[ST_N_WIN]) / (state[ST_SUM_LOSS] / state[ST_N_LOSS])
    return params[P_KELLY_CAP] * max(p - (1.0 - p) / payoff, 0.0)


@njit(cache=True, inline="always")
def round_lot(units: float, lot: float) -> float:
    if lot > 0.0:
        return math.trunc(units / lot + 1e-9 * math.copysign(1.0, units)) * lot
    return units


@njit(cache=True, inline="always")
def _execute(state: np.ndarray, ledger: np.ndarray, params: np.ndarray, bar: int, open_: float,
             trades: np.ndarray, n: int) -> int:
    """Fill the pending target at this bar's open: close a position of the other sign, then size the new one."""
    target, scale, atr = state[ST_PENDING], state[ST_PEND_SCALE], state[ST_PEND_ATR]
    units = ledger[0, L_UNITS]
    if units != 0.0 and (target == 0.0 or (target > 0.0) != (units > 0.0)):
        n = order(state, ledger, 0, params, bar, -units, open_, atr, R_SIGNAL, trades, n)
        units = 0.0
    if target == 0.0:
        return n
    exposure = target * scale
    limit = kelly_limit(state, params)
    if abs(exposure) > limit:
        exposure = math.copysign(limit, exposure)
    equity = state[ST_CASH] + units * open_
    side = 1.0 if exposure * equity > units * open_ else -1.0
    fill = fill_price(open_, side, params, atr)
    desired = exposure * max(equity - params[P_FIXED_FEE], 0.0) / (fill * (1.0 + params[P_FEES]))
    delta = round_lot(desired - units, params[P_LOT])
    if delta == 0.0 or abs(delta) * fill < params[P_MIN_ORDER]:
        return n
    if units != 0.0 and (units + delta == 0.0 or (units + delta > 0.0) != (units > 0.0)):
        delta = -units  # rounding never flips the position through zero on a resize
    return order(state, ledger, 0, params, bar, delta, open_, atr, R_SIGNAL, trades, n)


@njit(cache=True, inline="always")
def _check_stops(state: np.ndarray, ledger: np.ndarray, params: np.ndarray, bar: int, open_: float,
                 high: float, low: float, trades: np.ndarray, n: int) -> int:
    """Exit on a stop, trailing stop or take-profit touched inside this bar (the stop first if both were)."""
    units, entry, peak = ledger[0, L_UNITS], ledger[0, L_ENTRY], ledger[0, L_PEAK]
    if units == 0.0:
        return n
    sign = 1.0 if units > 0.0 else -1.0
    stop, stop_reason = np.nan, R_STOP
    if not math.isnan(params[P_STOP]):
        stop = entry * (1.0 - sign * params[P_STOP])
    if not math.isnan(params[P_TRAIL]):
        trail = peak * (1.0 - sign * params[P_TRAIL])
        if math.isnan(stop) or sign * (trail - stop) > 0.0:
            stop, stop_reason = trail, R_TRAIL
    take = np.nan if math.isnan(params[P_TAKE]) else entry * (1.0 + sign * params[P_TAKE])
    worst, best = (low, high) if sign > 0.0 else (high, low)
    if not math.isnan(stop) and sign * (worst - stop) <= 0.0:
        price = min(open_, stop) if sign > 0.0 else max(open_, stop)  # a gap through the stop fills at the open
        return order(state, ledger, 0, params, bar, -units, price, state[ST_LAST_ATR], stop_reason, trades, n)
    if not math.isnan(take) and sign * (best - take) >= 0.0:
        price = max(open_, take) if sign > 0.0 else min(open_, take)
        return order(state, ledger, 0, params, bar, -units, price, state[ST_LAST_ATR], R_TAKE, trades, n)
    return n


@njit(cache=True)
def run_bars(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
             scale: np.ndarray, targets: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
             trades: np.ndarray, n: int, start: int, stop: int, equity: np.ndarray, cash: np.ndarray,
             units_out: np.ndarray) -> int:
    """Advance bars [start, stop): fill at the open, stops intrabar, mark at the close, take the next decision.

    `targets[i]` is the position decided at bar i's close (NaN = no new decision). Closed trades are appended to
    `trades` from index n; returns the new count. `run_single` calls this for every bar at once and the
    `Stepper` for one bar at a time: one body, so both produce the same numbers to the last bit. The body
    is written out here (helpers run only when there is something to do) because passing the state arrays
    into a helper on every bar costs reference counting that dwarfs the arithmetic.
    """
    for bar in range(start, stop):
        open_i, close_i = open_[bar], close[bar]
        if not math.isnan(state[ST_PENDING]):
            if state[ST_BUST] == 0.0:
                n = _execute(state, ledger, params, bar, open_i, trades, n)
            state[ST_PENDING] = np.nan
        units = ledger[0, L_UNITS]
        if units != 0.0:
            if not (math.isnan(params[P_STOP]) and math.isnan(params[P_TAKE]) and math.isnan(params[P_TRAIL])):
                n = _check_stops(state, ledger, params, bar, open_i, high[bar], low[bar], trades, n)
                units = ledger[0, L_UNITS]
            if units != 0.0 and state[ST_CASH] + units * close_i <= 0.0:  # wiped out: close, stop trading
                n = order(state, ledger, 0, params, bar, -units, close_i, np.nan, R_LIQUIDATION, trades, n)
                state[ST_BUST] = 1.0
                units = 0.0
            if units > 0.0:
                ledger[0, L_PEAK] = max(ledger[0, L_PEAK], high[bar])
            elif units < 0.0:
                ledger[0, L_PEAK] = min(ledger[0, L_PEAK], low[bar])
        state[ST_EQUITY] = state[ST_CASH] + units * close_i
        state[ST_LAST_ATR] = atr[bar]
        if not math.isnan(targets[bar]) or params[P_REBALANCE] > 0.0:
            _decide(state, params, atr[bar], scale[bar], targets[bar])
        equity[bar], cash[bar], units_out[bar] = state[ST_EQUITY], state[ST_CASH], units
    return n


@njit(cache=True, inline="always")
def _decide(state: np.ndarray, params: np.ndarray, atr: float, scale: float, target: float) -> None:
    """Take the decision made at this close: an order for the next open when it changes the target."""
    if state[ST_BUST] != 0.0:
        return
    state[ST_SINCE_REBALANCE] += 1.0  # only counted when rebalancing is on (or a decision comes)
    every = params[P_REBALANCE]
    forced = every > 0.0 and state[ST_SINCE_REBALANCE] >= every
    if math.isnan(target):
        if not forced or state[ST_DECIDED] == 0.0:
            return
        target = state[ST_DECIDED]
    target = min(max(target, -1.0), 1.0)
    if target < 0.0 and params[P_SHORT] == 0.0:
        target = 0.0
    if target != state[ST_DECIDED] or forced:
        state[ST_PENDING], state[ST_PEND_SCALE], state[ST_PEND_ATR] = target, scale, atr
        state[ST_DECIDED] = target
        state[ST_SINCE_REBALANCE] = 0.0


@njit(cache=True)
def open_trade_record(ledger: np.ndarray, j: int, bar: int, close: float, trades: np.ndarray, n: int) -> int:
    """Append the still-open trade of asset j, marked at `close` without exit costs (reason "open")."""
    units = ledger[j, L_UNITS]
    if units == 0.0:
        return n
    pnl = ledger[j, L_REALISED] + units * (close - ledger[j, L_ENTRY])
    _write_trade(ledger, j, bar, close, pnl, R_OPEN, trades, n)
    return n + 1


@njit(cache=True)
def run_single(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
               scale: np.ndarray, targets: np.ndarray, params: np.ndarray) -> tuple:
    """Every bar through `run_bars`: per-bar equity, cash and units, the trades, and the final state."""
    n_bars = len(open_)
    state = new_state(params)
    ledger = np.zeros((1, N_LEDGER))
    trades = np.empty((2 * n_bars + 2, N_TRADE))
    equity, cash, units = np.empty(n_bars), np.empty(n_bars), np.empty(n_bars)
    n = run_bars(open_, high, low, close, atr, scale, targets, params, state, ledger, trades, 0, 0, n_bars, equity,
                 cash, units)
    if n_bars:
        n = open_trade_record(ledger, 0, n_bars - 1, close[n_bars - 1], trades, n)
    return equity, cash, units, trades[:n].copy(), state


@njit(cache=True)
def held_returns(open_: np.ndarray, decided: np.ndarray, exit_decided: np.ndarray, direction: np.ndarray,
                 atr: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Net return of a position decided at bar i's close and closed by a decision at bar j's close.

    Entry fills at open[i + 1], exit at open[j + 1], through `fill_price` and the same fees as the engine
    (the fixed fee is left out: it depends on the account size). NaN where j + 1 is not a bar yet.
    """
    out = np.full(len(decided), np.nan)
    for k in range(len(decided)):
        i, j, d = decided[k], exit_decided[k], direction[k]
        if i < 0 or j <= i or j + 1 >= len(open_):
            continue
        if d == 0.0:
            out[k] = 0.0
            continue
        entry = fill_price(open_[i + 1], d, params, atr[i])
        exit_ = fill_price(open_[j + 1], -d, params, atr[j])
        out[k] = (d * (exit_ - entry) - params[P_FEES] * (entry + exit_)) / entry
    return out
