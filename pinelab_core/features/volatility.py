"""Volatility features: ATR/NATR, Bollinger Bands (levels, width, %B), Keltner and Donchian channels,
realised volatility of log returns and the range-based estimators (Parkinson, Garman-Klass,
Rogers-Satchell, Yang-Zhang). Volatilities are per bar (not annualised) so every timeframe reads alike."""

from __future__ import annotations

import numpy as np

from pinelab_core.features.spec import (
    Bars,
    ComputeFn,
    FeatureSpec,
    ema_weight,
    feature_factory,
    log_ratio,
    safe_divide,
    smoothing_history,
    talib_lookback,
    wilder_weight,
)

__all__ = ["SPECS", "realised_volatility"]

_f = feature_factory("volatility")
_BB = {"timeperiod": 20, "nbdevup": 2.0, "nbdevdn": 2.0, "matype": 0}
_BB_LB = talib_lookback("BBANDS", **_BB)


def _bbands(b: Bars) -> tuple[np.ndarray, ...]:
    return b.ta("BBANDS", "c", **_BB)


def _keltner(b: Bars) -> tuple[np.ndarray, np.ndarray]:
    """Keltner channel: EMA(20) of the close +/- 2 x ATR(10)."""

    def make() -> tuple[np.ndarray, np.ndarray]:
        middle = b.ta("EMA", "c", timeperiod=20)[0]
        atr = b.ta("ATR", "hlc", timeperiod=10)[0]
        return middle + 2.0 * atr, middle - 2.0 * atr

    return b.memo("keltner", make)


def _donchian(b: Bars) -> tuple[np.ndarray, np.ndarray]:
    """Donchian channel: highest high and lowest low of the last 20 bars."""
    upper = b.ta_on("MAX", "high", lambda: b.high, timeperiod=20)
    return upper, b.ta_on("MIN", "low", lambda: b.low, timeperiod=20)


def realised_volatility(b: Bars, period: int) -> np.ndarray:
    """Population standard deviation of the last `period` one-bar log returns (TA-Lib STDDEV)."""
    return b.ta_on("STDDEV", "log_return", lambda: b.log_return, timeperiod=period, nbdev=1.0)


def _rolling_mean(b: Bars, key: str, values: np.ndarray, period: int) -> np.ndarray:
    return b.ta_on("SMA", key, lambda: values, timeperiod=period)


def _log_high_low(b: Bars) -> np.ndarray:
    return b.memo("log_high_low", lambda: b.log_high - b.log_low)


def _parkinson(b: Bars) -> np.ndarray:
    return np.sqrt(b.ta_on("SMA", "hl2", lambda: _log_high_low(b) ** 2, timeperiod=20) / (4.0 * np.log(2.0)))


def _garman_klass(b: Bars) -> np.ndarray:
    def per_bar() -> np.ndarray:
        return 0.5 * _log_high_low(b) ** 2 - (2.0 * np.log(2.0) - 1.0) * b.log_body ** 2

    return np.sqrt(np.clip(b.ta_on("SMA", "gk", per_bar, timeperiod=20), 0.0, None))


def _rogers_satchell_terms(b: Bars) -> np.ndarray:
    return b.memo("rs_terms", lambda: (b.log_high - b.log_close) * (b.log_high - b.log_open)
                  + (b.log_low - b.log_close) * (b.log_low - b.log_open))


def _rogers_satchell(b: Bars) -> np.ndarray:
    return np.sqrt(np.clip(_rolling_mean(b, "rs", _rogers_satchell_terms(b), 20), 0.0, None))


def _sample_variance(b: Bars, key: str, values: np.ndarray, period: int) -> np.ndarray:
    return b.ta_on("VAR", key, lambda: values, timeperiod=period, nbdev=1.0) * (period / (period - 1.0))


def _yang_zhang(b: Bars, period: int = 20) -> np.ndarray:
    """Yang-Zhang (2000): overnight variance + k * open-to-close variance + (1 - k) * Rogers-Satchell."""
    k = 0.34 / (1.34 + (period + 1.0) / (period - 1.0))
    variance = (_sample_variance(b, "overnight", b.log_gap, period)
                + k * _sample_variance(b, "open_to_close", b.log_body, period)
                + (1.0 - k) * _rolling_mean(b, "rs", _rogers_satchell_terms(b), period))
    return np.sqrt(np.clip(variance, 0.0, None))


def _natr(period: int) -> ComputeFn:
    return lambda b: b.ta("NATR", "hlc", timeperiod=period)[0]


def _realised(period: int) -> ComputeFn:
    return lambda b: realised_volatility(b, period)


_ATR_LB = talib_lookback("ATR", timeperiod=14)
_KELTNER = {"ema_period": 20, "atr_period": 10, "multiplier": 2.0}
_ONE_BAR = talib_lookback("SMA", timeperiod=20)  # a 20-bar mean of per-bar terms
_KELTNER_LB = talib_lookback("EMA", timeperiod=20)
_KELTNER_HISTORY = max(smoothing_history(_KELTNER_LB, ema_weight(20)),
                       smoothing_history(talib_lookback("ATR", timeperiod=10), wilder_weight(10)))


