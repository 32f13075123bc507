"""`pinelab paper ...`: paper accounts on the execution engine (no real order is sent anywhere).

    pinelab paper create NAME --source demo --symbol DEMO-BTC --timeframe 1h --strategy consensus --fees 0.001
    pinelab paper list | show NAME | fills NAME | orders NAME | advance NAME | stop NAME | resume NAME
    pinelab paper replay --source demo --symbol DEMO-BTC --timeframe 1h --alerts alerts.csv --fees 0.001 --json
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from pinelab_core.cli.backtest import parse_pairs
from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args
from pinelab_core.config import Settings

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `paper` subcommand and its actions."""
    paper = subparsers.add_parser("paper", help="paper trading accounts (simulated fills, no real orders)",
                                  description="Paper accounts follow a strategy and fill through the execution "
                                  "engine at the next bar's open with costs. No order is ever sent to a broker.")
    actions = paper.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser("create", help="open a paper account")
    create.add_argument("name")
    add_data_options(create, dates=False)
    create.add_argument("--strategy", default="consensus",
                        help="consensus | source:<rsi|macd|...> | ensemble | rl:<agent> | tradingview | alerts")
    create.add_argument("--sizing", choices=["fixed", "signal"], default="fixed")
    _add_cost_options(create)
    create.add_argument("--max-position", type=float, default=1.0, help="largest |position|, fraction of equity")
    create.add_argument("--max-daily-loss", type=float, default=None, help="kill switch: daily loss fraction")
    create.add_argument("--max-drawdown", type=float, default=None, help="kill switch: drawdown fraction")
    create.add_argument("--start", default=None, help="first bar it decides at (default: the next one it sees)")
    create.set_defaults(handler=_create)
    for name, helptext, handler in (("list", "every account", _list), ("show", "equity, P&L, reconciliation", _show),
                                    ("fills", "the fills", _fills), ("orders", "the orders", _orders),
                                    ("advance", "process the newest bars now", _advance),
                                    ("stop", "stop deciding", _stop), ("resume", "decide again", _resume)):
        action = actions.add_parser(name, help=helptext)
        if name != "list":
            action.add_argument("name")
        add_json_option(action)
        action.set_defaults(handler=handler)
    replay = actions.add_parser("replay", help="replay a CSV of alerts through a fresh account and a backtest")
    add_data_options(replay, dates=True)
    replay.add_argument("--alerts", required=True, help="CSV with columns id, time, action (buy/sell/flat), size")
    _add_cost_options(replay)
    replay.set_defaults(handler=_replay)


def _add_cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cash", type=float, default=10_000.0, help="starting cash (default 10000)")
    parser.add_argument("--fees", type=float, default=0.0, help="commission per side, fraction (0.001 = 0.1%%)")
    parser.add_argument("--slippage", type=float, default=0.0, help="slippage per fill, fraction of the price")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="execution option, repeatable: half_spread=0.0002 lot_size=1 min_order=100 "
                        "allow_short=false vol_target=0.15 fraction=0.5")


def _execution(args: argparse.Namespace) -> dict[str, Any]:
    return {"fees": args.fees, "slippage": args.slippage, **parse_pairs(args.option, "option")}


def _engine() -> Any:
    from pinelab_core.store import get_engine

    return get_engine(Settings.from_env())


def _create(args: argparse.Namespace) -> int:
    from pinelab_core.live import RiskLimits, create_account
    from pinelab_core.store import get_engine

    settings = settings_from_args(args)
    risk = RiskLimits(args.max_position, args.max_daily_loss, args.max_drawdown)
    account = create_account(get_engine(settings), args.name, source=args.source, symbol=args.symbol,
                             timeframe=args.timeframe, strategy=args.strategy, init_cash=args.cash,
                             sizing=args.sizing, risk=risk, start=args.start, **_execution(args))
    emit(args, account, f"paper account {account.name} (#{account.id}) follows {account.strategy} on "
                        f"{account.symbol} {account.timeframe} from {account.data_source} with "
                        f"{account.init_cash:,.0f} cash. No real orders are sent; run `pinelab run` (or "
                        "`pinelab paper advance`) to trade it.")
    return 0


def _list(args: argparse.Namespace) -> int:
    from pinelab_core.live import list_accounts

    accounts = list_accounts(_engine())
    rows = [f"{a.id:>3} {a.name:<24} {a.status:<8} {a.strategy:<16} {a.symbol} {a.timeframe} ({a.data_source})"
            for a in accounts]
    emit(args, accounts, "\n".join(rows) if rows else "No paper accounts yet: `pinelab paper create NAME ...`.")
    return 0


