"""Quantile price forecasts: ordered intervals that cover about what they claim, refit as bars arrive."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_walk_ohlcv

from pinelab_core.features import build_features
from pinelab_core.models.forecast import QUANTILES, REFIT_EVERY, fit_forecaster, forecaster_for


def test_interval_covers_about_its_nominal_share_out_of_sample() -> None:
    ohlcv = random_walk_ohlcv(1_300, seed=11, freq="1d")
    features = build_features(ohlcv)
    forecaster = fit_forecaster(features.iloc[:900], ohlcv["close"].iloc[:900], horizons=(1,))
    assert forecaster is not None
    log_close = np.log(ohlcv["close"].to_numpy())
    inside = []
    for t in range(900, 1_299):
        [forecast] = forecaster.forecast(features.iloc[[t]], float(ohlcv["close"].iloc[t]), ohlcv.index[t], "1d")
        assert forecast.lower_return <= forecast.expected_return <= forecast.upper_return
        realised = log_close[t + 1] - log_close[t]
        inside.append(forecast.lower_return <= realised <= forecast.upper_return)
    nominal = QUANTILES[2] - QUANTILES[0]
    assert abs(np.mean(inside) - nominal) < 0.12


def test_forecasts_step_by_timeframe_and_price_matches_return() -> None:
    ohlcv = random_walk_ohlcv(700, seed=2, freq="1h")
    features = build_features(ohlcv)
    forecaster = fit_forecaster(features, ohlcv["close"])
    assert forecaster is not None and forecaster.horizons == [1, 5, 20]
    close, bar = float(ohlcv["close"].iloc[-1]), ohlcv.index[-1]
    forecasts = forecaster.forecast(features.iloc[[-1]], close, bar, "1h")
    assert [f.target_time - bar for f in forecasts] == [np.timedelta64(h, "h") for h in (1, 5, 20)]
    for f in forecasts:
        assert f.price == pytest.approx(close * np.exp(f.expected_return))
    assert fit_forecaster(features.iloc[:50], ohlcv["close"].iloc[:50]) is None  # too little history


def test_cached_forecaster_is_reused_until_enough_new_bars() -> None:
    ohlcv = random_walk_ohlcv(700, seed=3, freq="1d")
    features = build_features(ohlcv)
    market = ("test", "CACHE", "1d")
    first = forecaster_for(market, features.iloc[:600], ohlcv["close"].iloc[:600])
    assert forecaster_for(market, features.iloc[:605], ohlcv["close"].iloc[:605]) is first
    refit = forecaster_for(market, features.iloc[:600 + REFIT_EVERY], ohlcv["close"].iloc[:600 + REFIT_EVERY])
    assert refit is not first and refit.fitted_through == features.index[600 + REFIT_EVERY - 1]
