"""Learners behind one `Model` interface, chosen by a short name, plus the model registry.

    create_model("lightgbm", seed=0, device="auto", learning_rate=0.03) -> Model
    create_model("ppo", seed=0, timesteps=50_000) -> an RL agent (pinelab_core.rl; learns with .learn(ohlcv))
    list_models() -> ["a2c", "cnn", "dqn", "lightgbm", "lstm", "ppo", "random_forest", "xgboost"]

    list_models("pattern") -> ["pattern_cnn"]     (the chart-pattern recogniser, see pinelab_core.patterns)

Heavy libraries (torch, LightGBM, XGBoost, scikit-learn) load when a model fits or loads, not on import.
The registry (`register_model`, `load_version`, ...) lives in `pinelab_core.models.registry`.
"""

from __future__ import annotations

import difflib
from typing import Any

from pinelab_core.errors import ConfigError
from pinelab_core.models.base import DIRECTION_CLASSES, FitSummary, Model, ProgressCallback, TrainingProgress
from pinelab_core.models.forest import RandomForestModel
from pinelab_core.models.gbdt import LightGBMModel, XGBoostModel
from pinelab_core.models.nets import CNNModel, LSTMModel
from pinelab_core.models.patterns import ChartPatternModel
from pinelab_core.rl.agents import AGENT_KINDS

__all__ = [
    "DIRECTION_CLASSES",
    "MODELS",
    "FitSummary",
    "Model",
    "ProgressCallback",
    "TrainingProgress",
    "create_model",
    "list_models",
    "model_class",
]

#: Every learner by the short name a trader picks it with (CLI `--models`, Training page, manifests).
MODELS: dict[str, type[Model]] = {
    "lightgbm": LightGBMModel,
    "xgboost": XGBoostModel,
    "random_forest": RandomForestModel,
    "lstm": LSTMModel,
    "cnn": CNNModel,
    **AGENT_KINDS,  # reinforcement-learning agents (ppo, a2c, dqn): they learn by trading, see pinelab_core.rl
    "pattern_cnn": ChartPatternModel,
}


def list_models(task: str = "direction") -> list[str]:
    """The names of the models for `task` ("direction" or "pattern") that `create_model` accepts, sorted."""
    return sorted(name for name, cls in MODELS.items() if cls.task == task)


def model_class(name: str) -> type[Model]:
    """The class registered under `name`.

    Raises:
        ConfigError: no model has that name; the message suggests the closest names.
    """
    key = str(name).strip().lower().replace("-", "_")
    cls = MODELS.get(key)
    if cls is None:
        close = difflib.get_close_matches(key, list(MODELS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"Unknown model {name!r}.{hint} Available: {', '.join(list_models())}.")
    return cls


def create_model(name: str, *, seed: int = 0, device: str = "auto", **params: Any) -> Model:
    """A new, unfitted model of the kind `name` (see `list_models()`).

    Args:
        name: registry name, e.g. "lightgbm", "xgboost", "random_forest", "lstm", "cnn".
        seed: makes fitting reproducible.
        device: "auto", "cpu", "cuda[:n]" or "mps" for the torch nets and XGBoost; trees ignore the rest.
        **params: the model's hyperparameters, overriding its defaults (e.g. `window=48` for lstm/cnn).

    Raises:
        ConfigError: unknown name or invalid params.
    """
    cls = model_class(name)
    try:
        return cls(seed=seed, device=device, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid parameters for model {name!r}: {exc}") from exc
