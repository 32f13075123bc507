"""Sparse reconstruction of price windows over a DCT + Haar wavelet dictionary (compressed-sensing style).

A window of log closes, standardised, is approximated by a few atoms of an overcomplete dictionary: the
orthonormal DCT-II basis (smooth trends and cycles) next to the orthonormal Haar wavelet basis (level
shifts and jumps). Orthogonal matching pursuit picks the atoms greedily and refits them by least squares.
What a handful of atoms cannot explain (the residual energy share, 0 to 1) is the window's anomaly score:
ordinary windows are trends, cycles and steps; a window of structureless churn or an odd shape is not.

The rolling score is compiled with numba, one window at a time (each window's numbers never depend on its
neighbours, so the score is causal and needs exactly `window` bars); `tests` check it selects the same atoms
and leaves the same residual as scikit-learn's `orthogonal_mp`.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import pywt
from scipy.fft import idct

__all__ = ["SPARSE_ATOMS", "SPARSE_WINDOW", "sparse_dictionary", "sparse_errors"]

SPARSE_WINDOW = 64
SPARSE_ATOMS = 8
_FLAT = 1e-12  # standard deviation of a window's log closes below which it did not move: no shape to judge


@functools.cache
def sparse_dictionary(window: int = SPARSE_WINDOW) -> np.ndarray:
    """(window, 2 * window) unit-norm atoms: the DCT-II basis, then the Haar wavelet basis (power-of-two window)."""
    if window < 2 or window & (window - 1):
        raise ValueError(f"the sparse dictionary needs a power-of-two window, got {window}")
    dct = idct(np.eye(window), type=2, norm="ortho", axis=0)
    levels = pywt.dwt_max_level(window, "haar")
    template = pywt.wavedec(np.zeros(window), "haar", mode="periodization", level=levels)
    haar = np.empty((window, window))
    for atom in range(window):
        flat = np.zeros(window)
        flat[atom] = 1.0
        coefficients, position = [], 0
        for part in template:
            coefficients.append(flat[position : position + len(part)])
            position += len(part)
        haar[:, atom] = pywt.waverec(coefficients, "haar", mode="periodization")
    atoms = np.hstack([dct, haar])
    atoms /= np.linalg.norm(atoms, axis=0)
    atoms.setflags(write=False)
    return atoms


@numba.njit(cache=True)
def _omp_window(y: np.ndarray, dictionary: np.ndarray, gram: np.ndarray, atoms: int,
                chosen: np.ndarray, coefs: np.ndarray) -> float:  # pragma: no cover - compiled
    """OMP with `atoms` atoms on one standardised window; fills `chosen`/`coefs`, returns the residual energy."""
    n_atoms = dictionary.shape[1]
    correlation = dictionary.T @ y
    current = correlation.copy()
    energy = float(y @ y)
    used = np.zeros(n_atoms, dtype=np.bool_)
    residual = energy
    for k in range(atoms):
        best, strongest = -1, -1.0
        for j in range(n_atoms):
            if not used[j] and abs(current[j]) > strongest:
                best, strongest = j, abs(current[j])
        used[best] = True
        chosen[k] = best
        picked = chosen[: k + 1]
        system = np.empty((k + 1, k + 1))
        for a in range(k + 1):
            for b in range(k + 1):
                system[a, b] = gram[picked[a], picked[b]]
        target = correlation[picked]
        solution = np.linalg.solve(system, target)
        coefs[: k + 1] = solution
        for j in range(n_atoms):  # correlations of the new residual: D'y - G[:, S] a
            total = correlation[j]
            for a in range(k + 1):
                total -= gram[j, picked[a]] * solution[a]
            current[j] = total
        residual = energy - float(target @ solution)  # |y - D_S a|^2 for the least-squares a
    return max(residual, 0.0)


@numba.njit(cache=True)
def _rolling_errors(series: np.ndarray, dictionary: np.ndarray, gram: np.ndarray, atoms: int,
                    out: np.ndarray) -> None:  # pragma: no cover - compiled
    window = dictionary.shape[0]
    chosen = np.empty(atoms, dtype=np.int64)
    coefs = np.empty(atoms)
    y = np.empty(window)
    for t in range(window - 1, len(series)):
        values = series[t - window + 1 : t + 1]
        if np.isnan(values).any():
            continue
        mean = values.mean()
        spread = np.sqrt(((values - mean) ** 2).mean())
        if spread < _FLAT:
            out[t] = 0.0  # a flat window is the simplest shape there is
            continue
        for i in range(window):
            y[i] = (values[i] - mean) / spread
        out[t] = _omp_window(y, dictionary, gram, atoms, chosen, coefs) / window


def sparse_errors(log_close: np.ndarray, window: int = SPARSE_WINDOW, atoms: int = SPARSE_ATOMS) -> np.ndarray:
    """Per bar, the residual energy share (0-1) of the trailing `window` log closes after an `atoms`-atom OMP
    fit over the DCT + Haar dictionary; NaN for the first window - 1 bars."""
    dictionary = sparse_dictionary(window)
    out = np.full(len(log_close), np.nan)
    _rolling_errors(np.ascontiguousarray(log_close, dtype=np.float64), np.ascontiguousarray(dictionary),
                    dictionary.T @ dictionary, atoms, out)
    return out
