"""Spectral views: the periodogram finds a planted cycle, wavelet levels and the denoised close are causal, the
compiled sparse-error kernel is scikit-learn's OMP, and sparse fits tell structure from noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import orthogonal_mp

from pinelab_core.errors import DataValidationError
from pinelab_core.features.sparse import sparse_dictionary, sparse_errors
from pinelab_core.structure import (
    causal_denoise,
    dominant_cycles,
    periodogram,
    sparse_reconstruction,
    wavelet_levels,
)


def _bars(log_close: np.ndarray, freq: str = "1h") -> pd.DataFrame:
    close = np.exp(log_close)
    index = pd.date_range("2024-01-01", periods=len(close), freq=freq, tz="UTC", name="time")
    return pd.DataFrame({"open": close, "high": close * 1.001, "low": close * 0.999, "close": close,
                         "volume": 1_000.0}, index=index)


def _cycle(n: int = 1_200, period: float = 50.0, noise: float = 0.005, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) log closes: a trend, a `period`-bar cycle and white noise."""
    t = np.arange(n)
    clean = np.log(100.0) + 0.0005 * t + 0.03 * np.sin(2 * np.pi * t / period)
    return clean, clean + np.random.default_rng(seed).normal(0.0, noise, n)


def test_the_periodogram_finds_a_planted_cycle() -> None:
    bars = _bars(_cycle(period=40.0)[1])
    spectrum = periodogram(bars)
    assert spectrum["share"].sum() == pytest.approx(1.0)
    cycles = dominant_cycles(spectrum, bar_duration=pd.Timedelta(hours=1))
    assert cycles["period_bars"].iloc[0] == pytest.approx(40.0, rel=0.03) and cycles["share"].iloc[0] > 0.3
    assert cycles["period"].iloc[0] == "about 40.0 hours"
    assert (cycles["period_bars"] >= 4).all() and (cycles["period_bars"] <= len(bars) / 3).all()
    with pytest.raises(DataValidationError, match="at least 16 bars"):
        periodogram(bars.iloc[:10])


def test_wavelet_levels_and_the_denoised_close_are_causal() -> None:
    bars = _bars(_cycle(n=900)[1])
    levels, denoised = wavelet_levels(bars), causal_denoise(bars)
    assert list(levels.columns) == ["d1", "d2", "d3", "d4", "d5", "smooth"]
    assert levels["d5"].isna().sum() == 31 * 7 and levels["d1"].isna().sum() == 7  # each filter's own warm-up
    for cut in (300, 611):
        part = bars.iloc[:cut]
        pd.testing.assert_frame_equal(wavelet_levels(part), levels.iloc[:cut], rtol=1e-9, atol=1e-12,
                                      check_freq=False)
        pd.testing.assert_series_equal(causal_denoise(part), denoised.iloc[:cut], rtol=1e-12, check_freq=False)
    smooth = levels["smooth"].dropna()
    assert (np.abs(np.log(smooth / bars["close"].loc[smooth.index])) < 0.1).all()  # a lagging, not a wild, line


def test_causal_denoising_removes_noise_on_a_trend_with_a_cycle() -> None:
    clean, noisy = _cycle(n=1_000, noise=0.01)
    denoised = np.log(causal_denoise(_bars(noisy)).to_numpy())
    known = np.isfinite(denoised)
    assert known.sum() == 1_000 - 255
    before = np.sqrt(np.mean((noisy[known] - clean[known]) ** 2))
    after = np.sqrt(np.mean((denoised[known] - clean[known]) ** 2))
    assert after < 0.8 * before


def test_the_compiled_sparse_error_is_scikit_learns_omp() -> None:
    series = _cycle(n=400, noise=0.01, seed=3)[1]
    errors = sparse_errors(series)
    dictionary = sparse_dictionary(64)
    assert np.isnan(errors[:63]).all() and np.isfinite(errors[63:]).all()
    for t in (63, 150, 399):
        y = series[t - 63 : t + 1]
        y = (y - y.mean()) / y.std()
        coefs = orthogonal_mp(dictionary, y, n_nonzero_coefs=8)
        assert errors[t] == pytest.approx(np.sum((y - dictionary @ coefs) ** 2) / 64, rel=1e-8)
    np.testing.assert_allclose(np.linalg.norm(dictionary, axis=0), 1.0)
    np.testing.assert_allclose(dictionary[:, :64].T @ dictionary[:, :64], np.eye(64), atol=1e-12)  # DCT basis
    np.testing.assert_allclose(dictionary[:, 64:].T @ dictionary[:, 64:], np.eye(64), atol=1e-12)  # Haar basis
    assert sparse_errors(np.full(100, 4.6))[63:].max() == 0.0  # a flat window is the simplest shape


def test_sparse_fits_tell_structure_from_noise() -> None:
    structured = _bars(_cycle(n=400, noise=0.001)[1])
    noise = _bars(np.log(100.0) + np.random.default_rng(1).normal(0.0, 0.01, 400))
    for method in ("omp", "lasso"):
        smooth_fit, noise_fit = sparse_reconstruction(structured, method=method), sparse_reconstruction(noise,
                                                                                                        method=method)
        assert smooth_fit.error < 0.05 < 0.2 < noise_fit.error, (method, smooth_fit.error, noise_fit.error)
        assert len(smooth_fit.frame) == 128 and smooth_fit.atoms["atom"].str.match(r"(DCT|Haar) \d+").all()
    assert len(sparse_reconstruction(structured).atoms) == 12
    with pytest.raises(DataValidationError, match="'omp' or 'lasso'"):
        sparse_reconstruction(structured, method="ista")
