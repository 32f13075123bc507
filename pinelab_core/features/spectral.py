"""Spectral features on trailing windows only: the dominant cycle from a rolling Fourier transform and
the share of return variance in wavelet frequency bands.

Rolling FFT: for every bar the last 64 log closes are linearly detrended and transformed; the power
of the bins for cycles of 4 to 32 bars gives the dominant period, its share of the power and the
spectral entropy. The transform of all windows at once is one matrix product (DFT bins as columns)
over a strided view of the series, in chunks so memory stays bounded; the linear detrend is folded
into the same product (a trend only adds a known ramp spectrum scaled by the window's slope).

Wavelets: a maximal-overlap (undecimated) wavelet transform with PyWavelets' Daubechies-2 filters,
applied as causal FIR filters (each coefficient uses the current and earlier returns only). PyWavelets'
own `swt` is not used because it extends the signal periodically, which wraps future values into the
start; the causal filter bank gives the same band split without that leak. Band energy is the 64-bar
mean of squared coefficients, reported as a share of the total.
"""

from __future__ import annotations

import numpy as np
import pywt
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory

__all__ = ["SPECS"]

_f = feature_factory("spectral")
FFT_WINDOW = 64
FFT_BINS = np.arange(2, 17)  # bin k <-> cycle of FFT_WINDOW / k bars: 32 down to 4 bars
WAVELET = "db2"
WAVELET_LEVELS = 3
ENERGY_WINDOW = 64
_CHUNK_ROWS = 65_536


def _dft_kernel() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns: cos and sin of each bin, then the least-squares slope weights; plus the ramp's spectrum."""
    j = np.arange(FFT_WINDOW, dtype=np.float64)
    angle = 2 * np.pi * np.outer(j, FFT_BINS) / FFT_WINDOW
    centred = j - j.mean()
    slope_weights = centred / np.dot(centred, centred)
    kernel = np.column_stack([np.cos(angle), np.sin(angle), slope_weights])
    # A constant has no power in bins k >= 1, so only the ramp j needs removing: X_det = X - slope * R.
    ramp_cos, ramp_sin = j @ np.cos(angle), j @ np.sin(angle)
    return kernel, ramp_cos, ramp_sin


def _rolling_spectrum(b: Bars) -> np.ndarray:
    """Power per bin (rows x bins) of the detrended trailing window of log closes, NaN in the warm-up."""

    def make() -> np.ndarray:
        series = b.log_close
        power = np.full((len(series), len(FFT_BINS)), np.nan)
        if len(series) < FFT_WINDOW:
            return power
        kernel, ramp_cos, ramp_sin = _dft_kernel()
        windows = sliding_window_view(series, FFT_WINDOW)
        bins = len(FFT_BINS)
        for start in range(0, len(windows), _CHUNK_ROWS):
            block = np.ascontiguousarray(windows[start : start + _CHUNK_ROWS]) @ kernel
            slope = block[:, -1:]
            real = block[:, :bins] - slope * ramp_cos
            imag = block[:, bins : 2 * bins] - slope * ramp_sin
            power[FFT_WINDOW - 1 + start : FFT_WINDOW - 1 + start + len(block)] = real**2 + imag**2
        return power

    return b.memo("rolling_spectrum", make)


def _spectral_summary(b: Bars) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    def make() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        power = _rolling_spectrum(b)
        valid = np.isfinite(power[:, 0])
        period = np.full(len(power), np.nan)
        share = np.full(len(power), np.nan)
        entropy = np.full(len(power), np.nan)
        p = power[valid]
        total = p.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = p / total[:, None]
            dominant = np.argmax(p, axis=1)
            period[valid] = FFT_WINDOW / FFT_BINS[dominant]
            share[valid] = weights[np.arange(len(p)), dominant]
            logs = np.where(weights > 0, np.log(weights), 0.0)
            entropy[valid] = -(weights * logs).sum(axis=1) / np.log(len(FFT_BINS))
        return period, share, entropy

    return b.memo("spectral_summary", make)


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
            energy[:, column] = b.ta_on("SMA", f"wavelet_band_{column}", lambda sq=squared: sq,
                                        timeperiod=ENERGY_WINDOW)
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
