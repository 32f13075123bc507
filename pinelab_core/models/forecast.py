"""Multi-horizon price forecasts with intervals: LightGBM quantile regressors on forward log returns.

For each horizon h (1, 5 and 20 bars by default) three LightGBM models predict the 10%, 50% and 90%
quantiles of log(close[t+h] / close[t]) from the bar's features. They are trained only on bars whose
h-bar outcome is already known at the last bar (rows up to t_last - h), so a forecast never uses its
own future. Crossed quantiles are sorted. Fitted forecasters are cached per market and refit once
`REFIT_EVERY` new bars have arrived.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.models.ensemble import Forecast
from pinelab_core.models.schema import to_matrix
from pinelab_core.types import Timeframe

__all__ = ["FORECAST_HORIZONS", "QUANTILES", "QuantileForecaster", "fit_forecaster", "forecaster_for"]

FORECAST_HORIZONS: tuple[int, ...] = (1, 5, 20)
QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
REFIT_EVERY = 20
_TRAIN_ROWS = 1_000
_PARAMS = {"n_estimators": 40, "learning_rate": 0.08, "num_leaves": 15, "min_data_in_leaf": 30,
           "feature_fraction": 0.3, "max_bin": 63}

_CACHE: dict[tuple[str, str, str], QuantileForecaster] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class QuantileForecaster:
    """Quantile boosters per (horizon, quantile) and the feature columns they read."""

    boosters: dict[tuple[int, float], object]
    feature_names: tuple[str, ...]
    fitted_through: pd.Timestamp  # last bar of the data it was fit on

    @property
    def horizons(self) -> list[int]:
        return sorted({h for h, _ in self.boosters})

    def forecast(self, features: pd.DataFrame, close: float, bar_time: pd.Timestamp,
                 timeframe: str) -> list[Forecast]:
        """Forecasts from one bar's feature row (a one-row frame with `feature_names`)."""
        matrix = to_matrix(features[list(self.feature_names)], np.float64)
        step = Timeframe.parse(timeframe).offset
        forecasts = []
        for h in self.horizons:
            # One thread: OpenMP start-up costs more than one row of 60 small trees.
            low, mid, high = sorted(float(self.boosters[(h, q)].predict(matrix, num_threads=1)[0])  # type: ignore[attr-defined]
                                    for q in QUANTILES)
            forecasts.append(Forecast(
                horizon=h, target_time=bar_time + h * step, expected_return=mid, lower_return=low,
                upper_return=high, price=close * float(np.exp(mid)), lower_price=close * float(np.exp(low)),
                upper_price=close * float(np.exp(high)), interval=QUANTILES[2] - QUANTILES[0],
            ))
        return forecasts


def fit_forecaster(features: pd.DataFrame, close: pd.Series, horizons: Sequence[int] = FORECAST_HORIZONS,
                   *, seed: int = 0) -> QuantileForecaster | None:
    """Fit the quantile boosters on the bars whose forward returns are known; None if too few bars.

    Args:
        features: the causal feature matrix on the OHLCV index.
        close: close prices on the same index.
        horizons: bars ahead to forecast.
        seed: LightGBM seed (with one thread, fits are deterministic).
    """
    import lightgbm as lgb

    horizons = sorted(int(h) for h in horizons)
    log_close = np.log(close.to_numpy(dtype=np.float64))
    targets = {}
    for h in horizons:
        forward = np.full(len(log_close), np.nan)
        forward[:-h] = log_close[h:] - log_close[:-h]
        targets[h] = forward
    # The rows whose longest-horizon outcome is known serve every horizon, so the features are binned once.
    usable = np.flatnonzero(np.isfinite(targets[horizons[-1]]))[-_TRAIN_ROWS:]
    if len(usable) < 100:
        return None
    params: dict[str, Any] = {**_PARAMS, "objective": "quantile", "seed": seed, "deterministic": True,
                              "num_threads": 1, "verbosity": -1}
    rounds = int(params.pop("n_estimators"))
    dataset = lgb.Dataset(to_matrix(features.iloc[usable], np.float64), label=targets[horizons[0]][usable],
                          params={"max_bin": params["max_bin"], "verbosity": -1}, free_raw_data=False).construct()
    boosters: dict[tuple[int, float], object] = {}
    for h in horizons:
        dataset.set_label(targets[h][usable])
        for q in QUANTILES:
            boosters[(h, q)] = lgb.train({**params, "alpha": q}, dataset, num_boost_round=rounds)
    names = tuple(str(c) for c in features.columns)
    return QuantileForecaster(boosters, names, pd.Timestamp(features.index[-1]))


def forecaster_for(market: tuple[str, str, str], features: pd.DataFrame, close: pd.Series) -> QuantileForecaster | None:
    """The cached forecaster of a (source, symbol, timeframe), refit after `REFIT_EVERY` new bars."""
    with _LOCK:
        cached = _CACHE.get(market)
    if cached is not None and cached.feature_names == tuple(features.columns):
        new_bars = int((features.index > cached.fitted_through).sum())
        if 0 <= new_bars < REFIT_EVERY and cached.fitted_through <= features.index[-1]:
            return cached
    fitted = fit_forecaster(features, close)
    if fitted is not None:
        with _LOCK:
            _CACHE[market] = fitted
    return fitted
