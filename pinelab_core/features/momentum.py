"""Momentum features: RSI, Stochastic, StochRSI, CCI, Williams %R, ROC, momentum, TRIX, Ultimate
Oscillator, PPO, CMO and Balance of Power, all with TA-Lib's default definitions."""

from __future__ import annotations

from typing import Any

import numpy as np
import talib

from pinelab_core.features.spec import (
    Bars,
    ComputeFn,
    FeatureSpec,
    ema_weight,
    feature_factory,
    safe_divide,
    smoothing_history,
    talib_lookback,
    wilder_weight,
)

__all__ = ["SPECS"]

_f = feature_factory("momentum")


def _ta(function: str, inputs: str, output: int = 0, **params: Any) -> ComputeFn:
    return lambda b: b.ta(function, inputs, **params)[output]


def _indicator(name: str, function: str, inputs: str, description: str, output: int = 0, *,
               smoothing: tuple[float, ...] = (), scale_free: bool = True, **params: Any) -> FeatureSpec:
    """A feature that is exactly one output of one TA-Lib call; `smoothing` lists the per-bar weights of its
    recursive smoothings (Wilder, EMA), which set how much history it needs."""
    lookback = talib_lookback(function, **params)
    return _f(name, lookback, description, _ta(function, inputs, output, **params),
              history=smoothing_history(lookback, *smoothing), scale_free=scale_free, **params)


_STOCH = {"fastk_period": 5, "slowk_period": 3, "slowk_matype": 0, "slowd_period": 3, "slowd_matype": 0}
_STOCHRSI = {"timeperiod": 14, "fastk_period": 5, "fastd_period": 3, "fastd_matype": 0}
_STOCHRSI_LB = talib_lookback("STOCHRSI", **_STOCHRSI)
_STOCHRSI_HISTORY = smoothing_history(_STOCHRSI_LB, wilder_weight(_STOCHRSI["timeperiod"]))


def _stoch_rsi(b: Bars) -> tuple[np.ndarray, ...]:
    """TA-Lib's STOCHRSI is STOCHF run on RSI(14) as high, low and close: the same numbers to the last bit,
    from the RSI(14) that rsi_14 already computed."""

    def make() -> tuple[np.ndarray, ...]:
        rsi = b.ta("RSI", "c", timeperiod=_STOCHRSI["timeperiod"])[0]
        k, d = talib.STOCHF(rsi, rsi, rsi, fastk_period=_STOCHRSI["fastk_period"],
                            fastd_period=_STOCHRSI["fastd_period"], fastd_matype=_STOCHRSI["fastd_matype"])
        return np.asarray(k, dtype=np.float64), np.asarray(d, dtype=np.float64)

    return b.memo("stoch_rsi", make)


def _chande_momentum(b: Bars) -> np.ndarray:
    """TA-Lib's CMO(14) smooths gains and losses as RSI(14) does, so it is 2 * RSI - 100: the same numbers to
    1e-13 (a test checks it), from the RSI already computed instead of a second smoothing pass."""
    return 2.0 * b.ta("RSI", "c", timeperiod=14)[0] - 100.0


_ULTOSC = {"timeperiod1": 7, "timeperiod2": 14, "timeperiod3": 28}
_PPO = {"fastperiod": 12, "slowperiod": 26, "matype": 0}

SPECS: list[FeatureSpec] = [
    *(_indicator(f"rsi_{n}", "RSI", "c", f"{n}-bar Relative Strength Index (0-100, Wilder smoothing)",
                 smoothing=(wilder_weight(n),), timeperiod=n) for n in (7, 14, 21)),
    _indicator("stoch_k", "STOCH", "hlc", "Slow stochastic %K (5, 3): close within the 5-bar range, 0-100",
               output=0, **_STOCH),
    _indicator("stoch_d", "STOCH", "hlc", "Slow stochastic %D: 3-bar SMA of %K", output=1, **_STOCH),
    _f("stochrsi_k", _STOCHRSI_LB, "Stochastic RSI fast %K: RSI(14) within its 5-bar range, 0-100",
       lambda b: _stoch_rsi(b)[0], history=_STOCHRSI_HISTORY, **_STOCHRSI),
    _f("stochrsi_d", _STOCHRSI_LB, "Stochastic RSI fast %D: 3-bar SMA of StochRSI %K", lambda b: _stoch_rsi(b)[1],
       history=_STOCHRSI_HISTORY, **_STOCHRSI),
    *(_indicator(f"cci_{n}", "CCI", "hlc", f"{n}-bar Commodity Channel Index: typical price vs its mean deviation",
                 timeperiod=n) for n in (14, 20)),
    _indicator("willr_14", "WILLR", "hlc", "14-bar Williams %R: close within the range, -100 (low) to 0 (high)",
               timeperiod=14),
    *(_indicator(f"roc_{n}", "ROC", "c", f"{n}-bar rate of change in percent: (close / close[t-{n}] - 1) * 100",
                 timeperiod=n) for n in (5, 10, 20)),
    _indicator("mom_10", "MOM", "c", "10-bar momentum: close - close[t-10] (price units)", scale_free=False,
               timeperiod=10),
    _f("mom_10_atr", max(talib_lookback("MOM", timeperiod=10), talib_lookback("ATR", timeperiod=14)),
       "10-bar momentum in ATR(14) units (scale-free); 0 while ATR is 0",
       lambda b: safe_divide(b.ta("MOM", "c", timeperiod=10)[0], b.ta("ATR", "hlc", timeperiod=14)[0], fill=0.0),
       history=smoothing_history(talib_lookback("ATR", timeperiod=14), wilder_weight(14)), timeperiod=10,
       atr_period=14),
    _indicator("trix_15", "TRIX", "c", "TRIX: 1-bar rate of change of a triple-smoothed 15-bar EMA, percent",
               smoothing=(ema_weight(15),) * 3, timeperiod=15),
    _indicator("ultosc_7_14_28", "ULTOSC", "hlc", "Ultimate Oscillator: buying pressure over 7/14/28 bars, 0-100",
               **_ULTOSC),
    _indicator("ppo_12_26", "PPO", "c", "Percentage Price Oscillator: (SMA12 - SMA26) / SMA26 * 100 (TA-Lib default)",
               **_PPO),
    _f("cmo_14", talib_lookback("CMO", timeperiod=14), "14-bar Chande Momentum Oscillator, -100..100",
       _chande_momentum, history=smoothing_history(talib_lookback("CMO", timeperiod=14), wilder_weight(14)),
       timeperiod=14),
    _indicator("bop", "BOP", "ohlc", "Balance of Power: (close - open) / (high - low), -1..1"),
]
