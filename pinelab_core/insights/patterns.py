"""The patterns at the last closed bar, with their direction: two detectors side by side.

- "talib": the candlestick patterns that fired (the `patterns` feature group, exactly TA-Lib's definitions);
  a rule fires or not, so its `probability` is empty.
- "cnn": the chart-pattern model's strongest patterns (head and shoulders, flags, wedges, ...) in windows
  ending at the bar, with their probability; `completed` says the pattern became the strongest at this very
  bar (the Charts page's marker and the "patterns" signal source's call). Empty, with a note saying how to
  train one, while no pattern model is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pinelab_core.config import Settings

__all__ = ["CHART_PATTERN_FLOOR", "ChartPatternRead", "PatternHit", "chart_pattern_hits", "pattern_hits"]

#: The chart-pattern model's patterns below this probability at the bar are not reported (noise, not a read).
CHART_PATTERN_FLOOR = 0.05

#: Patterns whose TA-Lib sign is not a market direction: the doji family always answers +100, and the
#: spinning top's sign is only the candle's colour. They are indecision, reported as "neutral".
_NON_DIRECTIONAL = frozenset({"cdl_doji", "cdl_dragonfly_doji", "cdl_gravestone_doji", "cdl_spinning_top"})


@dataclass(frozen=True)
class PatternHit:
    """One pattern at one bar: +1 / -1 (+-0.8 for TA-Lib's weaker engulfing and harami forms), read as a direction."""

    name: str  # the feature name, e.g. "cdl_engulfing", or the chart pattern, e.g. "double_bottom"
    function: str  # TA-Lib's function, e.g. "CDLENGULFING", or the pattern model's version, "chart-patterns@v2"
    value: float
    direction: str  # bullish | bearish | neutral
    description: str
    detector: str = "talib"
    probability: float | None = None  # a learned detector's confidence; None for a rule
    completed: bool | None = None  # the chart pattern became the strongest at this bar; None for a rule


def pattern_hits(ohlcv: pd.DataFrame) -> tuple[pd.Timestamp, list[PatternHit]]:
    """(the last bar, the patterns that fired there), strongest first. Reads only the trailing bars the
    patterns' warm-up needs, so the answer for a bar never depends on how much history was loaded."""
    from pinelab_core.features import build_features, feature_catalog, required_history

    catalog = feature_catalog("patterns").set_index("name")
    tail = ohlcv.iloc[-required_history("patterns"):]
    last = pd.DataFrame(build_features(tail, groups="patterns")).iloc[-1]
    hits = []
    for name, value in last.items():
        if not np.isfinite(value) or value == 0:
            continue
        direction = "neutral" if name in _NON_DIRECTIONAL else "bullish" if value > 0 else "bearish"
        hits.append(PatternHit(str(name), str(catalog.loc[name, "parameters"]).removeprefix("talib="), float(value),
                               direction, str(catalog.loc[name, "description"])))
    hits.sort(key=lambda hit: -abs(hit.value))
    return pd.Timestamp(ohlcv.index[-1]), hits


@dataclass(frozen=True)
class ChartPatternRead:
    """The chart-pattern model's read of the last bar: its hits, the model version (None: none registered) and,
    when there are no hits because of that or too few bars, why."""

    hits: list[PatternHit]
    model: str | None
    note: str = ""


def chart_pattern_hits(ohlcv: pd.DataFrame, settings: Settings, *, top: int = 5,
                       floor: float = CHART_PATTERN_FLOOR) -> ChartPatternRead:
    """The chart-pattern model's `top` patterns at the last bar with probability >= `floor`, strongest first.

    With no pattern model registered the read is empty and its note says how to train one. It reads the windows
    ending at the last bar and the one before (the completion test), so the answer never depends on how much
    history was loaded."""
    from pinelab_core.errors import ModelNotFoundError
    from pinelab_core.patterns.detect import cached_pattern_model, pattern_events, patterns_now, scan_patterns
    from pinelab_core.patterns.training import pattern_model_version

    try:
        model = cached_pattern_model(settings)
        ref = pattern_model_version(settings).ref
    except ModelNotFoundError as exc:
        return ChartPatternRead([], None, str(exc))
    scan = scan_patterns(ohlcv, model, last=1)
    if scan.probabilities.empty or scan.probabilities.index[-1] != ohlcv.index[-1]:
        return ChartPatternRead([], ref, f"Too few bars for {ref}'s shortest window ({min(model.scales)} bars).")
    events = pattern_events(scan)
    completed = set(events.loc[events["time"] == ohlcv.index[-1], "pattern"])
    hits = []
    for row in patterns_now(scan, top).itertuples(index=False):
        if row.probability < floor:
            continue
        direction = int(row.direction)
        done = row.pattern in completed
        label = str(row.pattern).replace("_", " ")
        state = "completed at this bar" if done else "strongest read at this bar"
        hits.append(PatternHit(str(row.pattern), ref, float(direction),
                               "bullish" if direction > 0 else "bearish" if direction < 0 else "neutral",
                               f"{label.capitalize()} over the last {int(row.bars)} bars, {state}", "cnn",
                               float(row.probability), done))
    return ChartPatternRead(hits, ref)
