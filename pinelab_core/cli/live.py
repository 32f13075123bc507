"""`pinelab run` (the scheduler), `pinelab watch` (its markets), `pinelab notify` (rules, inbox, delivery log) and
`pinelab learn` (retraining, champion/challenger, learning events)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `run`, `watch`, `notify` and `learn`."""
    run = subparsers.add_parser("run", help="the scheduler: keep watched markets, paper accounts and models live",
                                description="Long-running: as each watched market's bars close, run the signal "
                                "desk and the predictions, resolve outcomes, trade the paper accounts, retrain and "
                                "notify. One copy at a time (a lock in the store); a restart resumes where it stopped.")
    run.add_argument("--interval", type=float, default=30.0, help="seconds between ticks (default 30)")
    run.add_argument("--replay-from", default=None, help="walk demo/file history from this bar, one bar per tick")
    run.add_argument("--bars-per-tick", type=int, default=1, help="bars a replay reveals per tick")
    run.add_argument("--max-ticks", type=int, default=None, help="stop after N ticks")
    run.add_argument("--steps", default=None, help="comma-separated steps (default all)")
    run.add_argument("--stop", action="store_true", help="ask the running scheduler to stop, then exit")
    run.add_argument("--status", action="store_true", help="who holds the scheduler lock, the newest steps")
    add_json_option(run)
    run.set_defaults(handler=_run)

    watch = subparsers.add_parser("watch", help="markets the scheduler keeps up to date")
    watch.add_argument("action", choices=["add", "remove", "list"])
    add_data_options(watch, dates=False)
    watch.add_argument("--horizon", type=int, default=5, help="bars a signal is held before it is judged")
    watch.set_defaults(handler=_watch)

    notify = subparsers.add_parser("notify", help="notification rules, the inbox and the delivery log")
    actions = notify.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="add a rule")
    add.add_argument("name")
    add.add_argument("--event", required=True,
                     choices=["consensus_flip", "confidence_above", "drift_alert", "kill_switch", "job_failed"])
    add.add_argument("--channel", default="inbox", choices=["inbox", "webhook", "email"])
    add.add_argument("--target", default="", help="webhook URL or email address")
    add.add_argument("--format", dest="body_format", default="json", choices=["json", "slack", "discord", "telegram"])
    add.add_argument("--symbol", default="", help="only this market (default every one)")
    add.add_argument("--timeframe", default="")
    add.add_argument("--threshold", type=float, default=None, help="confidence_above: the confidence, e.g. 0.7")
    add_json_option(add)
    add.set_defaults(handler=_notify_add)
    for name, helptext in (("list", "the rules"), ("inbox", "every notification, newest first"),
                           ("log", "every delivery attempt"), ("send", "deliver what is due now"),
                           ("disable", "disable a rule")):
        action = actions.add_parser(name, help=helptext)
        if name == "disable":
            action.add_argument("name")
        add_json_option(action)
        action.set_defaults(handler=_notify_action)

    learn = subparsers.add_parser("learn", help="retraining, champion/challenger and learning events")
    learn.add_argument("action", choices=["events", "retrain", "policy", "head-to-head", "promote"])
    learn.add_argument("model", nargs="?", default=None, help="the model name")
    learn.add_argument("--version", type=int, default=None)
    learn.add_argument("--mode", choices=["full", "incremental"], default=None)
    learn.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="policy: schedule=daily on_drift=true auto_promote=false min_shadow_bars=50 ...")
    add_json_option(learn)
    learn.set_defaults(handler=_learn)


def _engine() -> Any:
    from pinelab_core.store import get_engine

    return get_engine(Settings.from_env())


def _run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pinelab_core.live import SchedulerOptions, lease_info, request_stop, run_scheduler, step_log

    settings = Settings.from_env()
    if args.stop:
        stopped = request_stop(_engine())
        emit(args, {"stop_requested": stopped}, "Stop requested." if stopped else "No scheduler is running.")
        return 0
    if args.status:
        info = lease_info(_engine())
        steps = step_log(_engine(), limit=20)
        text = (f"running: process {info.pid} on {info.host}, heartbeat {info.heartbeat_at:%H:%M:%S} UTC"
                if info and info.alive else "not running")
        text += "\n\n" + steps.to_string(index=False) if len(steps) else ""
        emit(args, {"lease": info, "steps": steps}, text)
        return 0
    steps = tuple(s.strip() for s in args.steps.split(",")) if args.steps else None
    options = SchedulerOptions(interval_s=args.interval, bars_per_tick=args.bars_per_tick, max_ticks=args.max_ticks,
                               replay_from=pd.Timestamp(args.replay_from, tz="UTC") if args.replay_from else None,
                               **({"steps": steps} if steps else {}))
    print(f"PineLab scheduler running (every {args.interval:g} s{', replay' if args.replay_from else ''}); "
          "Ctrl+C or `pinelab run --stop` to stop.", file=sys.stderr, flush=True)
    summary = run_scheduler(settings, options)
    emit(args, summary, f"scheduler stopped ({summary.stopped_because}): {summary.ticks} tick(s), {summary.bars} "
                        f"bar(s), {len(summary.failures)} failure(s)" +
         "".join(f"\n  {failure.splitlines()[0]}" for failure in summary.failures[-10:]))
    return 0


