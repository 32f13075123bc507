"""Unusual bars: anomaly scores per bar and the alerts the Charts page shows ("unusual volume at 14:00").

The scores are the opt-in `anomaly` feature group (robust z-scores of return, volume and range against the
250 bars before, the walk-forward isolation forest, the sparse-reconstruction error), so every score at bar t
uses bars <= t and judges the bar against the past only. Alerts need only the robust z-scores, which are
cheap: the Charts page raises them on any market without fitting a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features.anomaly import ROBUST_WINDOW, robust_zscores
from pinelab_core.features.builder import build_feature_frame, check_ohlcv
from pinelab_core.features.spec import Bars

__all__ = ["AnomalyAlert", "anomaly_alerts", "anomaly_scores"]

_KINDS = ("return", "volume", "range")
_SCORE_NAMES = {f"rz_return_{ROBUST_WINDOW}": "z_return", f"rz_volume_{ROBUST_WINDOW}": "z_volume",
                f"rz_range_{ROBUST_WINDOW}": "z_range", "iforest_score": "isolation", "sparse_error_64": "sparse_error"}


@dataclass(frozen=True)
class AnomalyAlert:
    """One unusual bar: what was unusual, how much (robust z-score) and a sentence for the trader."""

    time: pd.Timestamp
    kind: str  # "return", "volume" or "range"
    score: float
    message: str


def anomaly_scores(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Per bar: z_return, z_volume, z_range (robust z against the previous 250 bars), isolation (the isolation
    forest's score, about 0.4 ordinary, towards 1 isolated) and sparse_error (0-1); NaN in each warm-up."""
    matrix = build_feature_frame(check_ohlcv(ohlcv), groups=["anomaly"])
    return matrix[list(_SCORE_NAMES)].rename(columns=_SCORE_NAMES)


def anomaly_alerts(ohlcv: pd.DataFrame, *, threshold: float = 4.0, limit: int = 20,
                   max_bars: int = 20_000) -> list[AnomalyAlert]:
    """Bars whose return, volume or range is unusual against the 250 bars before: |robust z| >= `threshold`.

    Args:
        ohlcv: the market.
        threshold: robust z-score from which a bar is unusual (4 is about a 1-in-16,000 bar under a normal law;
            fat-tailed markets reach it every few hundred bars, which is what a trader wants flagged).
        limit: most alerts returned, newest first.
        max_bars: only the latest bars are scanned (plus the 250 before them), so minute histories stay quick.
    """
    if threshold <= 0 or limit < 1:
        raise DataValidationError(f"threshold must be > 0 and limit >= 1, got {threshold} and {limit}.")
    frame = check_ohlcv(ohlcv).iloc[-(max_bars + ROBUST_WINDOW + 1):]
    bars = Bars(frame)
    z = robust_zscores(bars)
    intraday = bool((frame.index != frame.index.normalize()).any())
    found = np.argwhere(np.abs(np.nan_to_num(z, nan=0.0)) >= threshold)  # (kind, bar) pairs
    alerts = [_alert(frame, bars, _KINDS[kind], int(row), float(z[kind, row]), intraday) for kind, row in found]
    alerts.sort(key=lambda a: (a.time, abs(a.score)), reverse=True)
    return alerts[:limit]


def _alert(frame: pd.DataFrame, bars: Bars, kind: str, row: int, score: float, intraday: bool) -> AnomalyAlert:
    time = frame.index[row]
    when = f"at {time:%H:%M} on {time:%Y-%m-%d}" if intraday else f"on {time:%Y-%m-%d}"
    past = slice(max(0, row - ROBUST_WINDOW), row)
    if kind == "volume":
        usual = float(np.median(bars.volume[past]))
        size = f"{bars.volume[row] / usual:.1f}x the usual" if usual > 0 else "after a stretch without volume"
        text = f"Unusual volume {when}: {size}"
    elif kind == "return":
        text = f"Unusual {'rise' if score > 0 else 'fall'} {when}: {np.expm1(bars.log_return[row]):+.2%}"
    else:
        ranges = np.expm1(bars.log_high - bars.log_low)
        text = f"Unusual range {when}: {ranges[row]:.2%} high to low (usually {np.median(ranges[past]):.2%})"
    return AnomalyAlert(time, kind, score, f"{text} (robust z {score:+.1f})")
