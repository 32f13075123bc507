"""Causal pattern detection: which pattern completes at which bar, with what probability.

    scan = scan_patterns(ohlcv, model, last=500)     # probabilities per bar (windows ending at each bar)
    events = pattern_events(scan, threshold=0.5)     # one row per detection, at the bar it completes
    now = patterns_now(scan)                         # the newest bar's strongest patterns

A bar's probabilities come from windows that end at that bar, so they read bars up to it only; appending
later bars never changes them. A detection is reported at the first bar whose strongest pattern reaches
`threshold` (the bar before had another strongest pattern, or a lower probability): that is the bar
where the pattern became visible as complete, never earlier. `scan_patterns` scans one bar more than
`last` so the first reported bar has its predecessor too, and the same bar gives the same answer however
far back the scan starts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pinelab_core.patterns.synthetic import NO_PATTERN, PATTERN_DIRECTION

if TYPE_CHECKING:
    from pinelab_core.config import Settings
    from pinelab_core.models.patterns import ChartPatternModel

__all__ = [
    "PatternScan",
    "cached_pattern_model",
    "pattern_events",
    "pattern_features",
    "patterns_now",
    "scan_patterns",
]

_BREAKOUT_BARS = 3  # a symmetrical triangle's direction: the close's move over its last bars
_CACHE: dict[tuple[str, str], ChartPatternModel] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class PatternScan:
    """Per-bar pattern probabilities of the scanned bars.

    Attributes:
        probabilities: index = bar time, one column per class (including "none"); rows sum to 1.
        scale: bars of the window each row's probabilities came from.
        close: the close of each scanned bar (for breakout directions and markers).
    """

    probabilities: pd.DataFrame
    scale: pd.Series
    close: pd.Series

    @property
    def patterns(self) -> list[str]:
        return [c for c in self.probabilities.columns if c != NO_PATTERN]


def scan_patterns(ohlcv: pd.DataFrame, model: ChartPatternModel, *, last: int | None = 500) -> PatternScan:
    """Probabilities of every pattern at each of the last `last` bars (every bar when None), plus one more."""
    n = len(ohlcv)
    first = 0 if last is None else max(0, n - int(last) - 1)
    rows = np.arange(first, n)
    probabilities, scale = model.scan(ohlcv, rows)
    index = ohlcv.index[rows]
    usable = np.isfinite(probabilities).all(axis=1)
    frame = pd.DataFrame(probabilities[usable], index=index[usable], columns=list(model.classes_))
    return PatternScan(frame, pd.Series(scale[usable], index=index[usable], name="scale"),
                       ohlcv["close"].iloc[rows[usable]])


def pattern_events(scan: PatternScan, threshold: float = 0.5) -> pd.DataFrame:
    """One row per detection: time, pattern, probability, direction (+1/-1), bars (the pattern's length).

    The first scanned bar only serves as the predecessor of the second, so it never reports.
    """
    probs = scan.probabilities[scan.patterns]
    columns = ["time", "pattern", "probability", "direction", "bars", "close"]
    if len(probs) < 2:
        return pd.DataFrame(columns=columns)
    best = probs.to_numpy().argmax(axis=1)
    strength = probs.to_numpy().max(axis=1)
    above = strength >= threshold
    onset = above[1:] & ((best[1:] != best[:-1]) | ~above[:-1])
    at = np.flatnonzero(onset) + 1
    names = [scan.patterns[i] for i in best[at]]
    closes = scan.close.to_numpy()
    directions = [_direction(name, closes, int(i)) for name, i in zip(names, at, strict=True)]
    return pd.DataFrame({"time": probs.index[at], "pattern": names, "probability": strength[at],
                         "direction": np.asarray(directions, dtype=np.int64),
                         "bars": scan.scale.to_numpy()[at], "close": closes[at]}, columns=columns)


def patterns_now(scan: PatternScan, top: int = 5) -> pd.DataFrame:
    """The newest scanned bar's `top` patterns by probability, with their direction and window length."""
    if scan.probabilities.empty:
        return pd.DataFrame(columns=["pattern", "probability", "direction", "bars"])
    latest = scan.probabilities[scan.patterns].iloc[-1].sort_values(ascending=False).head(top)
    closes = scan.close.to_numpy()
    return pd.DataFrame({"pattern": latest.index, "probability": latest.to_numpy(),
                         "direction": [_direction(name, closes, len(closes) - 1) for name in latest.index],
                         "bars": int(scan.scale.iloc[-1])})


def pattern_features(ohlcv: pd.DataFrame, model: ChartPatternModel, *, last: int | None = None) -> pd.DataFrame:
    """Pattern probabilities as causal feature columns `pattern_<name>` on the frame's index (NaN unscanned).

    Join them to `build_features(ohlcv)` to let a direction model learn from them.
    """
    scan = scan_patterns(ohlcv, model, last=last)
    frame = scan.probabilities[scan.patterns].add_prefix("pattern_")
    return frame.reindex(ohlcv.index)


def cached_pattern_model(settings: Settings) -> ChartPatternModel:
    """The active pattern model, loaded once per registered version per process (pages, signal rounds).

    Raises:
        ModelNotFoundError: none is trained yet.
    """
    from pinelab_core.patterns.training import load_pattern_model, pattern_model_version

    info = pattern_model_version(settings)
    key = (str(settings.models_dir), f"{info.version}:{info.checksum}")
    with _LOCK:
        model = _CACHE.get(key)
    if model is None:
        model = load_pattern_model(settings, info.version)
        with _LOCK:
            _CACHE[key] = model
    return model


def _direction(name: str, closes: np.ndarray, at: int) -> int:
    implied = PATTERN_DIRECTION.get(name, 0)
    if implied:
        return implied
    move = closes[at] - closes[max(0, at - _BREAKOUT_BARS)]  # the breakout decides a symmetrical triangle
    return int(np.sign(move))
