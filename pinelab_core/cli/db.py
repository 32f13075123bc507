"""`pinelab db check`: which store PineLab uses, its schema version and how many rows each table holds."""

from __future__ import annotations

import argparse

from pinelab_core.cli.common import add_json_option, emit
from pinelab_core.config import Settings

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = subparsers.add_parser("db", help="the store: backend, schema version, row counts",
                               description="Inspect the database PineLab uses (PINELAB_DATABASE_URL, else the SQLite "
                                           "file in PINELAB_DATA_DIR). Opening it creates or migrates the schema.")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION")
    actions.required = True
    check = actions.add_parser("check", help="backend, schema version and row counts (exit 1 when not current)")
    add_json_option(check)
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from pinelab_core.store import get_engine
    from pinelab_core.store.report import check_store

    report = check_store(get_engine(Settings.from_env()))
    width = max(len(name) for name in report.row_counts) if report.row_counts else 10
    lines = [f"backend         {report.backend} {report.server_version}", f"database        {report.url}",
             f"schema version  {report.schema_version} (this PineLab: {report.code_schema_version})"]
    lines += [f"{name:<15} {value}" for name, value in report.settings.items()]
    if report.missing_tables:
        lines.append(f"missing tables  {', '.join(report.missing_tables)}")
    lines += ["", "rows:"] + [f"  {name:<{width}}  {count:>10,}" for name, count in report.row_counts.items()]
    emit(args, {**report.__dict__, "ok": report.ok}, "\n".join(lines))
    return 0 if report.ok else 1
