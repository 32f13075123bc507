"""Statistical features: simple and log returns at several lags, rolling moments of log returns,
autocorrelation, z-scores of the close and the shape of each bar (range, body, shadows, gap)."""

from __future__ import annotations

import numpy as np
import talib

from pinelab_core.features.moments import rolling_skew_kurt
from pinelab_core.features.spec import (
    Bars,
    ComputeFn,
    FeatureSpec,
    feature_factory,
    lagged,
    lagged_difference,
    safe_divide,
)

__all__ = ["SPECS"]

_f = feature_factory("statistics")
_LAGS = (1, 2, 3, 5, 10)


def _log_return(lag: int) -> ComputeFn:
    return lambda b: b.log_return if lag == 1 else lagged_difference(b.log_close, lag)


def _simple_return(lag: int) -> ComputeFn:
    return lambda b: safe_divide(b.close, lagged(b.close, lag)) - 1.0


def _mean(period: int) -> ComputeFn:
    return lambda b: b.ta_on("SMA", "log_return", lambda: b.log_return, timeperiod=period)


def _moment(kind: str, period: int) -> ComputeFn:
    """Rolling skewness or excess kurtosis of log returns (pandas' unbiased estimators, `features.moments`)."""

    def compute(b: Bars) -> np.ndarray:
        skew, kurt = b.memo(("skew_kurt", period), lambda: rolling_skew_kurt(b.log_return, period))
        return skew if kind == "skew" else kurt

    return compute


def _autocorrelation(lag: int, period: int) -> ComputeFn:
    """Pearson correlation of the last `period` log returns with the same returns `lag` bars earlier."""

    def compute(b: Bars) -> np.ndarray:
        out = b.target if b.target is not None else np.empty(len(b))
        out[: min(lag, len(out))] = np.nan
        if len(out) > lag:  # views shifted by the lag, instead of a lagged copy: the same NaN start for TA-Lib
            out[lag:] = talib.CORREL(b.log_return[lag:], b.log_return[:-lag], timeperiod=period)
        return out

    return compute


def _close_zscore(period: int) -> ComputeFn:
    def compute(b: Bars) -> np.ndarray:
        mean = b.ta("SMA", "c", timeperiod=period)[0]
        std = b.ta("STDDEV", "c", timeperiod=period, nbdev=1.0)[0]
        return safe_divide(b.close - mean, std, fill=0.0)  # a constant close sits on its mean

    return compute


def _body_bounds(b: Bars) -> tuple[np.ndarray, np.ndarray]:
    """(top, bottom) of each bar's real body, shared by the shadow features."""
    return b.memo("body_bounds", lambda: (np.maximum(b.open, b.close), np.minimum(b.open, b.close)))


def _bar_shape(part: str) -> ComputeFn:
    shapes: dict[str, ComputeFn] = {
        "range": lambda b: safe_divide(b.high - b.low, b.close),
        "body": lambda b: b.log_body,
        "upper_shadow": lambda b: safe_divide(b.high - _body_bounds(b)[0], b.close),
        "lower_shadow": lambda b: safe_divide(_body_bounds(b)[1] - b.low, b.close),
        "close_location": lambda b: safe_divide(b.close - b.low, b.high - b.low, fill=0.5),
    }
    return shapes[part]


SPECS: list[FeatureSpec] = [
    *(_f(f"ret_{lag}", lag, f"{lag}-bar simple return: close / close[t-{lag}] - 1", _simple_return(lag), lag=lag)
      for lag in _LAGS),
    *(_f(f"logret_{lag}", lag, f"{lag}-bar log return: log(close / close[t-{lag}])", _log_return(lag), lag=lag)
      for lag in _LAGS),
    *(_f(f"logret_mean_{n}", n, f"Mean one-bar log return over {n} bars (drift)", _mean(n), timeperiod=n)
      for n in (20, 60)),
    *(_f(f"logret_skew_{n}", n, f"Skewness of one-bar log returns over {n} bars", _moment("skew", n), timeperiod=n)
      for n in (20, 60)),
    *(_f(f"logret_kurt_{n}", n, f"Excess kurtosis of one-bar log returns over {n} bars (fat tails)",
         _moment("kurt", n), timeperiod=n) for n in (20, 60)),
    _f("autocorr_1_20", 21, "Lag-1 autocorrelation of log returns over 20 bars (+ trending, - mean-reverting)",
       _autocorrelation(1, 20), lag=1, timeperiod=20),
    _f("autocorr_1_60", 61, "Lag-1 autocorrelation of log returns over 60 bars", _autocorrelation(1, 60),
       lag=1, timeperiod=60),
    _f("autocorr_5_60", 65, "Lag-5 autocorrelation of log returns over 60 bars", _autocorrelation(5, 60),
       lag=5, timeperiod=60),
    *(_f(f"zscore_close_{n}", n - 1, f"(close - SMA{n}) / population std of the close over {n} bars",
         _close_zscore(n), timeperiod=n) for n in (20, 50, 100)),
    _f("range_pct", 0, "(high - low) / close: this bar's range", _bar_shape("range")),
    _f("body_log", 0, "log(close / open): this bar's body, + for a green bar", _bar_shape("body")),
    _f("upper_shadow_pct", 0, "(high - max(open, close)) / close: upper wick", _bar_shape("upper_shadow")),
    _f("lower_shadow_pct", 0, "(min(open, close) - low) / close: lower wick", _bar_shape("lower_shadow")),
    _f("close_location", 0, "(close - low) / (high - low): where the bar closed within its range (0..1)",
       _bar_shape("close_location")),
    _f("gap_log", 1, "log(open / previous close): the opening gap", lambda b: b.log_gap),
]
