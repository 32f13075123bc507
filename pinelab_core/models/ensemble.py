"""The ensemble: a calibrated, weighted log-linear pool of the active models' class probabilities.

    score_k = sum_m (w_m / T) * clr(p_m)_k + b_k        p_ensemble = softmax(score)

`clr` is the centred log-probability (`calibration.centred_log_probs`), `w` lies on the simplex, `T` is
the temperature and `b` a centred class bias. Weights, temperature and bias are fit *together* on the
members' out-of-fold walk-forward predictions by minimising multi-class log loss (a convex problem, so
the same data always give the same weights). The pool's own scores (hit rate, log loss, reliability) are
cross-fitted: the out-of-fold rows are cut into `CROSS_FIT_BLOCKS` chronological blocks and each block is
scored by a pool fitted on the blocks before it only, so no reported number was fitted on its own outcomes.
The seeds' fixed weights (trees 0.40, LSTM 0.35, CNN 0.25)
are only the fallback when no out-of-fold rows exist. A log-linear pool (rather than an average of
probabilities) is chosen because `score` is then *linear* in each member's centred log-probabilities:
SHAP values of the members combine into exactly additive SHAP values of the ensemble.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.models.calibration import (
    Calibration,
    brier_score,
    centred_log_probs,
    expected_calibration_error,
    log_loss,
)
from pinelab_core.types import Action

__all__ = [
    "CROSS_FIT_BLOCKS",
    "FALLBACK_GROUP_WEIGHTS",
    "MIN_OOF_ROWS",
    "PROB_COLUMNS",
    "Ensemble",
    "Forecast",
    "Prediction",
    "align_oof",
    "cross_fitted_scores",
    "fallback_weights",
    "fit_ensemble",
    "signal_for",
]

#: Out-of-fold probability columns, in `DIRECTION_CLASSES` order.
PROB_COLUMNS: tuple[str, ...] = tuple(f"prob_{name}" for name in DIRECTION_CLASSES)
#: Fewer aligned out-of-fold rows than this and the fixed fallback weights are used instead.
MIN_OOF_ROWS = 60
#: Chronological blocks of the out-of-fold rows; block k is scored by the pool fitted on blocks < k.
CROSS_FIT_BLOCKS = 5
#: The seeds' fixed weights per model family, used only when there is nothing to learn weights from.
FALLBACK_GROUP_WEIGHTS: dict[str, float] = {"trees": 0.40, "lstm": 0.35, "cnn": 0.25}
_TREE_KINDS = {"lightgbm", "xgboost", "random_forest", "extra_trees", "catboost"}
_SIGNAL_OF_CLASS = {"UP": Action.BUY, "DOWN": Action.SELL, "SIDEWAYS": Action.HOLD}


@dataclass(frozen=True)
class Forecast:
    """A price forecast `horizon` bars ahead: median and an interval (10% / 90% quantiles by default)."""

    horizon: int
    target_time: pd.Timestamp
    expected_return: float  # median forward log return
    lower_return: float
    upper_return: float
    price: float
    lower_price: float
    upper_price: float
    interval: float = 0.8  # coverage the interval is fit for
    method: str = "quantile-lightgbm"


@dataclass
class Prediction:
    """What the models say about one symbol at one bar: the ensemble's call and everything behind it."""

    symbol: str
    timeframe: str
    bar_time: pd.Timestamp
    horizon: int
    signal: Action
    confidence: float  # calibrated probability of the chosen class
    probabilities: dict[str, float]  # ensemble, calibrated, by class name
    models: dict[str, dict[str, float]]  # member "name/vN" -> its own probabilities by class name
    weights: dict[str, float]  # member "name/vN" -> weight in the pool
    agreement: float  # weight share of members whose top class is the ensemble's
    model_versions: list[str]
    close: float
    source: str = ""
    weights_source: str = "out-of-fold"
    forecasts: list[Forecast] = field(default_factory=list)
    input_fingerprint: str = ""
    trained_on: list[str] = field(default_factory=list)  # symbols the members were trained on
    #: True when the bar is not the market's newest, or lies inside the models' training range: such a
    #: prediction describes a past the models may have learned from, so it never enters the live track record.
    in_sample: bool = False
    trained_through: pd.Timestamp | None = None  # the newest bar the models learned from

    @property
    def chosen_class(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)


def signal_for(probabilities: np.ndarray, min_confidence: float = 0.0) -> tuple[Action, int, float]:
    """Map ensemble probabilities to (signal, chosen class index, confidence).

    UP -> BUY, DOWN -> SELL, SIDEWAYS -> HOLD; a top class below `min_confidence` is HOLD.
    """
    chosen = int(np.argmax(probabilities))
    confidence = float(probabilities[chosen])
    signal = _SIGNAL_OF_CLASS[DIRECTION_CLASSES[chosen]]
    if confidence < min_confidence:
        signal = Action.HOLD
    return signal, chosen, confidence


