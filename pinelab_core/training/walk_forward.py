"""`walk_forward`: purged walk-forward validation of one model, with baselines and an implied strategy.

The recipe per fold: fit on the purged training rows, early-stop on the training window's purged tail,
score the next test block. Anything fitted (the nets' standardisation, a model's own scalers) is fitted
inside `Model.fit` on the fit rows only; PineLab fits no transform on the whole frame. The final model is
refit on every labelled row, for the registry, with the folds' median best iteration instead of early
stopping (which would hold back the newest bars).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.errors import ConfigError, DataValidationError
from pinelab_core.models.base import FitSummary, Model, TrainingProgress
from pinelab_core.training.labels import LabelSpec, make_labels
from pinelab_core.training.report import (
    PROBABILITY_COLUMNS,
    TrainReport,
    classification_scores,
    majority_baseline_scores,
    strategy_scores,
)
from pinelab_core.training.splits import WalkForwardFold, walk_forward_splits
from pinelab_core.types import OHLCV_COLUMNS

__all__ = ["WalkForwardProgress", "default_features", "select_model_features", "train_models", "walk_forward"]

DEFAULT_FOLDS = 5
#: Models that read normalised raw candles (`models.inputs.candle_inputs`) instead of the feature matrix.
CANDLE_MODELS: tuple[str, ...] = ("cnn",)


@dataclass(frozen=True)
class WalkForwardProgress:
    """A progress tick: which fold (1-based; n_folds + 1 is the final refit), and the model's own step."""

    fold: int
    n_folds: int
    step: int = 0
    total: int = 0
    train_loss: float | None = None
    val_loss: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        """Share of the whole run done, counting the final refit as one more fold."""
        within = self.step / self.total if self.total else 0.0
        return min(1.0, (self.fold - 1 + within) / (self.n_folds + 1))


WalkForwardCallback = Callable[[WalkForwardProgress], None]


@dataclass
class LabelledSample:
    """The rows a run learns from: inputs, integer labels, and each row's bar number (for purging)."""

    X: pd.DataFrame
    y: np.ndarray
    bars: np.ndarray


