"""Spectral views of one market window: periodogram and dominant cycles, wavelet levels, causal wavelet
denoising and a sparse (compressed-sensing style) reconstruction.

What each view may use:
- The periodogram and the sparse reconstruction describe the *window as a whole* (one number per frequency
  or per atom, not per bar), the way a trader studies a chart; they are labelled so on the page.
- Everything drawn per bar is causal: the wavelet levels come from a causal (a trous) filter bank, so level
  values at bar t use bars <= t; the denoised price at bar t is the last point of a denoising of the 256
  bars up to t; the sparse-reconstruction error at bar t is the error of the 64-bar window ending at t.
  Causal lines lag: a filter that may not look ahead sees a turn only after it happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pywt
from scipy import signal

from pinelab_core.errors import DataValidationError
from pinelab_core.features.builder import check_ohlcv
from pinelab_core.features.sparse import sparse_dictionary

__all__ = [
    "SparseFit", "causal_denoise", "dominant_cycles", "periodogram", "sparse_reconstruction", "wavelet_levels",
]

WAVELET = "db4"
LEVELS = 5
DENOISE_WINDOW = 256  # the shortest window db4 splits into 5 levels: pywt.dwt_max_level(256, 8) == 5
DENOISED_LEVELS = 3


def periodogram(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Power per frequency of the linearly detrended log closes of the window (Hann taper).

    Returns:
        Rows from the slowest to the fastest cycle: frequency (cycles per bar), period_bars, power, share
        (of the total power).
    """
    log_close = np.log(check_ohlcv(ohlcv)["close"].to_numpy(dtype=np.float64))
    if len(log_close) < 16:
        raise DataValidationError(f"A periodogram needs at least 16 bars, got {len(log_close)}.")
    frequency, power = signal.periodogram(log_close, detrend="linear", window="hann", scaling="spectrum")
    frequency, power = frequency[1:], power[1:]  # drop the mean
    total = power.sum()
    return pd.DataFrame({"frequency": frequency, "period_bars": 1.0 / frequency, "power": power,
                         "share": power / total if total > 0 else np.zeros_like(power)})


def dominant_cycles(spectrum: pd.DataFrame, *, n: int = 5, min_period: float = 4.0,
                    bar_duration: pd.Timedelta | None = None) -> pd.DataFrame:
    """The `n` strongest spectral peaks of a `periodogram`, between `min_period` bars and a third of the window
    (a cycle must repeat three times to be told from a trend).

    Args:
        spectrum: a `periodogram`.
        n: most cycles returned.
        min_period: the fastest cycle considered, in bars.
        bar_duration: the average time per bar, gaps included ((last - first) / (bars - 1)), to say each cycle's
            length in calendar time too.

    Returns:
        period_bars, share (of the total power), period (calendar length as text, when `bar_duration` is
        given), strongest first.
    """
    window_bars = 1.0 / spectrum["frequency"].min() if len(spectrum) else 0.0
    usable = spectrum[(spectrum["period_bars"] >= min_period) & (spectrum["period_bars"] <= window_bars / 3)]
    peaks, _ = signal.find_peaks(usable["power"].to_numpy())
    top = usable.iloc[peaks].nlargest(n, "power")
    table = top[["period_bars", "share"]].reset_index(drop=True)
    if bar_duration is not None:
        table["period"] = [_duration_text(bar_duration * p) for p in table["period_bars"]]
    return table


def _duration_text(duration: pd.Timedelta) -> str:
    """"about 6.1 months", "about 3.5 days", "about 40 minutes": a cycle's length as a trader says it."""
    days = duration / pd.Timedelta(days=1)
    for unit, size in (("years", 365.25), ("months", 30.44), ("weeks", 7.0), ("days", 1.0), ("hours", 1 / 24)):
        if days >= 2 * size or unit == "hours" and days >= size:
            return f"about {days / size:.1f} {unit}"
    return f"about {days * 24 * 60:.0f} minutes"


def _spaced(taps: np.ndarray, gap: int) -> np.ndarray:
    """The taps `gap` bars apart, zeros between ("a trous": with holes)."""
    out = np.zeros((len(taps) - 1) * gap + 1)
    out[::gap] = taps
    return out


def _causal_filter_bank(series: np.ndarray, wavelet: str, levels: int) -> np.ndarray:
    """(levels + 1, bars): a trous detail levels d1..dL and the smooth sL, each a causal FIR filter of `series`;
    values before a level's filter length are NaN (they would mix in the filters' zero start)."""
    w = pywt.Wavelet(wavelet)
    # The filters in their minimum-phase order (most weight on the newest bars): a db4 smooth then lags about
    # one bar per level scale instead of six, the same magnitude response either way.
    high, low = np.asarray(w.rec_hi) / np.sqrt(2.0), np.asarray(w.rec_lo) / np.sqrt(2.0)
    out = np.full((levels + 1, len(series)), np.nan)
    smooth = series - series[0]  # the filters see a zero start: remove the level first, put it back below
    for level in range(1, levels + 1):
        gap = 2 ** (level - 1)
        detail = signal.lfilter(_spaced(high, gap), 1.0, smooth)
        smooth = signal.lfilter(_spaced(low, gap), 1.0, smooth)
        settle = (2**level - 1) * (w.dec_len - 1)
        out[level - 1, settle:] = detail[settle:]
        if level == levels:
            out[levels, settle:] = smooth[settle:] + series[0]
    return out


