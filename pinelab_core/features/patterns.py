"""Candlestick patterns with TA-Lib's definitions, judged in one compiled pass (`features.candles`) that
gives exactly what TA-Lib's pattern functions give.

TA-Lib answers +100 (bullish), -100 (bearish), +-80 (the weaker engulfing and harami forms) or 0; PineLab
divides by 100 so a pattern reads +1 / -1 / +-0.8 / 0.
TA-Lib returns 0 during a pattern's warm-up (it needs average body and shadow sizes of earlier bars
to judge "long" and "small"); PineLab marks those rows NaN instead, because "no pattern" is not
known there.
"""

from __future__ import annotations

import numpy as np

from pinelab_core.features.candles import CANDLE_PATTERNS, candle_patterns
from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory, talib_lookback

__all__ = ["SPECS"]

_f = feature_factory("patterns")

# (feature name, TA-Lib function, description). Signed patterns: + bullish, - bearish.
_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("cdl_doji", "CDLDOJI", "Doji: open and close almost equal (indecision); +1 when present"),
    ("cdl_dragonfly_doji", "CDLDRAGONFLYDOJI", "Dragonfly doji: doji with a long lower shadow; +1 when present"),
    ("cdl_gravestone_doji", "CDLGRAVESTONEDOJI", "Gravestone doji: doji with a long upper shadow; +1 when present"),
    ("cdl_hammer", "CDLHAMMER", "Hammer: small body, long lower shadow after a decline; +1 bullish"),
    ("cdl_inverted_hammer", "CDLINVERTEDHAMMER", "Inverted hammer: long upper shadow after a decline; +1 bullish"),
    ("cdl_hanging_man", "CDLHANGINGMAN", "Hanging man: hammer shape after a rise; -1 bearish"),
    ("cdl_shooting_star", "CDLSHOOTINGSTAR", "Shooting star: long upper shadow after a rise; -1 bearish"),
    ("cdl_engulfing", "CDLENGULFING", "Engulfing: body engulfs the previous body; +1 bullish, -1 bearish"),
    ("cdl_harami", "CDLHARAMI", "Harami: small body inside the previous long body; +1 bullish, -1 bearish"),
    ("cdl_harami_cross", "CDLHARAMICROSS", "Harami cross: doji inside the previous long body; +1/-1"),
    ("cdl_piercing", "CDLPIERCING", "Piercing line: white bar closing above the black bar's midpoint; +1"),
    ("cdl_dark_cloud_cover", "CDLDARKCLOUDCOVER", "Dark cloud cover: black bar closing below the white "
     "bar's midpoint; -1"),
    ("cdl_morning_star", "CDLMORNINGSTAR", "Morning star: three-bar bottom reversal; +1 bullish"),
    ("cdl_evening_star", "CDLEVENINGSTAR", "Evening star: three-bar top reversal; -1 bearish"),
    ("cdl_morning_doji_star", "CDLMORNINGDOJISTAR", "Morning doji star: morning star with a doji middle; +1"),
    ("cdl_evening_doji_star", "CDLEVENINGDOJISTAR", "Evening doji star: evening star with a doji middle; -1"),
    ("cdl_three_white_soldiers", "CDL3WHITESOLDIERS", "Three white soldiers: three rising white bars; +1"),
    ("cdl_three_black_crows", "CDL3BLACKCROWS", "Three black crows: three falling black bars; -1"),
    ("cdl_three_inside", "CDL3INSIDE", "Three inside up/down: harami confirmed by the third bar; +1/-1"),
    ("cdl_three_outside", "CDL3OUTSIDE", "Three outside up/down: engulfing confirmed by the third bar; +1/-1"),
    ("cdl_marubozu", "CDLMARUBOZU", "Marubozu: long body with no shadows; +1 white, -1 black"),
    ("cdl_spinning_top", "CDLSPINNINGTOP", "Spinning top: small body, shadows longer than it; +1/-1 by colour"),
    ("cdl_belt_hold", "CDLBELTHOLD", "Belt hold: long bar opening at its extreme; +1 bullish, -1 bearish"),
    ("cdl_kicking", "CDLKICKING", "Kicking: two opposite marubozu with a gap; +1 bullish, -1 bearish"),
)


def _all_patterns(b: Bars) -> np.ndarray:
    """Every pattern column (rows in `_PATTERNS` order), judged in one compiled pass (`features.candles`)."""

    def make() -> np.ndarray:
        out = b.block([name for name, _, _ in _PATTERNS])
        candle_patterns(b.open, b.high, b.low, b.close, out)
        return out

    return b.memo("candle_patterns", make)


def _pattern(row: int) -> ComputeFn:
    return lambda b: _all_patterns(b)[row]


def _specs() -> list[FeatureSpec]:
    fused = dict(CANDLE_PATTERNS)
    specs = []
    for row, (name, function, description) in enumerate(_PATTERNS):
        lookback = talib_lookback(function)
        if fused.get(function) != lookback or CANDLE_PATTERNS[row][0] != function:
            # the compiled pass mirrors TA-Lib's warm-up and order; a TA-Lib release that moves them must be seen
            raise RuntimeError(f"{function}: TA-Lib's lookback {lookback} or order differs from features.candles")
        specs.append(_f(name, lookback, description, _pattern(row), talib=function))
    return specs


SPECS: list[FeatureSpec] = _specs()
