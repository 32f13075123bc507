"""How much of a sweep's winner is luck: the deflated Sharpe ratio and the probability of backtest overfitting.

Both work from streamed sufficient statistics, so a sweep never keeps every equity curve: each trial keeps,
per block of bars, the count and the sums of r, r^2, r^3, r^4 of its per-bar returns (`block_moments`).

References: Bailey & Lopez de Prado, "The Deflated Sharpe Ratio" (2014); Bailey, Borwein, Lopez de Prado &
Zhu, "The Probability of Backtest Overfitting" (2015), combinatorially symmetric cross-validation (CSCV).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numba import njit
from scipy.stats import norm

from pinelab_core.errors import DataValidationError

__all__ = ["N_BLOCKS", "block_moments", "deflated_sharpe_ratio", "moments_sharpe", "probability_of_overfitting"]

N_BLOCKS = 16
_EULER_GAMMA = 0.5772156649015329


def block_moments(returns: np.ndarray, n_blocks: int = N_BLOCKS) -> np.ndarray:
    """(n_blocks, 5): count and sums of r, r^2, r^3, r^4 of per-bar returns over contiguous blocks."""
    values = np.ascontiguousarray(np.nan_to_num(np.asarray(returns, dtype=np.float64)))
    if len(values) < n_blocks:
        raise DataValidationError(f"{len(values)} bars cannot be split into {n_blocks} blocks.")
    edges = np.linspace(0, len(values), n_blocks + 1).astype(np.int64)
    return _moments(values, edges)


@njit(cache=True)
def _moments(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """One pass over the returns: per block, the count and the sums of the first four powers."""
    out = np.zeros((len(edges) - 1, 5))
    for b in range(len(edges) - 1):
        for i in range(edges[b], edges[b + 1]):
            r = values[i]
            r2 = r * r
            out[b, 0] += 1.0
            out[b, 1] += r
            out[b, 2] += r2
            out[b, 3] += r2 * r
            out[b, 4] += r2 * r2
    return out


def moments_sharpe(moments: np.ndarray) -> tuple[float, float, float, int]:
    """Per-bar Sharpe ratio, skewness and (non-excess) kurtosis, and the bar count, from summed moments."""
    total = moments.sum(axis=0) if moments.ndim == 2 else moments
    n = int(total[0])
    if n < 2:
        return 0.0, 0.0, 3.0, n
    mean = total[1] / n
    var = max(total[2] / n - mean**2, 0.0)
    if var <= 1e-30:
        return 0.0, 0.0, 3.0, n
    third = total[3] / n - 3 * mean * total[2] / n + 2 * mean**3
    fourth = total[4] / n - 4 * mean * total[3] / n + 6 * mean**2 * total[2] / n - 3 * mean**4
    std = math.sqrt(var * n / (n - 1))
    return float(mean / std), float(third / var**1.5), float(fourth / var**2), n


def deflated_sharpe_ratio(sharpe: float, n_trials: int, sharpe_variance: float, n_obs: int, skew: float = 0.0,
                          kurtosis: float = 3.0) -> float:
    """Probability that the true Sharpe ratio exceeds the best one expected from `n_trials` lucky tries.

    Args:
        sharpe: the winner's per-bar (not annualised) Sharpe ratio.
        n_trials: how many configurations the sweep tried.
        sharpe_variance: variance of the per-bar Sharpe ratios across the trials.
        n_obs: bars in the winner's return series.
        skew: skewness of the winner's returns.
        kurtosis: kurtosis (3 for normal) of the winner's returns.

    Returns:
        DSR in [0, 1]; above 0.95 the winner is unlikely to be a fluke of the search.
    """
    if n_obs < 2:
        return float("nan")
    if n_trials <= 1:
        expected_max = 0.0
    else:
        spread = math.sqrt(max(sharpe_variance, 0.0))
        expected_max = spread * ((1 - _EULER_GAMMA) * norm.ppf(1 - 1 / n_trials)
                                 + _EULER_GAMMA * norm.ppf(1 - 1 / (n_trials * math.e)))
    denominator = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if denominator <= 0:
        return float("nan")
    return float(norm.cdf((sharpe - expected_max) * math.sqrt(n_obs - 1) / math.sqrt(denominator)))


def probability_of_overfitting(moments: np.ndarray, chunk: int = 2048) -> float:
    """PBO by CSCV: the share of in-sample/out-of-sample splits where the in-sample winner ranks below the median.

    Args:
        moments: (n_trials, n_blocks, 5) block moments of every trial (`block_moments`), n_blocks even.

    Returns:
        PBO in [0, 1] (NaN with fewer than two trials). Near 0: the in-sample best also does well out of
        sample; 0.5 or more: choosing by in-sample performance is no better than a coin.
    """
    n_trials, n_blocks, _ = moments.shape
    if n_trials < 2:
        return float("nan")
    if n_blocks % 2:
        raise DataValidationError(f"CSCV needs an even number of blocks, got {n_blocks}.")
    masks = np.array([np.isin(np.arange(n_blocks), combo)
                      for combo in itertools.combinations(range(n_blocks), n_blocks // 2)], dtype=np.float64)
    logits = []
    for start in range(0, len(masks), chunk):
        part = masks[start:start + chunk]
        in_sample = _sharpe_of(np.einsum("cs,tsk->ctk", part, moments))
        out_sample = _sharpe_of(np.einsum("cs,tsk->ctk", 1.0 - part, moments))
        best = np.argmax(in_sample, axis=1)
        chosen = out_sample[np.arange(len(part)), best]
        rank = (out_sample < chosen[:, None]).sum(axis=1) + 0.5 * (out_sample == chosen[:, None]).sum(axis=1) + 0.5
        omega = rank / (n_trials + 1)
        logits.append(np.log(omega / (1 - omega)))
    return float(np.mean(np.concatenate(logits) <= 0))


def _sharpe_of(sums: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe of (..., 5) summed moments, 0 without variance."""
    n = np.maximum(sums[..., 0], 2.0)
    mean = sums[..., 1] / n
    var = np.maximum((sums[..., 2] - n * mean**2) / (n - 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 1e-30, mean / np.sqrt(var), 0.0)
