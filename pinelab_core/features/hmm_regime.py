"""Market regimes from a Gaussian hidden Markov model (hmmlearn), causal by construction.

Each fit sees the 500 bars before its refit bar (`walkforward`): the one-bar log return and the log of
the 10-bar RMS return, standardised on that window. Two to four states are fitted and the count with the
lowest BIC is kept. States are then ordered by volatility (each state's mean of the 10-bar volatility input),
so state 0 is always the calmest and labels never swap between fits, and named on a fixed vocabulary: "calm"
when the state's typical volatility is below the window's average (log scale), else "volatile", with "bull" or
"bear" from the sign of the state's mean return; the most volatile of three or more states is "crisis" when
its mean return is negative. Several states may share a name: a regime's probability is their sum.

The regime at bar t is the forward-filtered probability P(state_t | bars <= t) under the fit serving t,
run from the start of that fit's window: never the Viterbi path or smoothed probabilities, which use later
bars. Rows before the first fit are NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory
from pinelab_core.features.walkforward import FitCache, quiet_single_thread, segments, walk_forward_lookback

__all__ = [
    "HMM_EVERY", "HMM_WINDOW", "REGIME_NAMES", "SPECS", "VOL_BARS", "HmmFit", "HmmPath", "fit_hmm", "hmm_inputs",
    "hmm_regime_path", "regime_summary", "state_names",
]

_f = feature_factory("hmm")
HMM_WINDOW = 500
HMM_EVERY = 100
VOL_BARS = 10
STATE_COUNTS = (2, 3, 4)
MAX_STATES = max(STATE_COUNTS)
#: Every regime a state can be named, in feature order.
REGIME_NAMES: tuple[str, ...] = ("calm bull", "calm bear", "volatile bull", "volatile bear", "crisis")
_VOL_FLOOR = 1e-12  # squared per-bar return: keeps log() finite on a halted market, far below any real move
_MIN_COVAR = 1e-3  # on standardised inputs: a state never collapses onto one point
_CACHE = FitCache()


@dataclass(frozen=True)
class HmmFit:
    """One fitted HMM with its states ordered by volatility (0 = calmest).

    Attributes:
        startprob, transmat, means, covars: the model on standardised inputs (means (K, 2), covars (K, 2, 2)).
        center, scale: how the inputs were standardised (the fit window's mean and standard deviation).
        return_mean, return_vol: each state's mean and standard deviation of the one-bar log return.
        names: each state's regime name (from `REGIME_NAMES`).
        bic: BIC per state count tried (a count whose fit failed is absent).
    """

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    return_mean: np.ndarray
    return_vol: np.ndarray
    names: tuple[str, ...]
    bic: dict[int, float]

    @property
    def n_states(self) -> int:
        return len(self.startprob)


@dataclass(frozen=True)
class HmmPath:
    """Forward-filtered state probabilities of a walk-forward run.

    Attributes:
        probabilities: (bars, 4) P(state k | bars <= t) with states by volatility rank; columns past the fit's
            state count are 0; NaN rows before the first fit.
        fit_of_bar: (bars,) index into `fits` of the fit serving each bar, -1 before the first.
        fits: the fits, in time order.
        refits: the bar position each fit starts serving from.
    """

    probabilities: np.ndarray
    fit_of_bar: np.ndarray
    fits: tuple[HmmFit, ...]
    refits: np.ndarray


def hmm_inputs(close: np.ndarray) -> np.ndarray:
    """(bars, 2): the one-bar log return and the log RMS return of the last 10 bars; NaN for the first 10 rows.

    Row t uses closes t-10 .. t only, element by element (no running sums), so a window's inputs are the
    same numbers whichever frame they are cut from.
    """
    n = len(close)
    out = np.full((n, 2), np.nan)
    if n <= VOL_BARS:
        return out
    returns = np.diff(np.log(close))
    mean_square = np.lib.stride_tricks.sliding_window_view(returns**2, VOL_BARS).mean(axis=1)
    out[1:, 0] = returns
    out[VOL_BARS:, 1] = 0.5 * np.log(mean_square + _VOL_FLOOR)
    return out


def state_names(return_mean: np.ndarray, volatile: np.ndarray) -> tuple[str, ...]:
    """Regime names of states ordered by volatility, from each state's mean return and whether its typical
    volatility is above the fit window's average."""
    count = len(return_mean)
    names = []
    for rank, (mean, wild) in enumerate(zip(return_mean, volatile, strict=True)):
        if count >= 3 and rank == count - 1 and mean <= 0:
            names.append("crisis")
        else:
            names.append(f"{'volatile' if wild else 'calm'} {'bull' if mean > 0 else 'bear'}")
    return tuple(names)


def fit_hmm(inputs: np.ndarray, counts: tuple[int, ...] = STATE_COUNTS, seed: int = 0) -> HmmFit:
    """Fit Gaussian HMMs with each state count on `inputs` (rows of `hmm_inputs`); keep the lowest BIC.

    Cached by the exact input bytes: the same window always gives the same fit. A window too degenerate for
    any count (a halted market) gets a single-state fit, so every bar after the warm-up has a regime.
    """
    return _CACHE.get(("hmm", counts, seed), inputs, lambda: _fit_uncached(inputs, counts, seed))


def _fit_uncached(inputs: np.ndarray, counts: tuple[int, ...], seed: int) -> HmmFit:
    from hmmlearn.hmm import GaussianHMM  # imported on first fit: it pulls scikit-learn, seconds at start-up

    center = inputs.mean(axis=0)
    scale = inputs.std(axis=0)
    scale[~(scale > 0)] = 1.0  # a constant input: centred, left unscaled
    z = (inputs - center) / scale
    best: tuple[float, Any] | None = None
    bic: dict[int, float] = {}
    with quiet_single_thread(), _quiet_hmmlearn():
        for count in counts:
            model = GaussianHMM(count, covariance_type="full", n_iter=50, tol=1e-2, random_state=seed,
                                implementation="scaling", min_covar=_MIN_COVAR)
            try:
                model.fit(z)
                loglik = float(model.score(z))
            except (ValueError, np.linalg.LinAlgError):
                continue
            if not (np.isfinite(loglik) and np.isfinite(model.transmat_).all() and np.isfinite(model.means_).all()):
                continue
            if not _well_posed(model.covars_):
                continue
            d = z.shape[1]
            parameters = (count - 1) + count * (count - 1) + count * d + count * d * (d + 1) // 2
            bic[count] = -2.0 * loglik + parameters * np.log(len(z))
            if best is None or bic[count] < best[0]:
                best = (bic[count], model)
    if best is None:
        return _single_state(z, center, scale)
    model = best[1]
    order = np.argsort(model.means_[:, 1], kind="stable")  # by typical volatility: labels cannot swap between fits
    return _ordered_fit(model.startprob_[order], model.transmat_[np.ix_(order, order)], model.means_[order],
                        model.covars_[order], center, scale, bic)


def _well_posed(covars: np.ndarray) -> bool:
    """Every state's covariance positive definite, at least `min_covar` along every axis.

    hmmlearn can leave a state with a singular covariance (seen on DEMO-BTC hourly windows: a state collapsed
    onto a line of points). Its density is infinite on that line, so the BIC favours the fit, while the
    emission density elsewhere is NaN and the forward filter learns nothing from any bar: such a count is
    dropped like a failed fit.
    """
    eigenvalues = np.linalg.eigvalsh(covars)
    return bool(np.isfinite(eigenvalues).all() and eigenvalues.min() >= 0.5 * _MIN_COVAR)


def _single_state(z: np.ndarray, center: np.ndarray, scale: np.ndarray) -> HmmFit:
    covar = np.cov(z, rowvar=False) + _MIN_COVAR * np.eye(z.shape[1])
    return _ordered_fit(np.ones(1), np.ones((1, 1)), z.mean(axis=0, keepdims=True), covar[None], center, scale, {})


def _ordered_fit(startprob: np.ndarray, transmat: np.ndarray, means: np.ndarray, covars: np.ndarray,
                 center: np.ndarray, scale: np.ndarray, bic: dict[int, float]) -> HmmFit:
    return_mean = means[:, 0] * scale[0] + center[0]
    return_vol = np.sqrt(covars[:, 0, 0]) * scale[0]
    volatile = means[:, 1] > 0.0  # above the window's average log volatility (the inputs are centred on it)
    return HmmFit(startprob, transmat, means, covars, center, scale, return_mean, return_vol,
                  state_names(return_mean, volatile), bic)


class _quiet_hmmlearn:  # noqa: N801 - used as a context manager, reads like one
    """hmmlearn logs "Model is not converging" at WARNING on some windows; the BIC choice already judges fits."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("hmmlearn")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def emission_loglik(fit: HmmFit, inputs: np.ndarray) -> np.ndarray:
    """(rows, K) log density of each input row under each state's 2-d Gaussian, element by element."""
    z = (inputs - fit.center) / fit.scale
    out = np.empty((len(z), fit.n_states))
    for k in range(fit.n_states):
        (a, b), (_, c) = fit.covars[k]
        det = a * c - b * b
        dx, dy = z[:, 0] - fit.means[k, 0], z[:, 1] - fit.means[k, 1]
        quadratic = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det
        out[:, k] = -0.5 * (quadratic + np.log(det)) - np.log(2.0 * np.pi)
    return out


@numba.njit(cache=True)
def _forward_filter(loglik: np.ndarray, transmat: np.ndarray, startprob: np.ndarray,
                    out: np.ndarray) -> None:  # pragma: no cover - compiled
    """out[t] = P(state_t | rows <= t): the scaled forward recursion, one row at a time."""
    rows, states = loglik.shape
    alpha = startprob.copy()
    prior = np.empty(states)
    for t in range(rows):
        if t > 0:
            for j in range(states):
                total = 0.0
                for i in range(states):
                    total += alpha[i] * transmat[i, j]
                prior[j] = total
        else:
            prior[:] = startprob
        peak = loglik[t, 0]
        for k in range(1, states):
            peak = max(peak, loglik[t, k])
        norm = 0.0
        for k in range(states):
            alpha[k] = prior[k] * np.exp(loglik[t, k] - peak)
            norm += alpha[k]
        if not norm > 0.0:  # every state rules the row out (an extreme outlier): keep the prior belief
            alpha[:] = prior
            norm = alpha.sum()
        for k in range(states):
            alpha[k] /= norm
            out[t, k] = alpha[k]


def hmm_regime_path(close: np.ndarray, index: pd.DatetimeIndex, *, window: int = HMM_WINDOW,
                    every: int = HMM_EVERY) -> HmmPath:
    """Walk-forward HMM over a close series: a fit per refit bar, forward-filtered probabilities per bar."""
    n = len(close)
    probabilities = np.full((n, MAX_STATES), np.nan)
    fit_of_bar = np.full(n, -1, dtype=np.int64)
    fits: list[HmmFit] = []
    refits: list[int] = []
    for part in segments(index, window=window, every=every, warmup=VOL_BARS):
        fit_inputs = hmm_inputs(np.array(close[part.fit_start - VOL_BARS : part.refit]))[VOL_BARS:]
        fit = fit_hmm(fit_inputs)
        served = hmm_inputs(np.array(close[part.fit_start - VOL_BARS : part.end]))[VOL_BARS:]
        filtered = np.empty((len(served), fit.n_states))
        _forward_filter(emission_loglik(fit, served), fit.transmat, fit.startprob, filtered)
        rows = slice(part.refit, part.end)
        probabilities[rows] = 0.0
        probabilities[rows, : fit.n_states] = filtered[part.refit - part.fit_start :]
        fit_of_bar[rows] = len(fits)
        fits.append(fit)
        refits.append(part.refit)
    return HmmPath(probabilities, fit_of_bar, tuple(fits), np.asarray(refits, dtype=np.int64))


_SUMMARY = (*(f"hmm_p_{name.replace(' ', '_')}" for name in REGIME_NAMES), "hmm_vol_rank", "hmm_exp_vol",
            "hmm_exp_return", "hmm_persistence", "hmm_n_states")
_LOOKBACK = walk_forward_lookback(window=HMM_WINDOW, every=HMM_EVERY, warmup=VOL_BARS)


def regime_summary(path: HmmPath, warmup: int = _LOOKBACK) -> np.ndarray:
    """(10, bars): the named regime probabilities, then vol rank, expected vol and return, persistence, count.

    The first `warmup` rows are NaN (the features' catalog lookback: the same rows on every frame).
    """
    n = len(path.fit_of_bar)
    out = np.full((len(_SUMMARY), n), np.nan)
    for number, fit in enumerate(path.fits):
        rows = np.flatnonzero(path.fit_of_bar == number)
        p = path.probabilities[rows, : fit.n_states]
        named = np.zeros((fit.n_states, len(REGIME_NAMES)))
        named[np.arange(fit.n_states), [REGIME_NAMES.index(name) for name in fit.names]] = 1.0
        ranks = np.arange(fit.n_states) / max(fit.n_states - 1, 1)
        out[: len(REGIME_NAMES), rows] = (p @ named).T
        out[5, rows] = p @ ranks
        out[6, rows] = p @ fit.return_vol
        out[7, rows] = p @ fit.return_mean
        out[8, rows] = p @ np.diag(fit.transmat)
        out[9, rows] = fit.n_states
    out[:, :warmup] = np.nan
    return out


def _summary(b: Bars) -> np.ndarray:
    return b.memo("hmm_summary", lambda: regime_summary(hmm_regime_path(b.close, b.index)))


def _column(row: int) -> ComputeFn:
    return lambda b: _summary(b)[row]


_PARAMS = {"window": HMM_WINDOW, "every": HMM_EVERY, "vol_bars": VOL_BARS, "states": "2-4 by BIC"}
_TEXT = ("calm bull", "calm bear", "volatile bull", "volatile bear", "crisis (the most volatile state, falling)")

SPECS: list[FeatureSpec] = [
    *(_f(column, _LOOKBACK, f"HMM regime probability: {text} (forward-filtered, walk-forward fit)", _column(row),
         history=_LOOKBACK + 1, **_PARAMS)
      for row, (column, text) in enumerate(zip(_SUMMARY[:5], _TEXT, strict=True))),
    _f("hmm_vol_rank", _LOOKBACK, "Expected volatility rank of the HMM state: 0 calmest, 1 most volatile",
       _column(5), history=_LOOKBACK + 1, **_PARAMS),
    _f("hmm_exp_vol", _LOOKBACK, "Expected per-bar return volatility under the HMM state probabilities",
       _column(6), history=_LOOKBACK + 1, **_PARAMS),
    _f("hmm_exp_return", _LOOKBACK, "Expected per-bar log return under the HMM state probabilities", _column(7),
       history=_LOOKBACK + 1, **_PARAMS),
    _f("hmm_persistence", _LOOKBACK, "Probability that the HMM state holds for the next bar", _column(8),
       history=_LOOKBACK + 1, **_PARAMS),
    _f("hmm_n_states", _LOOKBACK, "HMM state count chosen by BIC (2-4; 1 on a degenerate window)", _column(9),
       history=_LOOKBACK + 1, **_PARAMS),
]
