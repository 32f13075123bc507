"""Labels: what the market did *after* bar t, the targets models learn.

Every label at bar t looks only forward, over bars t+1 .. t+h; the volatility that scales thresholds is
the rolling standard deviation of log returns known at t's close (bars <= t). Rows whose horizon runs past
the data, or whose volatility is not yet known, are NaN: dropped by the caller, never guessed.

Direction classes are encoded like every model's output: 0 = DOWN, 1 = SIDEWAYS, 2 = UP.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError

__all__ = [
    "LABEL_KINDS",
    "LabelSpec",
    "direction_labels",
    "forward_log_returns",
    "make_labels",
    "rolling_volatility",
    "triple_barrier_labels",
]

LABEL_KINDS: tuple[str, ...] = ("direction", "triple_barrier")
_DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "direction": {"k": 0.5, "vol_window": 20},
    "triple_barrier": {"profit_take": 1.0, "stop_loss": 1.0, "vol_window": 20},
}


@dataclass(frozen=True)
class LabelSpec:
    """How labels were made; stored in every model's manifest so predictions mean the same thing.

    Attributes:
        kind: "direction" (volatility-scaled threshold on the h-bar return) or "triple_barrier".
        horizon: bars looked ahead (the vertical barrier for triple-barrier labels).
        params: kind-specific multipliers; missing ones take the defaults of `_DEFAULT_PARAMS`.
    """

    kind: str = "direction"
    horizon: int = 5
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise DataValidationError(f"Unknown label {self.kind!r}. Use one of: {', '.join(LABEL_KINDS)}.")
        if int(self.horizon) < 1:
            raise DataValidationError(f"Label horizon must be at least 1 bar, got {self.horizon}.")
        unknown = set(self.params) - set(_DEFAULT_PARAMS[self.kind])
        if unknown:
            known = ", ".join(_DEFAULT_PARAMS[self.kind])
            raise DataValidationError(f"Unknown {self.kind} label parameter(s) {sorted(unknown)}; known: {known}.")
        merged = {**_DEFAULT_PARAMS[self.kind], **{k: float(v) for k, v in self.params.items()}}
        object.__setattr__(self, "params", merged)
        object.__setattr__(self, "horizon", int(self.horizon))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "horizon": self.horizon, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelSpec:
        return cls(kind=data.get("kind", "direction"), horizon=data.get("horizon", 5), params=data.get("params", {}))


def rolling_volatility(close: pd.Series, window: int = 20) -> pd.Series:
    """Standard deviation of one-bar log returns over the last `window` bars, known at each bar's close."""
    if window < 2:
        raise DataValidationError(f"Volatility window must be at least 2 bars, got {window}.")
    log_returns = np.log(close.astype(float)).diff()
    return log_returns.rolling(window, min_periods=window).std()


def forward_log_returns(close: pd.Series, horizons: Iterable[int] = (1, 5, 10)) -> pd.DataFrame:
    """log(close[t+h] / close[t]) for each horizon, as columns `fwd_ret_<h>`; NaN where t+h is past the data."""
    log_close = np.log(close.astype(float))
    columns = {}
    for horizon in horizons:
        if int(horizon) < 1:
            raise DataValidationError(f"Forward-return horizons must be at least 1 bar, got {horizon}.")
        columns[f"fwd_ret_{int(horizon)}"] = log_close.shift(-int(horizon)) - log_close
    return pd.DataFrame(columns, index=close.index)


def direction_labels(close: pd.Series, horizon: int = 5, k: float = 0.5, vol_window: int = 20) -> pd.Series:
    """DOWN/SIDEWAYS/UP (0/1/2) from the h-bar log return against +- k * vol_t * sqrt(h).

    The threshold scales with volatility so that "sideways" means the same in calm and wild markets.
    """
    forward = forward_log_returns(close, [horizon]).iloc[:, 0]
    threshold = k * rolling_volatility(close, int(vol_window)) * np.sqrt(horizon)
    labels = pd.Series(1.0, index=close.index, name="label")
    labels[forward > threshold] = 2.0
    labels[forward < -threshold] = 0.0
    labels[forward.isna() | threshold.isna()] = np.nan
    return labels


@numba.njit(cache=True)
def _first_touch(close: np.ndarray, high: np.ndarray, low: np.ndarray, width: np.ndarray,
                 horizon: int, profit_take: float, stop_loss: float) -> np.ndarray:  # pragma: no cover - jitted
    n = close.shape[0]
    out = np.full(n, np.nan)
    for t in range(n - horizon):
        if not np.isfinite(width[t]):
            continue
        upper = close[t] * np.exp(profit_take * width[t])
        lower = close[t] * np.exp(-stop_loss * width[t])
        label = 1.0
        for j in range(t + 1, t + horizon + 1):
            hit_up = high[j] >= upper
            hit_down = low[j] <= lower
            if hit_up and hit_down:
                # Both barriers inside one bar: the order is unknowable, so let the bar's close decide.
                label = 2.0 if close[j] >= close[t] else 0.0
                break
            if hit_up:
                label = 2.0
                break
            if hit_down:
                label = 0.0
                break
        out[t] = label
    return out


def triple_barrier_labels(
    ohlcv: pd.DataFrame, horizon: int = 5, profit_take: float = 1.0, stop_loss: float = 1.0, vol_window: int = 20
) -> pd.Series:
    """UP if the profit-take barrier is touched first, DOWN if the stop-loss is, SIDEWAYS at the vertical barrier.

    Barriers sit at close_t * exp(+- multiple * vol_t * sqrt(h)); touches are read from the highs and lows
    of bars t+1 .. t+h.
    """
    if profit_take <= 0 or stop_loss <= 0:
        raise DataValidationError("Triple-barrier profit_take and stop_loss must be positive multiples of volatility.")
    width = (rolling_volatility(ohlcv["close"], int(vol_window)) * np.sqrt(horizon)).to_numpy(dtype=float)
    values = _first_touch(
        ohlcv["close"].to_numpy(dtype=float), ohlcv["high"].to_numpy(dtype=float),
        ohlcv["low"].to_numpy(dtype=float), width, int(horizon), float(profit_take), float(stop_loss),
    )
    return pd.Series(values, index=ohlcv.index, name="label")


def make_labels(ohlcv: pd.DataFrame, spec: LabelSpec) -> pd.Series:
    """The class labels (0/1/2, NaN where unknown) that `spec` describes, on the OHLCV index."""
    params = spec.params
    if spec.kind == "direction":
        return direction_labels(ohlcv["close"], spec.horizon, k=params["k"], vol_window=int(params["vol_window"]))
    return triple_barrier_labels(
        ohlcv, spec.horizon, profit_take=params["profit_take"], stop_loss=params["stop_loss"],
        vol_window=int(params["vol_window"]),
    )
