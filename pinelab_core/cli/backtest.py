"""`pinelab backtest`: backtest a rule strategy or a signal source; optionally sweep, walk forward, Monte Carlo.

Examples:
    pinelab backtest --source demo --symbol DEMO-EQUITY --strategy sma_cross --param fast=10 --param slow=20 --json
    pinelab backtest --strategy rule:rsi --fees 0.001 --option stop_loss=0.05
    pinelab backtest --strategy sma_cross --sweep optuna --n-trials 60 --executor process --study sma-demo
"""

from __future__ import annotations

import argparse
from typing import Any

from pinelab_core.cli.common import add_data_options, emit, settings_from_args
from pinelab_core.errors import DataValidationError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `backtest` subcommand."""
    parser = subparsers.add_parser(
        "backtest", help="backtest a strategy through the execution engine",
        description="Backtest a rule strategy (sma_cross, ema_cross, rsi_reversion, bollinger_reversion, breakout) "
        "or a signal source (rule:<name>, tradingview, ensemble, model:<name>[@version]). Decisions at a bar's "
        "close fill at the next open; fees and slippage are fractions of traded notional.",
    )
    add_data_options(parser)
    parser.add_argument("--strategy", default="sma_cross", help="strategy or signal source (default sma_cross)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="strategy parameter, repeatable: --param fast=10 --param slow=20")
    parser.add_argument("--fees", type=float, default=0.0, help="commission per side, fraction (0.001 = 0.1%%)")
    parser.add_argument("--slippage", type=float, default=0.0, help="slippage per fill, fraction of the price")
    parser.add_argument("--init-cash", type=float, default=10_000.0, help="starting cash (default 10000)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="execution option, repeatable: stop_loss=0.05 take_profit=0.1 trailing_stop=0.08 "
                        "half_spread=0.0002 slippage_atr=0.1 fixed_fee=1 vol_target=0.15 max_leverage=2 "
                        "kelly_cap=0.5 lot_size=1 min_order=100 allow_short=false rebalance_every=5")
    parser.add_argument("--hold-bars", type=int, default=None, help="signal sources: close each call after N bars")
    parser.add_argument("--sweep", choices=["grid", "optuna", "genetic"], default=None,
                        help="search the strategy's parameters instead of one run")
    parser.add_argument("--n-trials", type=int, default=50, help="trials for optuna/genetic (default 50)")
    parser.add_argument("--metric", default="sharpe", help="what a sweep maximises (default sharpe)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--executor", choices=["serial", "process", "ray"], default=None,
                        help="where sweep trials run (default: ray if PINELAB_RAY_ADDRESS is set, else processes)")
    parser.add_argument("--study", default="", help="store sweep trials under this name; a rerun resumes")
    parser.add_argument("--walk-forward", action="store_true", help="walk-forward optimise the strategy's grid")
    parser.add_argument("--monte-carlo", type=int, default=0, metavar="PATHS",
                        help="also bootstrap the trades PATHS times and print percentile bands")
    parser.add_argument("--save", action="store_true", help="store the run for the Backtest page")
    parser.set_defaults(handler=_backtest)


def parse_pairs(pairs: list[str], what: str) -> dict[str, Any]:
    """KEY=VALUE strings as a dict of numbers, booleans or strings."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise DataValidationError(f"--{what} {pair!r} must look like KEY=VALUE.")
        text = raw.strip()
        if text.lower() in ("true", "false"):
            parsed[key.strip()] = text.lower() == "true"
            continue
        try:
            number = float(text)
        except ValueError:
            raise DataValidationError(f"--{what} {pair!r}: {text!r} is not a number.") from None
        parsed[key.strip()] = int(number) if number.is_integer() and key.strip() in _INTEGER_OPTIONS else number
    return parsed


_INTEGER_OPTIONS = {"vol_lookback", "kelly_min_trades", "rebalance_every"}


def _backtest(args: argparse.Namespace) -> int:
    from pinelab_core.backtest import backtest_strategy, monte_carlo, save_run, sweep, walk_forward_optimise
    from pinelab_core.data import load_ohlcv
    from pinelab_core.store import get_engine

    settings = settings_from_args(args)
    params, options = parse_pairs(args.param, "param"), parse_pairs(args.option, "option")
    execution = {"fees": args.fees, "slippage": args.slippage, "init_cash": args.init_cash, **options}
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, source=args.source, settings=settings)
    engine = get_engine(settings)
    if args.sweep:
        found = sweep(ohlcv, args.strategy, method=args.sweep, metric=args.metric, n_trials=args.n_trials,
                      seed=args.seed, executor=args.executor, engine=engine if args.study else None,
                      study=args.study, **execution)
        summary = {"best_params": found.best_params, "best": found.best, "n_trials": found.n_trials,
                   "deflated_sharpe": found.deflated_sharpe, "pbo": found.pbo, "trials": found.trials}
        text = (f"{args.strategy} {args.sweep} sweep on {args.symbol}: {found.n_trials} trials, best "
                f"{found.best_params} {args.metric}={found.best[args.metric]:.3f}\n"
                f"deflated Sharpe {found.deflated_sharpe:.3f}, probability of overfitting {found.pbo:.2f}")
        emit(args, summary, text)
        return 0
    if args.walk_forward:
        wfo = walk_forward_optimise(ohlcv, args.strategy, metric=args.metric, executor=args.executor or "serial",
                                    **execution)
        stats = wfo.result.stats
        report = {"stats": stats, "n_trades": int(stats["n_trades"]), "windows": wfo.windows,
                   "degradation": wfo.degradation, "window_win_rate": wfo.window_win_rate, "n_trials": wfo.n_trials}
        text = (f"walk-forward {args.strategy} on {args.symbol}: {len(wfo.windows)} windows, out-of-sample Sharpe "
                f"{stats['sharpe']:.2f}, total return {stats['total_return']:.1%}, degradation "
                f"{wfo.degradation:.0%}\n\n{wfo.windows.to_string(index=False)}")
        emit(args, report, text)
        return 0
    run = backtest_strategy(ohlcv, args.strategy, params, symbol=args.symbol, timeframe=args.timeframe,
                            engine=engine, settings=settings, hold_bars=args.hold_bars, **execution)
    stats = run.result.stats
    payload: dict[str, Any] = {"strategy": args.strategy, "params": run.params, "stats": stats,
                               "n_trades": int(stats["n_trades"])}
    lines = [f"{args.strategy} {run.params or ''} on {args.symbol} {args.timeframe}: {int(stats['n_trades'])} trades, "
             f"total return {stats['total_return']:.2%} (buy-and-hold {stats['buy_and_hold_return']:.2%})", "",
             stats.to_string()]
    if args.monte_carlo:
        bands = monte_carlo(run.result, n_paths=args.monte_carlo, seed=args.seed)
        payload["monte_carlo"] = {"final_return": bands.final_return, "max_drawdown": bands.max_drawdown}
        lines += ["", "Monte Carlo (trade bootstrap) final return:", bands.final_return.to_string(),
                  "max drawdown:", bands.max_drawdown.to_string()]
    if args.save:
        payload["run_id"] = save_run(engine, run.result, symbol=args.symbol, timeframe=args.timeframe,
                                     strategy=args.strategy, params=run.params, source=args.source)
        lines.append(f"\nstored as run #{payload['run_id']}")
    emit(args, payload, "\n".join(lines))
    return 0
