"""Reinforcement learning on the execution engine: a gymnasium trading environment and SB3 agents.

    TradingEnv(ohlcv, **options)                  gymnasium Env; reward = log equity change net of the engine's costs
    scale_free_features() / DEFAULT_FEATURES      what an agent may observe
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