def _load_report(name: str) -> Any:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.live import get_account, paper_report

    settings = Settings.from_env()
    engine = _engine()
    account = get_account(engine, name)
    ohlcv = load_ohlcv(account.symbol, account.timeframe, source=account.data_source, settings=settings)
    return paper_report(engine, account, ohlcv)


def _show(args: argparse.Namespace) -> int:
    report = _load_report(args.name)
    account, rec = report.account, report.reconciliation
    lines = [f"{account.name}: {account.status}{' (' + account.kill_reason + ')' if account.kill_reason else ''}",
             f"following {account.strategy} on {account.symbol} {account.timeframe} ({account.data_source}); "
             "paper only, no real orders",
             f"equity {report.equity['equity'].iloc[-1]:,.2f} ({report.total_return:+.2%}; buy-and-hold "
             f"{report.buy_and_hold_return:+.2%})" if len(report.equity) else "no bar processed yet",
             f"position {report.units:+g} units ({report.position:+.1%} of equity); realised P&L "
             f"{report.realised_pnl:+,.2f}, unrealised {report.unrealised_pnl:+,.2f}; {len(report.fills)} fills"]
    if rec is not None:
        lines.append(f"shadow backtest: {'identical' if rec.identical else 'DIFFERS'} (paper "
                     f"{rec.paper_final_equity:,.4f} vs backtest {rec.backtest_final_equity:,.4f}, max difference "
                     f"{rec.max_equity_difference:.2e})")
    payload = {"account": account, "equity": float(report.equity["equity"].iloc[-1]) if len(report.equity) else None,
               "total_return": report.total_return, "buy_and_hold_return": report.buy_and_hold_return,
               "units": report.units, "position": report.position, "realised_pnl": report.realised_pnl,
               "unrealised_pnl": report.unrealised_pnl, "n_fills": len(report.fills),
               "reconciliation": None if rec is None else {k: v for k, v in asdict(rec).items() if k != "differences"}}
    emit(args, payload, "\n".join(lines))
    return 0


def _fills(args: argparse.Namespace) -> int:
    report = _load_report(args.name)
    emit(args, report.fills, report.fills.to_string(index=False) if len(report.fills) else "No fills yet.")
    return 0


def _orders(args: argparse.Namespace) -> int:
    report = _load_report(args.name)
    emit(args, report.orders, report.orders.to_string(index=False) if len(report.orders) else "No orders yet.")
    return 0


def _advance(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.live import advance_account, get_account

    settings, engine = Settings.from_env(), _engine()
    account = get_account(engine, args.name)
    ohlcv = load_ohlcv(account.symbol, account.timeframe, source=account.data_source, settings=settings)
    result = advance_account(engine, account, ohlcv, settings=settings)
    text = (f"{account.name}: {result.new_decisions} decision(s), {result.new_fills} fill(s), {result.new_marks} "
            f"bar(s) marked" + (f"; KILL SWITCH at {result.killed_at}" if result.killed_at is not None else ""))
    emit(args, {k: v for k, v in asdict(result).items() if k != "account"}, text)
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    from pinelab_core.live import get_account, set_account_status

    engine = _engine()
    account = get_account(engine, args.name)
    set_account_status(engine, account.id, status)
    emit(args, {"name": account.name, "status": status}, f"{account.name} is now {status}.")
    return 0


def _stop(args: argparse.Namespace) -> int:
    return _set_status(args, "stopped")


def _resume(args: argparse.Namespace) -> int:
    return _set_status(args, "active")


def _replay(args: argparse.Namespace) -> int:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.live import read_alerts_csv, replay_alerts

    settings = settings_from_args(args)
    ohlcv = load_ohlcv(args.symbol, args.timeframe, args.start, args.end, source=args.source, settings=settings)
    result = replay_alerts(ohlcv, read_alerts_csv(args.alerts), source=args.source, symbol=args.symbol,
                           timeframe=args.timeframe, init_cash=args.cash, **_execution(args))
    text = (f"{result.n_alerts} alerts ({result.n_duplicates} duplicates, {result.n_late} late) -> {result.n_orders} "
            f"orders, {result.n_fills} fills\nfinal equity {result.final_equity:,.6f}\nbacktest of the same decisions "
            f"{result.backtest_final_equity:,.6f} ({'identical' if result.identical else 'DIFFERENT'})")
    emit(args, result, text)
    return 0