def wavelet_levels(ohlcv: pd.DataFrame, *, wavelet: str = WAVELET, levels: int = LEVELS) -> pd.DataFrame:
    """Causal wavelet decomposition of the log close: detail levels d1 (2-4 bar swings) .. d5 (32-64 bars) and
    the smooth s5, each at bar t from bars <= t (a trous filters: no bar's level changes when bars are added).

    Returns:
        Columns d1..d<levels> (log-price units) and `smooth` (a price: exp of the level-`levels` smooth).
    """
    close = check_ohlcv(ohlcv)["close"].to_numpy(dtype=np.float64)
    bands = _causal_filter_bank(np.log(close), wavelet, levels)
    columns = {f"d{level}": bands[level - 1] for level in range(1, levels + 1)}
    return pd.DataFrame({**columns, "smooth": np.exp(bands[levels])}, index=ohlcv.index)


def causal_denoise(ohlcv: pd.DataFrame, *, window: int = DENOISE_WINDOW, wavelet: str = WAVELET,
                   levels: int = LEVELS, denoised_levels: int = DENOISED_LEVELS) -> pd.Series:
    """Wavelet-denoised close, causal: the value at bar t is the last point of the db4 reconstruction of the
    `window` log closes up to t, its finest `denoised_levels` detail levels soft-thresholded (universal
    threshold, noise from the finest level's MAD).

    Only the fine levels (2-16 bar swings) are thresholded: at the right edge of a causal window the slower
    levels cannot be told from noise, and shrinking them there bends the line away from the price (measured:
    thresholding all five levels left more error than the raw close on a trend plus a 50-bar cycle).
    """
    close = check_ohlcv(ohlcv)["close"].to_numpy(dtype=np.float64)
    out = np.full(len(close), np.nan)
    log_close = np.log(close)
    universal = np.sqrt(2.0 * np.log(window))
    for t in range(window - 1, len(close)):
        coefficients = pywt.wavedec(log_close[t - window + 1 : t + 1], wavelet, mode="symmetric", level=levels)
        noise = np.median(np.abs(coefficients[-1])) / 0.6745
        for level in range(1, denoised_levels + 1):
            coefficients[-level] = pywt.threshold(coefficients[-level], noise * universal, mode="soft")
        out[t] = pywt.waverec(coefficients, wavelet, mode="symmetric")[window - 1]
    return pd.Series(np.exp(out), index=ohlcv.index, name="denoised")


@dataclass(frozen=True)
class SparseFit:
    """A sparse reconstruction of the latest window of closes.

    Attributes:
        frame: per bar of the window: close and reconstruction (prices).
        atoms: the atoms used, strongest first: atom ("DCT k" or "Haar k") and weight.
        error: share of the window's (standardised) energy the reconstruction leaves out (0-1).
        method: "omp" or "lasso".
    """

    frame: pd.DataFrame
    atoms: pd.DataFrame
    error: float
    method: str


def sparse_reconstruction(ohlcv: pd.DataFrame, *, window: int = 128, atoms: int = 12, method: str = "omp",
                          alpha: float = 0.005) -> SparseFit:
    """Reconstruct the last `window` log closes from a few DCT + Haar atoms: orthogonal matching pursuit with
    `atoms` atoms, or the Lasso (L1 penalty `alpha` on standardised data), both from scikit-learn."""
    from sklearn.linear_model import Lasso, OrthogonalMatchingPursuit  # seconds to import: only when asked

    if method not in ("omp", "lasso"):
        raise DataValidationError(f"method must be 'omp' or 'lasso', got {method!r}.")
    frame = check_ohlcv(ohlcv)
    if len(frame) < window:
        raise DataValidationError(f"A sparse reconstruction of {window} bars needs {window} bars, got {len(frame)}.")
    log_close = np.log(frame["close"].to_numpy(dtype=np.float64)[-window:])
    mean, spread = log_close.mean(), log_close.std()
    y = (log_close - mean) / spread if spread > 0 else np.zeros(window)
    dictionary = sparse_dictionary(window)
    if method == "omp":
        model = OrthogonalMatchingPursuit(n_nonzero_coefs=atoms, fit_intercept=False)
    else:
        model = Lasso(alpha=alpha, fit_intercept=False, max_iter=10_000)
    coefs = model.fit(dictionary, y).coef_ if spread > 0 else np.zeros(dictionary.shape[1])
    fitted = dictionary @ coefs
    error = float(np.sum((y - fitted) ** 2) / max(np.sum(y**2), 1e-300)) if spread > 0 else 0.0
    used = np.flatnonzero(coefs)
    names = [f"DCT {k}" if k < window else f"Haar {k - window}" for k in used]
    table = pd.DataFrame({"atom": names, "weight": coefs[used]}).sort_values("weight", key=np.abs, ascending=False)
    reconstruction = pd.DataFrame({"close": np.exp(log_close), "reconstruction": np.exp(fitted * spread + mean)},
                                  index=frame.index[-window:])
    return SparseFit(reconstruction, table.reset_index(drop=True), error, method)
