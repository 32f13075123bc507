"""Run a trained agent over bars: the targets it decides, how sure it is, and the money through the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.rl.env import TradingEnv
from pinelab_core.rl.features import observation_features
from pinelab_core.rl.policy import policy_probabilities

if TYPE_CHECKING:
    from pinelab_core.rl.agents import AgentModel, AgentRollout

__all__ = ["rollout"]


def rollout(agent: AgentModel, ohlcv: pd.DataFrame, *, start: Any = None, end: Any = None,
            features: pd.DataFrame | None = None) -> AgentRollout:
    """One deterministic pass of `agent` over `ohlcv[start..end]`, a fresh account at `start`.

    Each bar's observation is scaled with the agent's frozen training statistics; the agent takes its most
    probable action (its mean for a continuous policy). Bars outside the pass are NaN.

    Raises:
        ModelSchemaError: the features built here differ from the ones the agent learned on.
    """
    from pinelab_core.rl.agents import AgentRollout

    assert agent.scaler is not None  # agent.act checks that the agent has learned
    observed = observation_features(ohlcv, features if features is not None else agent.params["features"])
    if list(observed.names) != list(agent.feature_columns):
        raise ModelSchemaError(f"The {agent.kind} agent observed {agent.feature_columns[:4]}..., these bars give "
                               f"{list(observed.names)[:4]}...: build the same features (or pass features=).")
    options = {**agent.env_options(), "episode_bars": None}
    last = len(ohlcv) - 1 if end is None else end
    env = TradingEnv(ohlcv, observed=observed, bars=(0 if start is None else start, last), **options)
    obs, _ = env.reset(options={"start": env.first_bar})
    discrete = agent.params["action_mode"] == "discrete"
    positions = tuple(float(p) for p in agent.params["positions"]) if discrete else None
    n = len(ohlcv)
    targets, confidence = np.full(n, np.nan), np.full(n, np.nan)
    while True:
        bar = env.bar
        action, share = policy_probabilities(agent.policy, agent.family, agent.scaler(obs[None, :]), positions)
        targets[bar], confidence[bar] = env.action_target(action[0]), share[0]
        if bar >= env.last_bar:
            break
        obs, _, terminated, truncated, _ = env.step(action[0])
        if terminated:
            break
    return AgentRollout(pd.Series(targets, index=ohlcv.index, name="target"),
                        pd.Series(confidence, index=ohlcv.index, name="confidence"), env.episode_equity())
