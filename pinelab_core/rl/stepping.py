"""The environment's hot path: one compiled call per step around the execution engine's own `run_bars`.

A decision is taken at a bar's close, after the agent has seen that close and its account marked there. The
engine's loop body does "fill at the open, stops, mark at the close, take the decision" in one pass, so each
bar is first run with no decision (NaN) to mark the account for the observation, and once the agent answers,
the bar is run again from the state saved before it, with the decision. The second pass is the very pass
`run_backtest` makes with the same target, so the agent earns exactly what a backtest of its actions earns
(tests/test_rl_env.py replays episodes to the last bit). Everything here is NumPy arrays; no pandas.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from pinelab_core.backtest.kernel import L_ENTRY, L_UNITS, N_LEDGER, ST_BUST, new_state, run_bars

__all__ = ["OBS_LIMIT", "E_N", "E_PEAK", "E_PREV_TARGET", "N_EPISODE", "begin_episode", "observe", "step_episode"]

# per-episode bookkeeping, one float vector
E_N, E_SAVED_N, E_PEAK, E_DRAWDOWN, E_PREV_TARGET, E_TURNOVER_PENALTY, E_DRAWDOWN_PENALTY = range(7)
N_EPISODE = 7
# rows of the market block (6 x bars) and of the book block (4 x bars)
M_OPEN, M_HIGH, M_LOW, M_CLOSE, M_ATR, M_SCALE = range(6)
B_TARGET, B_EQUITY, B_CASH, B_UNITS = range(4)
_FLOOR = 1e-12  # an account wiped out earns log(1e-12): large and finite, never -inf
#: Observations are clipped to +-OBS_LIMIT, so they always lie in the (finite) observation space.
OBS_LIMIT = 1e6


@njit(cache=True)
def _run(market: np.ndarray, book: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
         trades: np.ndarray, n: int, bar: int) -> int:
    return run_bars(market[M_OPEN], market[M_HIGH], market[M_LOW], market[M_CLOSE], market[M_ATR], market[M_SCALE],
                    book[B_TARGET], params, state, ledger, trades, n, bar, bar + 1, book[B_EQUITY], book[B_CASH],
                    book[B_UNITS])


@njit(cache=True)
def _mark(market: np.ndarray, book: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
          saved: np.ndarray, trades: np.ndarray, episode: np.ndarray, bar: int) -> None:
    """Save the account, then run `bar` without a decision: the account as the agent sees it at the close."""
    saved[:-N_LEDGER] = state
    saved[-N_LEDGER:] = ledger[0]
    episode[E_SAVED_N] = episode[E_N]
    book[B_TARGET, bar] = np.nan
    episode[E_N] = _run(market, book, params, state, ledger, trades, int(episode[E_N]), bar)


@njit(cache=True)
def observe(features: np.ndarray, window: int, market: np.ndarray, book: np.ndarray, ledger: np.ndarray,
            bar: int, obs: np.ndarray) -> None:
    """The observation at `bar`'s close: the last `window` feature rows, the exposure, the open trade's return."""
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


@njit(cache=True)
def begin_episode(market: np.ndarray, book: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
                  saved: np.ndarray, trades: np.ndarray, episode: np.ndarray, bar: int) -> None:
    """A fresh account (the engine's starting state) marked at `bar`'s close."""
    state[:] = new_state(params)
    ledger[:] = 0.0
    episode[E_N] = 0.0
    episode[E_DRAWDOWN] = 0.0
    episode[E_PREV_TARGET] = 0.0
    _mark(market, book, params, state, ledger, saved, trades, episode, bar)
    episode[E_PEAK] = book[B_EQUITY, bar]


@njit(cache=True)
def step_episode(market: np.ndarray, book: np.ndarray, params: np.ndarray, state: np.ndarray, ledger: np.ndarray,
                 saved: np.ndarray, trades: np.ndarray, episode: np.ndarray, bar: int, target: float) -> float:
    """Take `target` at `bar`'s close, run the next bar, and return the reward it earned.

    reward = log(equity at the next close / equity at this close) - turnover_penalty x |target change|
             - drawdown_penalty x (increase of the drawdown from the episode's peak equity)
    """
    state[:] = saved[:-N_LEDGER]
    ledger[0] = saved[-N_LEDGER:]
    book[B_TARGET, bar] = target
    episode[E_N] = _run(market, book, params, state, ledger, trades, int(episode[E_SAVED_N]), bar)
    _mark(market, book, params, state, ledger, saved, trades, episode, bar + 1)
    before, after = book[B_EQUITY, bar], book[B_EQUITY, bar + 1]
    reward = math.log(max(after, _FLOOR * before) / before)
    episode[E_PEAK] = max(episode[E_PEAK], after)
    drawdown = 1.0 - after / episode[E_PEAK]
    reward -= episode[E_DRAWDOWN_PENALTY] * max(drawdown - episode[E_DRAWDOWN], 0.0)
    reward -= episode[E_TURNOVER_PENALTY] * abs(target - episode[E_PREV_TARGET])
    episode[E_DRAWDOWN] = drawdown
    episode[E_PREV_TARGET] = target
    return reward


@njit(cache=True)
def is_bust(state: np.ndarray) -> bool:
    return state[ST_BUST] != 0.0
