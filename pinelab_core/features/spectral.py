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

from collections.abc import Iterator

import numba
import numpy as np
import pywt

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory

__all__ = ["SPECS"]

_f = feature_factory("spectral")
FFT_WINDOW = 64
FFT_BINS = np.arange(2, 17)  # bin k <-> cycle of FFT_WINDOW / k bars: 32 down to 4 bars
WAVELET = "db2"
WAVELET_LEVELS = 3
ENERGY_WINDOW = 64
#: Below these the window did not move (a halted market): what is left of the running sums is rounding.
#: Log-price units, so the thresholds hold at any price level; the calmest real markets are orders above.
FLAT_POWER = 1e-18  # total 4-32 bar cycle power of a detrended 64-bar window of log closes
FLAT_ENERGY = 1e-15  # mean squared wavelet coefficient of one-bar log returns, all bands together
if FFT_WINDOW & (FFT_WINDOW - 1):  # the sliding DFT reduces angles with a bit mask
    raise RuntimeError(f"FFT_WINDOW must be a power of two, got {FFT_WINDOW}")


_RESUM_EVERY = 4_096  # rows between exact re-sums of the sliding window (bounds rounding drift)
_SUMMARY_ROWS = 8_192  # rows per block of the spectrum summary: the block stays in cache


def _ramp_spectrum() -> np.ndarray:
    """R(k) = sum_j j * exp(-i w_k j): the spectrum of a unit linear trend over the window, per bin."""
    j = np.arange(FFT_WINDOW, dtype=np.float64)
    return np.exp(-2j * np.pi * np.outer(FFT_BINS, j) / FFT_WINDOW) @ j