def walk_forward(
    ohlcv: pd.DataFrame,
    model: str | type[Model] = "lightgbm",
    horizon: int = 5,
    label: str = "direction",
    seed: int = 0,
    *,
    features: pd.DataFrame | None = None,
    groups: list[str] | None = None,
    include_price_levels: bool = False,
    include_start_dependent: bool = False,
    label_params: dict[str, float] | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    step: int | None = None,
    window: str = "expanding",
    embargo: int = 0,
    validation_fraction: float = 0.2,
    fees: float = 0.0005,
    slippage: float = 0.0,
    device: str = "auto",
    overfit_threshold: float = 0.15,
    refit: bool = True,
    timeframe: str | None = None,
    progress: WalkForwardCallback | None = None,
    model_params: dict[str, Any] | None = None,
    **more_model_params: Any,
) -> TrainReport:
    """Walk-forward validate `model` on `ohlcv` and report honest out-of-sample scores.

    Args:
        ohlcv: the OHLCV frame (DESIGN.md contract).
        model: a registry name from `pinelab_core.models.MODELS`, or a `Model` subclass.
        horizon: label horizon h in bars; also the purge length.
        label: "direction" or "triple_barrier" (see `training.labels`).
        seed: seeds every fold's model and the final refit.
        features: a ready feature frame on the OHLCV index, used as given; default the model inputs of
            `default_features` (or the raw candle inputs for models that read candles).
        groups: feature groups to build when `features` is not given.
        include_price_levels: with the default features, also feed price levels and values in price or
            volume units (`sma_200`, Bollinger bands, `atr_14`): thresholds that never recur once the price
            has moved on, so they are left out unless asked for.
        include_start_dependent: with the default features, also feed cumulative sums (`obv`, `ad`) whose
            values depend on where the data starts, so inference on a trailing slice cannot reproduce them.
        label_params: label multipliers, e.g. {"k": 0.5} or {"profit_take": 2.0}.
        train_size: labelled rows in the first training window (default half of them).
        test_size: rows per test fold (default: the rest split into 5 folds).
        step: rows between test folds (default `test_size`).
        window: "expanding" or "rolling".
        embargo: extra bars between the purged training window and each test window.
        validation_fraction: share of each training window held out (purged) for early stopping.
        fees: commission, fraction of traded notional, for the implied strategy.
        slippage: slippage, fraction of traded notional.
        device: "auto", "cpu", "cuda", "mps".
        overfit_threshold: train-minus-validation balanced accuracy above which the run is flagged.
        refit: refit a final model on all labelled rows (needed to register it).
        timeframe: bar size, for annualising when the history is shorter than 30 days.
        progress: called with a `WalkForwardProgress` on every fold and model step; it may raise to stop.
        model_params: the model's hyperparameters. Use this dict for names that clash with the options
            above, e.g. a sequence net's `model_params={"window": 48}` (bars per input window).
        **more_model_params: more hyperparameters, merged over `model_params` (e.g. `n_estimators=200`).

    Returns:
        A `TrainReport`.
    """
    spec = LabelSpec(label, horizon, label_params or {})
    model_params = {**(model_params or {}), **more_model_params}
    _check_ohlcv(ohlcv)
    model_cls = resolve_model_class(model)
    inputs = model_inputs(model_cls, ohlcv, features, groups, include_price_levels=include_price_levels,
                          include_start_dependent=include_start_dependent)
    sample = labelled_sample(inputs, make_labels(ohlcv, spec))
    train_size, test_size = default_sizes(len(sample.y), train_size, test_size)
    validation_size = int(round(validation_fraction * train_size))
    folds = walk_forward_splits(
        len(sample.y), train_size=train_size, test_size=test_size, horizon=spec.horizon, step=step, window=window,
        embargo=embargo, validation_size=validation_size, bar_positions=sample.bars,
    )
    recipe = _Recipe(model_cls, seed, device, model_params, progress, len(folds))
    recipe.build()  # bad parameters fail here, before any fold runs
    fold_rows, oos_parts, importances = [], [], []
    for fold in folds:
        row, oos_part, importance = _run_fold(recipe, sample, fold)
        fold_rows.append(row)
        oos_parts.append(oos_part)
        if importance is not None:
            importances.append(importance)
    oos = pd.concat(oos_parts)
    oos, strategy = strategy_scores(oos, ohlcv, fees=fees, slippage=slippage, timeframe=timeframe)
    fold_table = pd.DataFrame(fold_rows)
    metrics = {
        **classification_scores(oos["y_true"].to_numpy(), oos[list(PROBABILITY_COLUMNS)].to_numpy()),
        **majority_baseline_scores(oos["y_true"].to_numpy(), oos["baseline_pred"].to_numpy()),
        **strategy,
        "overfit_gap": float(fold_table["overfit_gap"].mean()),
    }
    refit_params = _refit_params(recipe, fold_table["best_iteration"])
    final_model, final_fit = _refit(recipe, sample, refit_params) if refit else (None, None)
    devices = {d for d in fold_table["device"]} | ({final_fit.device} if final_fit else set())
    return TrainReport(
        model_kind=model_cls.kind or model_cls.__name__, label=spec, seed=seed,
        oos=oos.drop(columns="baseline_pred"), metrics=metrics, folds=fold_table,
        feature_names=list(sample.X.columns), feature_importance=_mean_importance(importances),
        device=",".join(sorted(devices)), overfit=bool(metrics["overfit_gap"] > overfit_threshold),
        overfit_threshold=overfit_threshold, model=final_model, final_fit=final_fit,
        options={"train_size": train_size, "test_size": test_size, "step": step or test_size, "window": window,
                 "embargo": embargo, "validation_size": validation_size, "fees": fees, "slippage": slippage,
                 "device": device, "model_params": dict(model_params), "n_rows": int(len(sample.y)),
                 "refit_params": refit_params, "trained_through": sample.X.index[-1].isoformat()},
        history=pd.DataFrame(recipe.history, columns=["fold", "step", "train_loss", "val_loss"]),
    )


