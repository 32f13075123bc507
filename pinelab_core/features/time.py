"""Calendar features: cyclical (sine/cosine) encodings of the hour, weekday, day of month and month, and
trading-session flags for intraday bars. All read the bar's own UTC timestamp; the session flags
also look at the gap to the previous bar (to tell intraday from daily bars), so row 0 is NaN there."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory

__all__ = ["SESSIONS_UTC", "SPECS"]

_f = feature_factory("time")

#: Main trading sessions in UTC hours [open, close): Tokyo/Sydney, London, New York cash session.
SESSIONS_UTC: dict[str, tuple[float, float]] = {"asia": (0.0, 9.0), "europe": (7.0, 16.0), "us": (13.5, 20.0)}


_NS_PER_MINUTE = 60_000_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_CYCLE_SLOTS = {"hour": 24 * 60, "weekday": 7, "day_of_month": 31 * 4, "month": 12}


@numba.njit(cache=True)
def _calendar_slots(stamps: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Into `out`: (minute of day, weekday Monday=0, day-of-month slot, month - 1) x bars from UTC epoch nanoseconds.

    The day-of-month slot is (day - 1) + 31 * (days in month - 28), so one table serves every month length.
    Dates follow the proleptic Gregorian calendar (days-to-civil conversion after H. Hinnant), with integer
    arithmetic only: the calendar fields pandas would give, without building a field array per part.
    """
    previous_day = np.iinfo(np.int64).min
    day_slot = month_slot = 0
    for i in range(len(stamps)):
        minutes = stamps[i] // _NS_PER_MINUTE  # floor division: right before 1970 too
        days = minutes // 1440
        out[0, i] = minutes - days * 1440
        out[1, i] = (days + 3) % 7  # 1970-01-01 was a Thursday
        if days != previous_day:  # intraday bars share their date: convert it once per day
            day_slot, month_slot = _civil_date_slots(days)
            previous_day = days
        out[2, i] = day_slot
        out[3, i] = month_slot


@numba.njit(cache=True)
def _civil_date_slots(days: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(day-of-month slot, month - 1) of the date `days` after 1970-01-01 (H. Hinnant's days-to-civil)."""
    z = days + 719_468  # days since 0000-03-01
    era = z // 146_097
    day_of_era = z - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153  # 0 = March
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    length = 29 if month == 2 and leap else _MONTH_DAYS[month - 1]
    return day - 1 + 31 * (length - 28), month - 1


def _epoch_ns(b: Bars) -> np.ndarray:
    """Bar times as UTC epoch nanoseconds, whatever the index's unit (pandas may keep seconds or micros)."""
    return b.memo("epoch_ns", lambda: pd.DatetimeIndex(b.index).as_unit("ns").asi8)


def _slots(b: Bars) -> np.ndarray:
    def make() -> np.ndarray:
        out = np.empty((4, len(b)), dtype=np.int32)
        _calendar_slots(_epoch_ns(b), out)
        return out

    return b.memo("calendar_slots", make)


def _slot_angles(part: str) -> np.ndarray:
    """The angle of every slot of calendar circle `part`, in radians (as position * 2 pi / circle length)."""
    slots = np.arange(_CYCLE_SLOTS[part])
    if part == "hour":
        hours, minutes = slots // 60, slots % 60
        return 2 * np.pi * (hours.astype(np.float64) + minutes.astype(np.float64) / 60.0) / 24.0
    if part == "weekday":
        return 2 * np.pi * slots.astype(np.float64) / 7.0
    if part == "day_of_month":
        day, length = slots % 31 + 1, slots // 31 + 28
        return 2 * np.pi * (day.astype(np.float64) - 1) / length.astype(np.float64)
    return 2 * np.pi * slots.astype(np.float64) / 12.0


_SLOT_ROW = {"hour": 0, "weekday": 1, "day_of_month": 2, "month": 3}


def _cycle(part: str, trig: str) -> ComputeFn:
    """sin or cos of a calendar position mapped onto a circle (23:00 sits next to 00:00): a table per circle
    (1,440 minutes, 7 weekdays, ...) looked up per bar, instead of a sine per bar."""
    angles = _slot_angles(part)
    table = np.sin(angles) if trig == "sin" else np.cos(angles)
    return lambda b: table[_slots(b)[_SLOT_ROW[part]]]


@numba.njit(cache=True)
def _session_flags(stamps: np.ndarray, minute_of_day: np.ndarray, bounds: np.ndarray,
                   out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Row s of `out`: 1 where an intraday bar (less than a day after the previous one: causal, known at the
    bar) opens inside session s ([start, end) minutes UTC in `bounds`), else 0; NaN on the first bar."""
    out[:, 0] = np.nan
    for i in range(1, len(stamps)):
        intraday = stamps[i] - stamps[i - 1] < _NS_PER_DAY
        for s in range(len(bounds)):
            inside = (minute_of_day[i] >= bounds[s, 0]) & (minute_of_day[i] < bounds[s, 1])
            out[s, i] = 1.0 if intraday & inside else 0.0


def _sessions(b: Bars) -> np.ndarray:
    def make() -> np.ndarray:
        out = b.block([f"session_{name}" for name in SESSIONS_UTC])
        bounds = np.array([(start * 60, end * 60) for start, end in SESSIONS_UTC.values()])
        if len(b):
            _session_flags(_epoch_ns(b), _slots(b)[0], bounds, out)
        return out

    return b.memo("session_flags", make)


def _session(row: int) -> ComputeFn:
    """1 when an intraday bar opens inside the session, 0 outside it or on daily-and-longer bars."""
    return lambda b: _sessions(b)[row]


_PARTS = (("hour", "hour of day"), ("weekday", "day of week"), ("day_of_month", "day of month"),
          ("month", "month of year"))

SPECS: list[FeatureSpec] = [
    *(_f(f"{part}_{trig}", 0, f"{trig.capitalize()} of the {label} on a circle (UTC)", _cycle(part, trig))
      for part, label in _PARTS for trig in ("sin", "cos")),
    *(_f(f"session_{name}", 1, f"1 inside the {name} session ({start:g}-{end:g} UTC) on intraday bars, else 0",
         _session(row), start_utc=start, end_utc=end) for row, (name, (start, end)) in enumerate(SESSIONS_UTC.items())),
]
