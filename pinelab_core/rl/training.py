"""`learn_agent`: train an agent with stable-baselines3 in vectorised `TradingEnv`s, reporting as it goes.

The feature matrix is built once and shared by every environment copy. Observations and rewards are
normalised by `VecNormalize` while learning (its statistics come from the training bars only); the
observation statistics are kept with the agent and applied frozen whenever it trades afterwards.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.errors import ConfigError
from pinelab_core.models.base import FitSummary
from pinelab_core.rl.agents import ENV_OPTIONS, RUN_OPTIONS, AgentModel, agent_device
from pinelab_core.rl.env import TradingEnv
from pinelab_core.rl.features import observation_features
from pinelab_core.rl.policy import ObservationScaler, build_policy, load_policy_weights

__all__ = ["AgentProgress", "AgentProgressCallback", "learn_agent", "make_vec_env"]

_TICKS = 100  # progress reports per run
_TICK_S = 1.0  # ... and at least one a second, so a cancel request is heard within a second


@dataclass(frozen=True)
class AgentProgress:
    """One progress tick of an agent's training."""

    timesteps: int
    total: int
    episode_reward: float | None  # mean of the last 20 finished episodes (normalised rewards are not used)
    loss: float | None  # the algorithm's last training loss
    timesteps_per_second: float


AgentProgressCallback = Callable[[AgentProgress], None]


