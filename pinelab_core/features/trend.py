"""Trend features: moving averages (raw and as log distance from the close), MACD, ADX/DMI, Aroon,
Parabolic SAR, linear-regression slope and moving-average ratios. All from TA-Lib's definitions."""

from __future__ import annotations

import numpy as np

from pinelab_core.features.spec import (
    Bars,
    ComputeFn,
    FeatureSpec,
    ema_weight,
    feature_factory,
    lagged,
    log_ratio,
    safe_divide,
    smoothing_history,
    talib_lookback,
    wilder_weight,
)

__all__ = ["SPECS"]

_f = feature_factory("trend")

# (TA-Lib function, window) for every moving average the group offers, raw and as a distance.
_AVERAGES: tuple[tuple[str, str, int], ...] = (
    ("sma", "SMA", 10),
    ("sma", "SMA", 20),
    ("sma", "SMA", 50),
    ("sma", "SMA", 200),
    ("ema", "EMA", 10),
    ("ema", "EMA", 20),
    ("ema", "EMA", 50),
    ("wma", "WMA", 20),
    ("dema", "DEMA", 20),
    ("tema", "TEMA", 20),
    ("kama", "KAMA", 30),
)
_AVERAGE_NAMES = {"SMA": "simple", "EMA": "exponential", "WMA": "weighted", "DEMA": "double exponential",
                  "TEMA": "triple exponential", "KAMA": "Kaufman adaptive"}


def _average(function: str, period: int) -> ComputeFn:
    return lambda b: b.ta(function, "c", timeperiod=period)[0]


def _average_distance(function: str, period: int) -> ComputeFn:
    return lambda b: log_ratio(b.close, b.ta(function, "c", timeperiod=period)[0], out=b.target)


#: KAMA's smoothing adapts between EMA(2) and EMA(30) squared; in a market that never trends it could take
#: ~4,500 bars to forget its seed, far more than any real market needs: measured at 400-500 bars on daily,
#: hourly and minute data (tests/test_features_history.py holds it to this value), three times that here.
KAMA_HISTORY = 1_500


def _average_history(function: str, period: int, lookback: int) -> int:
    """Fixed windows (SMA, WMA) need their window; EMA-based averages cascade 1, 2 or 3 smoothings."""
    stages = {"EMA": 1, "DEMA": 2, "TEMA": 3}.get(function, 0)
    if function == "KAMA":
        return KAMA_HISTORY
    return smoothing_history(lookback, *[ema_weight(period)] * stages)


def _average_specs() -> list[FeatureSpec]:
    raw, distance = [], []
    for prefix, function, period in _AVERAGES:
        lookback = talib_lookback(function, timeperiod=period)
        kind, history = _AVERAGE_NAMES[function], _average_history(function, period, lookback)
        raw.append(_f(f"{prefix}_{period}", lookback, f"{period}-bar {kind} moving average of the close (price level)",
                      _average(function, period), history=history, scale_free=False, timeperiod=period))
        distance.append(_f(f"dist_{prefix}_{period}", lookback,
                           f"log(close / {prefix}_{period}): how far price runs above (+) or below (-) its average",
                           _average_distance(function, period), history=history, timeperiod=period))
    return raw + distance


def _macd(b: Bars) -> tuple[np.ndarray, ...]:
    return b.ta("MACD", "c", fastperiod=12, slowperiod=26, signalperiod=9)


def _dmi(b: Bars, function: str) -> np.ndarray:
    return b.ta(function, "hlc", timeperiod=14)[0]


def _adx_rating(b: Bars, period: int = 14) -> np.ndarray:
    """TA-Lib's ADXR, (ADX + ADX from period - 1 bars back) / 2, from the ADX already computed: the same
    numbers to the last bit (TA-Lib's ADXR runs the same ADX internally), without a second ADX pass."""
    return (_dmi(b, "ADX") + lagged(_dmi(b, "ADX"), period - 1)) / 2.0


def _aroon(b: Bars) -> tuple[np.ndarray, ...]:
    """(down, up). Their difference is TA-Lib's AROONOSC to the last bit (100 / 25 = 4 is exact, the rest
    are whole bar counts), so the oscillator reuses them instead of scanning the highs and lows again."""
    return b.ta("AROON", "hl", timeperiod=25)


def _psar(b: Bars) -> np.ndarray:
    return b.ta("SAR", "hl", acceleration=0.02, maximum=0.2)[0]


def _log_slope(period: int) -> ComputeFn:
    return lambda b: b.ta_on("LINEARREG_SLOPE", "log_close", lambda: b.log_close, timeperiod=period)


def _ma_ratio(fast: int, slow: int) -> ComputeFn:
    return lambda b: log_ratio(b.ta("SMA", "c", timeperiod=fast)[0], b.ta("SMA", "c", timeperiod=slow)[0], out=b.target)


