"""Small stand-ins for the training tests: a logistic-regression `Model` and markets with and without an edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pinelab_core.models.base import FitSummary, Model, ProgressCallback, TrainingProgress


class LogisticModel(Model):
    """Multinomial logistic regression behind the `Model` interface; the scaler fits on the fit rows only."""

    kind = "logistic"

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        validation: tuple[pd.DataFrame, np.ndarray] | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        self.feature_names_ = list(X.columns)
        self.scaler_ = StandardScaler().fit(X.to_numpy())
        self.model_ = LogisticRegression(C=float(self.params.get("C", 1.0)), max_iter=200, random_state=self.seed)
        self.model_.fit(self.scaler_.transform(X.to_numpy()), y)
        if progress is not None:
            progress(TrainingProgress(step=1, total=1, train_loss=0.5, val_loss=0.6, message="fitted"))
        return FitSummary(train_loss=0.5, val_loss=0.6 if validation else None, device="cpu")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = self.model_.predict_proba(self.scaler_.transform(X[self.feature_names_].to_numpy()))
        full = np.zeros((len(X), 3))
        full[:, self.model_.classes_.astype(int)] = proba  # a fold may miss a class
        return full

    def save(self, directory: Path) -> list[Path]:  # pragma: no cover - not needed by these tests
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> Model:  # pragma: no cover
        raise NotImplementedError

    def feature_importance(self) -> pd.Series | None:
        return pd.Series(np.abs(self.model_.coef_).sum(axis=0), index=self.feature_names_)


class WindowedLogistic(LogisticModel):
    """The logistic model posing as a sequence model: no answer (NaN) without `window - 1` rows of history."""

    kind = "windowed_logistic"
    input_kind = "sequence"

    @property
    def context_rows(self) -> int:
        return int(self.params.get("window", 5)) - 1

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        proba = super().predict_proba(X)
        proba[: self.context_rows] = np.nan
        return proba


def planted_market(n: int = 1_500, seed: int = 0, strength: float = 0.8, **_: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A market whose next return leans on an observable signal, and the feature frame that shows it.

    signal_t is known at bar t's close; close_{t+1} = close_t * exp(strength * sigma * signal_t + noise).
    Two pure-noise columns sit beside it.
    """
    rng = np.random.default_rng(seed)
    sigma = 0.01
    signal = rng.normal(size=n)
    returns = np.concatenate([[0.0], strength * sigma * signal[:-1] + rng.normal(0, sigma, n - 1)])
    close = 100.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2020-01-01", periods=n, freq="1D", tz="UTC", name="time")
    ohlcv = pd.DataFrame(
        {"open": open_, "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
         "close": close, "volume": rng.lognormal(10, 0.3, n)},
        index=index,
    )
    features = pd.DataFrame(
        {"signal": signal, "noise_a": rng.normal(size=n), "noise_b": rng.normal(size=n)}, index=index
    )
    return ohlcv, features


def lagged_return_features(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Causal features of a price series: past log returns over several lags and a rolling volatility."""
    log_return = np.log(ohlcv["close"]).diff()
    columns = {f"ret_{lag}": log_return.shift(lag - 1) for lag in (1, 2, 3, 5, 10)}
    columns["vol_20"] = log_return.rolling(20).std()
    columns["ret_sum_10"] = log_return.rolling(10).sum()
    return pd.DataFrame(columns, index=ohlcv.index)
