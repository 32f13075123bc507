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

from pinelab_core.backtest import run_backtest
from pinelab_core.backtest.metrics import STAT_FIELDS, equity_curve, profit_factor, win_rate
from pinelab_core.errors import DataValidationError
from pinelab_core.models.base import DIRECTION_CLASSES, FitSummary, Model
from pinelab_core.training.labels import LabelSpec

__all__ = [
    "CLASS_POSITIONS",
    "PROBABILITY_COLUMNS",
    "TrainReport",
    "classification_scores",
    "implied_positions",
    "majority_baseline_scores",
    "strategy_scores",
]

PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"prob_{name}" for name in DIRECTION_CLASSES)
#: Position per direction class index (DOWN, SIDEWAYS, UP): short, flat, long.
CLASS_POSITIONS: tuple[float, float, float] = (-1.0, 0.0, 1.0)
_BENCHMARK_FIELDS: tuple[str, ...] = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown",
                                      "max_drawdown_duration", "exposure", "turnover")
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


def implied_positions(predicted_classes: pd.Series | np.ndarray) -> np.ndarray:
    """Long (+1) on UP, flat (0) on SIDEWAYS, short (-1) on DOWN, from class indices 0/1/2."""
    classes = np.asarray(predicted_classes)
    if classes.size and (np.nanmin(classes) < 0 or np.nanmax(classes) > 2):
        raise DataValidationError("Predicted classes must be 0 (DOWN), 1 (SIDEWAYS) or 2 (UP).")
    return np.asarray(CLASS_POSITIONS, dtype=float)[classes.astype(int)]


def strategy_scores(
    oos: pd.DataFrame, ohlcv: pd.DataFrame, *, fees: float, slippage: float, timeframe: str | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Trade the out-of-sample predictions through the execution engine; score it against buy-and-hold.

    Both run over the contiguous bars from the first to the last out-of-sample bar (a bar without a
    prediction keeps the last position), fill each decision at the next open and pay `fees` and `slippage`
    on every leg; each trade carries its own entry and exit costs. Adds `position`, `strategy_return` and
    `buy_and_hold_return` to `oos`: each row's return is the equity change since the previous row, so the
    rows compound to the engine's equity exactly.

    Args:
        oos: out-of-sample rows with `y_pred` (class 0/1/2), on bar times of `ohlcv`.
        ohlcv: the market the predictions were made on.
        fees: commission per side, fraction of traded notional.
        slippage: adverse slippage per fill, fraction of the price.
        timeframe: accepted for callers' convenience; annualisation is measured on the bars themselves
            (elapsed calendar time), so it is not needed.

    Returns:
        The extended `oos` and the metrics: every `BacktestResult.stats` field of the strategy, and
        buy-and-hold's with a `buy_and_hold_` prefix (its trade statistics count its one trade, still open,
        marked at the last close).
    """
    del timeframe  # the engine annualises by the bars' elapsed time
    positions = implied_positions(oos["y_pred"].to_numpy())
    decisions = pd.Series(positions, index=oos.index)
    decisions = decisions[~decisions.index.duplicated(keep="last")]
    bounds = ohlcv.index.get_indexer([decisions.index[0], decisions.index[-1]])
    if (bounds < 0).any():
        raise DataValidationError("Out-of-sample rows must fall on bars of the OHLCV frame.")
    span = ohlcv.iloc[bounds[0]:bounds[1] + 1]
    strategy = run_backtest(span, decisions, fees=fees, slippage=slippage)
    hold = run_backtest(span, pd.Series(1.0, index=span.index[:1]), fees=fees, slippage=slippage)
    oos = oos.assign(position=positions, strategy_return=_row_returns(strategy.equity["equity"], oos.index),
                     buy_and_hold_return=_row_returns(hold.equity["equity"], oos.index))
    metrics = {name: float(strategy.stats[name]) for name in STAT_FIELDS if name != "buy_and_hold_return"}
    metrics.update({f"buy_and_hold_{name}": float(hold.stats[name]) for name in _BENCHMARK_FIELDS})
    # buy-and-hold's one trade never closes: its trade statistics count it, marked at the last close
    held = hold.trades
    metrics.update({"buy_and_hold_n_trades": float(len(held)),
                    "buy_and_hold_win_rate": win_rate(held["return"].to_numpy()),
                    "buy_and_hold_profit_factor": profit_factor(held["pnl"].to_numpy()),
                    "buy_and_hold_expectancy": float(held["return"].mean()) if len(held) else float("nan")})
    return oos, metrics


def _row_returns(equity: pd.Series, rows: pd.Index) -> np.ndarray:
    """Equity change from one row's bar to the next row's bar (0 on the first row)."""
    at_rows = equity.reindex(rows).to_numpy()
    previous = np.concatenate([[at_rows[0]], at_rows[:-1]])
    return at_rows / previous - 1.0


def _normalised(proba: np.ndarray) -> np.ndarray:
    """Clip away exact zeros and renormalise, so log loss is finite and rows sum to one."""
    clipped = np.clip(proba, 1e-7, 1.0)
    return clipped / clipped.sum(axis=1, keepdims=True)