def _atr_history(period: int) -> int:
    return smoothing_history(talib_lookback("ATR", timeperiod=period), wilder_weight(period))

SPECS: list[FeatureSpec] = [
    _f("atr_14", _ATR_LB, "14-bar Average True Range (Wilder), price units",
       lambda b: b.ta("ATR", "hlc", timeperiod=14)[0], history=_atr_history(14), scale_free=False, timeperiod=14),
    *(_f(f"natr_{n}", talib_lookback("NATR", timeperiod=n), f"{n}-bar normalised ATR: ATR / close * 100 (scale-free)",
         _natr(n), history=_atr_history(n), timeperiod=n) for n in (14, 28)),
    _f("bb_upper_20", _BB_LB, "Bollinger upper band: SMA(20) + 2 standard deviations (price level)",
       lambda b: _bbands(b)[0], scale_free=False, **_BB),
    _f("bb_middle_20", _BB_LB, "Bollinger middle band: SMA(20) of the close (price level)", lambda b: _bbands(b)[1],
       scale_free=False, **_BB),
    _f("bb_lower_20", _BB_LB, "Bollinger lower band: SMA(20) - 2 standard deviations (price level)",
       lambda b: _bbands(b)[2], scale_free=False, **_BB),
    _f("bb_width_20", _BB_LB, "Bollinger band width: (upper - lower) / middle (squeeze when small)",
       lambda b: safe_divide(_bbands(b)[0] - _bbands(b)[2], _bbands(b)[1]), **_BB),
    _f("bb_pctb_20", _BB_LB, "Bollinger %B: where the close sits between the bands (0 lower, 1 upper)",
       lambda b: safe_divide(b.close - _bbands(b)[2], _bbands(b)[0] - _bbands(b)[2], fill=0.5), **_BB),
    _f("keltner_upper_20", _KELTNER_LB, "Keltner upper: EMA(20) + 2 x ATR(10), price level",
       lambda b: _keltner(b)[0], history=_KELTNER_HISTORY, scale_free=False, **_KELTNER),
    _f("keltner_lower_20", _KELTNER_LB, "Keltner lower: EMA(20) - 2 x ATR(10), price level",
       lambda b: _keltner(b)[1], history=_KELTNER_HISTORY, scale_free=False, **_KELTNER),
    _f("keltner_pos_20", _KELTNER_LB, "Close within the Keltner channel (0 lower, 1 upper; 0.5 while it is shut)",
       lambda b: safe_divide(b.close - _keltner(b)[1], _keltner(b)[0] - _keltner(b)[1], fill=0.5),
       history=_KELTNER_HISTORY, **_KELTNER),
    _f("donchian_upper_20", talib_lookback("MAX", timeperiod=20), "Donchian upper: highest high of 20 bars (price)",
       lambda b: _donchian(b)[0], scale_free=False, timeperiod=20),
    _f("donchian_lower_20", talib_lookback("MIN", timeperiod=20), "Donchian lower: lowest low of 20 bars (price)",
       lambda b: _donchian(b)[1], scale_free=False, timeperiod=20),
    _f("donchian_pos_20", talib_lookback("MAX", timeperiod=20), "Close within the 20-bar Donchian channel (0..1)",
       lambda b: safe_divide(b.close - _donchian(b)[1], _donchian(b)[0] - _donchian(b)[1], fill=0.5),
       timeperiod=20),
    _f("donchian_width_20", talib_lookback("MAX", timeperiod=20), "log(upper / lower) of the 20-bar Donchian channel",
       lambda b: log_ratio(_donchian(b)[0], _donchian(b)[1], out=b.target), timeperiod=20),
    *(_f(f"rv_{n}", n, f"{n}-bar realised volatility: std of one-bar log returns (per bar)", _realised(n),
         timeperiod=n) for n in (10, 20, 60)),
    _f("vol_ratio_10_60", 60, "rv_10 / rv_60: volatility expanding (>1) or contracting (<1)",
       lambda b: safe_divide(realised_volatility(b, 10), realised_volatility(b, 60), fill=1.0), fast=10, slow=60),
    _f("parkinson_20", _ONE_BAR, "20-bar Parkinson volatility from the high-low range (per bar)", _parkinson,
       timeperiod=20),
    _f("garman_klass_20", _ONE_BAR, "20-bar Garman-Klass volatility from OHLC (per bar)", _garman_klass,
       timeperiod=20),
    _f("rogers_satchell_20", _ONE_BAR, "20-bar Rogers-Satchell volatility, robust to drift (per bar)",
       _rogers_satchell, timeperiod=20),
    _f("yang_zhang_20", 20, "20-bar Yang-Zhang volatility: overnight + open-close + Rogers-Satchell (per bar)",
       _yang_zhang, timeperiod=20),
    _f("true_range_pct", talib_lookback("TRANGE"), "True range / close: this bar's range incl. gaps (scale-free)",
       lambda b: safe_divide(b.ta("TRANGE", "hlc")[0], b.close)),
]
