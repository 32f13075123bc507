"""`pinelab structure`: the Market structure page for one market in the terminal (regime, volatility, cycles,
unusual bars), every number computed from bars up to the last one."""

from __future__ import annotations

import argparse
from typing import Any

from pinelab_core.cli.common import add_data_options, emit, settings_from_args

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "structure", help="market structure: HMM regime, GARCH volatility, dominant cycles, unusual bars",
        description="What the Market structure page shows for one market: the regime now (forward-filtered HMM "
        "refitted walk-forward), GARCH / GJR next-bar volatility and how the forecasts scored against the naive "
        "one, the dominant cycles of the window, and its unusual bars. Example: pinelab structure --source demo "
        "--symbol DEMO-BTC --timeframe 1h --bars 1000 --json",
    )
    add_data_options(parser)
    parser.add_argument("--bars", type=int, default=500, help="the window analysed, latest bars (default 500, "
                        "at least 300; the models also read the bars before it)")
    parser.add_argument("--threshold", type=float, default=4.0, help="robust z from which a bar is unusual")
    parser.add_argument("--alerts", type=int, default=10, help="unusual bars listed, newest first (default 10)")
    parser.set_defaults(handler=_structure)


def _structure(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.structure import market_structure

    settings = settings_from_args(args)
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, args.source, settings)
    view = market_structure(ohlcv, bars=args.bars, alert_threshold=args.threshold)
    current, volatility = view.current, view.volatility
    alerts = sorted(view.alerts, key=lambda a: a.time, reverse=True)[:max(0, args.alerts)]
    payload = {
        "symbol": args.symbol, "timeframe": args.timeframe, "source": args.source,
        "bar_time": view.ohlcv.index[-1], "bars": len(view.ohlcv),
        "regime": {"regime": current.regime, "probability": current.probability,
                   "probabilities": current.probabilities, "n_states": current.n_states,
                   "refit_time": current.refit_time},
        "regime_states": view.model.states if view.model is not None else None,
        "volatility": {"next_bar": volatility.next_bar, "losses": volatility.losses,
                       "bars_per_year": volatility.bars_per_year},
        "cycles": view.cycles,
        "sparse_error": view.sparse.error,
        "alerts": [{"time": a.time, "kind": a.kind, "score": a.score, "message": a.message} for a in alerts],
        "unusual_bars": len(view.alerts),
    }
    forecasts = ", ".join(f"{name} {value:.1%}" for name, value in volatility.next_bar.items())
    lines = [f"{args.symbol} {args.timeframe}, {len(view.ohlcv)} bars to {view.ohlcv.index[-1]:%Y-%m-%d %H:%M}",
             f"regime now: {current.summary}",
             f"next-bar volatility (annualised): {forecasts}",
             "forecast losses against realised (lower is better):",
             volatility.losses.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
             "dominant cycles:", view.cycles.round(3).to_string(index=False),
             f"sparse reconstruction error: {view.sparse.error:.1%}",
             f"unusual bars (robust z >= {args.threshold:g}): {len(view.alerts)}",
             *(f"  {a.message}" for a in alerts)]
    emit(args, payload, "\n".join(lines))
    return 0
