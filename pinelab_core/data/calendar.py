"""Trading calendars for the demo market: which bar open times exist for a market and a timeframe.

Times are epoch seconds (int64) in UTC, built with NumPy so a multi-million-bar calendar costs
milliseconds. Three calendars cover what traders see:

- ``always``: crypto, every bar of every day (24/7).
- ``fx``: foreign exchange, the week runs from Sunday 22:00 to Friday 22:00 UTC; daily bars on weekdays.
- ``session``: a cash equity session, weekdays 14:30-21:00 UTC (New York hours in winter; the
  simulator ignores daylight saving and holidays on purpose, so the calendar never depends on a
  holiday table that changes); daily bars on weekdays.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from pinelab_core.types import Timeframe

__all__ = ["Calendar", "bar_times", "session_position"]

DAY = 86_400
HOUR = 3_600
# 1970-01-01 was a Thursday; adding 3 makes Monday 0.
_EPOCH_WEEKDAY_SHIFT = 3
# The first Monday after the epoch, so weekly bars open on Mondays.
_FIRST_MONDAY = 4 * DAY
FX_WEEK_CLOSE = 22 * HOUR  # Friday 22:00 UTC close, Sunday 22:00 UTC open
EQUITY_OPEN = 14 * HOUR + 30 * 60
EQUITY_CLOSE = 21 * HOUR


class Calendar(StrEnum):
    """When a simulated market trades."""

    ALWAYS = "always"
    FX = "fx"
    SESSION = "session"


def weekday(times: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 for epoch seconds."""
    return (times // DAY + _EPOCH_WEEKDAY_SHIFT) % 7


def bar_times(calendar: Calendar, timeframe: Timeframe, start_s: int, end_s: int) -> np.ndarray:
    """Open times (epoch seconds, increasing) of every bar with start_s <= open < end_s.

    Args:
        calendar: the market's trading calendar.
        timeframe: the bar size.
        start_s: first allowed bar open, epoch seconds UTC.
        end_s: bars must open strictly before this, epoch seconds UTC.
    """
    step = timeframe.seconds
    if timeframe is Timeframe.W1:
        return _aligned_grid(start_s, end_s, step, _FIRST_MONDAY)
    if not timeframe.is_intraday:
        days = _aligned_grid(start_s, end_s, DAY, 0)
        return days if calendar is Calendar.ALWAYS else days[weekday(days) < 5]
    if calendar is Calendar.SESSION:
        return _session_bars(start_s, end_s, step)
    grid = _aligned_grid(start_s, end_s, step, 0)
    if calendar is Calendar.ALWAYS:
        return grid
    day = weekday(grid)
    second = grid % DAY
    closed = ((day == 4) & (second >= FX_WEEK_CLOSE)) | (day == 5) | ((day == 6) & (second < FX_WEEK_CLOSE))
    return grid[~closed]


def session_position(calendar: Calendar, times: np.ndarray) -> np.ndarray:
    """Where in its trading day each bar sits, from 0 (the open) to 1 (the close).

    Drives intraday seasonality: equity sessions use the session, 24-hour markets the UTC day.
    """
    second = (times % DAY).astype(np.float64)
    if calendar is Calendar.SESSION:
        return np.clip((second - EQUITY_OPEN) / (EQUITY_CLOSE - EQUITY_OPEN), 0.0, 1.0)
    return second / DAY


def _aligned_grid(start_s: int, end_s: int, step: int, origin: int) -> np.ndarray:
    first = origin + -(-(start_s - origin) // step) * step  # ceil to the grid
    return np.arange(first, end_s, step, dtype=np.int64)


def _session_bars(start_s: int, end_s: int, step: int) -> np.ndarray:
    days = _aligned_grid(start_s - DAY, end_s, DAY, 0)
    days = days[weekday(days) < 5]
    offsets = np.arange(EQUITY_OPEN, EQUITY_CLOSE, step, dtype=np.int64)
    times = (days[:, None] + offsets[None, :]).ravel()
    return times[(times >= start_s) & (times < end_s)]
