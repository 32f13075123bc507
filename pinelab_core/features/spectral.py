"""Spectral features on trailing windows only: the dominant cycle from a rolling Fourier transform and
the share of return variance in wavelet frequency bands.

Rolling FFT: for every bar the last 64 log closes are linearly detrended and transformed; the power
of the bins for cycles of 4 to 32 bars gives the dominant period, its share of the power and the
spectral entropy. It is computed as a sliding DFT (a running sum of the demodulated series per bin,
compiled with numba) rather than one FFT per bar: the same numbers as `np.fft.rfft` on each detrended window (a test
checks this), at a fraction of the cost; the linear detrend is folded in exactly (a trend only adds a
known ramp spectrum scaled by the window's least-squares slope).

Wavelets: a maximal-overlap (undecimated) wavelet transform with PyWavelets' Daubechies-2 filters,
applied as causal FIR filters (each coefficient uses the current and earlier returns only). PyWavelets'
own `swt` is not used because it extends the signal periodically, which wraps future values into the
start; the causal filter bank gives the same band split without that leak. Band energy is the 64-bar
mean of squared coefficients, reported as a share of the total.
"""

from __future__ import annotations

import numba
import numpy as np
import pywt
import talib
from scipy.signal import lfilter

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory

__all__ = ["SPECS"]

_f = feature_factory("spectral")
FFT_WINDOW = 64
FFT_BINS = np.arange(2, 17)  # bin k <-> cycle of FFT_WINDOW / k bars: 32 down to 4 bars
WAVELET = "db2"
WAVELET_LEVELS = 3
ENERGY_WINDOW = 64


_RESUM_EVERY = 4_096  # rows between exact re-sums of the sliding window (bounds rounding drift)


def _ramp_spectrum() -> np.ndarray:
    """R(k) = sum_j j * exp(-i w_k j): the spectrum of a unit linear trend over the window, per bin."""
    j = np.arange(FFT_WINDOW, dtype=np.float64)
    return np.exp(-2j * np.pi * np.outer(FFT_BINS, j) / FFT_WINDOW) @ j


