"""Labelled synthetic chart patterns drawn on the demo simulator's noise.

Each pattern is a skeleton of key points (x in [0, 1] along the pattern, y in [0, 1] of its height) that
ends with the breakout bar, so a sample's last bar is the bar where the pattern is *complete*: that is the
bar a causal detector may report it at. A sample is a window of OHLCV bars:

- a lead-in of plain noise, then the pattern over the last 60-100% of the window;
- key points jittered, the skeleton interpolated to the pattern's bars and scaled to a random height of
  3-6 times the noise's standard deviation over the pattern's length (a random walk alone spans about 2 of
  them), so the shape stands out of the noise as it must for a trader to call it a pattern, from clearly to
  just;
- noise: close-to-close log returns of a random stretch of a random demo market, demeaned and rescaled to
  a random per-bar volatility; opens, highs and lows keep that stretch's own bar shapes (gaps, wicks).

The "none" class is the same noise with a random drift, or with a random zig-zag that resembles no
pattern, so the net learns what a pattern is not.

    samples = generate_patterns(per_class=200, seed=0)
    samples.windows[0]      # an OHLCV frame of one sample, its pattern completes at the last bar
    samples.labels[0]       # class index into PATTERN_CLASSES
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from pinelab_core.types import OHLCV_COLUMNS

__all__ = [
    "BEARISH",
    "BULLISH",
    "NO_PATTERN",
    "PATTERN_CLASSES",
    "PATTERN_DIRECTION",
    "PatternSamples",
    "generate_patterns",
    "pattern_window",
]

NO_PATTERN = "none"
_UP, _DOWN = 1, -1

# Key points (x, y) of each bullish or bearish template; the mirrored template is built by y -> 1 - y.
_HEAD_AND_SHOULDERS = ((0.0, 0.15), (0.15, 0.6), (0.25, 0.4), (0.45, 0.95), (0.62, 0.4), (0.75, 0.62),
                       (0.9, 0.4), (1.0, 0.2))
_DOUBLE_TOP = ((0.0, 0.15), (0.3, 0.9), (0.52, 0.45), (0.75, 0.9), (0.92, 0.45), (1.0, 0.25))
_ASCENDING_TRIANGLE = ((0.0, 0.1), (0.18, 0.75), (0.32, 0.35), (0.48, 0.75), (0.62, 0.5), (0.76, 0.75),
                       (0.88, 0.62), (1.0, 0.98))
_BULL_FLAG = ((0.0, 0.0), (0.1, 0.08), (0.4, 0.78), (0.5, 0.66), (0.6, 0.74), (0.7, 0.6), (0.8, 0.68),
              (0.9, 0.56), (1.0, 0.95))
_RISING_WEDGE = ((0.0, 0.05), (0.15, 0.45), (0.3, 0.28), (0.46, 0.66), (0.6, 0.52), (0.74, 0.8), (0.86, 0.72),
                 (0.93, 0.84), (1.0, 0.5))
_SYMMETRICAL_TRIANGLE = ((0.0, 0.1), (0.16, 0.9), (0.3, 0.2), (0.45, 0.78), (0.6, 0.34), (0.74, 0.66),
                         (0.86, 0.46), (1.0, 0.95))
_CUP_AND_HANDLE = ((0.0, 0.88), (0.08, 0.62), (0.18, 0.36), (0.3, 0.2), (0.42, 0.16), (0.54, 0.22),
                   (0.64, 0.4), (0.72, 0.65), (0.8, 0.86), (0.86, 0.74), (0.92, 0.78), (1.0, 1.0))

#: Templates by class name, and whether the template is drawn as written (False) or mirrored (True).
_TEMPLATES: dict[str, tuple[tuple[tuple[float, float], ...], bool]] = {
    "head_and_shoulders": (_HEAD_AND_SHOULDERS, False),
    "inverse_head_and_shoulders": (_HEAD_AND_SHOULDERS, True),
    "double_top": (_DOUBLE_TOP, False),
    "double_bottom": (_DOUBLE_TOP, True),
    "ascending_triangle": (_ASCENDING_TRIANGLE, False),
    "descending_triangle": (_ASCENDING_TRIANGLE, True),
    "symmetrical_triangle": (_SYMMETRICAL_TRIANGLE, False),  # drawn breaking either way, see _skeleton
    "bull_flag": (_BULL_FLAG, False),
    "bear_flag": (_BULL_FLAG, True),
    "rising_wedge": (_RISING_WEDGE, False),
    "falling_wedge": (_RISING_WEDGE, True),
    "cup_and_handle": (_CUP_AND_HANDLE, False),
}

#: Every class the pattern model predicts, "none" first.
PATTERN_CLASSES: tuple[str, ...] = (NO_PATTERN, *_TEMPLATES)

#: The breakout direction each pattern implies (+1 up, -1 down, 0: the breakout itself decides).
PATTERN_DIRECTION: dict[str, int] = {
    "none": 0, "head_and_shoulders": _DOWN, "inverse_head_and_shoulders": _UP, "double_top": _DOWN,
    "double_bottom": _UP, "ascending_triangle": _UP, "descending_triangle": _DOWN, "symmetrical_triangle": 0,
    "bull_flag": _UP, "bear_flag": _DOWN, "rising_wedge": _DOWN, "falling_wedge": _UP, "cup_and_handle": _UP,
}
BULLISH: tuple[str, ...] = tuple(name for name, d in PATTERN_DIRECTION.items() if d == _UP)
BEARISH: tuple[str, ...] = tuple(name for name, d in PATTERN_DIRECTION.items() if d == _DOWN)

_NOISE_MARKETS = (("DEMO-EQUITY", "1d"), ("DEMO-INDEX", "1d"), ("DEMO-BTC", "1h"), ("DEMO-ETH", "4h"),
                  ("DEMO-FX", "1h"))
_NOISE_BARS = 6_000


@dataclass(frozen=True)
class PatternSamples:
    """Labelled windows: each an OHLCV frame whose pattern (or none) completes at its last bar."""

    windows: list[pd.DataFrame]
    labels: np.ndarray  # int64 class index into PATTERN_CLASSES
    classes: tuple[str, ...] = PATTERN_CLASSES

    def __len__(self) -> int:
        return len(self.windows)

    def label_names(self) -> list[str]:
        return [self.classes[i] for i in self.labels]


def generate_patterns(
    per_class: int = 200, *, seed: int = 0, min_bars: int = 30, max_bars: int = 120,
    classes: tuple[str, ...] = PATTERN_CLASSES,
) -> PatternSamples:
    """`per_class` labelled windows of every class, shuffled, reproducible from `seed`.

    Args:
        per_class: samples of each class (including "none").
        seed: the same seed gives the same samples.
        min_bars, max_bars: window lengths are drawn uniformly in this range.
        classes: a subset of `PATTERN_CLASSES` to draw.
    """
    unknown = [c for c in classes if c not in PATTERN_CLASSES]
    if unknown or per_class < 1 or not 8 <= min_bars <= max_bars:
        raise ValueError(f"Bad generator settings: unknown classes {unknown}, per_class={per_class}, "
                         f"bars {min_bars}..{max_bars} (need 8 <= min_bars <= max_bars).")
    rng = np.random.default_rng(seed)
    labels = np.repeat([PATTERN_CLASSES.index(c) for c in classes], per_class)
    rng.shuffle(labels)
    windows = [pattern_window(PATTERN_CLASSES[label], int(rng.integers(min_bars, max_bars + 1)), rng)
               for label in labels]
    return PatternSamples(windows, labels.astype(np.int64))


def pattern_window(name: str, bars: int, rng: np.random.Generator) -> pd.DataFrame:
    """One OHLCV window of `bars` bars whose `name` pattern (or "none") completes at the last bar."""
    volatility = float(np.exp(rng.uniform(np.log(0.004), np.log(0.03))))
    returns, shapes = _noise(bars, rng)
    noise_path = np.cumsum(returns * volatility)
    if name == NO_PATTERN:
        path = noise_path + _none_shape(bars, rng) * volatility * np.sqrt(bars)
    else:
        pattern_bars = int(round(bars * rng.uniform(0.6, 1.0)))
        skeleton = np.concatenate([np.zeros(bars - pattern_bars), _skeleton(name, pattern_bars, rng)])
        height = rng.uniform(3.0, 6.0) * volatility * np.sqrt(pattern_bars)
        path = noise_path + skeleton * height
    return _bars(path, shapes * volatility, rng)


def _skeleton(name: str, bars: int, rng: np.random.Generator) -> np.ndarray:
    """The template's jittered key points interpolated to `bars` values, starting at 0."""
    template, mirrored = _TEMPLATES[name]
    points = np.asarray(template, dtype=np.float64)
    if name == "symmetrical_triangle" and rng.random() < 0.5:
        mirrored = True  # a symmetrical triangle breaks out either way
    x = points[:, 0].copy()
    x[1:-1] += rng.uniform(-0.025, 0.025, len(x) - 2)
    x = np.maximum.accumulate(x)
    y = points[:, 1] + rng.normal(0.0, 0.03, len(points))
    if mirrored:
        y = 1.0 - y
    curve = np.interp(np.linspace(0.0, 1.0, bars), x, y)
    return curve - curve[0]