def train_models(
    ohlcv: pd.DataFrame, models: list[str | type[Model]], horizon: int = 5, label: str = "direction", seed: int = 0,
    *, features: pd.DataFrame | None = None, groups: list[str] | None = None, **options: Any,
) -> dict[str, TrainReport]:
    """`walk_forward` for several models on the same data and folds; the features are built once.

    Returns:
        Reports keyed by model name, in the order given.
    """
    shared = features
    if shared is None and any(resolve_model_class(m).kind not in CANDLE_MODELS for m in models):
        shared = default_features(ohlcv, groups, include_price_levels=options.get("include_price_levels", False),
                                  include_start_dependent=options.get("include_start_dependent", False))
    reports: dict[str, TrainReport] = {}
    for model in models:
        model_cls = resolve_model_class(model)
        inputs = None if model_cls.kind in CANDLE_MODELS and features is None else shared
        report = walk_forward(ohlcv, model_cls, horizon, label, seed, features=inputs, **options)
        reports[report.model_kind] = report
    return reports


@dataclass
class _Recipe:
    """How every fold (and the final refit) builds and fits its model."""

    model_cls: type[Model]
    seed: int
    device: str
    params: dict[str, Any]
    progress: WalkForwardCallback | None
    n_folds: int

    def __post_init__(self) -> None:
        self.history: list[tuple[int, int, float | None, float | None]] = []

    def fit(self, X: pd.DataFrame, y: np.ndarray, validation: tuple[pd.DataFrame, np.ndarray] | None,
            fold: int, **overrides: Any) -> tuple[Model, FitSummary]:
        model = self.build(**overrides)
        self.tick(WalkForwardProgress(fold, self.n_folds, message=f"fold {fold} of {self.n_folds}: fitting"
                                      if fold <= self.n_folds else "final model: fitting"))

        def on_step(event: TrainingProgress) -> None:
            self.history.append((fold, event.step, event.train_loss, event.val_loss))
            self.tick(WalkForwardProgress(fold, self.n_folds, event.step, event.total, event.train_loss,
                                          event.val_loss, event.message))

        summary = model.fit(X, y, validation=validation, progress=on_step)
        return model, summary

    def build(self, **overrides: Any) -> Model:
        try:
            return self.model_cls(seed=self.seed, device=self.device, **{**self.params, **overrides})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"Invalid parameters for model {self.model_cls.kind!r}: {exc}") from exc

    def tick(self, event: WalkForwardProgress) -> None:
        if self.progress is not None:
            self.progress(event)


