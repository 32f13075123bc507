"""Agents behind PineLab's `Model` interface: PPO (the default), A2C and DQN from stable-baselines3.

    agent = create_model("ppo", seed=0, timesteps=50_000)       # or PPOAgent(...), create_agent("ppo")
    agent.learn(ohlcv, bars=(0, 1999))                           # trains in a TradingEnv over those bars
    agent.act(ohlcv) -> AgentRollout                              # its positions, calls and their probabilities

An agent learns from the market through the environment, not from labels, so `fit(X, y)` refuses with a
pointer to `learn`. Its `params` hold both the algorithm's hyperparameters and the environment's options
(window, features, action mode, costs, penalties), so a saved agent rebuilds the exact environment it knew.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pinelab_core.errors import ConfigError, ModelSchemaError
from pinelab_core.models.base import FitSummary, Model, ProgressCallback
from pinelab_core.rl.policy import LOADING_NOTE, ObservationScaler, build_policy, load_policy_weights

__all__ = ["AGENT_KINDS", "A2CAgent", "AgentModel", "AgentRollout", "DQNAgent", "PPOAgent", "agent_device"]

#: Environment options an agent keeps in its params (everything else goes to the SB3 algorithm).
ENV_OPTIONS: dict[str, Any] = {
    "window": 16, "features": None, "action_mode": "discrete", "positions": [-1.0, 0.0, 1.0], "episode_bars": 256,
    "turnover_penalty": 0.0, "drawdown_penalty": 0.0, "fees": 0.0005, "slippage": 0.0, "half_spread": 0.0,
}
#: Training options: total timesteps, parallel environments, network shape.
RUN_OPTIONS: dict[str, Any] = {"timesteps": 50_000, "n_envs": 4, "net_arch": [64, 64], "activation": "tanh"}
AGENT_FILES = ("agent.zip", "agent.json", "normalization.json")
EVALUATION_FILE = "evaluation.parquet"


@dataclass(frozen=True)
class AgentRollout:
    """An agent run over bars: the target it decided at each bar's close and the probability of that choice."""

    targets: pd.Series  # decided at each bar's close (NaN before the first decision)
    confidence: pd.Series  # probability of the chosen action (DQN: softmax of its Q-values)
    equity: pd.Series  # the account through the execution engine, from the rollout's first bar


def agent_device(preference: str = "auto", policy: str = "mlp") -> tuple[str, str]:
    """Where an agent trains, and why.

    SB3's on-policy algorithms with small MLP policies spend their time stepping environments and moving
    tiny batches; on a GPU each step pays a host-device copy that costs more than the arithmetic (SB3 warns
    about exactly this). So "auto" keeps MLP agents on the CPU; a name ("cuda", "mps", "cpu") is obeyed.
    """
    from pinelab_core.models.device import choose_device

    wanted = (preference or "auto").strip().lower()
    if wanted == "auto":
        if policy == "mlp":
            return "cpu", "auto: small MLP policy, faster on the CPU than paying a GPU copy per environment step"
        device = choose_device("auto")
        return str(device), "auto: the fastest device present"
    return str(choose_device(wanted)), f"requested: {wanted}"