def _none_shape(bars: int, rng: np.random.Generator) -> np.ndarray:
    """No pattern: a straight drift, or a zig-zag through a few random points."""
    t = np.linspace(0.0, 1.0, bars)
    if rng.random() < 0.5:
        return rng.normal(0.0, 1.0) * t
    knots = int(rng.integers(3, 7))
    return np.interp(t, np.linspace(0.0, 1.0, knots), rng.normal(0.0, 0.7, knots))


def _noise(bars: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit-variance, demeaned close-to-close log returns of a random demo stretch, and its bar shapes.

    Shapes are (bars, 3): open gap from the previous close, high above and low below the candle body,
    each in units of that stretch's return standard deviation.
    """
    returns, shapes = _noise_pool()[int(rng.integers(len(_NOISE_MARKETS)))]
    start = int(rng.integers(0, len(returns) - bars))
    stretch = returns[start:start + bars]
    scale = float(stretch.std()) or 1.0
    return (stretch - stretch.mean()) / scale, shapes[start:start + bars] / scale


@cache
def _noise_pool() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Returns and bar shapes of each noise market's last `_NOISE_BARS` demo bars (simulated once)."""
    from pinelab_core.data.simulator import ANCHOR_END, simulate_ohlcv

    pool = []
    for symbol, timeframe in _NOISE_MARKETS:
        start = ANCHOR_END - pd.Timedelta(days=3650 if timeframe == "1d" else 400)
        frame = simulate_ohlcv(symbol, timeframe, start=start).tail(_NOISE_BARS)
        logs = np.log(frame[list(OHLCV_COLUMNS[:4])].to_numpy())
        open_, high, low, close = logs.T
        returns = np.diff(close)
        body_top, body_bottom = np.maximum(open_, close)[1:], np.minimum(open_, close)[1:]
        shapes = np.column_stack([open_[1:] - close[:-1], high[1:] - body_top, body_bottom - low[1:]])
        pool.append((returns, shapes))
    return tuple(pool)


def _bars(path: np.ndarray, shapes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """OHLCV bars whose log closes follow `path`; opens gap from the previous close, wicks from `shapes`."""
    close = path
    previous = np.concatenate([[path[0] - (path[1] - path[0] if len(path) > 1 else 0.0)], path[:-1]])
    open_ = previous + shapes[:, 0]
    high = np.maximum(open_, close) + np.abs(shapes[:, 1])
    low = np.minimum(open_, close) - np.abs(shapes[:, 2])
    level = np.log(rng.uniform(5.0, 500.0))
    prices = np.exp(np.column_stack([open_, high, low, close]) + level)
    volume = rng.lognormal(10.0, 0.4, len(path))
    index = pd.date_range("2020-01-01", periods=len(path), freq="D", tz="UTC", name="time")
    return pd.DataFrame(np.column_stack([prices, volume]), index=index, columns=list(OHLCV_COLUMNS))
