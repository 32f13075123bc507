"""`pinelab features`: build the feature matrix of a market (cached), save it, list the catalog, audit it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from pinelab_core.cli.common import add_data_options, emit, settings_from_args
from pinelab_core.errors import DataValidationError

__all__ = ["register"]

_OUT_FORMATS = {".parquet", ".pq", ".csv"}


def register(subparsers: Any) -> None:
    """Add the `features` subcommand."""
    parser = subparsers.add_parser(
        "features", help="build, save, list or audit the causal feature matrix",
        description="Build the causal feature matrix of a market (read from the feature cache when the same "
        "data was built before). Examples: pinelab features --source demo --symbol DEMO-BTC --timeframe 1h "
        "--groups trend,momentum --out btc.parquet | pinelab features --catalog --json | "
        "pinelab features --symbol DEMO-EQUITY --audit",
    )
    add_data_options(parser)
    parser.add_argument("--groups", default=None, help="comma-separated feature groups (default: all)")
    parser.add_argument("--out", default=None, help="write the matrix to a .parquet or .csv file")
    parser.add_argument("--float32", action="store_true", help="float32 output (half the memory)")
    parser.add_argument("--catalog", action="store_true", help="print the feature catalog instead (no data needed)")
    parser.add_argument("--audit", action="store_true", help="run the look-ahead audit; exit 1 if a feature fails")
    parser.add_argument("--cuts", type=int, default=12, help="random cut points for --audit (default 12)")
    parser.set_defaults(handler=_features)


def _features(args: argparse.Namespace) -> int:
    from pinelab_core.features import feature_catalog

    feature_catalog(args.groups)  # an unknown group fails here, before any data is loaded
    if args.catalog:
        catalog = feature_catalog(args.groups)
        width = int(catalog["name"].str.len().max())
        lines = [f"{row.name:<{width}}  {row.group:<10}  {row.lookback:>4}  {row.description}"
                 for row in catalog.itertuples(index=False)]
        emit(args, catalog.to_dict(orient="records"), f"{len(catalog)} features\n" + "\n".join(lines))
        return 0
    out = Path(args.out).expanduser() if args.out else None
    if out is not None and out.suffix.lower() not in _OUT_FORMATS:
        raise DataValidationError(f"--out {out} must end in .parquet or .csv.")
    from pinelab_core.data import load_ohlcv

    settings = settings_from_args(args)
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, source=args.source, settings=settings)
    if args.audit:
        return _audit(args, ohlcv)
    return _build(args, ohlcv, settings, out)


def _build(args: argparse.Namespace, ohlcv: Any, settings: Any, out: Path | None) -> int:
    from pinelab_core.features import build_features_cached

    matrix = build_features_cached(ohlcv, settings, groups=args.groups, dtype="float32" if args.float32 else "float64")
    assert isinstance(matrix, pd.DataFrame)  # one frame in, one frame out (dicts give dicts)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            matrix.to_csv(out, index_label="time")
        else:
            matrix.to_parquet(out)
    complete = matrix.dropna()
    payload = {
        "symbol": args.symbol,
        "timeframe": args.timeframe,
        "rows": len(matrix),
        "columns": matrix.shape[1],
        "complete_rows": len(complete),
        "first_complete": complete.index[0] if len(complete) else None,
        "features": list(matrix.columns),
        "out": str(out) if out is not None else None,
    }
    text = (f"{matrix.shape[1]} features x {len(matrix):,} bars of {args.symbol} {args.timeframe}; "
            f"{len(complete):,} rows past every warm-up")
    if out is not None:
        text += f"\nwrote {out}"
    emit(args, payload, text)
    return 0


def _audit(args: argparse.Namespace, ohlcv: Any) -> int:
    from pinelab_core.features import causality_audit

    report = causality_audit(ohlcv, n_cuts=args.cuts, groups=args.groups)
    failed = report.loc[~report["passed"]]
    payload = {"features": len(report), "passed": int(report["passed"].sum()), "failed": failed.to_dict("records")}
    text = f"look-ahead audit on {len(ohlcv):,} bars: {int(report['passed'].sum())}/{len(report)} features passed"
    for row in failed.itertuples(index=False):
        text += f"\nFAIL {row.feature}: changed by {row.max_abs_diff:.3g} at {row.first_bad_time}"
    emit(args, payload, text)
    return 0 if failed.empty else 1
