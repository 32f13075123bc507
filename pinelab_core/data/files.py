"""Read OHLCV from the CSV and Parquet files traders actually have.

Handled without configuration: Yahoo Finance downloads (``Date,Open,High,Low,Close,Adj Close,Volume``),
exchange and ccxt exports (epoch milliseconds, Binance kline dumps with or without a header),
TradingView chart exports (``time`` in epoch seconds or ISO with offset), MetaTrader 4/5 exports
(``2024.01.02`` dates, separate date and time columns, ``<TICKVOL>``), Stooq files (``20240102``
dates), pandas ``to_csv`` output (an unnamed index column), and ``,`` ``;`` tab or ``|`` separators
(with decimal commas after ``;``). Naive times are UTC unless `tz` names their zone.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from pinelab_core.data.timeparse import parse_bar_times
from pinelab_core.data.validation import validate_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.types import OHLCV_COLUMNS

__all__ = ["read_ohlcv_file", "table_to_ohlcv"]

_PARQUET = {".parquet", ".pq"}
_SEPARATORS = (",", ";", "\t", "|")
# Column spellings, compared after lower-casing and removing everything but letters and digits.
_ROLES: dict[str, tuple[str, ...]] = {
    "time": ("datetime", "timestamp", "time", "date", "opentime", "datetimeutc", "dateutc", "timeutc",
             "gmttime", "localtime", "ts", "unixtime", "unix", "index", "unnamed0", "", "day"),
    "open": ("open", "o", "openprice", "openbid"),
    "high": ("high", "h", "highprice", "highbid"),
    "low": ("low", "l", "lowprice", "lowbid"),
    "close": ("close", "c", "closeprice", "last", "lastprice", "closebid"),
    "adj_close": ("adjclose", "adjustedclose", "adjclosingprice"),
    "volume": ("volume", "vol", "v", "realvolume", "basevolume", "tickvolume", "tickvol", "ticks"),
}
_CLOCK = re.compile(r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$")


def read_ohlcv_file(path: str | Path | BinaryIO, tz: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file of bars into a validated OHLCV frame.

    Args:
        path: a file path, or an open binary file with a ``name`` (e.g. a Streamlit upload).
        tz: the time zone of naive timestamps in the file, e.g. "America/New_York"; default UTC.
            Times with an offset and epoch numbers are already absolute and are only converted.

    Returns:
        The OHLCV frame of the contract.

    Raises:
        DataValidationError: the file is missing, empty, unreadable or breaks the OHLCV contract;
            the message names the file, the problem and the first offending lines.
    """
    name, raw = _read_bytes(path)
    if not raw.strip():
        raise DataValidationError(f"{name} is empty. Export the bars again (a header row and one row per bar).")
    if Path(name).suffix.lower() in _PARQUET:
        table, lines = _parse_parquet(raw, name), None
    else:
        table, lines = _parse_csv(raw, name)
    frame, lines = table_to_ohlcv(table, where=name, tz=tz, line_numbers=lines)
    return validate_ohlcv(frame, where=name, line_numbers=lines)


