"""An agent's policy network and observation scaling, saved and read back without unpickling anything.

SB3's own zip (`agent.zip`) is written for interoperability, but PineLab never loads it with `PPO.load`, whose
JSON part carries cloudpickled objects. Instead the policy is rebuilt from `agent.json` (the spaces and
network shape, plain JSON) and its weights are read from the zip's `policy.pth` with
`torch.load(weights_only=True)`. The VecNormalize statistics are plain JSON too, applied frozen.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pinelab_core.errors import ModelSchemaError

__all__ = ["ACTIVATIONS", "ObservationScaler", "build_policy", "load_policy_weights", "policy_probabilities"]

#: Activation functions by the name kept in agent.json.
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu")
LOADING_NOTE = ("weights-only: the policy is rebuilt from agent.json and its state_dict read from agent.zip's "
                "policy.pth with torch.load(weights_only=True); the zip's pickled fields are never read")


@dataclass(frozen=True)
class ObservationScaler:
    """VecNormalize's observation statistics, frozen: (obs - mean) / sqrt(var + epsilon), clipped."""

    mean: np.ndarray
    var: np.ndarray
    count: float
    clip: float = 10.0
    epsilon: float = 1e-8

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count, "clip": self.clip,
                "epsilon": self.epsilon}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObservationScaler:
        return cls(np.asarray(data["mean"], dtype=np.float64), np.asarray(data["var"], dtype=np.float64),
                   float(data["count"]), float(data["clip"]), float(data["epsilon"]))

    @classmethod
    def from_vec_normalize(cls, vec: Any) -> ObservationScaler:
        rms = vec.obs_rms
        return cls(np.asarray(rms.mean, dtype=np.float64).copy(), np.asarray(rms.var, dtype=np.float64).copy(),
                   float(rms.count), float(vec.clip_obs), float(vec.epsilon))

    def apply_to(self, vec: Any) -> None:
        """Load these statistics into a VecNormalize and freeze it (evaluation: no updates, raw rewards)."""
        vec.obs_rms.mean, vec.obs_rms.var, vec.obs_rms.count = self.mean.copy(), self.var.copy(), self.count
        vec.training, vec.norm_reward = False, False


def build_policy(family: str, n_obs: int, action: dict[str, Any], net_arch: list[int], activation: str) -> Any:
    """A fresh SB3 policy of the given shape (on the CPU), ready for `load_state_dict`."""
    import torch
    from gymnasium import spaces

    obs_space = spaces.Box(-np.inf, np.inf, shape=(n_obs,), dtype=np.float32)
    act_space: Any = spaces.Discrete(int(action["n"])) if action["kind"] == "discrete" else spaces.Box(
        -1.0, 1.0, shape=(1,), dtype=np.float32)
    activation_fn = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    if family == "q":
        from stable_baselines3.dqn.policies import DQNPolicy

        return DQNPolicy(obs_space, act_space, lambda _: 0.0, net_arch=list(net_arch), activation_fn=activation_fn)
    from stable_baselines3.common.policies import ActorCriticPolicy

    return ActorCriticPolicy(obs_space, act_space, lambda _: 0.0, net_arch=list(net_arch),
                             activation_fn=activation_fn)


def load_policy_weights(policy: Any, zip_path: Path) -> None:
    """Read `policy.pth` from an SB3 zip with torch's weights-only loader into `policy`."""
    import torch

    try:
        with zipfile.ZipFile(zip_path) as archive:
            raw = archive.read("policy.pth")
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        policy.load_state_dict(state)
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError) as exc:
        raise ModelSchemaError(f"{zip_path} does not hold this agent's policy weights ({exc}). Retrain it.") from exc
    policy.set_training_mode(False)


def policy_probabilities(policy: Any, family: str, obs: np.ndarray, positions: tuple[float, ...] | None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The greedy action (an index for discrete actions, a target otherwise) and its probability per row.

    Discrete actor-critic policies give their action probabilities; a Q-network's are the softmax of its
    Q-values (a confidence, not a sampling law); a continuous policy's is the Gaussian mass on the chosen side
    of zero, and its action the mean, clipped to [-1, 1].
    """
    import torch

    with torch.no_grad():
        tensor = torch.as_tensor(obs, dtype=torch.float32)
        if family == "q":
            probs = torch.softmax(policy.q_net(tensor), dim=1).numpy()
        elif positions is not None:
            probs = policy.get_distribution(tensor).distribution.probs.numpy()
        else:
            normal = policy.get_distribution(tensor).distribution
            mean = normal.mean[:, 0]
            above = 1.0 - torch.distributions.Normal(mean, normal.stddev[:, 0]).cdf(torch.zeros_like(mean))
            share = torch.where(mean >= 0, above, 1.0 - above)
            return torch.clamp(mean, -1.0, 1.0).numpy().astype(np.float64), share.numpy().astype(np.float64)
    chosen = probs.argmax(axis=1)
    return chosen, probs[np.arange(len(probs)), chosen].astype(np.float64)