def _run_fold(
    recipe: _Recipe, sample: LabelledSample, fold: WalkForwardFold
) -> tuple[dict, pd.DataFrame, pd.Series | None]:
    """Fit one fold, score it on fit, validation and test rows; return its table row and OOS frame."""
    started = time.perf_counter()
    X, y = sample.X, sample.y
    validation = (X.iloc[fold.validation], y[fold.validation]) if len(fold.validation) else None
    model, summary = recipe.fit(X.iloc[fold.fit], y[fold.fit], validation, fold.fold + 1)
    scores = {"train": _scores(model, X, y, fold.fit), "val": _scores(model, X, y, fold.validation)}
    test_proba = _test_probabilities(model, X, fold.test)
    scores["test"] = classification_scores(y[fold.test], test_proba)
    train_labels = y[fold.train]
    majority = int(np.bincount(train_labels, minlength=3).argmax())
    oos = pd.DataFrame(test_proba, index=X.index[fold.test], columns=list(PROBABILITY_COLUMNS))
    # A row without an opinion (uniform probabilities) predicts SIDEWAYS, so the implied strategy stays flat.
    no_opinion = np.ptp(test_proba, axis=1) == 0
    oos.insert(0, "y_pred", np.where(no_opinion, 1, test_proba.argmax(axis=1)))
    oos.insert(0, "y_true", y[fold.test])
    oos.insert(0, "fold", fold.fold + 1)
    oos["baseline_pred"] = majority
    gap = scores["train"]["balanced_accuracy"] - scores["val"]["balanced_accuracy"]
    row = {
        "fold": fold.fold + 1,
        "train_start": X.index[fold.fit[0]], "train_end": X.index[fold.train[-1]],
        "test_start": X.index[fold.test[0]], "test_end": X.index[fold.test[-1]],
        "n_fit": len(fold.fit), "n_val": len(fold.validation), "n_test": len(fold.test),
        **{f"{part}_{name}": value for part, values in scores.items() for name, value in values.items()},
        "baseline_accuracy": float(np.mean(y[fold.test] == majority)),
        "overfit_gap": float(gap) if np.isfinite(gap) else float("nan"),
        "best_iteration": summary.best_iteration, "device": summary.device,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return row, oos, _normalised_importance(model)


def _refit_params(recipe: _Recipe, best_iterations: pd.Series) -> dict[str, int]:
    """What the deployed refit fixes: the folds' median best iteration, for models that early-stop."""
    name = recipe.model_cls.iterations_param
    found = pd.to_numeric(best_iterations, errors="coerce").dropna()
    found = found[found > 0]
    if name is None or found.empty:
        return {}
    return {name: max(1, int(round(float(found.median()))))}


def _refit(recipe: _Recipe, sample: LabelledSample, params: dict[str, int]) -> tuple[Model, FitSummary]:
    """The deployed model: the same recipe on every labelled row, none held back.

    Early stopping would need a held-back tail, and that tail holds the newest bars, the ones that matter
    most for the next prediction. So the refit runs a fixed number of rounds instead: the folds' median
    best iteration (`_refit_params`), the setting that generalised out of sample.
    """
    return recipe.fit(sample.X, sample.y, None, recipe.n_folds + 1, **params)


def _predict_rows(model: Model, X: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Probabilities for `rows`, NaN where a sequence model lacks a window.

    Sequence models also get the `context_rows` feature rows before the first row (features only, known at
    that time), so every test row has its full window (see `Model.context_rows`).
    """
    first = max(0, int(rows[0]) - model.context_rows)
    proba = np.asarray(model.predict_proba(X.iloc[first:int(rows[-1]) + 1]), dtype=float)
    return proba[rows - first]


def _test_probabilities(model: Model, X: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    proba = _predict_rows(model, X, rows)
    # A test row without a full window (only possible right after the first bars) gets no opinion: uniform,
    # so it is still scored rather than silently dropped.
    proba[~np.isfinite(proba).all(axis=1)] = 1.0 / proba.shape[1]
    return proba


def _scores(model: Model, X: pd.DataFrame, y: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    if len(rows) == 0:
        return classification_scores(np.array([], dtype=int), np.empty((0, 3)))
    proba = _predict_rows(model, X, rows)
    usable = np.isfinite(proba).all(axis=1)
    return classification_scores(y[rows][usable], proba[usable])


def _normalised_importance(model: Model) -> pd.Series | None:
    importance = model.feature_importance()
    if importance is None or importance.sum() <= 0:
        return None
    return importance / importance.sum()


def _mean_importance(importances: list[pd.Series]) -> pd.Series | None:
    if not importances:
        return None
    return pd.concat(importances, axis=1).fillna(0.0).mean(axis=1).sort_values(ascending=False)


def resolve_model_class(model: str | type[Model]) -> type[Model]:
    """A `Model` subclass as given, or the class registered under a name (with a did-you-mean error)."""
    if isinstance(model, type) and issubclass(model, Model):
        return model
    from pinelab_core.models import model_class

    return model_class(str(model))


def model_inputs(model_cls: type[Model], ohlcv: pd.DataFrame, features: pd.DataFrame | None,
                 groups: list[str] | None, *, include_price_levels: bool = False,
                 include_start_dependent: bool = False) -> pd.DataFrame:
    """The model's input frame: given features, raw candles for candle-reading nets, else `default_features`."""
    if features is not None:
        if not features.index.equals(ohlcv.index):
            raise DataValidationError("The feature frame's index differs from the OHLCV index; build both together.")
        return features
    if model_cls.kind in CANDLE_MODELS:
        from pinelab_core.models.inputs import candle_inputs

        return candle_inputs(ohlcv)
    return default_features(ohlcv, groups, include_price_levels=include_price_levels,
                            include_start_dependent=include_start_dependent)


def default_features(ohlcv: pd.DataFrame, groups: list[str] | None = None, *, include_price_levels: bool = False,
                     include_start_dependent: bool = False) -> pd.DataFrame:
    """The feature matrix's model inputs: scale-free, start-independent columns unless asked otherwise."""
    from pinelab_core.features import build_features

    return select_model_features(build_features(ohlcv, groups=groups), groups,
                                 include_price_levels=include_price_levels,
                                 include_start_dependent=include_start_dependent)


def select_model_features(features: pd.DataFrame, groups: list[str] | None = None, *,
                          include_price_levels: bool = False, include_start_dependent: bool = False) -> pd.DataFrame:
    """The columns of a built feature matrix that models learn from (`features.model_feature_names`)."""
    from pinelab_core.features import model_feature_names

    wanted = model_feature_names(groups, include_price_levels=include_price_levels,
                                 include_start_dependent=include_start_dependent)
    return features[[name for name in wanted if name in features.columns]]


def labelled_sample(inputs: pd.DataFrame, labels: pd.Series) -> LabelledSample:
    """Every bar after the inputs' warm-up whose label is known, with its bar number for purging.

    Only two kinds of rows are left out: the warm-up (before every input column has produced its first
    value) and the last bars, whose label is not known yet. A feature that is undefined at a later bar
    reaches the learner as NaN, which every PineLab model treats as missing. Dropping such rows instead
    would cut the sample exactly where markets move (breakouts leave no level to measure against), and the
    scores, the implied strategy and sequence windows would then run over gaps.
    """
    values = inputs.to_numpy(dtype=float)
    finite = np.isfinite(values)
    empty = [str(name) for name, seen in zip(inputs.columns, finite.any(axis=0), strict=True) if not seen]
    if empty:
        raise DataValidationError(
            f"{len(empty)} input column(s) have no value on these {len(inputs)} bars ({', '.join(empty[:5])}): "
            "load a longer history or leave those features out."
        )
    warm_up = int(finite.argmax(axis=0).max()) if values.shape[1] else 0
    usable = labels.notna().to_numpy() & (np.arange(len(values)) >= warm_up)
    if not usable.any():
        raise DataValidationError(
            f"No bar after the features' warm-up ({warm_up} bars) has a known label: load a longer history.")
    bars = np.flatnonzero(usable)
    return LabelledSample(inputs.iloc[bars].astype(float), labels.to_numpy()[bars].astype(int), bars)


def default_sizes(n_rows: int, train_size: int | None, test_size: int | None) -> tuple[int, int]:
    """Initial training rows (default half) and test rows per fold (default: the rest in 5 folds)."""
    train = int(train_size) if train_size else n_rows // 2
    test = int(test_size) if test_size else max(1, -(-(n_rows - train) // DEFAULT_FOLDS))
    return train, test


def _check_ohlcv(ohlcv: pd.DataFrame) -> None:
    missing = [c for c in OHLCV_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise DataValidationError(f"The OHLCV frame lacks {missing}; load it with pinelab_core.load_ohlcv.")
    if not isinstance(ohlcv.index, pd.DatetimeIndex) or not ohlcv.index.is_monotonic_increasing:
        raise DataValidationError("The OHLCV frame needs an increasing DatetimeIndex; load it with load_ohlcv.")