class AgentModel(Model):
    """An SB3 agent trading through `TradingEnv`; see the module docstring."""

    algorithm: ClassVar[str] = ""
    family: ClassVar[str] = "actor_critic"  # or "q" (a Q-network: DQN)
    continuous_ok: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        known = set(ENV_OPTIONS) | set(RUN_OPTIONS) | set(self.defaults) | {"execution"}
        unknown = sorted(set(params) - known)
        if unknown:
            import difflib

            hints = {u: difflib.get_close_matches(u, sorted(known), n=1) for u in unknown}
            text = ", ".join(f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items())
            raise ConfigError(f"Unknown {self.kind} option(s) {text}. Known: {', '.join(sorted(known))}.")
        merged = {**ENV_OPTIONS, **RUN_OPTIONS, **self.defaults, "execution": {}, **params}
        if merged["action_mode"] == "continuous" and not self.continuous_ok:
            raise ConfigError(f"{self.kind} needs discrete actions; use ppo or a2c for a continuous target.")
        super().__init__(seed=seed, device=device, **merged)
        self.scaler: ObservationScaler | None = None
        self.policy: Any = None
        self.feature_columns: list[str] = []
        self.device_reason = ""
        self.training_summary: dict[str, Any] = {}
        self.evaluation: pd.DataFrame | None = None  # out-of-sample equity per seed and baseline, saved with it
        self._zip_bytes: bytes | None = None

    # --- the Model interface --------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, validation: Any = None,
            progress: ProgressCallback | None = None) -> FitSummary:
        raise ConfigError(f"{self.kind} is a reinforcement-learning agent: it learns by trading, not from labels. "
                          f"Call agent.learn(ohlcv) or train it with `pinelab train --models {self.kind}`.")

    def learn(self, ohlcv: pd.DataFrame, *, bars: tuple[Any, Any] | None = None,
              progress: Callable[[Any], None] | None = None, features: pd.DataFrame | None = None) -> FitSummary:
        """Train in a `TradingEnv` on `ohlcv` (episodes inside `bars`, the training period).

        `progress` gets an `AgentProgress` (timesteps, mean episode reward, loss) about 100 times. `features`: a
        frame of your own causal columns to observe instead of the feature engine's (pass it to `act` too).
        """
        from pinelab_core.rl.training import learn_agent

        return learn_agent(self, ohlcv, bars=bars, progress=progress, features=features)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(len(X), 3) probabilities in DOWN/SIDEWAYS/UP order from a rollout over the OHLCV frame `X`.

        The chosen action's probability goes to its side (short: DOWN, flat: SIDEWAYS, long: UP), the rest is
        spread evenly over the other two, so the argmax is always the agent's call. NaN before the warm-up.
        """
        rollout = self.act(X)
        sides = np.sign(rollout.targets.to_numpy())
        conf = rollout.confidence.to_numpy()
        out = np.full((len(X), 3), np.nan)
        valid = np.isfinite(sides)
        column = (sides[valid] + 1).astype(int)
        out[valid] = ((1.0 - conf[valid]) / 2.0)[:, None]
        out[np.flatnonzero(valid), column] = conf[valid]
        return out

    def act(self, ohlcv: pd.DataFrame, *, start: Any = None, end: Any = None,
            features: pd.DataFrame | None = None) -> AgentRollout:
        """Roll the agent over `ohlcv` from `start` (default: the first bar its features allow) to `end`,
        always taking its most probable action, through the execution engine with its costs."""
        from pinelab_core.rl.rollout import rollout

        self._require_trained()
        return rollout(self, ohlcv, start=start, end=end, features=features)

    def env_options(self) -> dict[str, Any]:
        """The `TradingEnv` keyword arguments this agent trains and trades with."""
        options = {k: self.params[k] for k in ENV_OPTIONS}
        return {**options, **dict(self.params.get("execution") or {})}

    def save(self, directory: Path) -> list[Path]:
        self._require_trained()
        assert self._zip_bytes is not None and self.scaler is not None  # _require_trained checked both
        directory.mkdir(parents=True, exist_ok=True)
        paths = [directory / name for name in AGENT_FILES]
        paths[0].write_bytes(self._zip_bytes)
        paths[1].write_text(json.dumps(self._description(), indent=2), encoding="utf-8")
        paths[2].write_text(json.dumps(self.scaler.to_dict()), encoding="utf-8")
        if self.evaluation is not None:
            paths.append(directory / EVALUATION_FILE)
            self.evaluation.to_parquet(paths[-1])
        return paths

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> AgentModel:
        try:
            description = json.loads((directory / "agent.json").read_text(encoding="utf-8"))
            scaler = ObservationScaler.from_dict(json.loads((directory / "normalization.json").read_text("utf-8")))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelSchemaError(f"{directory} is not a complete agent artifact ({exc}). Retrain it.") from exc
        if description.get("kind") != cls.kind:
            raise ModelSchemaError(f"{directory} holds a {description.get('kind')!r} agent, not {cls.kind!r}.")
        agent = cls(seed=int(description["seed"]), device=device, **description["params"])
        agent.feature_names_ = list(description["feature_names"])
        agent.feature_columns = list(description["feature_columns"])
        agent.fitted_device_ = str(description.get("device", "cpu"))
        agent.training_summary = dict(description.get("training", {}))
        agent.scaler = scaler
        agent.policy = build_policy(cls.family, int(description["n_obs"]), description["action"],
                                    list(agent.params["net_arch"]), str(agent.params["activation"]))
        load_policy_weights(agent.policy, directory / "agent.zip")
        agent._zip_bytes = (directory / "agent.zip").read_bytes()
        if (directory / EVALUATION_FILE).is_file():
            agent.evaluation = pd.read_parquet(directory / EVALUATION_FILE)
        return agent

    # --- internals ------------------------------------------------------------------------------------

    def action_description(self) -> dict[str, Any]:
        if self.params["action_mode"] == "discrete":
            return {"kind": "discrete", "n": len(self.params["positions"]),
                    "positions": [float(p) for p in self.params["positions"]]}
        return {"kind": "continuous"}

    def _description(self) -> dict[str, Any]:
        assert self.scaler is not None
        return {"kind": self.kind, "algorithm": self.algorithm, "seed": self.seed, "params": self.params,
                "feature_names": self.feature_names_, "feature_columns": self.feature_columns,
                "n_obs": int(len(self.scaler.mean)), "action": self.action_description(),
                "device": self.fitted_device_, "device_reason": self.device_reason, "loading": LOADING_NOTE,
                "training": self.training_summary}

    def _require_trained(self) -> None:
        if self.policy is None or self.scaler is None or self._zip_bytes is None:
            raise ModelSchemaError(f"This {self.kind} agent has not learned yet: call agent.learn(ohlcv) first.")


class PPOAgent(AgentModel):
    """Proximal Policy Optimisation: the default agent (stable, works with discrete or continuous targets)."""

    kind = "ppo"
    algorithm = "PPO"
    defaults = {"learning_rate": 3e-4, "n_steps": 512, "batch_size": 128, "n_epochs": 10, "gamma": 0.99,
                "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01}


class A2CAgent(AgentModel):
    """Advantage Actor-Critic: synchronous A3C, cheaper per update than PPO, noisier."""

    kind = "a2c"
    algorithm = "A2C"
    defaults = {"learning_rate": 7e-4, "n_steps": 16, "gamma": 0.99, "gae_lambda": 1.0, "ent_coef": 0.01}


class DQNAgent(AgentModel):
    """Deep Q-Network with a replay buffer: discrete target positions only."""

    kind = "dqn"
    algorithm = "DQN"
    family = "q"
    continuous_ok = False
    defaults = {"activation": "relu", "learning_rate": 1e-4, "buffer_size": 50_000, "learning_starts": 1_000,
                "batch_size": 64, "gamma": 0.99, "train_freq": 4, "target_update_interval": 1_000,
                "exploration_fraction": 0.2, "exploration_final_eps": 0.05}


#: The agents by the short name they are chosen with (`create_model("ppo")`, `--models ppo`).
AGENT_KINDS: dict[str, type[AgentModel]] = {"ppo": PPOAgent, "a2c": A2CAgent, "dqn": DQNAgent}