def _watch(args: argparse.Namespace) -> int:
    from pinelab_core.live import list_watched, unwatch_market, watch_market
    from pinelab_core.store import get_engine

    engine = get_engine(settings_from_args(args))
    if args.action == "add":
        watch_market(engine, args.source, args.symbol, args.timeframe, horizon=args.horizon)
    elif args.action == "remove" and not unwatch_market(engine, args.source, args.symbol, args.timeframe):
        raise DataValidationError(f"{args.symbol} {args.timeframe} from {args.source} is not watched.")
    markets = list_watched(engine)
    rows = [f"{m.data_source:<12} {m.symbol:<14} {m.timeframe:<4} {'on ' if m.enabled else 'off'} last bar "
            f"{m.last_bar_time if m.last_bar_time is not None else '-'}" for m in markets]
    emit(args, markets, "\n".join(rows) if rows else "No market is watched: `pinelab watch add --symbol ...`.")
    return 0


def _notify_add(args: argparse.Namespace) -> int:
    from pinelab_core.live import add_rule

    rule = add_rule(_engine(), args.name, args.event, channel=args.channel, target=args.target,
                    symbol=args.symbol, timeframe=args.timeframe, threshold=args.threshold,
                    body_format=args.body_format)
    emit(args, rule, f"rule {rule.name}: {rule.event} -> {rule.channel} {rule.target}".rstrip())
    return 0


def _notify_action(args: argparse.Namespace) -> int:
    from pinelab_core.live import deliver_pending, delivery_log, disable_rule, inbox, list_rules

    engine = _engine()
    if args.action == "list":
        rules = list_rules(engine)
        emit(args, rules, "\n".join(f"{r.name}: {r.event} -> {r.channel} {r.target} {'' if r.enabled else '(off)'}"
                                    for r in rules) or "No rules: `pinelab notify add NAME --event ...`.")
    elif args.action == "inbox":
        frame = inbox(engine)
        emit(args, frame, frame.to_string(index=False) if len(frame) else "The inbox is empty.")
    elif args.action == "log":
        frame = delivery_log(engine)
        emit(args, frame, frame.to_string(index=False) if len(frame) else "Nothing delivered yet.")
    elif args.action == "send":
        stats = deliver_pending(engine)
        emit(args, stats, f"{stats.delivered} delivered, {stats.retrying} to retry, {stats.failed} failed")
    elif not disable_rule(engine, args.name):
        raise DataValidationError(f"No notification rule {args.name!r}: `pinelab notify list` shows them.")
    else:
        emit(args, {"disabled": args.name}, f"rule {args.name} disabled")
    return 0


def _learn(args: argparse.Namespace) -> int:
    from pinelab_core.live import learning_frames

    engine = _engine()
    if args.action == "events":
        events = learning_frames(engine).events
        emit(args, events, events[["time", "kind", "model_name", "version", "message"]].to_string(index=False)
             if len(events) else "No learning events yet.")
        return 0
    if not args.model:
        raise DataValidationError(f"`pinelab learn {args.action}` needs a model name (`pinelab models` lists them).")
    return {"retrain": _retrain, "policy": _policy, "head-to-head": _head_to_head, "promote": _promote}[args.action](
        args, engine)


def _retrain(args: argparse.Namespace, engine: Any) -> int:
    import pandas as pd

    from pinelab_core.live import get_policy, request_retrain
    from pinelab_core.models.registry import get_version

    settings = Settings.from_env()
    info = get_version(settings, args.model, args.version)
    mode = args.mode or get_policy(engine, info.name).mode
    key = f"retrain|{info.name}|v{info.version}|manual|{pd.Timestamp.now(tz='UTC').isoformat()}"
    job = request_retrain(settings, engine, info.name, info.version, reason="requested by hand", key=key, mode=mode)
    emit(args, {"job_id": job}, f"retrain job {job} queued for {info.ref} ({mode}); follow it with `pinelab jobs`.")
    return 0


def _policy(args: argparse.Namespace, engine: Any) -> int:
    from pinelab_core.cli.backtest import parse_pairs
    from pinelab_core.live import get_policy, set_policy

    words = [p for p in args.set if p.partition("=")[0] in ("schedule", "mode")]
    changes: dict[str, Any] = parse_pairs([p for p in args.set if p not in words], "set")
    changes.update(dict(p.split("=", 1) for p in words))
    changes = {k: int(v) if k == "min_shadow_bars" else v for k, v in changes.items()}
    policy = set_policy(engine, args.model, **changes) if changes else get_policy(engine, args.model)
    emit(args, policy, "\n".join(f"{k}: {v}" for k, v in vars(policy).items()))
    return 0


def _head_to_head(args: argparse.Namespace, engine: Any) -> int:
    from pinelab_core.live import get_policy, head_to_head, promotion_verdict

    result = head_to_head(engine, args.model, args.version)
    verdict = promotion_verdict(result, get_policy(engine, args.model))
    text = (f"{args.model}: challenger v{result.challenger} vs champion v{result.champion} on {result.n_bars} bars\n"
            f"{result.scores.to_string()}\nlog-loss gain {result.log_loss_gain:+.4f}, Diebold-Mariano p "
            f"{result.dm_p_value:.3f}, McNemar p {result.mcnemar_p_value:.3f}\n"
            f"promotion rule: {'PROMOTE' if verdict.promote else 'keep the champion'}\n  ")
    text += "\n  ".join(verdict.reasons)
    emit(args, {"head_to_head": result, "verdict": verdict}, text)
    return 0


def _promote(args: argparse.Namespace, engine: Any) -> int:
    from pinelab_core.live import promote

    if args.version is None:
        raise DataValidationError("Say which version to promote: --version N.")
    promote(Settings.from_env(), engine, args.model, args.version, reason="promoted by hand (CLI)")
    emit(args, {"promoted": f"{args.model}@v{args.version}"}, f"{args.model}@v{args.version} is now active.")
    return 0