_MACD = {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}
_MACD_LB = talib_lookback("MACD", **_MACD)
_ADX_LB = talib_lookback("ADX", timeperiod=14)
_AROON_LB = talib_lookback("AROON", timeperiod=25)
_SAR = {"acceleration": 0.02, "maximum": 0.2}
_SAR_LB = talib_lookback("SAR", **_SAR)
_MACD_HISTORY = smoothing_history(_MACD_LB, ema_weight(26), ema_weight(9))
_ATR_HISTORY = smoothing_history(talib_lookback("ATR", timeperiod=14), wilder_weight(14))
_DI_HISTORY = smoothing_history(talib_lookback("PLUS_DI", timeperiod=14), wilder_weight(14))
_ADX_HISTORY = smoothing_history(_ADX_LB, wilder_weight(14), wilder_weight(14))
#: The stop-and-reverse path forgets its start at the first reversal both runs share: measured within 150
#: bars on daily, hourly and minute data; a long trend without a reversal needs more, hence the margin.
PSAR_HISTORY = 500

SPECS: list[FeatureSpec] = [
    *_average_specs(),
    _f("macd", _MACD_LB, "MACD line: EMA(12) - EMA(26) of the close (price units)", lambda b: _macd(b)[0],
       history=_MACD_HISTORY, scale_free=False, **_MACD),
    _f("macd_signal", _MACD_LB, "MACD signal line: EMA(9) of the MACD line (price units)", lambda b: _macd(b)[1],
       history=_MACD_HISTORY, scale_free=False, **_MACD),
    _f("macd_hist", _MACD_LB, "MACD histogram: MACD line - signal line (price units)", lambda b: _macd(b)[2],
       history=_MACD_HISTORY, scale_free=False, **_MACD),
    _f("macd_hist_atr", max(_MACD_LB, talib_lookback("ATR", timeperiod=14)),
       "MACD histogram in ATR(14) units (scale-free across symbols); 0 while ATR is 0",
       lambda b: safe_divide(_macd(b)[2], b.ta("ATR", "hlc", timeperiod=14)[0], fill=0.0),
       history=max(_MACD_HISTORY, _ATR_HISTORY), **_MACD, atr_period=14),
    _f("adx_14", _ADX_LB, "Average Directional Index: trend strength 0-100, direction-blind",
       lambda b: _dmi(b, "ADX"), history=_ADX_HISTORY, timeperiod=14),
    _f("adxr_14", talib_lookback("ADXR", timeperiod=14), "ADX rating: average of today's and 14-bar-old ADX",
       _adx_rating, history=_ADX_HISTORY + 13, timeperiod=14),
    _f("plus_di_14", talib_lookback("PLUS_DI", timeperiod=14), "+DI: strength of up moves (0-100)",
       lambda b: _dmi(b, "PLUS_DI"), history=_DI_HISTORY, timeperiod=14),
    _f("minus_di_14", talib_lookback("MINUS_DI", timeperiod=14), "-DI: strength of down moves (0-100)",
       lambda b: _dmi(b, "MINUS_DI"), history=_DI_HISTORY, timeperiod=14),
    _f("aroon_up_25", _AROON_LB, "Aroon up: 100 when the 25-bar high is today, falling as it ages",
       lambda b: _aroon(b)[1], timeperiod=25),
    _f("aroon_down_25", _AROON_LB, "Aroon down: 100 when the 25-bar low is today, falling as it ages",
       lambda b: _aroon(b)[0], timeperiod=25),
    _f("aroon_osc_25", _AROON_LB, "Aroon oscillator: Aroon up - Aroon down (-100..100)",
       lambda b: _aroon(b)[1] - _aroon(b)[0], timeperiod=25),
    _f("psar", _SAR_LB, "Parabolic SAR stop-and-reverse level (price level)", _psar, history=PSAR_HISTORY,
       scale_free=False, **_SAR),
    _f("dist_psar", _SAR_LB, "log(close / Parabolic SAR): + above the stop (uptrend), - below",
       lambda b: log_ratio(b.close, _psar(b), out=b.target), history=PSAR_HISTORY, **_SAR),
    _f("linreg_slope_14", talib_lookback("LINEARREG_SLOPE", timeperiod=14),
       "Slope of a 14-bar linear regression of log close: trend drift per bar", _log_slope(14), timeperiod=14),
    _f("linreg_slope_50", talib_lookback("LINEARREG_SLOPE", timeperiod=50),
       "Slope of a 50-bar linear regression of log close: trend drift per bar", _log_slope(50), timeperiod=50),
    _f("ma_ratio_20_50", talib_lookback("SMA", timeperiod=50), "log(sma_20 / sma_50): short vs medium trend",
       _ma_ratio(20, 50), fast=20, slow=50),
    _f("ma_ratio_50_200", talib_lookback("SMA", timeperiod=200), "log(sma_50 / sma_200): golden/death cross gap",
       _ma_ratio(50, 200), fast=50, slow=200),
]
