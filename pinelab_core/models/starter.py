"""Starter models: a quick preset that gives a fresh install something to predict with.

LightGBM + XGBoost on the selected market, direction labels 5 bars ahead, four walk-forward folds and
capped boosting rounds: about a minute on a laptop CPU for a few thousand bars, with the same honest
walk-forward scores and out-of-fold predictions as a full run (so the ensemble learns its weights).
Both versions are activated. Run it in the foreground (`train_starter`, the CLI's `--train-starter`) or
as a background job (`submit_starter`, the pages' button).
"""

from __future__ import annotations

from typing import Any

from pinelab_core.config import Settings

__all__ = ["STARTER_MODELS", "starter_request", "submit_starter", "train_starter"]

STARTER_MODELS: tuple[str, ...] = ("lightgbm", "xgboost")
_STARTER_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20},
    "xgboost": {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20, "max_depth": 4},
}


def starter_request(symbol: str, timeframe: str = "1d", source: str = "demo", *, start: str | None = None,
                    end: str | None = None, horizon: int = 5) -> Any:
    """The `TrainRequest` of the starter preset for one market (validated)."""
    from pinelab_core.training.runner import TrainRequest

    return TrainRequest(
        symbols=[symbol], source=source, timeframe=timeframe, start=start, end=end, models=list(STARTER_MODELS),
        horizon=horizon, label="direction", activate=True,
        model_params={kind: dict(params) for kind, params in _STARTER_PARAMS.items()},
    ).validate()


def train_starter(settings: Settings, symbol: str, timeframe: str = "1d", source: str = "demo", *,
                  progress: Any = None, **options: Any) -> list[Any]:
    """Train and activate the starter models now (blocking); returns the registered versions."""
    from pinelab_core.training.runner import train_and_register

    return train_and_register(settings, starter_request(symbol, timeframe, source, **options), progress=progress)


def submit_starter(settings: Settings, symbol: str, timeframe: str = "1d", source: str = "demo",
                   **options: Any) -> int:
    """Queue the starter preset as a background training job; returns the job id."""
    from pinelab_core.training.jobs import submit_job

    return submit_job(settings, "train", starter_request(symbol, timeframe, source, **options).to_dict())
