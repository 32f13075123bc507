"""Volume features: OBV, A/D line, Chaikin oscillator, MFI, Chaikin money flow, rolling-VWAP distance,
volume z-scores and ratios.

The raw cumulative lines (`obv`, `ad`) start counting at the first bar of the frame, so their level
depends on where the data starts; two frames of the same market that start on different days give
levels that differ by a constant. Models should use the scale-free, start-independent variants
(`obv_slope_20`, `obv_z_50`, `ad_slope_20`, `adosc_norm`), which only look at changes in a window.
"""

from __future__ import annotations

import numba
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
)

__all__ = ["SPECS"]

_f = feature_factory("volume")


def _mean_volume(b: Bars, period: int) -> np.ndarray:
    return b.ta_on("SMA", "volume", lambda: b.volume, timeperiod=period)


def _line_slope(line: str, period: int) -> ComputeFn:
    """Regression slope of a cumulative line per bar, in units of the average bar volume (scale-free)."""

    def compute(b: Bars) -> np.ndarray:
        values = b.ta("OBV", "cv")[0] if line == "obv" else b.ta("AD", "hlcv")[0]
        slope = b.ta_on("LINEARREG_SLOPE", line, lambda: values, timeperiod=period)
        return safe_divide(slope, _mean_volume(b, period), fill=0.0)  # no volume traded: no flow

    return compute


def _zscore(b: Bars, key: str, values: np.ndarray, period: int) -> np.ndarray:
    mean = b.ta_on("SMA", key, lambda: values, timeperiod=period)
    std = b.ta_on("STDDEV", key, lambda: values, timeperiod=period, nbdev=1.0)
    return safe_divide(values - mean, std, fill=0.0)  # a constant series sits on its mean


def _typical_price(b: Bars) -> np.ndarray:
    return b.memo("typical_price", lambda: (b.high + b.low + b.close) / 3.0)


def _vwap_distance(period: int) -> ComputeFn:
    """log(close / rolling VWAP), the VWAP of the last `period` bars' typical price; where those bars traded
    no volume at all (indices, some FX feeds) every bar weighs the same: the plain mean of the typical price."""

    def compute(b: Bars) -> np.ndarray:
        traded = b.ta_on("SUM", "typical_x_volume", lambda: _typical_price(b) * b.volume, timeperiod=period)
        volume = b.ta_on("SUM", "volume", lambda: b.volume, timeperiod=period)
        vwap = safe_divide(traded, volume)
        unweighted = volume == 0.0
        if unweighted.any():
            vwap[unweighted] = b.ta_on("SMA", "typical_price", lambda: _typical_price(b), timeperiod=period)[unweighted]
        return log_ratio(b.close, vwap, out=b.target)

    return compute


def _log_volume_z(period: int) -> ComputeFn:
    """z-score of log(1 + volume / its `period`-bar average): volume relative to its own average, so the
    number is the same in shares or lots (log1p of raw volume is not), and zero volume is still defined."""

    def compute(b: Bars) -> np.ndarray:
        def relative() -> np.ndarray:
            return np.log1p(safe_divide(b.volume, _mean_volume(b, period), fill=1.0))

        return _zscore(b, f"relative_log_volume_{period}", b.memo(("relative_log_volume", period), relative), period)

    return compute


@numba.njit(cache=True)
def _money_flow_volume_of(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                          volume: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Chaikin's money flow volume per bar: ((close - low) - (high - close)) / (high - low) * volume, in one
    pass; a bar with no range moves no money (0)."""
    out = np.empty(len(close))
    for t in range(len(close)):
        span = high[t] - low[t]
        location = ((close[t] - low[t]) - (high[t] - close[t])) / span if span != 0.0 else 0.0
        out[t] = location * volume[t]
    return out


def _money_flow_volume(b: Bars) -> np.ndarray:
    return _money_flow_volume_of(b.high, b.low, b.close, b.volume)


def _chaikin_money_flow(b: Bars) -> np.ndarray:
    flow = b.ta_on("SUM", "money_flow_volume", lambda: _money_flow_volume(b), timeperiod=20)
    return safe_divide(flow, b.ta_on("SUM", "volume", lambda: b.volume, timeperiod=20), fill=0.0)


_ADOSC = {"fastperiod": 3, "slowperiod": 10}
_ADOSC_LB = talib_lookback("ADOSC", **_ADOSC)
_ADOSC_HISTORY = smoothing_history(_ADOSC_LB, ema_weight(_ADOSC["slowperiod"]))  # EMA(3) forgets first

SPECS: list[FeatureSpec] = [
    _f("obv", 0, "On-Balance Volume (TA-Lib): cumulative signed volume; level depends on the data's start",
       lambda b: b.ta("OBV", "cv")[0], scale_free=False, start_dependent=True),
    _f("obv_slope_20", talib_lookback("LINEARREG_SLOPE", timeperiod=20),
       "20-bar regression slope of OBV / average volume: accumulation (+) or distribution (-)",
       _line_slope("obv", 20), timeperiod=20),
    _f("obv_z_50", talib_lookback("SMA", timeperiod=50), "OBV z-score over 50 bars (start-independent)",
       lambda b: _zscore(b, "obv", b.ta("OBV", "cv")[0], 50), timeperiod=50),
    _f("mfi_14", talib_lookback("MFI", timeperiod=14), "14-bar Money Flow Index: volume-weighted RSI, 0-100",
       lambda b: b.ta("MFI", "hlcv", timeperiod=14)[0], timeperiod=14),
    _f("ad", 0, "Chaikin Accumulation/Distribution line (TA-Lib); level depends on the data's start",
       lambda b: b.ta("AD", "hlcv")[0], scale_free=False, start_dependent=True),
    _f("ad_slope_20", talib_lookback("LINEARREG_SLOPE", timeperiod=20),
       "20-bar regression slope of the A/D line / average volume", _line_slope("ad", 20), timeperiod=20),
    _f("adosc", _ADOSC_LB, "Chaikin oscillator: EMA(3) - EMA(10) of the A/D line (volume units)",
       lambda b: b.ta("ADOSC", "hlcv", **_ADOSC)[0], history=_ADOSC_HISTORY, scale_free=False, **_ADOSC),
    _f("adosc_norm", max(_ADOSC_LB, talib_lookback("SMA", timeperiod=10)),
       "Chaikin oscillator / 10-bar average volume (scale-free); 0 without volume",
       lambda b: safe_divide(b.ta("ADOSC", "hlcv", **_ADOSC)[0], _mean_volume(b, 10), fill=0.0),
       history=_ADOSC_HISTORY, **_ADOSC, volume_period=10),
    _f("cmf_20", talib_lookback("SUM", timeperiod=20), "20-bar Chaikin Money Flow, -1..1", _chaikin_money_flow,
       timeperiod=20),
    *(_f(f"vwap_dist_{n}", talib_lookback("SUM", timeperiod=n), f"log(close / {n}-bar rolling VWAP)",
         _vwap_distance(n), timeperiod=n) for n in (20, 50)),
    *(_f(f"volume_z_{n}", 2 * talib_lookback("SMA", timeperiod=n),
         f"z-score over {n} bars of log(1 + volume / {n}-bar average volume); 0 while volume is constant",
         _log_volume_z(n), timeperiod=n) for n in (20, 50)),
    _f("volume_ratio_20", talib_lookback("SMA", timeperiod=20), "volume / 20-bar average volume",
       lambda b: safe_divide(b.volume, _mean_volume(b, 20), fill=1.0), timeperiod=20),
]