def table_to_ohlcv(
    table: pd.DataFrame, *, where: str, tz: str | None = None, line_numbers: np.ndarray | None = None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Map a table with any common column spelling onto the contract's columns and a time index.

    Returns the (not yet validated) frame and the file line of each of its rows, if known.
    """
    if table.empty:
        raise DataValidationError(f"{where} has a header but no bars. Export at least one row of data.")
    roles = _assign_roles(table.columns)
    times = _time_values(table, roles, where)
    index = parse_bar_times(times, where=where, tz=tz, line_numbers=line_numbers)
    frame = pd.DataFrame(index=index)
    for name in ("open", "high", "low", "close"):
        if name in roles:
            frame[name] = _values(table[roles[name]])
    if "close" not in roles and "adj_close" in roles:
        warnings.warn(f"{where}: no Close column; using Adj Close as the close price.", UserWarning, stacklevel=3)
        frame["close"] = _values(table[roles["adj_close"]])
    volume = _volume_column(table, roles)
    if volume is None:
        if all(name in frame.columns for name in ("open", "high", "low", "close")):
            warnings.warn(f"{where}: no volume column; volume set to 0.0 for every bar.", UserWarning, stacklevel=3)
        frame["volume"] = 0.0
    else:
        frame["volume"] = volume
    missing = [name for name in OHLCV_COLUMNS if name not in frame.columns]
    if missing:
        found = ", ".join(str(column) for column in table.columns)
        raise DataValidationError(
            f"{where} lacks the column(s) {', '.join(missing)} (found: {found}). "
            "Name the columns Date/Time, Open, High, Low, Close and Volume (any case)."
        )
    return frame[list(OHLCV_COLUMNS)], line_numbers


def _read_bytes(path: str | Path | BinaryIO) -> tuple[str, bytes]:
    if hasattr(path, "read"):
        name = Path(str(getattr(path, "name", "upload.csv"))).name
        data = path.read()
        return name, data.encode("utf-8") if isinstance(data, str) else bytes(data)
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataValidationError(f"File {file} does not exist. Check the path (relative paths start in {Path.cwd()}).")
    try:
        return file.name, file.read_bytes()
    except OSError as exc:
        raise DataValidationError(f"Cannot read {file}: {exc}. Check the file's permissions.") from exc


def _parse_parquet(raw: bytes, name: str) -> pd.DataFrame:
    try:
        table = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise DataValidationError(f"{name} is not a readable Parquet file ({exc}). Export it again.") from exc
    if isinstance(table.index, pd.DatetimeIndex):
        label = table.index.name or "time"
        table = table.reset_index(names=label if label not in table.columns else "index_time")
    return table


def _parse_csv(raw: bytes, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    # Excel's "Unicode text" export is UTF-16 with a byte-order mark; everything else is UTF-8 (or ASCII).
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    text = raw.decode(encoding, errors="replace")
    head = text[:65_536].splitlines()
    leading = next((i for i, line in enumerate(head) if line.strip()), len(head))
    if leading == len(head):
        raise DataValidationError(f"{name} is empty. Export the bars again (a header row and one row per bar).")
    header = head[leading]
    separator = max(_SEPARATORS, key=header.count)
    sample = head[leading + 1] if leading + 1 < len(head) else ""
    fields = header.split(separator)
    has_header = _looks_like_header(fields)
    # "1.234,5" after a ';' separator is the European style: decimal comma, dot for thousands. Time
    # columns are then read as text, or "02.01.2024" would lose its dots as thousands separators.
    european = separator == ";" and re.search(r"\d,\d", sample) is not None
    text_columns: dict[Any, str] = {}
    if european:
        text_columns = {0: "string"} if not has_header else {
            field.strip(): "string" for field in fields if _key(field.strip().strip("<>")) in _ROLES["time"]
        }
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=separator, decimal="," if european else ".", thousands="." if european else None,
            header=0 if has_header else None, skiprows=leading, skip_blank_lines=False, skipinitialspace=True,
            dtype=text_columns or None, dtype_backend="numpy_nullable",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            f"{name} is not a readable CSV file ({exc}). Check the separator and quoting."
        ) from exc
    first_data_line = leading + (2 if has_header else 1)
    lines = np.arange(first_data_line, first_data_line + len(table))
    blank = table.isna().all(axis=1).to_numpy()
    if blank.any():  # blank lines were kept so that `lines` stays true to the file; drop them now
        table, lines = table.loc[~blank].reset_index(drop=True), lines[~blank]
    if not has_header:
        table.columns = _headerless_names(table)
    table.columns = [str(column).strip().strip("<>").strip() for column in table.columns]
    return table, lines


def _looks_like_header(fields: list[str]) -> bool:
    cleaned = [_key(field) for field in fields]
    if any(key in names for key in cleaned for names in _ROLES.values() if key):
        return True
    # No known name: a header still has words; a data row has numbers and dates only.
    return any(re.search(r"[a-df-su-y]", field.lower()) for field in fields)


def _headerless_names(table: pd.DataFrame) -> list[str]:
    """Name the columns of a file without a header: MetaTrader 4 (date, time, ...) or exchange dumps."""
    first = table.iloc[0].astype(str).tolist()
    names = ["date", "time"] if len(first) > 1 and _CLOCK.match(first[1]) else ["time"]
    names += ["open", "high", "low", "close", "volume"]
    return [names[i] if i < len(names) else f"extra_{i}" for i in range(table.shape[1])]


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _assign_roles(columns: pd.Index) -> dict[str, str]:
    """role -> the column that plays it; the earliest spelling in `_ROLES` wins when several match."""
    keys = {column: _key(column) for column in columns}
    roles: dict[str, str] = {}
    for role, spellings in _ROLES.items():
        for spelling in spellings:
            match = next((column for column, key in keys.items() if key == spelling), None)
            if match is not None and match not in roles.values():
                roles[role] = match
                break
    return roles


def _time_values(table: pd.DataFrame, roles: dict[str, str], where: str) -> pd.Series:
    """The bar-time column, joining separate date and clock columns (MetaTrader, Stooq) into one."""
    columns = {_key(column): column for column in table.columns}
    if "date" in columns and "time" in columns:
        date = table[columns["date"]].astype("string").str.strip()
        clock = table[columns["time"]].astype("string").str.strip()
        if clock.str.match(_CLOCK).all():
            return date + " " + clock
        if date.str.fullmatch(r"\d{8}").all() and clock.str.fullmatch(r"\d{1,6}").all():
            return date + " " + clock.str.zfill(6)  # Stooq: 20240102 and 93500 mean 09:35:00
    if "time" not in roles:
        found = ", ".join(str(column) for column in table.columns)
        raise DataValidationError(
            f"{where} has no date/time column (found: {found}). Name it Date, Datetime, Time or Timestamp."
        )
    return table[roles["time"]]


def _volume_column(table: pd.DataFrame, roles: dict[str, str]) -> np.ndarray | None:
    """Real volume, else tick volume (MetaTrader FX files carry zeros in <VOL> and counts in <TICKVOL>)."""
    if "volume" not in roles:
        return None
    chosen = table[roles["volume"]]
    ticks = next((c for c in table.columns if _key(c) in {"tickvol", "tickvolume"} and c != roles["volume"]), None)
    numeric = pd.to_numeric(chosen, errors="coerce")
    if ticks is not None and numeric.fillna(0).eq(0).all():
        chosen = table[ticks]
    return _values(chosen)


def _values(column: pd.Series) -> np.ndarray:
    """Numbers as float64 (NaN for blanks); anything else as objects, so validation can quote the bad cells."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return column.to_numpy(dtype=object)
