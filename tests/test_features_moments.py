"""Rolling skewness and kurtosis: pandas' estimators, closer to the exact values than pandas itself, and
defined (0) on flat windows where pandas gives NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import load_ohlcv
from pinelab_core.features.moments import rolling_skew_kurt
from tests.conftest import random_walk_ohlcv


def _exact(values: np.ndarray, window: int, end: int) -> tuple[float, float]:
    """Two-pass centred moments of one window in long double: the reference."""
    sample = values[end - window + 1 : end + 1].astype(np.longdouble)
    n = np.longdouble(window)
    centred = sample - sample.mean()
    m2, m3, m4 = ((centred**k).mean() for k in (2, 3, 4))
    skew = np.sqrt(n * (n - 1)) * m3 / ((n - 2) * m2**1.5)
    kurt = ((n * n - 1) * m4 / (m2 * m2) - 3 * (n - 1) ** 2) / ((n - 2) * (n - 3))
    return float(skew), float(kurt)


def _log_returns(close: pd.Series) -> np.ndarray:
    return np.concatenate([[np.nan], np.diff(np.log(close.to_numpy()))])


@pytest.mark.parametrize("window", [20, 60])
def test_matches_exact_moments_on_minute_fx_where_running_sums_drift(window: int) -> None:
    """FX minute returns mix calm stretches with jumps: running sums keep the jumps' rounding, blocks do not."""
    returns = _log_returns(load_ohlcv("DEMO-FX", "1m", start=pd.Timestamp("2026-10-01", tz="UTC"),
                                      source="demo")["close"])
    skew, kurt = rolling_skew_kurt(returns, window)
    rows = np.random.default_rng(0).integers(window + 1, len(returns), 200)
    exact = np.array([_exact(returns, window, row) for row in rows])
    np.testing.assert_allclose(skew[rows], exact[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(kurt[rows], exact[:, 1], rtol=0, atol=1e-11)


def test_agrees_with_pandas_and_its_warm_up() -> None:
    returns = _log_returns(random_walk_ohlcv(3_000, seed=6)["close"])
    returns[1_000] = np.nan  # a gap: windows holding it have no value, as in pandas
    skew, kurt = rolling_skew_kurt(returns, 20)
    rolling = pd.Series(returns).rolling(20, min_periods=20)
    np.testing.assert_allclose(skew, rolling.skew(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kurt, rolling.kurt(), rtol=1e-9, atol=1e-12)
    assert np.isnan(skew[:20]).all() and np.isfinite(skew[20:1_000]).all() and np.isnan(skew[1_000:1_020]).all()


def test_flat_windows_have_zero_skewness_and_excess_kurtosis() -> None:
    values = np.concatenate([np.random.default_rng(1).normal(size=50), np.full(30, 0.25)])
    skew, kurt = rolling_skew_kurt(values, 20)
    assert (skew[69:] == 0).all() and (kurt[69:] == 0).all()  # no residue of the earlier values
    assert np.isfinite(skew[19:69]).all() and (skew[19:69] != 0).all()
    with pytest.raises(ValueError, match="at least 4"):
        rolling_skew_kurt(values, 3)
