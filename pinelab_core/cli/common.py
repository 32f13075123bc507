"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.config import Settings

__all__ = ["add_data_options", "add_json_option", "emit", "settings_from_args", "to_jsonable"]


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def add_data_options(parser: argparse.ArgumentParser, *, dates: bool = True) -> None:
    """--source, --symbol, --timeframe (and --start/--end), --json: every data-using subcommand has them."""
    parser.add_argument(
        "--source", default=None,
        help="demo | yahoo | ccxt:<exchange> | file:<path> (default: PINELAB_DEFAULT_SOURCE, else demo)",
    )
    parser.add_argument("--symbol", default="DEMO-EQUITY", help="ticker or pair, e.g. AAPL, BTC/USDT")
    parser.add_argument("--timeframe", default="1d", help="1m 5m 15m 30m 1h 4h 1d 1w (default 1d)")
    if dates:
        parser.add_argument("--start", default=None, help="first bar, e.g. 2023-01-01 (UTC)")
        parser.add_argument("--end", default=None, help="last bar, e.g. 2024-01-01 (UTC)")
    add_json_option(parser)


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "source", None) is None and hasattr(args, "source"):
        args.source = settings.default_source
    return settings


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, numpy, pandas and datetimes into plain JSON values (NaN -> null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return to_jsonable(value.reset_index().to_dict(orient="records"))
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    return value


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print `payload` as JSON when --json was given, else the human `text`."""
    if getattr(args, "json", False):
        json.dump(to_jsonable(payload), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
