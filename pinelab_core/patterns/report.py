"""One call for the Charts page and `pinelab patterns detect`: scan, detections, the strongest now, event study."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.patterns.detect import PatternScan, cached_pattern_model, pattern_events, patterns_now, scan_patterns
from pinelab_core.patterns.study import pattern_event_study

__all__ = ["PatternReport", "analyse_patterns"]


@dataclass(frozen=True)
class PatternReport:
    """What a trader sees about a market's chart patterns.

    Attributes:
        scan: probabilities per scanned bar.
        events: detections at the bar each pattern completed (time, pattern, probability, direction, bars).
        now: the newest bar's strongest patterns.
        study: per pattern, returns after detection against random entry, after costs (empty when too few bars).
        model_ref: the registry version that produced it ("chart-patterns@v2").
    """

    scan: PatternScan
    events: pd.DataFrame
    now: pd.DataFrame
    study: pd.DataFrame
    model_ref: str


def analyse_patterns(ohlcv: pd.DataFrame, settings: Settings, *, last: int | None = 500, threshold: float = 0.5,
                     horizon: int = 10, cost: float = 0.001, top: int = 5) -> PatternReport:
    """Detect patterns on the last `last` bars with the active pattern model and study what followed them.

    Raises:
        ModelNotFoundError: no pattern model is trained yet (the message says how to train one).
    """
    from pinelab_core.patterns.training import pattern_model_version

    model = cached_pattern_model(settings)
    scan = scan_patterns(ohlcv, model, last=last)
    events = pattern_events(scan, threshold)
    study = pattern_event_study(ohlcv, events, horizon=horizon, cost=cost) if len(ohlcv) > horizon + 2 \
        else pd.DataFrame()
    return PatternReport(scan, events, patterns_now(scan, top), study, pattern_model_version(settings).ref)
