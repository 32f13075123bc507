"""The environment's hot path: one compiled call per step around the execution engine's own `run_bars`.

A decision is taken at a bar's close, after the agent has seen that close and its account marked there. The
engine's loop body (`kernel.run_bars`) does "fill at the open, stops, mark at the close, take the decision" in
one pass, the decision being its last act (`kernel._decide`). So each bar is run with no decision (NaN), which
marks the account for the observation, and once the agent answers, the engine's own `_decide` takes its target:
together exactly the pass `run_backtest` makes with that target, so the agent earns what a backtest of its
actions earns (tests/test_rl_env.py replays episodes to the last bit). One compiled call per step, NumPy arrays
only; no pandas.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pinelab_core.backtest.kernel import (
    L_ENTRY,
    L_UNITS,
    N_LEDGER,
    N_STATE,
    ST_BUST,
    ST_COSTS,
    _decide,
    new_state,
    run_bars,
)

__all__ = ["A_STATUS", "N_ACCOUNT", "OBS_LIMIT", "S_BUST", "S_COSTS", "S_EQUITY", "S_PEAK", "S_POSITION", "S_TRADES",
           "account_views", "begin_episode", "step_episode"]

# per-episode bookkeeping
E_N, E_PEAK, E_DRAWDOWN, E_PREV_TARGET, E_TURNOVER_PENALTY, E_DRAWDOWN_PENALTY = range(6)
N_EPISODE = 6
# what the environment reports after each call (read with one .tolist())
S_EQUITY, S_POSITION, S_COSTS, S_TRADES, S_PEAK, S_BUST = range(6)
N_STATUS = 6
# One float vector holds the whole account, so a step passes one array instead of four: the engine's state, its
# open-trade ledger, the episode's bookkeeping and the status.
A_STATE = 0
A_LEDGER = A_STATE + N_STATE
A_EPISODE = A_LEDGER + N_LEDGER
A_STATUS = A_EPISODE + N_EPISODE
N_ACCOUNT = A_STATUS + N_STATUS
# rows of the market block (6 x bars) and of the book block (4 x bars)
M_OPEN, M_HIGH, M_LOW, M_CLOSE, M_ATR, M_SCALE = range(6)
B_TARGET, B_EQUITY, B_CASH, B_UNITS = range(4)
_FLOOR = 1e-12  # an account wiped out earns log(1e-12): large and finite, never -inf
#: Observations are clipped to +-OBS_LIMIT, so they always lie in the (finite) observation space.
OBS_LIMIT = 1e6


def account_views(account: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(state, ledger, episode, status) as NumPy views into the account vector."""
    return (account[A_STATE:A_LEDGER], account[A_LEDGER:A_EPISODE].reshape(1, N_LEDGER),
            account[A_EPISODE:A_STATUS], account[A_STATUS:])


@njit(cache=True, inline="always")
def _parts(account: np.ndarray) -> tuple:
    return (account[A_STATE:A_LEDGER], account[A_LEDGER:A_EPISODE].reshape((1, N_LEDGER)),
            account[A_EPISODE:A_STATUS], account[A_STATUS:])


@njit(cache=True, inline="always")
def _run(market: np.ndarray, book: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
         trades: np.ndarray, n: int, bar: int) -> int:
    return run_bars(market[M_OPEN], market[M_HIGH], market[M_LOW], market[M_CLOSE], market[M_ATR], market[M_SCALE],
                    book[B_TARGET], params, state, ledger, trades, n, bar, bar + 1, book[B_EQUITY], book[B_CASH],
                    book[B_UNITS])


@njit(cache=True, inline="always")
def _mark(market: np.ndarray, book: np.ndarray, params: np.ndarray, account: np.ndarray, trades: np.ndarray,
          bar: int) -> None:
    """Run `bar` without a decision: the account as the agent sees it at the close."""
    state, ledger, episode, _ = _parts(account)
    book[B_TARGET, bar] = np.nan
    episode[E_N] = _run(market, book, params, state, ledger, trades, int(episode[E_N]), bar)


@njit(cache=True, inline="always")
def _observe(features: np.ndarray, window: int, market: np.ndarray, book: np.ndarray, account: np.ndarray,
             bar: int, obs: np.ndarray) -> None:
    """The observation at `bar`'s close (last `window` feature rows, exposure, open trade's return) and the status."""
    state, ledger, episode, status = _parts(account)
    width = features.shape[1]
    k = 0
    for row in range(bar - window + 1, bar + 1):
        for col in range(width):
            obs[k] = min(max(features[row, col], -OBS_LIMIT), OBS_LIMIT)
            k += 1
    units, close, equity = ledger[0, L_UNITS], market[M_CLOSE, bar], book[B_EQUITY, bar]
    exposure = units * close / equity if equity > 0.0 else 0.0
    unrealised = math.copysign(1.0, units) * (close / ledger[0, L_ENTRY] - 1.0) if units != 0.0 else 0.0
    obs[k] = min(max(exposure, -OBS_LIMIT), OBS_LIMIT)
    obs[k + 1] = min(max(unrealised, -OBS_LIMIT), OBS_LIMIT)
    status[S_EQUITY], status[S_POSITION], status[S_COSTS] = equity, exposure, state[ST_COSTS]
    status[S_TRADES], status[S_PEAK], status[S_BUST] = episode[E_N], episode[E_PEAK], state[ST_BUST]


@njit(cache=True)
def begin_episode(market: np.ndarray, book: np.ndarray, params: np.ndarray, account: np.ndarray,
                  trades: np.ndarray, features: np.ndarray, window: int, obs: np.ndarray, bar: int) -> None:
    """A fresh account (the engine's starting state) marked at `bar`'s close, and its observation."""
    state, ledger, episode, _ = _parts(account)
    state[:] = new_state(params)
    ledger[:] = 0.0
    episode[E_N] = 0.0
    episode[E_DRAWDOWN] = 0.0
    episode[E_PREV_TARGET] = 0.0
    _mark(market, book, params, account, trades, bar)
    episode[E_PEAK] = book[B_EQUITY, bar]
    _observe(features, window, market, book, account, bar, obs)


@njit(cache=True)
def step_episode(market: np.ndarray, book: np.ndarray, params: np.ndarray, account: np.ndarray, trades: np.ndarray,
                 features: np.ndarray, window: int, obs: np.ndarray, bar: int, target: float) -> float:
    """Take `target` at `bar`'s close, run the next bar, write its observation, and return the reward.

    reward = log(equity at the next close / equity at this close) - turnover_penalty x |target change|
             - drawdown_penalty x (increase of the drawdown from the episode's peak equity)
    """
    state, _, episode, _ = _parts(account)
    book[B_TARGET, bar] = target
    # the decision step of the engine's loop body, on the account this bar's no-decision pass left
    _decide(state, params, market[M_ATR, bar], market[M_SCALE, bar], target)
    _mark(market, book, params, account, trades, bar + 1)
    before, after = book[B_EQUITY, bar], book[B_EQUITY, bar + 1]
    reward = math.log(max(after, _FLOOR * before) / before)
    episode[E_PEAK] = max(episode[E_PEAK], after)
    drawdown = 1.0 - after / episode[E_PEAK]
    reward -= episode[E_DRAWDOWN_PENALTY] * max(drawdown - episode[E_DRAWDOWN], 0.0)
    reward -= episode[E_TURNOVER_PENALTY] * abs(target - episode[E_PREV_TARGET])
    episode[E_DRAWDOWN] = drawdown
    episode[E_PREV_TARGET] = target
    _observe(features, window, market, book, account, bar + 1, obs)
    return reward
