"""Candlestick patterns that fired at the last closed bar, with their direction.

Today's detector is TA-Lib's (the `patterns` feature group, exactly TA-Lib's definitions). Each hit has
a `probability` slot, empty for TA-Lib (a rule fires or not); a learned detector (a pattern CNN) fills it
when it lands, beside or instead of the rule, under its own `detector` name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["PatternHit", "pattern_hits"]

#: Patterns whose TA-Lib sign is not a market direction: the doji family always answers +100, and the
#: spinning top's sign is only the candle's colour. They are indecision, reported as "neutral".
_NON_DIRECTIONAL = frozenset({"cdl_doji", "cdl_dragonfly_doji", "cdl_gravestone_doji", "cdl_spinning_top"})


@dataclass(frozen=True)
class PatternHit:
    """One pattern at one bar: +1 / -1 (+-0.8 for TA-Lib's weaker engulfing and harami forms), read as a direction."""

    name: str  # the feature name, e.g. "cdl_engulfing"
    function: str  # TA-Lib's function, e.g. "CDLENGULFING"
    value: float
    direction: str  # bullish | bearish | neutral
    description: str
    detector: str = "talib"
    probability: float | None = None  # a learned detector's confidence; None for a rule


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
