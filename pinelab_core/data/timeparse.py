"""Turn a column of bar times, spelled any common way, into a UTC DatetimeIndex.

Epoch numbers (seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude),
``YYYYMMDD`` integers (Stooq), ISO strings with or without an offset, MetaTrader's ``2024.01.02``,
and day-first dates like ``31/01/2024`` (detected when a first field exceeds 12).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import numpy as np
import pandas as pd

from pinelab_core.data.validation import TIME_UNIT, describe_rows
from pinelab_core.errors import DataValidationError
from pinelab_core.types import INDEX_NAME

__all__ = ["TimeLike", "parse_bar_times", "parse_when"]

TimeLike: TypeAlias = str | datetime | pd.Timestamp | None

_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$")
_SAMPLE = 200
_METATRADER = r"^(\d{4})\.(\d{2})\.(\d{2})"
_STOOQ = r"^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$"
_NUMERIC_DATE = r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}"
_AWARE = r"(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)$"
_EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"), (0.0, "s"))


def parse_bar_times(
    values: pd.Series,
    *,
    where: str,
    tz: str | None = None,
    line_numbers: Sequence[int] | np.ndarray | None = None,
) -> pd.DatetimeIndex:
    """Parse `values` into a UTC index named ``time``.

    Args:
        values: the raw time column.
        where: the data's name for messages (usually the file name).
        tz: zone of naive times (default UTC); aware times and epochs ignore it.
        line_numbers: file line per value, for messages.

    Raises:
        DataValidationError: some values are not times (the message quotes the first ones), or `tz`
            is not a time zone.
    """
    series = pd.Series(values).reset_index(drop=True)
    if _mostly_numbers(series):
        parsed = _from_numbers(pd.to_numeric(series, errors="coerce").astype("float64"))
    else:
        parsed = _from_text(series.astype("string").str.strip(), tz, where)
    bad = parsed.isna().to_numpy() & series.notna().to_numpy() | series.isna().to_numpy()
    if bad.any():
        lines = None if line_numbers is None else np.asarray(line_numbers)
        shown = [repr(value) for value in series.astype(object).tolist()]
        raise DataValidationError(
            f"{where} has bar times that are not dates at {describe_rows(bad, pd.Index(series), lines, shown)}. "
            "Use ISO dates like 2024-01-31 or 2024-01-31 14:30:00, or epoch seconds/milliseconds."
        )
    return pd.DatetimeIndex(parsed, name=INDEX_NAME).as_unit(TIME_UNIT)


def _mostly_numbers(series: pd.Series) -> bool:
    """Epoch or YYYYMMDD numbers? Decided on a sample: converting a million date strings to learn "no" is slow."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        return True
    sample = series.dropna().iloc[:_SAMPLE]
    return bool(len(sample)) and pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5


def _from_numbers(numbers: pd.Series) -> pd.Series:
    finite = numbers.dropna()
    whole = bool(np.all(np.mod(finite, 1) == 0))
    if whole and finite.between(1800_01_01, 2200_12_31).all():
        return pd.to_datetime(numbers.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce", utc=True)
    magnitude = float(finite.abs().max()) if len(finite) else 0.0
    unit = next(unit for threshold, unit in _EPOCH_UNITS if magnitude >= threshold)
    return pd.to_datetime(numbers, unit=unit, errors="coerce", utc=True)


def _from_text(text: pd.Series, tz: str | None, where: str) -> pd.Series:
    # MetaTrader writes 2024.01.02; Stooq intraday writes "20240102 093000". Rewriting only when the
    # sample shows the spelling keeps ISO files (the common case) free of regex passes.
    sample = text.dropna().iloc[:_SAMPLE]
    if sample.str.match(_METATRADER).any():
        text = text.str.replace(_METATRADER, r"\1-\2-\3", regex=True)
    if sample.str.match(_STOOQ).any():
        text = text.str.replace(_STOOQ, r"\1-\2-\3 \4:\5:\6", regex=True)
    sample = text.dropna().iloc[:_SAMPLE]
    aware = bool(len(sample)) and bool(sample.str.contains(_AWARE, regex=True).mean() > 0.5)
    dayfirst = _is_day_first(text.dropna()) if sample.str.match(_NUMERIC_DATE).any() else False
    parsed = _to_datetime(text, utc=aware, dayfirst=dayfirst)
    if aware:
        return parsed
    zone = tz or "UTC"
    try:
        index = pd.DatetimeIndex(parsed).tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    except Exception as exc:  # zoneinfo and pytz raise different types for an unknown zone
        raise DataValidationError(f"{zone!r} is not a time zone. Use an IANA name like 'Europe/London'.") from exc
    ambiguous = index.isna() & pd.DatetimeIndex(parsed).notna()
    if ambiguous.any():
        raise DataValidationError(
            f"{where}: {int(ambiguous.sum())} time(s) fall in the repeated hour when {zone} left daylight "
            f"saving (first: {pd.DatetimeIndex(parsed)[ambiguous][0]}), so their instant is ambiguous. "
            "Export the file in UTC instead."
        )
    return pd.Series(index.tz_convert("UTC"))


def _to_datetime(text: pd.Series, *, utc: bool, dayfirst: bool) -> pd.Series:
    if not dayfirst:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
        if parsed.notna().sum() == text.notna().sum():
            return parsed
    return pd.to_datetime(text, format="mixed", dayfirst=dayfirst, errors="coerce", utc=utc)


def _is_day_first(sample: pd.Series) -> bool:
    """Day-first dates: 02.01.2024 (dotted dates are day-first wherever they are written), or slashed
    dates whose first field goes above 12 somewhere (31/01/2024); other slashed dates are US month-first."""
    parts = sample.str.extract(r"^(\d{1,2})([/.-])(\d{1,2})[/.-]\d{4}")
    if parts[0].isna().all():
        return False
    if (parts[1] == ".").any():
        return True
    return bool(pd.to_numeric(parts[0], errors="coerce").gt(12).any())


def parse_when(value: TimeLike, what: str, *, end_of_day: bool = False) -> pd.Timestamp | None:
    """A UTC timestamp from a date string or timestamp (naive = UTC); a bare end date means its whole day."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataValidationError(f"{what} {value!r} is not a date. Use e.g. 2024-01-31 or 2024-01-31T14:30Z.") from exc
    if stamp is pd.NaT:
        raise DataValidationError(f"{what} {value!r} is not a date. Use e.g. 2024-01-31 or 2024-01-31T14:30Z.")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if end_of_day and isinstance(value, str) and _DATE_ONLY.match(value):
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return stamp
