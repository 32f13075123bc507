"""The `pinelab` command. Each subcommand lives in a small module here with a `register(subparsers)`.

Errors a user can cause print one line on stderr and exit non-zero (2); `--json` output goes to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pinelab_core.errors import PinelabError

__all__ = ["build_parser", "main"]

# Modules under pinelab_core.cli, in the order their subcommands appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("data", "features", "train", "patterns", "structure", "signals", "sentiment",
                                     "predict", "backtest", "db", "live", "paper", "api")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinelab",
        description="PineLab: causal features, honest walk-forward models and signals for traders.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"pinelab_core.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PinelabError as exc:
        print(f"pinelab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pinelab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
