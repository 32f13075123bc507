"""`pinelab patterns`: train the chart-pattern model, detect patterns on a market, study what followed them."""

from __future__ import annotations

import argparse
from typing import Any

from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `patterns train`, `patterns install` and `patterns detect`."""
    patterns = subparsers.add_parser(
        "patterns", help="chart patterns: train the recogniser, detect patterns, event study",
        description="Chart patterns (head and shoulders, double tops, triangles, flags, wedges, cup and handle). "
        "Example: pinelab patterns install (the shipped model; or `train` your own) && pinelab patterns detect "
        "--source demo --symbol DEMO-EQUITY --json",
    )
    actions = patterns.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    train = actions.add_parser("train", help="train the pattern CNN on synthetic patterns and register it")
    train.add_argument("--per-class", type=int, default=300, help="training windows per class (default 300)")
    train.add_argument("--epochs", type=int, default=12, help="most epochs (early stopping; default 12)")
    train.add_argument("--channels", type=int, default=8, help="width of the first conv layer (default 8)")
    train.add_argument("--style", default="candlestick", choices=["candlestick", "line", "series"],
                       help="the input: a 128x128 candlestick or line image, or a 1-D series (default candlestick)")
    train.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    train.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (default auto)")
    train.add_argument("--labelled", default="", help="also score on a hand-labelled CSV of windows")
    add_json_option(train)
    train.set_defaults(handler=_train)

    install = actions.add_parser("install", help="register the pattern model that ships with PineLab (no training)")
    add_json_option(install)
    install.set_defaults(handler=_install)

    detect = actions.add_parser("detect", help="patterns completed on a market, the strongest now, event study")
    add_data_options(detect)
    detect.add_argument("--last", type=int, default=500, help="bars to scan, newest first (default 500)")
    detect.add_argument("--threshold", type=float, default=0.5, help="probability that reports a pattern")
    detect.add_argument("--horizon", type=int, default=10, help="event study: bars held (default 10)")
    detect.add_argument("--cost", type=float, default=0.001, help="event study: cost per side (default 0.001)")
    detect.set_defaults(handler=_detect)


def _train(args: argparse.Namespace) -> int:
    from pinelab_core.patterns.training import PatternTrainConfig, train_pattern_model

    config = PatternTrainConfig(per_class=args.per_class, epochs=args.epochs, channels=args.channels,
                                style=args.style, seed=args.seed, device=args.device, labelled_path=args.labelled)
    result = train_pattern_model(settings_from_args(args), config)
    payload = {"model": result.info.ref, "metrics": result.info.metrics,
               "held_out": result.held_out.per_class, "confusion": result.held_out.confusion}
    text = (f"registered {result.info.ref} (active), trained on {result.info.device}\n"
            f"held-out synthetic: accuracy {result.held_out.accuracy:.3f}, macro F1 {result.held_out.macro_f1:.3f}\n"
            f"{result.held_out.per_class.round(3).to_string()}")
    if result.labelled is not None:
        text += f"\nhand-labelled set: accuracy {result.labelled.accuracy:.3f} on {result.labelled.n_windows} windows"
    emit(args, payload, text)
    return 0


def _install(args: argparse.Namespace) -> int:
    from pinelab_core.patterns.pretrained import install_pretrained_pattern_model, pretrained_summary

    info = install_pretrained_pattern_model(settings_from_args(args))
    summary = pretrained_summary()
    payload = {"model": info.ref, "status": info.status, "source": "pretrained", **summary}
    emit(args, payload, f"registered {info.ref} ({info.status}): the shipped pattern model, trained on "
         f"{summary['trained_on']}; held-out synthetic accuracy {summary['accuracy']:.3f}, macro F1 "
         f"{summary['macro_f1']:.3f}. `pinelab patterns train` replaces it with your own.")
    return 0


def _detect(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.patterns.report import analyse_patterns

    settings = settings_from_args(args)
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, args.source, settings)
    report = analyse_patterns(ohlcv, settings, last=args.last, threshold=args.threshold, horizon=args.horizon,
                              cost=args.cost)
    payload = {"model": report.model_ref, "now": report.now, "events": report.events, "study": report.study}
    text = (f"{args.symbol} {args.timeframe} with {report.model_ref}\nstrongest now:\n"
            f"{report.now.round(3).to_string(index=False)}\n\n{len(report.events)} detections in the last "
            f"{args.last} bars\n{report.events.tail(10).to_string(index=False)}\n\nevent study "
            f"(horizon {args.horizon}, cost {args.cost} per side):\n{report.study.round(4).to_string()}")
    emit(args, payload, text)
    return 0
