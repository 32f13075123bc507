"""`pinelab sources` and `pinelab fetch`: list the data sources, load bars and optionally save them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args
from pinelab_core.errors import DataValidationError

__all__ = ["register"]

_OUT_FORMATS = {".parquet", ".pq", ".csv"}


def register(subparsers: Any) -> None:
    """Add the `sources` and `fetch` subcommands."""
    sources = subparsers.add_parser("sources", help="list the data sources", description="List the data sources.")
    add_json_option(sources)
    sources.set_defaults(handler=_sources)

    fetch = subparsers.add_parser(
        "fetch", help="load OHLCV bars (and save them)",
        description="Load OHLCV bars from a source, validated to the OHLCV contract; network sources "
        "go through the price cache. Example: pinelab fetch --source demo --symbol DEMO-BTC --timeframe 1h",
    )
    add_data_options(fetch)
    fetch.add_argument("--out", default=None, help="write the bars to a .parquet or .csv file")
    fetch.add_argument("--no-refresh", action="store_true", help="serve cached bars without asking the network")
    fetch.set_defaults(handler=_fetch)


def _sources(args: argparse.Namespace) -> int:
    from pinelab_core.data import list_sources

    infos = list_sources()
    width = max(len(info.name) for info in infos)
    text = "\n".join(f"{info.name:<{width}}  {info.description}" for info in infos)
    emit(args, infos, text)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv

    settings = settings_from_args(args)
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.suffix.lower() not in _OUT_FORMATS:
        raise DataValidationError(f"--out {out} must end in .parquet or .csv.")
    frame = load_ohlcv(
        args.symbol, args.timeframe, args.start, args.end, source=args.source, settings=settings,
        refresh=not args.no_refresh,
    )
    if out is not None:
        _write(frame, out)
    provenance = frame.attrs.get("provenance", {})
    payload = {
        "rows": len(frame),
        "first": frame.index[0],
        "last": frame.index[-1],
        "provenance": provenance,
        "out": str(out) if out is not None else None,
    }
    last = frame.iloc[-1]
    text = (
        f"{len(frame):,} {args.timeframe} bars of {args.symbol} from {provenance.get('source', args.source)}: "
        f"{frame.index[0]:%Y-%m-%d %H:%M} .. {frame.index[-1]:%Y-%m-%d %H:%M} UTC, last close {last['close']:.6g}"
    )
    if provenance.get("note"):
        text += f"\n{provenance['note']}"
    if out is not None:
        text += f"\nwrote {out}"
    emit(args, payload, text)
    return 0


def _write(frame: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    plain = frame.copy()
    plain.attrs = {}  # provenance is reported, not written into the file's metadata
    try:
        if out.suffix.lower() == ".csv":
            plain.to_csv(out, index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ")
        else:
            plain.to_parquet(out)
    except OSError as exc:
        raise DataValidationError(f"Cannot write {out}: {exc}. Choose a writable path.") from exc
