"""Calendar features: cyclical (sine/cosine) encodings of the hour, weekday, day of month and month, and
trading-session flags for intraday bars. All read the bar's own UTC timestamp; the session flags
also look at the gap to the previous bar (to tell intraday from daily bars), so row 0 is NaN there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory

__all__ = ["SESSIONS_UTC", "SPECS"]

_f = feature_factory("time")

#: Main trading sessions in UTC hours [open, close): Tokyo/Sydney, London, New York cash session.
SESSIONS_UTC: dict[str, tuple[float, float]] = {"asia": (0.0, 9.0), "europe": (7.0, 16.0), "us": (13.5, 20.0)}


def _utc(b: Bars) -> pd.DatetimeIndex:
    def make() -> pd.DatetimeIndex:
        index = pd.DatetimeIndex(b.index)
        return index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")

    return b.memo("utc_index", make)


def _hour_of_day(b: Bars) -> np.ndarray:
    index = _utc(b)
    return b.memo("hour_of_day", lambda: index.hour.to_numpy(np.float64) + index.minute.to_numpy(np.float64) / 60.0)


def _angle(b: Bars, part: str) -> np.ndarray:
    """Position of each bar on the calendar circle `part`, in radians (memoised: sin and cos share it)."""

    def make() -> np.ndarray:
        index = _utc(b)
        if part == "hour":
            return 2 * np.pi * _hour_of_day(b) / 24.0
        if part == "weekday":
            return 2 * np.pi * index.day_of_week.to_numpy(np.float64) / 7.0
        if part == "day_of_month":
            return 2 * np.pi * (index.day.to_numpy(np.float64) - 1) / index.days_in_month.to_numpy(np.float64)
        return 2 * np.pi * (index.month.to_numpy(np.float64) - 1) / 12.0

    return b.memo(("calendar_angle", part), make)


def _cycle(part: str, trig: str) -> ComputeFn:
    """sin or cos of a calendar position mapped onto a circle (23:00 sits next to 00:00)."""
    return lambda b: np.sin(_angle(b, part)) if trig == "sin" else np.cos(_angle(b, part))


def _session(name: str) -> ComputeFn:
    """1 when an intraday bar opens inside the session, 0 outside it or on daily-and-longer bars."""

    def compute(b: Bars) -> np.ndarray:
        index = _utc(b)
        stamps = index.asi8
        gap = np.full(len(stamps), np.nan)
        if len(stamps) > 1:
            gap[1:] = np.diff(stamps) / 1e9  # seconds since the previous bar: causal, known at the bar
        start, end = SESSIONS_UTC[name]
        hour = _hour_of_day(b)
        inside = ((hour >= start) & (hour < end)).astype(np.float64)
        with np.errstate(invalid="ignore"):
            flag = np.where(gap < 86_400, inside, 0.0)
        flag[np.isnan(gap)] = np.nan
        return flag

    return compute


_PARTS = (("hour", "hour of day"), ("weekday", "day of week"), ("day_of_month", "day of month"),
          ("month", "month of year"))

SPECS: list[FeatureSpec] = [
    *(_f(f"{part}_{trig}", 0, f"{trig.capitalize()} of the {label} on a circle (UTC)", _cycle(part, trig))
      for part, label in _PARTS for trig in ("sin", "cos")),
    *(_f(f"session_{name}", 1, f"1 inside the {name} session ({start:g}-{end:g} UTC) on intraday bars, else 0",
         _session(name), start_utc=start, end_utc=end) for name, (start, end) in SESSIONS_UTC.items()),
]
