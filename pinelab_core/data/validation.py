"""Hold market data to the OHLCV contract of DESIGN.md, or say exactly what is wrong with it.

The contract: float64 columns ``open, high, low, close, volume``, a tz-aware UTC ``DatetimeIndex``
named ``time``, strictly increasing, no duplicates. Problems that need the user's judgement
(missing columns, non-numeric cells, NaN, non-positive prices, impossible highs/lows, empty or
undatable data) raise `DataValidationError` naming the first offending rows; problems with one
obvious fix (unsorted rows, duplicate timestamps) are fixed with a warning that counts the rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.types import INDEX_NAME, OHLCV_COLUMNS

__all__ = ["TIME_UNIT", "describe_rows", "validate_ohlcv"]

#: Resolution of every bar index PineLab builds: microseconds, the pandas 3 default for dates.
TIME_UNIT = "us"

_PRICES = ("open", "high", "low", "close")
_SHOW = 3  # offending rows quoted in a message


def validate_ohlcv(
    frame: pd.DataFrame,
    *,
    where: str = "the data",
    line_numbers: Sequence[int] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Check `frame` against the OHLCV contract and return a clean copy of it.

    Args:
        frame: bars with the contract's column names; the index holds the bar times (naive times
            are taken as UTC, aware ones converted to UTC).
        where: how to name the data in messages, e.g. the file name.
        line_numbers: for data read from a file, the file line of each row, so messages can say
            "line 17" instead of "row 16".

    Returns:
        A new frame: float64 columns in contract order, UTC ``time`` index, sorted, de-duplicated;
        `attrs` are kept.

    Raises:
        DataValidationError: the data cannot be repaired without the user (see the module docstring).
    """
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise DataValidationError(f"{where} holds no bars (the table is empty). Provide at least one OHLCV row.")
    lines = None if line_numbers is None else np.asarray(line_numbers)
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise DataValidationError(
            f"{where} lacks the column(s) {', '.join(missing)} (found: {found}). "
            "Provide open, high, low, close and volume columns."
        )
    index = _utc_index(frame.index, where, lines)
    values = _numeric_columns(frame, index, where, lines)
    _check_prices(values, index, where, lines)
    clean = pd.DataFrame(values, index=index)
    clean.attrs = dict(frame.attrs)
    return _sorted_unique(clean, where)


def describe_rows(
    mask: np.ndarray, index: pd.Index, lines: np.ndarray | None, extra: Sequence[str] | np.ndarray | None = None
) -> str:
    """'line 5 (2024-01-03 00:00 UTC), line 9 (...) and 12 more' for the rows where `mask` is true."""
    positions = np.flatnonzero(mask)
    parts = []
    for position in positions[:_SHOW]:
        label = f"line {lines[position]}" if lines is not None else f"row {position + 1}"
        stamp = index[position]
        when = stamp.strftime("%Y-%m-%d %H:%M UTC") if isinstance(stamp, pd.Timestamp) and pd.notna(stamp) else stamp
        detail = f"{when}" if extra is None else f"{when}: {extra[position]}"
        parts.append(f"{label} ({detail})")
    more = len(positions) - _SHOW
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _utc_index(index: pd.Index, where: str, lines: np.ndarray | None) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        parsed = pd.to_datetime(pd.Series(index, dtype=object), errors="coerce", utc=True, format="mixed")
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise DataValidationError(
                f"{where} has bar times that are not dates at {describe_rows(bad, index, lines)}. "
                "Use ISO dates like 2024-01-31 or 2024-01-31T14:30:00Z, or epoch seconds/milliseconds."
            )
        index = pd.DatetimeIndex(parsed)
    if index.hasnans:
        raise DataValidationError(
            f"{where} has missing bar times at {describe_rows(np.asarray(index.isna()), index, lines)}. "
            "Every row needs a date/time."
        )
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.as_unit(TIME_UNIT).rename(INDEX_NAME)


def _numeric_columns(
    frame: pd.DataFrame, index: pd.DatetimeIndex, where: str, lines: np.ndarray | None
) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for name in OHLCV_COLUMNS:
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        present = column.notna().to_numpy()
        not_numbers = present & np.isnan(numbers)
        if not_numbers.any():
            cells = [repr(cell) for cell in column.astype(object).tolist()]
            raise DataValidationError(
                f"{where}: column {name!r} has non-numeric cells at {describe_rows(not_numbers, index, lines, cells)}. "
                "Fix or remove those rows (prices and volume must be plain numbers)."
            )
        if np.isnan(numbers).any() or np.isinf(numbers).any():
            raise DataValidationError(
                f"{where}: column {name!r} has missing (NaN) or infinite values at "
                f"{describe_rows(~np.isfinite(numbers), index, lines)}. Fill or drop those bars before loading."
            )
        values[name] = numbers
    return values


def _check_prices(values: dict[str, np.ndarray], index: pd.DatetimeIndex, where: str, lines: np.ndarray | None) -> None:
    for name in _PRICES:
        bad = values[name] <= 0
        if bad.any():
            raise DataValidationError(
                f"{where}: {name} prices must be positive, but are zero or negative at "
                f"{describe_rows(bad, index, lines, values[name].astype(str))}. Remove or correct those bars."
            )
    if (values["volume"] < 0).any():
        bad = values["volume"] < 0
        raise DataValidationError(
            f"{where}: volume is negative at {describe_rows(bad, index, lines)}. Volume must be zero or more."
        )
    high, low = values["high"], values["low"]
    body_top = np.maximum(values["open"], values["close"])
    body_bottom = np.minimum(values["open"], values["close"])
    checks = (
        (high < low, "high is below low"),
        (high < body_top, "high is below open or close"),
        (low > body_bottom, "low is above open or close"),
    )
    for bad, problem in checks:
        if bad.any():
            quoted = [f"O={o:g} H={h:g} L={lo:g} C={c:g}" for o, h, lo, c in
                      zip(values["open"], high, low, values["close"], strict=True)]
            raise DataValidationError(
                f"{where}: {problem} at {describe_rows(bad, index, lines, quoted)}. "
                "Check the column order (open, high, low, close) or correct those bars."
            )


def _sorted_unique(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    stamps = frame.index.asi8
    if len(stamps) > 1 and not (np.diff(stamps) >= 0).all():
        out_of_order = int((stamps < np.maximum.accumulate(stamps)).sum())
        warnings.warn(
            f"{where}: {out_of_order} row(s) were out of time order; sorted them by time.", UserWarning, stacklevel=3
        )
        frame = frame.sort_index(kind="stable")
    duplicated = frame.index.duplicated(keep="last")
    if duplicated.any():
        warnings.warn(
            f"{where}: {int(duplicated.sum())} row(s) repeated an earlier timestamp; kept the last row of each time.",
            UserWarning,
            stacklevel=3,
        )
        frame = frame.loc[~duplicated]
    return frame