@dataclass(frozen=True)
class Ensemble:
    """Weights and calibration of a pool of members (keyed "name/vN"); models themselves live elsewhere."""

    members: tuple[str, ...]
    weights: tuple[float, ...]
    calibration: Calibration
    weights_source: str  # "out-of-fold" or "fallback"
    n_oof_rows: int = 0
    oof_metrics: dict[str, float] = field(default_factory=dict)  # cross-fitted: see the module docstring
    #: The cross-fitted pool's probabilities (prob_* columns) and outcomes (y_true) by bar: the rows the
    #: metrics and the pages' "out of fold" calibration are computed on.
    cross_fitted: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def coefficients(self, available: np.ndarray | None = None) -> np.ndarray:
        """Per-row score coefficient of each member, w_m / T, renormalised over the members available.

        Args:
            available: (n, n_members) bool, False where a member has no probabilities for that row
                (a sequence net without a full window). None means all available.
        """
        weights = np.asarray(self.weights, dtype=float)[None, :]
        if available is None:
            return weights / self.calibration.temperature
        masked = np.where(available, weights, 0.0)
        total = masked.sum(axis=1, keepdims=True)
        return np.divide(masked, total, out=np.zeros_like(masked), where=total > 0) / self.calibration.temperature

    def scores(self, member_probs: np.ndarray) -> np.ndarray:
        """Centred log scores (n, n_classes) of the pool; `softmax(scores)` are the ensemble probabilities."""
        member_probs = np.asarray(member_probs, dtype=float)
        available = np.isfinite(member_probs).all(axis=2)
        clr = np.nan_to_num(centred_log_probs(np.where(available[..., None], member_probs, 1.0)))
        coefficients = self.coefficients(available)
        return np.einsum("nm,nmk->nk", coefficients, clr) + self.calibration.centred_bias()

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        """Calibrated ensemble probabilities from members' probabilities of shape (n, n_members, n_classes)."""
        return softmax(self.scores(member_probs), axis=1)

    def agreement(self, member_probs: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """Weight share (0..1) of the available members whose own top class is the ensemble's `chosen` class."""
        member_probs = np.asarray(member_probs, dtype=float)
        available = np.isfinite(member_probs).all(axis=2)
        shares = self.coefficients(available) * self.calibration.temperature
        agrees = np.nan_to_num(member_probs, nan=-1.0).argmax(axis=2) == np.asarray(chosen)[:, None]
        return (shares * agrees).sum(axis=1)

    def to_dict(self) -> dict[str, object]:
        return {"members": list(self.members), "weights": list(self.weights),
                "calibration": self.calibration.to_dict(), "weights_source": self.weights_source,
                "n_oof_rows": self.n_oof_rows, "oof_metrics": dict(self.oof_metrics)}


def fallback_weights(kinds: Mapping[str, str]) -> dict[str, float]:
    """The seeds' fixed weights for members {key: kind}: trees 0.40, LSTM 0.35, CNN 0.25, renormalised.

    Families that are absent give their share to the others; members of one family split its share.
    Unknown kinds form their own family with the CNN's share.
    """
    groups: dict[str, list[str]] = {}
    for key, kind in kinds.items():
        group = "trees" if kind in _TREE_KINDS else kind if kind in FALLBACK_GROUP_WEIGHTS else "other"
        groups.setdefault(group, []).append(key)
    share = {group: FALLBACK_GROUP_WEIGHTS.get(group, FALLBACK_GROUP_WEIGHTS["cnn"]) for group in groups}
    total = sum(share.values())
    return {key: share[group] / total / len(keys) for group, keys in groups.items() for key in keys}


def align_oof(member_oof: Mapping[str, pd.DataFrame | None]) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Stack members' out-of-fold predictions on the bars all of them predicted.

    Returns:
        (probs of shape (n, n_members, n_classes), y_true (n,), the bar times).
    """
    frames = []
    for key, oof in member_oof.items():
        if oof is None or oof.empty:
            return np.empty((0, len(member_oof), len(PROB_COLUMNS))), np.empty(0, dtype=int), pd.DatetimeIndex([])
        part = oof[[*PROB_COLUMNS, "y_true"]].dropna()
        part = part[~part.index.duplicated(keep="last")]
        frames.append(part.add_prefix(f"{key}|"))
    joined = pd.concat(frames, axis=1, join="inner").sort_index()
    keys = list(member_oof)
    probs = np.stack([joined[[f"{key}|{c}" for c in PROB_COLUMNS]].to_numpy(float) for key in keys], axis=1)
    y_true = joined[f"{keys[0]}|y_true"].to_numpy().astype(int)
    return probs, y_true, pd.DatetimeIndex(joined.index)


def fit_ensemble(kinds: Mapping[str, str], member_oof: Mapping[str, pd.DataFrame | None] | None = None) -> Ensemble:
    """Learn pool weights, temperature and class bias from out-of-fold predictions (fallback: fixed weights).

    Args:
        kinds: member key ("name/vN") -> model kind ("lightgbm", "lstm", ...), in pool order.
        member_oof: member key -> out-of-fold frame (time index, prob_DOWN/prob_SIDEWAYS/prob_UP, y_true).
            Missing, empty or too short (< `MIN_OOF_ROWS` bars shared by all members) -> fallback weights.

    Returns:
        The `Ensemble` fitted on every out-of-fold row (what predictions use), with its log loss, Brier
        score, calibration error and hit rate in `oof_metrics`, all scored cross-fitted (`cross_fitted`).
    """
    keys = tuple(kinds)
    probs = np.empty((0, len(keys), len(DIRECTION_CLASSES)))
    y_true = np.empty(0, dtype=int)
    times = pd.DatetimeIndex([])
    if member_oof and all(member_oof.get(key) is not None for key in keys):
        probs, y_true, times = align_oof({key: member_oof[key] for key in keys})
    ensemble = _fit_parameters(kinds, probs, y_true)
    if ensemble.weights_source == "fallback":
        return ensemble
    scored = cross_fitted_scores(kinds, probs, y_true, times)
    pooled, truth = scored[list(PROB_COLUMNS)].to_numpy(), scored["y_true"].to_numpy(dtype=int)
    metrics = {"log_loss": log_loss(pooled, truth), "brier": brier_score(pooled, truth),
               "calibration_error": expected_calibration_error(pooled, truth),
               "hit_rate": float((pooled.argmax(axis=1) == truth).mean()) if len(truth) else float("nan"),
               "n_scored": float(len(truth))}
    return Ensemble(ensemble.members, ensemble.weights, ensemble.calibration, ensemble.weights_source,
                    ensemble.n_oof_rows, metrics, scored)


def cross_fitted_scores(kinds: Mapping[str, str], probs: np.ndarray, y_true: np.ndarray, times: pd.DatetimeIndex,
                        n_blocks: int = CROSS_FIT_BLOCKS) -> pd.DataFrame:
    """The pool's probabilities on aligned out-of-fold rows, each block scored by a pool fitted before it.

    The first block has no past to learn from and is not scored; a block whose past is shorter than
    `MIN_OOF_ROWS` is scored with the fixed fallback weights, as the deployed pool would have been then.

    Returns:
        prob_* columns and y_true, indexed by bar time (the rows of blocks 2..n_blocks).
    """
    edges = np.linspace(0, len(y_true), n_blocks + 1).round().astype(int)
    parts = []
    for start, stop in zip(edges[1:-1], edges[2:], strict=True):
        if stop <= start:
            continue
        earlier = _fit_parameters(kinds, probs[:start], y_true[:start])
        parts.append(pd.DataFrame(earlier.combine(probs[start:stop]), index=times[start:stop],
                                  columns=list(PROB_COLUMNS)).assign(y_true=y_true[start:stop]))
    if not parts:
        return pd.DataFrame(columns=[*PROB_COLUMNS, "y_true"], index=pd.DatetimeIndex([], name="time"))
    return pd.concat(parts)


def _fit_parameters(kinds: Mapping[str, str], probs: np.ndarray, y_true: np.ndarray) -> Ensemble:
    """Weights, temperature and bias fitted on these rows (fixed fallback weights with too few rows)."""
    keys = tuple(kinds)
    n_classes = len(DIRECTION_CLASSES)
    if len(y_true) < MIN_OOF_ROWS:
        fixed = fallback_weights(kinds)
        return Ensemble(keys, tuple(fixed[k] for k in keys), Calibration(class_bias=(0.0,) * n_classes), "fallback")
    coefficients, bias = _fit_pool(centred_log_probs(probs), y_true)
    total = float(coefficients.sum())
    if total < 1e-3:
        # No member beats the class base rates out of fold: the pool predicts those rates (an honest "no edge").
        weights, temperature = np.full(len(keys), 1.0 / len(keys)), 1e3
    else:
        weights, temperature = coefficients / total, 1.0 / total
    return Ensemble(keys, tuple(float(w) for w in weights),
                    Calibration(temperature=float(temperature), class_bias=tuple(float(b) for b in bias)),
                    "out-of-fold", n_oof_rows=len(y_true))


def _fit_pool(clr: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimise log loss of softmax(sum_m a_m clr_m + b) over a >= 0 and a centred bias b (convex)."""
    n_members, n_classes = clr.shape[1], clr.shape[2]
    rows = np.arange(len(y_true))

    def loss(params: np.ndarray) -> float:
        a, bias = params[:n_members], np.concatenate([[0.0], params[n_members:]])
        logp = log_softmax(np.einsum("m,nmk->nk", a, clr) + bias, axis=1)
        return float(-logp[rows, y_true].mean())

    start = np.concatenate([np.full(n_members, 1.0 / n_members), np.zeros(n_classes - 1)])
    bounds = [(0.0, 50.0)] * n_members + [(-10.0, 10.0)] * (n_classes - 1)
    result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    bias = np.concatenate([[0.0], result.x[n_members:]])
    return result.x[:n_members], bias - bias.mean()
