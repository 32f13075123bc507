"""Anomaly features: robust z-scores of return, volume and range against the bars before, an isolation forest
refitted walk-forward on those z-scores, and the sparse-reconstruction error of the price window.

Robust z-score of x at bar t: (x[t] - median) / (IQR / 1.349), the median and interquartile range taken over
the 250 bars *before* t, so a bar is judged against the past and never against itself. Volume is judged on a
log scale (the logs of the volume quantiles), the range as log(high / low). Scores are capped at +-20: against
a window without any spread (a halt, a market without volume) a bar reads 0 when it does not move and the
cap when it does.

The isolation forest (scikit-learn, 100 trees) is fitted on the z-score triples of the 500 bars before each
refit bar (`walkforward`) and scores the bars it serves: -score_samples, about 0.4 for ordinary bars and
towards 1 for the isolated ones.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.features.sparse import SPARSE_ATOMS, SPARSE_WINDOW, sparse_errors
from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory
from pinelab_core.features.walkforward import FitCache, quiet_single_thread, segments, walk_forward_lookback

__all__ = ["FOREST_EVERY", "FOREST_WINDOW", "ROBUST_WINDOW", "SPECS", "forest_scores", "robust_zscores"]

_f = feature_factory("anomaly")
ROBUST_WINDOW = 250
Z_CAP = 20.0
FOREST_WINDOW = 500
FOREST_EVERY = 250
_IQR_TO_SIGMA = 1.349  # the IQR of a normal distribution in standard deviations
_CACHE = FitCache(size=1_024)


def _robust_z(values: np.ndarray, window: int, log_scale: bool = False) -> np.ndarray:
    """Robust z-score of each value against the `window` values before it, capped; NaN for the first window rows.

    With `log_scale` the quantiles are taken of the values, then logged (pandas' rolling quantiles cannot hold
    the -inf of a bar without volume). A window without spread scores 0 for a value equal to its median and
    the cap, with the sign of the move, for any other.
    """
    rolling = pd.Series(values).rolling(window)
    median, low, high = (rolling.quantile(q).shift(1).to_numpy() for q in (0.5, 0.25, 0.75))
    with np.errstate(divide="ignore", invalid="ignore"):
        if log_scale:
            values, median, low, high = np.log(values), np.log(median), np.log(low), np.log(high)
        offset = values - median
        scale = (high - low) / _IQR_TO_SIGMA
        z = offset / scale
        flat = np.where(values == median, 0.0, np.sign(offset) * Z_CAP)  # -inf == -inf: no volume, as usual
    z = np.where(scale > 0, z, flat)
    out = np.clip(z, -Z_CAP, Z_CAP)
    out[np.isnan(out)] = 0.0
    out[:window] = np.nan
    return out


def robust_zscores(bars: Bars, window: int = ROBUST_WINDOW) -> np.ndarray:
    """(3, bars): robust z-scores of the one-bar log return, the volume (log scale) and log(high / low)."""

    def make() -> np.ndarray:
        out = bars.block([f"rz_{name}_{window}" for name in ("return", "volume", "range")])
        out[0] = _robust_z(bars.log_return, window)
        out[0, : window + 1] = np.nan  # bar 0 has no return: its window is one bar shorter
        out[1] = _robust_z(bars.volume, window, log_scale=True)
        out[2] = _robust_z(bars.log_high - bars.log_low, window)
        return out

    return bars.memo(("robust_z", window), make)


def forest_scores(inputs: np.ndarray, index: pd.DatetimeIndex, *, window: int = FOREST_WINDOW,
                  every: int = FOREST_EVERY, seed: int = 0) -> np.ndarray:
    """Walk-forward isolation-forest anomaly score per bar of `inputs` (bars x features, NaN rows = warm-up)."""
    out = np.full(len(inputs), np.nan)
    known = np.flatnonzero(np.isfinite(inputs).all(axis=1))
    if not len(known):
        return out
    for part in segments(index, window=window, every=every, warmup=int(known[0])):  # fit after the inputs' warm-up
        fit_rows = np.ascontiguousarray(inputs[part.fit_start : part.refit])
        forest = _CACHE.get(("iforest", seed), fit_rows, functools.partial(_fit_forest, fit_rows, seed))
        with quiet_single_thread():
            out[part.refit : part.end] = -forest.score_samples(inputs[part.refit : part.end])
    return out


def _fit_forest(rows: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import IsolationForest  # imported on first fit: seconds at start-up

    with quiet_single_thread():
        return IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(rows)


_Z_LOOKBACK = ROBUST_WINDOW + 1
_FOREST_LOOKBACK = walk_forward_lookback(window=FOREST_WINDOW, every=FOREST_EVERY, warmup=_Z_LOOKBACK)


def _forest(b: Bars) -> np.ndarray:
    def make() -> np.ndarray:
        scores = forest_scores(robust_zscores(b).T, b.index)
        scores[:_FOREST_LOOKBACK] = np.nan
        return scores

    return b.memo("iforest", make)


def _z(row: int) -> ComputeFn:
    return lambda b: robust_zscores(b)[row]


def _max_abs_z(b: Bars) -> np.ndarray:
    return np.abs(robust_zscores(b)).max(axis=0)


_RZ = {"window": ROBUST_WINDOW, "scale": "median, IQR / 1.349 of the bars before", "cap": Z_CAP}

SPECS: list[FeatureSpec] = [
    _f(f"rz_return_{ROBUST_WINDOW}", _Z_LOOKBACK, "Robust z-score of the log return against the previous 250 bars",
       _z(0), **_RZ),
    _f(f"rz_volume_{ROBUST_WINDOW}", _Z_LOOKBACK - 1, "Robust z-score of log volume against the previous 250 bars",
       _z(1), **_RZ),
    _f(f"rz_range_{ROBUST_WINDOW}", _Z_LOOKBACK - 1,
       "Robust z-score of log(high / low) against the previous 250 bars", _z(2), **_RZ),
    _f(f"rz_max_{ROBUST_WINDOW}", _Z_LOOKBACK, "Largest absolute robust z-score of return, volume and range",
       _max_abs_z, **_RZ),
    _f("iforest_score", _FOREST_LOOKBACK, "Isolation-forest anomaly score of the return/volume/range z-scores "
       "(about 0.4 ordinary, towards 1 isolated; walk-forward fit)", _forest, history=_FOREST_LOOKBACK + 1,
       window=FOREST_WINDOW, every=FOREST_EVERY, trees=100),
    _f(f"sparse_error_{SPARSE_WINDOW}", SPARSE_WINDOW - 1, "Share of the last 64 log closes that an 8-atom "
       "DCT + Haar sparse fit leaves unexplained (0-1)", lambda b: sparse_errors(b.log_close),
       window=SPARSE_WINDOW, atoms=SPARSE_ATOMS),
]
