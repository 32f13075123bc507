"""The trading environment: gymnasium/SB3 checks, reproducible resets, causality, and replay parity with the
backtester (an agent's reward is the engine's money, to the last bit)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from pinelab_core.backtest import run_backtest
from pinelab_core.errors import DataValidationError
from pinelab_core.rl import TradingEnv
from tests.conftest import random_walk_ohlcv

COSTS = {"fees": 0.001, "half_spread": 0.0002, "slippage": 0.0003, "slippage_atr": 0.1}


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return random_walk_ohlcv(1_500, seed=3)


def _random_episode(env: TradingEnv) -> list[float]:
    rewards = []
    while True:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        rewards.append(reward)
        if terminated or truncated:
            return rewards


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
def test_passes_gymnasium_and_sb3_checks(market: pd.DataFrame, mode: str) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(TradingEnv(market, action_mode=mode))
        sb3_check_env(TradingEnv(market, action_mode=mode), warn=True)
    # the only remark left: no registered spec to try render modes with (there is nothing to render)
    assert [str(w.message) for w in caught if "render" not in str(w.message)] == []


@pytest.mark.parametrize("options", [
    COSTS,
    {**COSTS, "stop_loss": 0.02, "take_profit": 0.03, "trailing_stop": 0.04},
    {"fees": 0.0005, "allow_short": False, "lot_size": 1.0, "fixed_fee": 1.0},
    {"fees": 0.0005, "kelly_cap": 0.5, "kelly_min_trades": 5},
])
def test_replaying_an_episode_through_run_backtest_gives_the_same_money(market: pd.DataFrame, options: dict) -> None:
    env = TradingEnv(market, episode_bars=300, **options)
    env.action_space.seed(7)
    env.reset(seed=11)
    rewards = _random_episode(env)
    end = env.bar + 1
    result = run_backtest(market.iloc[:end], env.episode_positions().iloc[:end], **env.execution.to_dict())
    assert result.final_equity == pytest.approx(env.equity, rel=1e-9)
    closed = result.trades[result.trades["reason"] != "open"].reset_index(drop=True)
    assert len(closed) >= 3
    pd.testing.assert_frame_equal(closed, env.episode_trades())
    # the rewards add up to the log growth of the backtest's equity over the episode (no penalties set)
    span = result.equity["equity"].iloc[end - len(rewards) - 1:]
    assert np.sum(rewards) == pytest.approx(np.log(span.iloc[-1] / span.iloc[0]), rel=1e-9)


def test_replay_parity_with_volatility_targeting_on_the_same_frame(market: pd.DataFrame) -> None:
    """Volatility targeting annualises with the bars per year measured over the whole frame, so the replay runs
    on the environment's own frame (a prefix would size a hair differently) and is read at the episode's end."""
    env = TradingEnv(market, episode_bars=300, fees=0.0005, vol_target=0.2)
    env.action_space.seed(7)
    env.reset(seed=11)
    _random_episode(env)
    positions = env.episode_positions()
    positions.iloc[env.bar:] = 0.0  # flat after the episode: nothing closes at the episode's end bar itself
    result = run_backtest(market, positions, **env.execution.to_dict())
    assert result.equity["equity"].iloc[env.bar] == pytest.approx(env.equity, rel=1e-9)
    closed = result.trades[result.trades["exit_time"] <= market.index[env.bar]].reset_index(drop=True)
    pd.testing.assert_frame_equal(closed, env.episode_trades())


def test_penalties_come_off_the_log_return(market: pd.DataFrame) -> None:
    plain = TradingEnv(market, episode_bars=50, **COSTS)
    penalised = TradingEnv(market, episode_bars=50, turnover_penalty=0.01, drawdown_penalty=0.5, **COSTS)
    actions = np.random.default_rng(2).integers(0, 3, 50)
    for env in (plain, penalised):
        env.reset(options={"start": 600})
    gaps = []
    for action in actions:
        _, base, *_ = plain.step(action)
        _, cut, *_, info = penalised.step(action)
        gaps.append(base - cut)
    assert min(gaps) >= 0.0 and sum(gaps) > 0.0
    assert penalised.equity == plain.equity  # penalties shape the reward, never the money


def test_reset_with_a_seed_is_reproducible_and_info_carries_the_account(market: pd.DataFrame) -> None:
    runs = []
    for _ in range(2):
        env = TradingEnv(market, **COSTS)
        obs, info = env.reset(seed=42)
        env.action_space.seed(42)
        steps = [env.step(env.action_space.sample()) for _ in range(40)]
        runs.append((obs, info["bar"], [s[0] for s in steps], [s[1] for s in steps]))
    assert runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(np.array(runs[0][2]), np.array(runs[1][2]))
    assert runs[0][3] == runs[1][3]
    info = steps[-1][4]
    assert {"equity", "position", "target", "costs", "trades", "bar", "time"} <= set(info)
    assert info["costs"] > 0 and info["equity"] > 0
    other = TradingEnv(market, **COSTS).reset(seed=43)[1]["bar"]
    assert other != runs[0][1]  # another seed, another window


def test_appending_future_bars_changes_no_observation_at_or_before_t(market: pd.DataFrame) -> None:
    short, long = market.iloc[:900], market
    envs = [TradingEnv(frame, episode_bars=None, features="scale_free", **COSTS) for frame in (short, long)]
    start = envs[0].first_bar
    observations: list[list[np.ndarray]] = [[], []]
    actions = np.random.default_rng(0).integers(0, 3, 899 - start)
    for env, seen in zip(envs, observations, strict=True):
        seen.append(env.reset(options={"start": start})[0])
        for action in actions:
            seen.append(env.step(action)[0])
    assert len(observations[0]) == len(observations[1]) == 900 - start
    np.testing.assert_array_equal(np.array(observations[0]), np.array(observations[1]))


def test_the_step_runs_without_pandas(market: pd.DataFrame) -> None:
    env = TradingEnv(market, **COSTS)
    env.reset(seed=0)
    env.step(1)
    entered: list[str] = []

    def profile(frame, event, _arg):  # type: ignore[no-untyped-def]
        if event in ("call", "c_call") and "pandas" in frame.f_code.co_filename:
            entered.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        for action in (0, 2, 1, 0, 2):
            env.step(action)
    finally:
        sys.setprofile(None)
    assert entered == []


def _run_vectorised(vec) -> None:  # type: ignore[no-untyped-def]
    try:
        vec.seed(3)
        obs = vec.reset()
        assert obs.shape == (2, vec.observation_space.shape[0])
        for _ in range(25):  # past an episode end: auto-reset
            obs, rewards, dones, infos = vec.step(np.array([2, 0]))
        assert np.isfinite(rewards).all() and all("equity" in i for i in infos)
    finally:
        vec.close()


def test_works_vectorised_in_a_dummy_vec_env(market: pd.DataFrame) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv

    _run_vectorised(DummyVecEnv([lambda: TradingEnv(market, episode_bars=20, **COSTS)] * 2))


@pytest.mark.slow
def test_works_vectorised_in_a_subprocess_vec_env(market: pd.DataFrame) -> None:
    """Two fresh interpreters (spawn: independent of any forkserver other tests in this process used)."""
    from stable_baselines3.common.vec_env import SubprocVecEnv

    _run_vectorised(SubprocVecEnv([lambda: TradingEnv(market, episode_bars=20, **COSTS)] * 2, start_method="spawn"))


@pytest.mark.parametrize("options, message", [
    ({"positions": (0.5,)}, "positions"),
    ({"positions": (-2.0, 1.0)}, "positions"),
    ({"window": 0}, "window"),
    ({"rebalance_every": 5}, "rebalance_every"),
    ({"features": ["sma_50"]}, "scale-free"),
    ({"features": ["rsi_41"]}, "Did you mean"),
    ({"bars": (0, 40)}, "warm-up"),
    ({"action_mode": "box"}, "action_mode"),
])
def test_refuses_bad_options_with_a_message_that_says_what_to_change(market: pd.DataFrame, options: dict,
                                                                     message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        TradingEnv(market, **options)