@numba.njit(cache=True, error_model="numpy")
def _sliding_dft_block(
    series: np.ndarray, slope: np.ndarray, bins: np.ndarray, window: int, ramp_re: np.ndarray, ramp_im: np.ndarray,
    state: np.ndarray, start: int, normalise: bool, block: np.ndarray, period: np.ndarray, share: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Spectrum of the detrended trailing windows ending at rows start .. start + len(block) - 1.

    Writes each row's power per bin into `block` or, with `normalise`, each bin's share of the row's power
    (and the dominant period and its share into `period`/`share` at the global row). `state` (2 x bins:
    real, imag) carries the running sums from one block to the next.

    Sliding DFT: D_t(k) = sum over the window of x[m] * exp(-i w_k m) is updated in O(1) per bar (add the
    new bar, drop the oldest) and re-summed exactly every `_RESUM_EVERY` rows. |D_t(k)| equals the
    window's DFT magnitude; the trend's spectrum slope * R(k), rotated into D's phase, is subtracted first.
    Angles come from (k * m) mod window, a bit mask for a power-of-two window (an integer division per bin
    and bar was most of the cost), so they stay exact for any row number.
    """
    n_bins, mask = len(bins), window - 1
    cos_at, sin_at, trend_re_at, trend_im_at = _twiddles(bins, window, ramp_re, ramp_im)
    real, imag = state[0].copy(), state[1].copy()  # locals: the compiler may keep them out of memory
    power = np.empty(n_bins)
    for t in range(start, start + block.shape[0]):
        row, newest = t - start, series[t]
        oldest = series[t - window] if t >= window else 0.0  # adding 0 * c leaves the sum as it is
        # (k * t) mod window depends on t mod window only, and the dropped bar (t - window) has the same
        # residue: one table row serves every bin, for the new bar and the dropped one alike
        c, s = cos_at[t & mask], sin_at[t & mask]
        for b in range(n_bins):
            real[b] = (real[b] + newest * c[b]) - oldest * c[b]
            imag[b] = (imag[b] - newest * s[b]) + oldest * s[b]
        if t >= window - 1 and t % _RESUM_EVERY == 0:
            _resum_window(series, t, cos_at, sin_at, real, imag)
        if t < window - 1 or np.isnan(slope[t]):
            block[row, :] = np.nan
            continue
        trend, trend_re, trend_im = slope[t], trend_re_at[(t + 1) & mask], trend_im_at[(t + 1) & mask]
        total, best, strongest = 0.0, 0, -1.0
        for b in range(n_bins):  # the window's first bar, t - window + 1, has residue (t + 1) mod window
            power[b] = (real[b] - trend * trend_re[b]) ** 2 + (imag[b] - trend * trend_im[b]) ** 2
            total += power[b]
            stronger = power[b] > strongest  # selects, not a branch: the dominant bin changes unpredictably
            best = b if stronger else best
            strongest = power[b] if stronger else strongest
        if not normalise:
            block[row, :] = power
        elif total > FLAT_POWER:
            period[t] = window / bins[best]
            share[t] = strongest / total
            scale = 1.0 / total  # one division per row, not one per bin
            for b in range(n_bins):
                block[row, b] = power[b] * scale
        else:  # a flat (or perfectly straight) window: no cycle; read as the limit of faint white noise
            period[t], share[t] = 0.0, 1.0 / n_bins
            block[row, :] = 1.0 / n_bins  # uniform shares: entropy 1
    state[0], state[1] = real, imag


@numba.njit(cache=True)
def _twiddles(bins: np.ndarray, window: int, ramp_re: np.ndarray,
              ramp_im: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Per residue r = m mod window and bin k: cos and sin of 2 pi k m / window, and the trend's spectrum
    R(k) rotated into that phase (real, imaginary), so the sliding DFT reads one table row per bar."""
    mask = window - 1
    cos_tab = np.cos(2 * np.pi * np.arange(window) / window)
    sin_tab = np.sin(2 * np.pi * np.arange(window) / window)
    shape = (window, len(bins))
    cos_at, sin_at, trend_re, trend_im = np.empty(shape), np.empty(shape), np.empty(shape), np.empty(shape)
    for r in range(window):
        for b in range(len(bins)):
            c, s = cos_tab[(bins[b] * r) & mask], sin_tab[(bins[b] * r) & mask]
            cos_at[r, b], sin_at[r, b] = c, s
            trend_re[r, b] = c * ramp_re[b] + s * ramp_im[b]
            trend_im[r, b] = c * ramp_im[b] - s * ramp_re[b]
    return cos_at, sin_at, trend_re, trend_im


@numba.njit(cache=True)
def _resum_window(series: np.ndarray, t: int, cos_at: np.ndarray, sin_at: np.ndarray, real: np.ndarray,
                  imag: np.ndarray) -> None:  # pragma: no cover - compiled
    """The exact DFT of the window ending at row t, per bin (drops the sliding sums' rounding drift)."""
    window = len(cos_at)
    for b in range(cos_at.shape[1]):
        real[b], imag[b] = 0.0, 0.0
        for m in range(t - window + 1, t + 1):
            real[b] += series[m] * cos_at[m & (window - 1), b]
            imag[b] -= series[m] * sin_at[m & (window - 1), b]


@numba.njit(cache=True, error_model="numpy")
def _block_entropy(weights: np.ndarray, logs: np.ndarray, entropy: np.ndarray) -> None:  # pragma: no cover
    """Normalised spectral entropy -sum(w log w) / log(bins) per row of power shares (NaN rows stay NaN)."""
    norm = np.log(weights.shape[1])
    for row in range(len(weights)):
        if np.isnan(weights[row, 0]):
            continue
        h = 0.0
        for b in range(weights.shape[1]):
            if weights[row, b] > 0.0:
                h -= weights[row, b] * logs[row, b]
        entropy[row] = h / norm


def _spectrum_blocks(b: Bars, rows: int, normalise: bool, period: np.ndarray,
                     share: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block) for consecutive blocks of `rows` rows, as `_sliding_dft_block` fills them; one
    buffer is reused, so consume each block before asking for the next."""
    n = len(b)
    series = b.log_close - b.log_close[0]  # smaller numbers, same spectrum (a constant has no power in k >= 1)
    slope = b.ta_on("LINEARREG_SLOPE", "log_close", lambda: b.log_close, timeperiod=FFT_WINDOW)
    ramp = _ramp_spectrum()
    ramp_re, ramp_im, bins = ramp.real.copy(), ramp.imag.copy(), FFT_BINS.astype(np.int64)
    state = np.zeros((2, len(FFT_BINS)))
    buffer = np.empty((min(rows, n), len(FFT_BINS)))
    for start in range(0, n, rows):
        block = buffer[: min(rows, n - start)]
        _sliding_dft_block(series, slope, bins, FFT_WINDOW, ramp_re, ramp_im, state, start, normalise, block,
                           period, share)
        yield start, block


def rolling_spectrum(b: Bars) -> np.ndarray:
    """Power per bin (rows x bins) of the detrended trailing 64 log closes, NaN in the warm-up."""
    unused = np.empty(0)
    return next(_spectrum_blocks(b, len(b), False, unused, unused), (0, np.empty((0, len(FFT_BINS)))))[1].copy()


def _spectral_summary(b: Bars) -> np.ndarray:
    """(period, share, entropy) per row, block by block: no rows x bins matrix is ever held, and each block's
    logarithms are one vectorised NumPy call (a scalar log per bin and bar cost more than the whole DFT)."""

    def make() -> np.ndarray:
        period, share, entropy = out = b.block(["fft_period_64", "fft_power_64", "fft_entropy_64"])
        out[:] = np.nan
        if len(b) >= FFT_WINDOW:
            logs = np.empty((min(_SUMMARY_ROWS, len(b)), len(FFT_BINS)))
            for start, weights in _spectrum_blocks(b, _SUMMARY_ROWS, True, period, share):
                with np.errstate(divide="ignore", invalid="ignore"):
                    np.log(weights, out=logs[: len(weights)])
                _block_entropy(weights, logs, entropy[start : start + len(weights)])
        return out

    return b.memo("spectral_summary", make)


def _summary(part: int) -> ComputeFn:
    return lambda b: _spectral_summary(b)[part]


def _filter_length(level: int) -> int:
    """Length of the level-`level` equivalent MODWT filter: (2**level - 1) * (L - 1) + 1."""
    return (2**level - 1) * (pywt.Wavelet(WAVELET).dec_len - 1) + 1


@numba.njit(cache=True)
def _causal_fir(values: np.ndarray, taps: np.ndarray, gap: int, out: np.ndarray) -> None:  # pragma: no cover
    """out[t] = sum_j taps[j] * values[t - j * gap] for the 4 taps of a Daubechies-2 filter, over the taps
    inside the data (a zero start, as `lfilter`), added from the oldest tap to the newest: SciPy's order."""
    for t in range(min(3 * gap, len(values))):
        total = 0.0
        for j in range(3, -1, -1):
            if t - j * gap >= 0:
                total += taps[j] * values[t - j * gap]
        out[t] = total
    n = len(values)
    if n <= 3 * gap:
        return
    # the whole filter inside the data, unrolled over shifted views indexed from 0 (no negative-index checks,
    # so the compiler vectorises the loop)
    oldest, older = values[: n - 3 * gap], values[gap : n - 2 * gap]
    old, now, target = values[2 * gap : n - gap], values[3 * gap :], out[3 * gap :]
    for k in range(n - 3 * gap):
        target[k] = (taps[3] * oldest[k] + taps[2] * older[k]) + taps[1] * old[k] + taps[0] * now[k]


@numba.njit(cache=True, error_model="numpy")
def _wavelet_energy_shares(
    returns: np.ndarray, high: np.ndarray, low: np.ndarray, settle: int, window: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Into `out` (bands x bars, NaN-filled): each band's share of the `window`-bar energy of the a-trous
    wavelet coefficients of `returns` (bar 0 has no return). Coefficients before `settle` mix in the filters'
    zero start and are left out; the running sums follow TA-Lib's SMA (add the newest, subtract the oldest),
    one per band, advanced together so the four dependency chains overlap."""
    m, levels = len(returns), len(out) - 1
    bands = np.empty((levels + 1, m))
    smooth, scratch = returns.copy(), np.empty(m)
    for level in range(levels):
        gap = 2**level  # "a trous": taps spread `gap` bars apart
        _causal_fir(smooth, high, gap, bands[level])
        _causal_fir(smooth, low, gap, scratch)
        smooth, scratch = scratch, smooth
    bands[levels] = smooth
    totals, energy_of = np.zeros(levels + 1), np.empty(levels + 1)
    for i in range(settle, m):
        for level in range(levels + 1):
            totals[level] += bands[level, i] ** 2
        if i < settle + window - 1:
            continue
        energy = 0.0
        for level in range(levels + 1):
            energy_of[level] = totals[level] / window
            energy += energy_of[level]
            totals[level] -= bands[level, i - window + 1] ** 2
        for level in range(levels + 1):  # no movement at all: every band holds the same (no) share
            out[level, i + 1] = energy_of[level] / energy if energy > FLAT_ENERGY else 1.0 / (levels + 1)


def _wavelet_band_energy(b: Bars) -> np.ndarray:
    """64-bar energy share per band (rows d1, d2, d3, a3) of one-bar log returns."""

    def make() -> np.ndarray:
        wavelet = pywt.Wavelet(WAVELET)  # Daubechies-2: 4 taps, which `_causal_fir` unrolls
        high = np.asarray(wavelet.dec_hi) / np.sqrt(2.0)
        low = np.asarray(wavelet.dec_lo) / np.sqrt(2.0)
        returns = b.log_return[1:]  # row 0 has no return; filters must not see a NaN
        out = b.block([f"wavelet_energy_{band}" for band in _BANDS])
        out[:] = np.nan
        if len(returns):
            settle = _filter_length(WAVELET_LEVELS) - 1  # outputs before this mix in the filters' zero start
            _wavelet_energy_shares(returns, high, low, settle, ENERGY_WINDOW, out)
        return out

    return b.memo("wavelet_band_energy", make)


def _band(column: int) -> ComputeFn:
    return lambda b: _wavelet_band_energy(b)[column]


_FFT = {"window": FFT_WINDOW, "min_period": int(FFT_WINDOW / FFT_BINS[-1]), "max_period": int(FFT_WINDOW / FFT_BINS[0])}
_FFT_LB = FFT_WINDOW - 1
_WAVELET_LB = 1 + (_filter_length(WAVELET_LEVELS) - 1) + (ENERGY_WINDOW - 1)
_WAVE = {"wavelet": WAVELET, "levels": WAVELET_LEVELS, "energy_window": ENERGY_WINDOW}
_BANDS = ("d1", "d2", "d3", "a3")
_BAND_TEXT = ("d1 (2-4 bar swings)", "d2 (4-8 bars)", "d3 (8-16 bars)", "a3 (slower than 16 bars)")

SPECS: list[FeatureSpec] = [
    _f("fft_period_64", _FFT_LB, "Dominant cycle length in bars (4-32) of the detrended last 64 log closes",
       _summary(0), **_FFT),
    _f("fft_power_64", _FFT_LB, "Share of the 4-32 bar cycle power in the dominant cycle (0-1)", _summary(1), **_FFT),
    _f("fft_entropy_64", _FFT_LB, "Spectral entropy of the 4-32 bar cycles: 0 one clean cycle, 1 white noise",
       _summary(2), **_FFT),
    *(_f(f"wavelet_energy_{name}", _WAVELET_LB, f"Share of 64-bar return variance in wavelet band {text}",
         _band(column), **_WAVE)
      for column, (name, text) in enumerate(zip(_BANDS, _BAND_TEXT, strict=True))),
]
