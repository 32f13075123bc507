"""What a walk-forward run reports: out-of-sample predictions, scores, baselines and the implied strategy.

Every number here is computed on out-of-sample rows only (each row predicted by the model of the fold that
never trained on it), except the train/validation scores used for the overfitting flag.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss

from pinelab_core.backtest.metrics import (
    buy_and_hold_positions,
    equity_curve,
    implied_positions,
    next_open_returns,
    periods_per_year,
    strategy_returns,
    summarize_strategy,
)
from pinelab_core.models.base import DIRECTION_CLASSES, FitSummary, Model
from pinelab_core.training.labels import LabelSpec

__all__ = [
    "PROBABILITY_COLUMNS",
    "TrainReport",
    "classification_scores",
    "majority_baseline_scores",
    "strategy_scores",
]

PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"prob_{name}" for name in DIRECTION_CLASSES)
_CLASSES = list(range(len(DIRECTION_CLASSES)))


@dataclass
class TrainReport:
    """The honest answer to "does this model predict anything out of sample?".

    Attributes:
        model_kind: registry name of the model ("lightgbm", "lstm", ...).
        label: how the labels were made.
        seed: the seed every fold and the final model used.
        oos: one row per out-of-sample bar: fold, y_true, y_pred, prob_DOWN/prob_SIDEWAYS/prob_UP, position,
            strategy_return and buy_and_hold_return (net of costs).
        metrics: aggregate out-of-sample scores, the majority-class baseline, the implied strategy's
            sharpe/max_drawdown/win_rate/profit_factor/cagr and the same with a `buy_and_hold_` prefix.
        folds: one row per fold: dates, sizes, train/val/test scores, the train-val gap and its flag.
        feature_names: the model's input columns, in order.
        feature_importance: mean normalised native importance over the folds (None if the model has none).
        device: where the models trained.
        overfit: True when the mean train-validation balanced-accuracy gap exceeds `overfit_threshold`.
        model: the final model, refit on every labelled row with the same recipe (None if not refit).
        final_fit: what the final fit reported (losses, best iteration).
        options: the walk-forward options, for the manifest.
        history: loss points per fold (fold, step, train_loss, val_loss) for the loss-curve plot.
    """

    model_kind: str
    label: LabelSpec
    seed: int
    oos: pd.DataFrame
    metrics: dict[str, float]
    folds: pd.DataFrame
    feature_names: list[str]
    feature_importance: pd.Series | None
    device: str
    overfit: bool
    overfit_threshold: float
    model: Model | None = None
    final_fit: FitSummary | None = None
    options: dict[str, Any] = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def equity(self) -> pd.DataFrame:
        """Compounded equity of the implied strategy and of buy-and-hold over the out-of-sample bars."""
        return pd.DataFrame(
            {
                "strategy": equity_curve(self.oos["strategy_return"]),
                "buy_and_hold": equity_curve(self.oos["buy_and_hold_return"]),
            },
            index=self.oos.index,
        )


def classification_scores(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """accuracy, balanced_accuracy, f1_macro, log_loss and multi-class Brier score of probability rows."""
    y_true = np.asarray(y_true, dtype=int)
    proba = _normalised(np.asarray(proba, dtype=float))
    if len(y_true) == 0:
        return {name: float("nan") for name in ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "brier")}
    y_pred = proba.argmax(axis=1)
    onehot = np.eye(len(_CLASSES))[y_true]
    with warnings.catch_warnings():
        # a fold without one of the classes is normal; sklearn warns about it on every call
        warnings.simplefilter("ignore")
        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "f1_macro": float(f1_score(y_true, y_pred, labels=_CLASSES, average="macro", zero_division=0)),
            "log_loss": float(log_loss(y_true, proba, labels=_CLASSES)),
            "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        }


def majority_baseline_scores(y_true: np.ndarray, majority: np.ndarray) -> dict[str, float]:
    """Scores of always predicting each fold's training majority class: what a model must beat."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "baseline_accuracy": float(accuracy_score(y_true, majority)),
            "baseline_balanced_accuracy": float(balanced_accuracy_score(y_true, majority)),
        }


def strategy_scores(
    oos: pd.DataFrame, ohlcv: pd.DataFrame, *, fees: float, slippage: float, timeframe: str | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Add position / strategy_return / buy_and_hold_return columns to `oos`; score both strategies.

    The position decided at an out-of-sample bar's close fills at the next open (DESIGN.md). Buy-and-hold
    is long over exactly the same bars and pays the same costs for entering.
    """
    earned = next_open_returns(ohlcv, oos.index).to_numpy()
    positions = implied_positions(oos["y_pred"].to_numpy())
    hold = buy_and_hold_positions(len(oos))
    oos = oos.assign(
        position=positions,
        strategy_return=strategy_returns(positions, earned, fees=fees, slippage=slippage),
        buy_and_hold_return=strategy_returns(hold, earned, fees=fees, slippage=slippage),
    )
    periods = periods_per_year(ohlcv.index, timeframe)
    metrics = summarize_strategy(positions, oos["strategy_return"].to_numpy(), periods)
    benchmark = summarize_strategy(hold, oos["buy_and_hold_return"].to_numpy(), periods)
    metrics.update({f"buy_and_hold_{name}": value for name, value in benchmark.items()})
    return oos, metrics


def _normalised(proba: np.ndarray) -> np.ndarray:
    """Clip away exact zeros and renormalise, so log loss is finite and rows sum to one."""
    clipped = np.clip(proba, 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)