@numba.njit(cache=True)
def _sliding_dft_power(
    series: np.ndarray, slope: np.ndarray, bins: np.ndarray, window: int, ramp_re: np.ndarray, ramp_im: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """Power per bin of each trailing window of `series` after removing the window's linear trend.

    Sliding DFT: D_t(k) = sum over the window of x[m] * exp(-i w_k m) is updated in O(1) per bar (add the
    new bar, drop the oldest) and re-summed exactly every `_RESUM_EVERY` rows. |D_t(k)| equals the
    window's DFT magnitude; the trend's spectrum slope * R(k), rotated into D's phase, is subtracted first.
    Angles come from (k * m) mod window, so they stay exact for any row number.
    """
    n, n_bins = len(series), len(bins)
    power = np.full((n, n_bins), np.nan)
    cos_tab = np.cos(2 * np.pi * np.arange(window) / window)
    sin_tab = np.sin(2 * np.pi * np.arange(window) / window)
    real = np.zeros(n_bins)
    imag = np.zeros(n_bins)
    for t in range(n):
        for b in range(n_bins):
            # (k * t) mod window, and the dropped bar (t - window) has the same residue: one lookup serves both
            r = (bins[b] * t) % window
            real[b] += series[t] * cos_tab[r]
            imag[b] -= series[t] * sin_tab[r]
            if t >= window:
                real[b] -= series[t - window] * cos_tab[r]
                imag[b] += series[t - window] * sin_tab[r]
        if t >= window - 1 and t % _RESUM_EVERY == 0:
            for b in range(n_bins):
                real[b], imag[b] = 0.0, 0.0
                for m in range(t - window + 1, t + 1):
                    r = (bins[b] * m) % window
                    real[b] += series[m] * cos_tab[r]
                    imag[b] -= series[m] * sin_tab[r]
        if t < window - 1 or np.isnan(slope[t]):
            continue
        first = t - window + 1
        for b in range(n_bins):
            r = (bins[b] * first) % window
            c, s = cos_tab[r], sin_tab[r]
            trend_re = slope[t] * (c * ramp_re[b] + s * ramp_im[b])
            trend_im = slope[t] * (c * ramp_im[b] - s * ramp_re[b])
            power[t, b] = (real[b] - trend_re) ** 2 + (imag[b] - trend_im) ** 2
    return power


@numba.njit(cache=True)
def _summarise_spectrum(power: np.ndarray, periods: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: dominant period, its share of the power, and the normalised spectral entropy."""
    n, n_bins = power.shape
    period = np.full(n, np.nan)
    share = np.full(n, np.nan)
    entropy = np.full(n, np.nan)
    norm = np.log(n_bins)
    for t in range(n):
        total, best = 0.0, 0
        for b in range(n_bins):
            total += power[t, b]
            if power[t, b] > power[t, best]:
                best = b
        if not total > 0.0:  # NaN (warm-up) or a perfectly straight window: no cycle to speak of
            continue
        h = 0.0
        for b in range(n_bins):
            w = power[t, b] / total
            if w > 0.0:
                h -= w * np.log(w)
        period[t] = periods[best]
        share[t] = power[t, best] / total
        entropy[t] = h / norm
    return period, share, entropy


def _rolling_spectrum(b: Bars) -> np.ndarray:
    """Power per bin (rows x bins) of the detrended trailing 64 log closes, NaN in the warm-up."""

    def make() -> np.ndarray:
        if len(b) < FFT_WINDOW:
            return np.full((len(b), len(FFT_BINS)), np.nan)
        series = b.log_close - b.log_close[0]  # smaller numbers, same spectrum (a constant has no power in k >= 1)
        slope = b.ta_on("LINEARREG_SLOPE", "log_close", lambda: b.log_close, timeperiod=FFT_WINDOW)
        ramp = _ramp_spectrum()
        return _sliding_dft_power(series, slope, FFT_BINS.astype(np.int64), FFT_WINDOW, ramp.real.copy(),
                                  ramp.imag.copy())

    return b.memo("rolling_spectrum", make)


def _spectral_summary(b: Bars) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    periods = (FFT_WINDOW / FFT_BINS).astype(np.float64)
    return b.memo("spectral_summary", lambda: _summarise_spectrum(_rolling_spectrum(b), periods))


def _summary(part: int) -> ComputeFn:
    return lambda b: _spectral_summary(b)[part]


def _filter_length(level: int) -> int:
    """Length of the level-`level` equivalent MODWT filter: (2**level - 1) * (L - 1) + 1."""
    return (2**level - 1) * (pywt.Wavelet(WAVELET).dec_len - 1) + 1


def _wavelet_band_energy(b: Bars) -> np.ndarray:
    """64-bar energy share per band (rows x [d1, d2, d3, a3]) of one-bar log returns."""

    def make() -> np.ndarray:
        wavelet = pywt.Wavelet(WAVELET)
        high = np.asarray(wavelet.dec_hi) / np.sqrt(2.0)
        low = np.asarray(wavelet.dec_lo) / np.sqrt(2.0)
        returns = b.log_return[1:]  # row 0 has no return; filters must not see a NaN
        if len(returns) == 0:
            return np.full((len(b), WAVELET_LEVELS + 1), np.nan)
        bands, smooth = [], returns
        for level in range(1, WAVELET_LEVELS + 1):
            gap = 2 ** (level - 1)  # "a trous": insert gap - 1 zeros between taps
            bands.append(lfilter(_upsample(high, gap), [1.0], smooth))
            smooth = lfilter(_upsample(low, gap), [1.0], smooth)
        bands.append(smooth)
        settle = _filter_length(WAVELET_LEVELS) - 1  # outputs before this mix in the filters' zero start
        energy = np.full((len(b), len(bands)), np.nan)
        for column, coefficients in enumerate(bands):
            squared = np.full(len(b), np.nan)
            squared[1 + settle :] = coefficients[settle:] ** 2
            energy[:, column] = talib.SMA(squared, timeperiod=ENERGY_WINDOW)
        with np.errstate(divide="ignore", invalid="ignore"):
            return energy / energy.sum(axis=1, keepdims=True)

    return b.memo("wavelet_band_energy", make)


def _upsample(taps: np.ndarray, gap: int) -> np.ndarray:
    out = np.zeros((len(taps) - 1) * gap + 1)
    out[::gap] = taps
    return out


def _band(column: int) -> ComputeFn:
    return lambda b: _wavelet_band_energy(b)[:, column]


_FFT = {"window": FFT_WINDOW, "min_period": int(FFT_WINDOW / FFT_BINS[-1]), "max_period": int(FFT_WINDOW / FFT_BINS[0])}
_FFT_LB = FFT_WINDOW - 1
_WAVELET_LB = 1 + (_filter_length(WAVELET_LEVELS) - 1) + (ENERGY_WINDOW - 1)
_WAVE = {"wavelet": WAVELET, "levels": WAVELET_LEVELS, "energy_window": ENERGY_WINDOW}
_BAND_TEXT = ("d1 (2-4 bar swings)", "d2 (4-8 bars)", "d3 (8-16 bars)", "a3 (slower than 16 bars)")

SPECS: list[FeatureSpec] = [
    _f("fft_period_64", _FFT_LB, "Dominant cycle length in bars (4-32) of the detrended last 64 log closes",
       _summary(0), **_FFT),
    _f("fft_power_64", _FFT_LB, "Share of the 4-32 bar cycle power in the dominant cycle (0-1)", _summary(1), **_FFT),
    _f("fft_entropy_64", _FFT_LB, "Spectral entropy of the 4-32 bar cycles: 0 one clean cycle, 1 white noise",
       _summary(2), **_FFT),
    *(_f(f"wavelet_energy_{name}", _WAVELET_LB, f"Share of 64-bar return variance in wavelet band {text}",
         _band(column), **_WAVE)
      for column, (name, text) in enumerate(zip(("d1", "d2", "d3", "a3"), _BAND_TEXT, strict=True))),
]