def make_vec_env(ohlcv: pd.DataFrame, agent: AgentModel, *, bars: tuple[Any, Any] | None, n_envs: int,
                 seed: int, observed: Any = None, subprocess: bool = False) -> Any:
    """`n_envs` seeded copies of the agent's environment, monitored (episode rewards) and normalised."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor, VecNormalize

    observed = observed if observed is not None else observation_features(ohlcv, agent.params["features"])
    options = agent.env_options()

    def make(rank: int) -> Any:
        return lambda: TradingEnv(ohlcv, bars=bars, observed=observed, **options)

    vec_cls = SubprocVecEnv if subprocess and n_envs > 1 else DummyVecEnv
    vec = vec_cls([make(rank) for rank in range(n_envs)])
    vec.seed(seed)
    vec.action_space.seed(seed)
    return VecNormalize(VecMonitor(vec), norm_obs=True, norm_reward=True, clip_obs=10.0,
                        gamma=float(agent.params.get("gamma", 0.99)))


def learn_agent(agent: AgentModel, ohlcv: pd.DataFrame, *, bars: tuple[Any, Any] | None = None,
                progress: AgentProgressCallback | None = None, features: pd.DataFrame | None = None) -> FitSummary:
    """Train `agent` for `agent.params["timesteps"]` steps on `ohlcv` (episodes inside `bars`).

    Args:
        agent: a new agent (its params say the algorithm's hyperparameters and the environment).
        ohlcv: the market; only the bars in `bars` are traded (features may look back before them).
        bars: (first, last) training bars; None = all of them.
        progress: called about 100 times with timesteps, the mean episode reward and the last loss; it may
            raise to stop (a cancelled job).

    Returns:
        The last loss, the device used and the progress history.
    """
    import torch
    from stable_baselines3 import A2C, DQN, PPO

    algorithms = {"PPO": PPO, "A2C": A2C, "DQN": DQN}
    device, reason = agent_device(agent.device)
    torch.manual_seed(agent.seed)
    observed = observation_features(ohlcv, features if features is not None else agent.params["features"])
    n_envs = max(1, int(agent.params["n_envs"]))
    vec = make_vec_env(ohlcv, agent, bars=bars, n_envs=n_envs, seed=agent.seed, observed=observed)
    hyper = {k: v for k, v in agent.params.items() if k not in ENV_OPTIONS and k not in RUN_OPTIONS
             and k != "execution"}
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[str(agent.params["activation"])]
    try:
        model = algorithms[agent.algorithm](
            "MlpPolicy", vec, seed=agent.seed, device=device, verbose=0,
            policy_kwargs={"net_arch": list(agent.params["net_arch"]), "activation_fn": activation}, **hyper)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid {agent.kind} hyperparameters: {exc}") from exc
    timesteps = int(agent.params["timesteps"])
    callback = _progress_callback(timesteps, progress)
    threads = torch.get_num_threads()
    # One intra-op thread: a 64x64 MLP's matrices are too small to split, and on a shared machine extra threads
    # spin against each other (measured 1,413 vs 207 timesteps/s for PPO on a loaded 2-core machine).
    torch.set_num_threads(1 if device == "cpu" else threads)
    started = time.perf_counter()
    try:
        model.learn(total_timesteps=timesteps, callback=callback, progress_bar=False)
    finally:
        torch.set_num_threads(threads)
    elapsed = time.perf_counter() - started
    _keep(agent, model, vec, observed, device, reason)
    history: list[AgentProgress] = callback.history  # type: ignore[attr-defined]
    last = history[-1] if history else None
    agent.training_summary = {"timesteps": int(model.num_timesteps), "seconds": round(elapsed, 3),
                              "timesteps_per_second": round(model.num_timesteps / max(elapsed, 1e-9), 1),
                              "device_reason": reason, "n_envs": n_envs,
                              "final_episode_reward": last.episode_reward if last else None,
                              "final_loss": last.loss if last else None}
    vec.close()
    return FitSummary(train_loss=last.loss if last else None, device=device)


def _keep(agent: AgentModel, model: Any, vec: Any, observed: Any, device: str, reason: str) -> None:
    """Keep what the agent needs to trade later: the SB3 zip, frozen observation statistics, a CPU policy."""
    buffer = io.BytesIO()
    model.save(buffer)
    agent._zip_bytes = buffer.getvalue()
    agent.scaler = ObservationScaler.from_vec_normalize(vec)
    agent.feature_columns = list(observed.names)
    agent.feature_names_ = list(observed.names)
    agent.fitted_device_, agent.device_reason = device, reason
    # the policy that trades is rebuilt exactly as a loaded agent's is: one code path, on the CPU
    agent.policy = build_policy(agent.family, int(vec.observation_space.shape[0]), agent.action_description(),
                                list(agent.params["net_arch"]), str(agent.params["activation"]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "agent.zip"
        path.write_bytes(agent._zip_bytes)
        load_policy_weights(agent.policy, path)


def _progress_callback(total: int, progress: AgentProgressCallback | None) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class Reporter(BaseCallback):
        """Every `total / 100` steps (or second): timesteps, mean reward of the last 20 episodes, the latest loss."""

        def __init__(self) -> None:
            super().__init__()
            self.every = max(1, total // _TICKS)
            self.next_tick = self.every
            self.rewards: deque[float] = deque(maxlen=20)
            self.loss: float | None = None
            self.history: list[AgentProgress] = []
            self.started = self.reported = time.perf_counter()

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", []):
                episode = info.get("episode")
                if episode is not None:
                    self.rewards.append(float(episode["r"]))
            values = self.model.logger.name_to_value
            for key in ("train/loss", "train/value_loss"):
                if key in values and np.isfinite(values[key]):
                    self.loss = float(values[key])
                    break
            if self.num_timesteps >= self.next_tick or time.perf_counter() - self.reported > _TICK_S:
                while self.next_tick <= self.num_timesteps:
                    self.next_tick += self.every
                self._report()
            return True

        def _on_training_end(self) -> None:
            self._report()

        def _report(self) -> None:
            reward = float(np.mean(self.rewards)) if self.rewards else None
            self.reported = time.perf_counter()
            rate = self.num_timesteps / max(self.reported - self.started, 1e-9)
            tick = AgentProgress(int(self.num_timesteps), total, reward, self.loss, rate)
            self.history.append(tick)
            if progress is not None:
                progress(tick)

    return Reporter()
