"""The leak canary: given one deliberately leaked feature (the next bar's return) PPO must clearly beat
buy-and-hold out of sample, which proves the pipeline can learn; on a random walk without it, it must not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import run_backtest
from pinelab_core.rl.agents import PPOAgent
from tests.conftest import random_walk_ohlcv

PARAMS = {"timesteps": 15_000, "window": 1, "n_envs": 4, "n_steps": 256, "batch_size": 256, "net_arch": [32, 32],
          "fees": 0.0002}
SPLIT = 1_750


def _excess_t_stat(features: pd.DataFrame, ohlcv: pd.DataFrame) -> float:
    """t-statistic of the agent's per-bar log-return excess over buy-and-hold on the bars after SPLIT."""
    agent = PPOAgent(seed=0, **PARAMS)
    agent.learn(ohlcv, bars=(0, SPLIT - 1), features=features)
    test = ohlcv.iloc[SPLIT:]
    targets = agent.act(ohlcv, start=SPLIT, features=features).targets.iloc[SPLIT:]
    assert targets.notna().all()
    runs = [run_backtest(test, positions, fees=0.0002) for positions in (targets, pd.Series(1.0, index=test.index))]
    agent_log, hold_log = (np.diff(np.log(r.equity["equity"].to_numpy())) for r in runs)
    excess = agent_log - hold_log
    return float(excess.mean() / excess.std(ddof=1) * np.sqrt(len(excess)))


@pytest.fixture(scope="module")
def walk() -> pd.DataFrame:
    return random_walk_ohlcv(2_500, seed=5)


def test_a_leaked_next_bar_return_is_found_and_exploited(walk: pd.DataFrame) -> None:
    returns = walk["close"].pct_change()
    leaked = pd.DataFrame({"next_return": returns.shift(-1).fillna(0.0) * 100, "ret_1": returns.fillna(0.0) * 100},
                          index=walk.index)
    assert _excess_t_stat(leaked, walk) > 10.0


def test_without_the_leak_a_random_walk_gives_no_edge(walk: pd.DataFrame) -> None:
    returns = walk["close"].pct_change()
    honest = pd.DataFrame({"ret_1": returns.fillna(0.0) * 100, "ret_5": walk["close"].pct_change(5).fillna(0.0) * 100},
                          index=walk.index)
    assert _excess_t_stat(honest, walk) < 3.0
