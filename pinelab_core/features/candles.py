"""The 24 candlestick patterns of the `patterns` group in one compiled pass, equal to TA-Lib's functions.

TA-Lib judges "long", "short", "doji" and "near" against the average size of the previous candles (its
candle settings: a real-body or high-low average over 10 or 5 bars, times a factor). Each TA-Lib pattern
function keeps its own running totals, starting at its own first output bar, and calls cost one pass over
the data each. Here every pattern is judged in a single pass: the running totals are *tracks* keyed by
(range kind, period, bars back, first bar), so patterns that would keep the same total share one, updated
in the same order TA-Lib uses (add the newest range, subtract the oldest, after judging the bar), which keeps
every comparison bit-identical to TA-Lib's (a test checks all 24 on several markets). Conditions are
combined without branching: which way a candle goes is a coin flip the processor cannot predict.

Values are TA-Lib's divided by 100: +1 bullish, -1 bearish, +-0.8 for the weaker engulfing and harami forms,
0 none, NaN in the warm-up.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["CANDLE_PATTERNS", "candle_patterns"]

#: TA-Lib function of each output, in output order, with its first judged bar (TA-Lib's lookback).
CANDLE_PATTERNS: tuple[tuple[str, int], ...] = (
    ("CDLDOJI", 10), ("CDLDRAGONFLYDOJI", 10), ("CDLGRAVESTONEDOJI", 10), ("CDLHAMMER", 11),
    ("CDLINVERTEDHAMMER", 11), ("CDLHANGINGMAN", 11), ("CDLSHOOTINGSTAR", 11), ("CDLENGULFING", 2),
    ("CDLHARAMI", 11), ("CDLHARAMICROSS", 11), ("CDLPIERCING", 11), ("CDLDARKCLOUDCOVER", 11),
    ("CDLMORNINGSTAR", 12), ("CDLEVENINGSTAR", 12), ("CDLMORNINGDOJISTAR", 12), ("CDLEVENINGDOJISTAR", 12),
    ("CDL3WHITESOLDIERS", 12), ("CDL3BLACKCROWS", 13), ("CDL3INSIDE", 12), ("CDL3OUTSIDE", 3),
    ("CDLMARUBOZU", 10), ("CDLSPINNINGTOP", 10), ("CDLBELTHOLD", 10), ("CDLKICKING", 11),
)

# Running-total tracks: (range kind 0 = real body |c - o|, 1 = high - low; period; bars back; first bar).
# TA-Lib's settings map onto them: BodyLong/BodyShort = real body over 10 bars (factor 1), BodyDoji and
# ShadowVeryShort = high-low over 10 bars (factor 0.1), Near/Far = high-low over 5 bars (factor 0.2/0.6).
_TRACKS = np.array([
    (0, 10, 0, 10), (1, 10, 0, 10),
    (0, 10, 0, 11), (0, 10, 1, 11), (1, 10, 0, 11), (1, 10, 1, 11), (1, 5, 1, 11),
    (0, 10, 0, 12), (0, 10, 1, 12), (0, 10, 2, 12), (1, 10, 0, 12), (1, 10, 1, 12), (1, 10, 2, 12),
    (1, 5, 1, 12), (1, 5, 2, 12),
    (1, 10, 0, 13), (1, 10, 1, 13), (1, 10, 2, 13),
], dtype=np.int64)
(_BODY_0_10, _RANGE_0_10, _BODY_0_11, _BODY_1_11, _RANGE_0_11, _RANGE_1_11, _NEAR_1_11, _BODY_0_12, _BODY_1_12,
 _BODY_2_12, _RANGE_0_12, _RANGE_1_12, _RANGE_2_12, _NEAR_1_12, _NEAR_2_12, _RANGE_0_13, _RANGE_1_13,
 _RANGE_2_13) = range(len(_TRACKS))
_LAST_FIRST_BAR = int(_TRACKS[:, 3].max())
_PERIODS = _TRACKS[:, 1].astype(np.float64)  # contiguous, so the averages below are one vector division
_TENTH, _NEAR, _FAR = 0.1, 0.2, 0.6  # factors of the high-low settings (doji body / very short shadow, near, far)


@numba.njit(cache=True)
def _body(o: np.ndarray, c: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    return abs(c[j] - o[j])


@numba.njit(cache=True)
def _white(o: np.ndarray, c: np.ndarray, j: int) -> bool:  # pragma: no cover - compiled
    return c[j] >= o[j]


@numba.njit(cache=True)
def _color(o: np.ndarray, c: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    open_, close = o[j], c[j]
    return 1.0 if close >= open_ else -1.0


@numba.njit(cache=True)
def _top(o: np.ndarray, c: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    open_, close = o[j], c[j]  # loaded first, so the choice compiles to a select, not a mispredicted branch
    return close if close >= open_ else open_


@numba.njit(cache=True)
def _bottom(o: np.ndarray, c: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    open_, close = o[j], c[j]
    return open_ if close >= open_ else close


@numba.njit(cache=True)
def _range_of(kind: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, j: int) -> float:
    return abs(c[j] - o[j]) if kind == 0 else h[j] - low[j]  # pragma: no cover - compiled


@numba.njit(cache=True)
def _seed_tracks(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                 totals: np.ndarray) -> None:  # pragma: no cover - compiled
    """Start the tracks whose first bar is i: the sum of their range over the `period` bars before it."""
    for k in range(len(_TRACKS)):
        kind, period, back, first = _TRACKS[k, 0], _TRACKS[k, 1], _TRACKS[k, 2], _TRACKS[k, 3]
        if i == first:
            totals[k] = 0.0
            for j in range(first - back - period, first - back):
                totals[k] += _range_of(kind, o, h, low, c, j)


@numba.njit(cache=True)
def _roll_tracks(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                 t: np.ndarray) -> None:  # pragma: no cover - compiled
    """After judging bar i (>= 13, every track running): add each track's newest range, drop its oldest.

    Written out rather than looped over `_TRACKS`, so each range is computed once for all the tracks
    that use it (the order of the two operations per track is TA-Lib's: newest minus oldest, then add).
    """
    b0, b1, b2 = _body(o, c, i), _body(o, c, i - 1), _body(o, c, i - 2)
    b10, b11, b12 = _body(o, c, i - 10), _body(o, c, i - 11), _body(o, c, i - 12)
    r0, r1, r2 = h[i] - low[i], h[i - 1] - low[i - 1], h[i - 2] - low[i - 2]
    r6, r7 = h[i - 6] - low[i - 6], h[i - 7] - low[i - 7]
    r10, r11, r12 = h[i - 10] - low[i - 10], h[i - 11] - low[i - 11], h[i - 12] - low[i - 12]
    t[_BODY_0_10] += b0 - b10
    t[_RANGE_0_10] += r0 - r10
    t[_BODY_0_11] += b0 - b10
    t[_BODY_1_11] += b1 - b11
    t[_RANGE_0_11] += r0 - r10
    t[_RANGE_1_11] += r1 - r11
    t[_NEAR_1_11] += r1 - r6
    t[_BODY_0_12] += b0 - b10
    t[_BODY_1_12] += b1 - b11
    t[_BODY_2_12] += b2 - b12
    t[_RANGE_0_12] += r0 - r10
    t[_RANGE_1_12] += r1 - r11
    t[_RANGE_2_12] += r2 - r12
    t[_NEAR_1_12] += r1 - r6
    t[_NEAR_2_12] += r2 - r7
    t[_RANGE_0_13] += r0 - r10
    t[_RANGE_1_13] += r1 - r11
    t[_RANGE_2_13] += r2 - r12


@numba.njit(cache=True)
def _roll_started_tracks(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                         totals: np.ndarray) -> None:  # pragma: no cover - compiled
    """`_roll_tracks` for the first bars, when only some tracks have started."""
    for k in range(len(_TRACKS)):
        kind, period, back, first = _TRACKS[k, 0], _TRACKS[k, 1], _TRACKS[k, 2], _TRACKS[k, 3]
        if i >= first:
            totals[k] += _range_of(kind, o, h, low, c, i - back) - _range_of(kind, o, h, low, c, i - back - period)


@numba.njit(cache=True)
def _single_bar(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, a: np.ndarray,
                out: np.ndarray) -> None:  # pragma: no cover - compiled
    """One-bar patterns: dojis, marubozu, spinning top, belt hold (first judged bar 10)."""
    body, white = _body(o, c, i), _white(o, c, i)
    upper, lower = h[i] - _top(o, c, i), _bottom(o, c, i) - low[i]
    doji, short_shadow = body <= _TENTH * a[_RANGE_0_10], _TENTH * a[_RANGE_0_10]
    out[0, i] = 1.0 if doji else 0.0
    out[1, i] = 1.0 if doji & (upper < short_shadow) & (lower > short_shadow) else 0.0
    out[2, i] = 1.0 if doji & (lower < short_shadow) & (upper > short_shadow) else 0.0
    long_body = body > a[_BODY_0_10]
    out[20, i] = _color(o, c, i) if long_body & (upper < short_shadow) & (lower < short_shadow) else 0.0
    out[21, i] = _color(o, c, i) if (body < a[_BODY_0_10]) & (upper > body) & (lower > body) else 0.0
    belt = long_body & ((white & (lower < short_shadow)) | ((not white) & (upper < short_shadow)))
    out[22, i] = _color(o, c, i) if belt else 0.0


@numba.njit(cache=True)
def _hammer_family(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, a: np.ndarray,
                   out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Small body with one long shadow: hammer, inverted hammer, hanging man, shooting star (first bar 11)."""
    body = _body(o, c, i)
    upper, lower = h[i] - _top(o, c, i), _bottom(o, c, i) - low[i]
    small, short_shadow = body < a[_BODY_0_11], _TENTH * a[_RANGE_0_11]
    hammer_shape = small & (lower > body) & (upper < short_shadow)
    inverted_shape = small & (upper > body) & (lower < short_shadow)
    near = _NEAR * a[_NEAR_1_11]
    out[3, i] = 1.0 if hammer_shape & (_bottom(o, c, i) <= low[i - 1] + near) else 0.0
    out[4, i] = 1.0 if inverted_shape & (_top(o, c, i) < _bottom(o, c, i - 1)) else 0.0
    out[5, i] = -1.0 if hammer_shape & (_bottom(o, c, i) >= h[i - 1] - near) else 0.0
    out[6, i] = -1.0 if inverted_shape & (_bottom(o, c, i) > _top(o, c, i - 1)) else 0.0


@numba.njit(cache=True)
def _engulfing(i: int, o: np.ndarray, c: np.ndarray) -> float:  # pragma: no cover - compiled
    """+-1 when this body engulfs the previous opposite body, +-0.8 when the two match at one end."""
    white, was_white = _white(o, c, i), _white(o, c, i - 1)
    bullish = (white & (not was_white)
               & (((c[i] >= o[i - 1]) & (o[i] < c[i - 1])) | ((c[i] > o[i - 1]) & (o[i] <= c[i - 1]))))
    bearish = ((not white) & was_white
               & (((o[i] >= c[i - 1]) & (c[i] < o[i - 1])) | ((o[i] > c[i - 1]) & (c[i] <= o[i - 1]))))
    strength = 1.0 if (o[i] != c[i - 1]) & (c[i] != o[i - 1]) else 0.8
    return _color(o, c, i) * strength if bullish | bearish else 0.0


@numba.njit(cache=True)
def _inside(i: int, o: np.ndarray, c: np.ndarray, previous_long: bool, small: bool) -> float:  # pragma: no cover
    """Harami logic: a small body inside the previous long one; -colour of the long bar, 0.8 when touching."""
    top, bottom = _top(o, c, i), _bottom(o, c, i)
    outer_top, outer_bottom = _top(o, c, i - 1), _bottom(o, c, i - 1)
    strict = (top < outer_top) & (bottom > outer_bottom)
    touching = (top <= outer_top) & (bottom >= outer_bottom)
    strength = 1.0 if strict else (0.8 if touching else 0.0)
    return -_color(o, c, i - 1) * strength if previous_long & small else 0.0


@numba.njit(cache=True)
def _two_bar(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, a: np.ndarray,
             out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Harami (+ cross), piercing line, dark cloud cover, kicking (first judged bar 11)."""
    body, previous = _body(o, c, i), _body(o, c, i - 1)
    white, was_white = _white(o, c, i), _white(o, c, i - 1)
    previous_long = previous > a[_BODY_1_11]
    out[8, i] = _inside(i, o, c, previous_long, body <= a[_BODY_0_11])
    out[9, i] = _inside(i, o, c, previous_long, body <= _TENTH * a[_RANGE_0_11])
    piercing = ((not was_white) & previous_long & white & (body > a[_BODY_0_11]) & (o[i] < low[i - 1])
                & (c[i] < o[i - 1]) & (c[i] > c[i - 1] + previous * 0.5))
    out[10, i] = 1.0 if piercing else 0.0
    dark_cloud = (was_white & previous_long & (not white) & (o[i] > h[i - 1]) & (c[i] > o[i - 1])
                  & (c[i] < c[i - 1] - previous * 0.5))
    out[11, i] = -1.0 if dark_cloud else 0.0
    marubozu_before = (previous_long & (h[i - 1] - _top(o, c, i - 1) < _TENTH * a[_RANGE_1_11])
                       & (_bottom(o, c, i - 1) - low[i - 1] < _TENTH * a[_RANGE_1_11]))
    marubozu_now = ((body > a[_BODY_0_11]) & (h[i] - _top(o, c, i) < _TENTH * a[_RANGE_0_11])
                    & (_bottom(o, c, i) - low[i] < _TENTH * a[_RANGE_0_11]))
    gap = ((not was_white) & (low[i] > h[i - 1])) | (was_white & (h[i] < low[i - 1]))
    kicking = (white != was_white) & marubozu_before & marubozu_now & gap
    out[23, i] = _color(o, c, i) if kicking else 0.0


@numba.njit(cache=True)
def _stars(i: int, o: np.ndarray, c: np.ndarray, a: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """Morning/evening star and doji star (penetration 0.3), three inside up/down (first judged bar 12)."""
    first, middle, body = _body(o, c, i - 2), _body(o, c, i - 1), _body(o, c, i)
    first_long, first_white, white = first > a[_BODY_2_12], _white(o, c, i - 2), _white(o, c, i)
    gap_down = _top(o, c, i - 1) < _bottom(o, c, i - 2)
    gap_up = _bottom(o, c, i - 1) > _top(o, c, i - 2)
    third_real = body > a[_BODY_0_12]
    rally = first_long & (not first_white) & third_real & white & (c[i] > c[i - 2] + first * 0.3)
    drop = first_long & first_white & third_real & (not white) & (c[i] < c[i - 2] - first * 0.3)
    small, doji = middle <= a[_BODY_1_12], middle <= _TENTH * a[_RANGE_1_12]
    out[12, i] = 1.0 if rally & small & gap_down else 0.0
    out[13, i] = -1.0 if drop & small & gap_up else 0.0
    out[14, i] = 1.0 if rally & doji & gap_down else 0.0
    out[15, i] = -1.0 if drop & doji & gap_up else 0.0
    inside = (first_long & small & (_top(o, c, i - 1) < _top(o, c, i - 2))
              & (_bottom(o, c, i - 1) > _bottom(o, c, i - 2)))
    confirmed = (first_white & (not white) & (c[i] < o[i - 2])) | ((not first_white) & white & (c[i] > o[i - 2]))
    out[18, i] = -_color(o, c, i - 2) if inside & confirmed else 0.0


@numba.njit(cache=True)
def _three_soldiers(i: int, o: np.ndarray, h: np.ndarray, c: np.ndarray, a: np.ndarray) -> float:  # pragma: no cover
    """Three white soldiers: rising white bodies, short upper shadows, each opening in or near the last body."""
    rising = _white(o, c, i - 2) & _white(o, c, i - 1) & _white(o, c, i) & (c[i] > c[i - 1]) & (c[i - 1] > c[i - 2])
    shadows = ((h[i - 2] - c[i - 2] < _TENTH * a[_RANGE_2_12]) & (h[i - 1] - c[i - 1] < _TENTH * a[_RANGE_1_12])
               & (h[i] - c[i] < _TENTH * a[_RANGE_0_12]))
    opens = ((o[i - 1] > o[i - 2]) & (o[i - 1] <= c[i - 2] + _NEAR * a[_NEAR_2_12]) & (o[i] > o[i - 1])
             & (o[i] <= c[i - 1] + _NEAR * a[_NEAR_1_12]))
    bodies = ((_body(o, c, i - 1) > _body(o, c, i - 2) - _FAR * a[_NEAR_2_12])
              & (_body(o, c, i) > _body(o, c, i - 1) - _FAR * a[_NEAR_1_12]) & (_body(o, c, i) > a[_BODY_0_12]))
    return 1.0 if rising & shadows & opens & bodies else 0.0


@numba.njit(cache=True)
def _three_crows(i: int, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                 a: np.ndarray) -> float:  # pragma: no cover - compiled
    """Three black crows after a white bar: falling black bodies with short lower shadows (first bar 13)."""
    colours = _white(o, c, i - 3) & (not _white(o, c, i - 2)) & (not _white(o, c, i - 1)) & (not _white(o, c, i))
    shadows = ((c[i - 2] - low[i - 2] < _TENTH * a[_RANGE_2_13]) & (c[i - 1] - low[i - 1] < _TENTH * a[_RANGE_1_13])
               & (c[i] - low[i] < _TENTH * a[_RANGE_0_13]))
    opens = (o[i - 1] < o[i - 2]) & (o[i - 1] > c[i - 2]) & (o[i] < o[i - 1]) & (o[i] > c[i - 1])
    falling = (h[i - 3] > c[i - 2]) & (c[i - 2] > c[i - 1]) & (c[i - 1] > c[i])
    return -1.0 if colours & shadows & opens & falling else 0.0


@numba.njit(cache=True)
def _three_outside(i: int, o: np.ndarray, c: np.ndarray) -> float:  # pragma: no cover - compiled
    """Three outside up/down: an engulfing pair confirmed by the third close."""
    up = (_white(o, c, i - 1) & (not _white(o, c, i - 2)) & (c[i - 1] > o[i - 2]) & (o[i - 1] < c[i - 2])
          & (c[i] > c[i - 1]))
    down = ((not _white(o, c, i - 1)) & _white(o, c, i - 2) & (o[i - 1] > c[i - 2]) & (c[i - 1] < o[i - 2])
            & (c[i] < c[i - 1]))
    return _color(o, c, i - 1) if up | down else 0.0


@numba.njit(cache=True, error_model="numpy")
def _judge_all(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
               out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Every pattern for every bar into `out` (one array per pattern, NaN-filled by the caller)."""
    totals, averages = np.zeros(len(_TRACKS)), np.zeros(len(_TRACKS))
    for i in range(len(c)):
        if i <= _LAST_FIRST_BAR:
            _seed_tracks(i, o, h, low, c, totals)
        for k in range(len(_PERIODS)):
            averages[k] = totals[k] / _PERIODS[k]
        if i >= 2:
            out[7, i] = _engulfing(i, o, c)
        if i >= 3:
            out[19, i] = _three_outside(i, o, c)
        if i >= 10:
            _single_bar(i, o, h, low, c, averages, out)
        if i >= 11:
            _hammer_family(i, o, h, low, c, averages, out)
            _two_bar(i, o, h, low, c, averages, out)
        if i >= 12:
            _stars(i, o, c, averages, out)
            out[16, i] = _three_soldiers(i, o, h, c, averages)
        if i >= 13:
            out[17, i] = _three_crows(i, o, h, low, c, averages)
        if i >= _LAST_FIRST_BAR:
            _roll_tracks(i, o, h, low, c, totals)
        else:
            _roll_started_tracks(i, o, h, low, c, totals)


def candle_patterns(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, out: np.ndarray) -> None:
    """All 24 patterns of the OHLC arrays into the rows of `out` (patterns x bars, `CANDLE_PATTERNS` order):
    TA-Lib's values / 100, NaN in each pattern's warm-up."""
    for row, (_, first) in enumerate(CANDLE_PATTERNS):
        out[row, : min(first, len(c))] = np.nan
    _judge_all(o, h, low, c, out)
