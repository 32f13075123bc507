"""Reinforcement learning on the execution engine: a gymnasium trading environment, SB3 agents, their honest
evaluation, and agents as signal sources and a multi-agent desk.

    TradingEnv(ohlcv, features=None, window=16, action_mode="discrete", positions=(-1, 0, 1), episode_bars=256,
               bars=None, turnover_penalty=0, drawdown_penalty=0, fees=0.0005, **execution) -> gymnasium Env
        reward = log equity change net of the engine's costs; replaying its actions through run_backtest
        gives the same money; env.episode_positions() / episode_trades() / episode_equity()
    create_model("ppo" | "a2c" | "dqn", seed=0, timesteps=50_000, **options) -> AgentModel (PPOAgent, ...)
        agent.learn(ohlcv, bars=(first, last)); agent.act(ohlcv, start=) -> AgentRollout; save / load (no pickle)
    agent_device("auto") -> (device, why)           small MLP policies train on the CPU
    evaluate_agent(ohlcv, "ppo", seeds=(0, 1, 2), n_folds=3) -> AgentEvaluation (IQM and spread vs baselines)
    train_agents(settings, TrainRequest(models=["ppo"], ...)) -> registered versions ("rl" background job)
    agent_calls(settings, symbol, timeframe, ohlcv) -> [AgentCall]     active agents' calls (point in time)
    run_agent_desk(ohlcv, symbol, timeframe, settings=, risk=RiskManager()) -> AgentDesk
    agent_results(settings, name, version) / agent_learning_curve(settings, job_id)   what the pages show
    scale_free_features() / DEFAULT_FEATURES / ROLE_FEATURES      what an agent may observe

The active agents are signal sources of every consensus ("agent", "agent:trend", "agent:mean_reversion"),
registered with the others in `pinelab_core.signals.sources`.
"""

from __future__ import annotations

import importlib
from typing import Any

# The model registry lists the agents (`create_model("ppo")`) and the agents subclass its `Model`: loading the
# models package first lets either side be imported first without a half-initialised module.
import pinelab_core.models  # noqa: F401

_EXPORTS: dict[str, str] = {
    "TradingEnv": "env", "DEFAULT_POSITIONS": "env",
    "DEFAULT_FEATURES": "features", "scale_free_features": "features", "observation_features": "features",
    "AGENT_KINDS": "agents", "AgentModel": "agents", "PPOAgent": "agents", "A2CAgent": "agents",
    "DQNAgent": "agents", "AgentRollout": "agents", "agent_device": "agents",
    "AgentProgress": "training", "AgentEvaluation": "evaluation", "evaluate_agent": "evaluation",
    "interquartile_mean": "evaluation", "train_agents": "service", "run_rl_job": "service",
    "AgentCall": "calls", "agent_calls": "calls", "active_agents": "calls",
    "AgentDesk": "desk", "RiskManager": "desk", "run_agent_desk": "desk", "ROLE_FEATURES": "desk", "ROLES": "desk",
    "AgentResults": "results", "agent_results": "results", "agent_learning_curve": "results",
    "list_agents": "results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinelab_core.rl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinelab_core.rl.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
