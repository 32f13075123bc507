"""`pinelab train`, `pinelab models` and `pinelab jobs`: walk-forward training, the registry, background jobs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pinelab_core.cli.common import add_data_options, add_json_option, emit, settings_from_args
from pinelab_core.errors import DataValidationError

__all__ = ["register"]

_HEADLINE = ("balanced_accuracy", "baseline_balanced_accuracy", "accuracy", "log_loss", "sharpe",
             "buy_and_hold_sharpe", "max_drawdown")


def register(subparsers: Any) -> None:
    """Add the `train`, `models` and `jobs` subcommands."""
    train = subparsers.add_parser(
        "train", help="walk-forward train models and register them",
        description="Walk-forward train one or more models on purged folds, print their out-of-sample scores "
        "beside the baselines, and register each final model. Example: pinelab train --source demo "
        "--symbol DEMO-EQUITY --timeframe 1d --models lightgbm,xgboost --horizon 5. RL agents (ppo, a2c, dqn) "
        "are evaluated walk-forward over seeds against buy-and-hold, random actions and the ensemble, then "
        "registered: pinelab train --models ppo --timesteps 50000 --json",
    )
    add_data_options(train)
    _add_training_options(train)
    train.set_defaults(handler=_train)

    models = subparsers.add_parser("models", help="list the model registry", description="List registered versions.")
    models.add_argument("--status", default=None, help="candidate | active | challenger | archived")
    models.add_argument("--symbol", default=None, help="only versions trained on this symbol")
    add_json_option(models)
    models.set_defaults(handler=_models)

    jobs = subparsers.add_parser("jobs", help="list background jobs (and cancel one)",
                                 description="List the newest background jobs; --cancel ID stops one.")
    jobs.add_argument("--limit", type=int, default=20, help="how many jobs to list (default 20)")
    jobs.add_argument("--cancel", type=int, default=None, metavar="ID", help="cancel this job")
    add_json_option(jobs)
    jobs.set_defaults(handler=_jobs)


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="lightgbm",
                        help="comma list: lightgbm,xgboost,random_forest,lstm,cnn; RL agents: ppo,a2c,dqn")
    parser.add_argument("--timesteps", type=int, default=None, metavar="N",
                        help="RL agents: environment steps each agent learns for (default 50000)")
    parser.add_argument("--eval-seeds", type=int, default=3, metavar="K",
                        help="RL agents: seeds of the walk-forward evaluation (default 3; IQM and spread reported)")
    parser.add_argument("--eval-folds", type=int, default=3, help="RL agents: walk-forward test folds (default 3)")
    parser.add_argument("--horizon", type=int, default=5, help="label horizon in bars (default 5)")
    parser.add_argument("--label", default="direction", choices=["direction", "triple_barrier"])
    parser.add_argument("--label-param", action="append", default=[], metavar="KEY=VALUE",
                        help="label multiplier, repeatable: k=0.5 (direction), profit_take=2 stop_loss=1 (triple "
                        "barrier), vol_window=20")
    parser.add_argument("--groups", default=None, help="comma list of feature groups (default: all)")
    parser.add_argument("--price-levels", action="store_true",
                        help="also learn from price levels (sma_200, bands, atr_14): off by default")
    parser.add_argument("--start-dependent", action="store_true",
                        help="also learn from cumulative sums (obv, ad), which depend on where the data starts")
    parser.add_argument("--sentiment", action="store_true",
                        help="also learn from the market's news sentiment (stored headlines, counted from the bar "
                        "after publication): sentiment_1d, sentiment_headlines_1d")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | mps (default PINELAB_DEVICE)")
    parser.add_argument("--train-size", type=int, default=None, help="rows in the first training window")
    parser.add_argument("--test-size", type=int, default=None, help="rows per test fold")
    parser.add_argument("--step", type=int, default=None,
                        help="rows between test folds (default and minimum: the test size; no bar is scored twice)")
    parser.add_argument("--window", default="expanding", choices=["expanding", "rolling"])
    parser.add_argument("--embargo", type=int, default=0, help="extra bars between training and each test fold")
    parser.add_argument("--fees", type=float, default=0.0005, help="fraction of traded notional (default 0.0005)")
    parser.add_argument("--slippage", type=float, default=0.0, help="fraction of traded notional")
    parser.add_argument("--param", action="append", default=[], metavar="[MODEL.]KEY=VALUE",
                        help="model hyperparameter, repeatable: n_estimators=200 (every model) or lstm.window=48")
    parser.add_argument("--tune", type=int, default=0, metavar="N",
                        help="try N hyperparameter sets by nested walk-forward first (never scored on test folds)")
    parser.add_argument("--activate", action="store_true", help="make each new version the active one")
    parser.add_argument("--background", action="store_true", help="queue a background job instead; print its id")


def _request_from_args(args: argparse.Namespace, device: str) -> Any:
    from pinelab_core.training.runner import TrainRequest

    models = _split(args.models)
    return TrainRequest(
        symbols=_split(args.symbol), source=args.source, timeframe=args.timeframe, start=args.start, end=args.end,
        models=models, horizon=args.horizon, label=args.label,
        groups=_split(args.groups) if args.groups else None, train_size=args.train_size, test_size=args.test_size,
        step=args.step, window=args.window, embargo=args.embargo, fees=args.fees, slippage=args.slippage,
        device=args.device or device, seed=args.seed, activate=args.activate,
        model_params=_agent_options(args, _model_params(args.param, models)), tune_trials=args.tune,
        label_params=_label_params(args.label_param), include_price_levels=args.price_levels,
        include_start_dependent=args.start_dependent, sentiment=args.sentiment,
    ).validate()


def _agent_options(args: argparse.Namespace, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """--timesteps / --eval-seeds / --eval-folds into each RL agent's model params."""
    from pinelab_core.rl.service import split_models

    for kind in split_models(_split(args.models))[1]:
        extra = {"eval_seeds": args.eval_seeds, "eval_folds": args.eval_folds}
        if args.timesteps is not None:
            extra["timesteps"] = args.timesteps
        params[kind] = {**extra, **params.get(kind, {})}
    return params


def _label_params(items: list[str]) -> dict[str, float]:
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        try:
            params[key.strip()] = float(raw)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise DataValidationError(f"--label-param {item!r} must look like KEY=NUMBER, e.g. k=0.5.")
    return params


def _model_params(items: list[str], models: list[str]) -> dict[str, dict[str, Any]]:
    """`--param n_estimators=200 --param lstm.window=48` -> {model: {key: value}}; values parse as JSON if they can."""
    params: dict[str, dict[str, Any]] = {model: {} for model in models}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise DataValidationError(f"--param {item!r} must look like KEY=VALUE or MODEL.KEY=VALUE.")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        model, dot, name = key.strip().rpartition(".")
        targets = [model] if dot else models
        if dot and model not in params:
            raise DataValidationError(f"--param {item!r} names model {model!r}, which is not in --models.")
        for target in targets:
            params[target][name] = value
    return {model: values for model, values in params.items() if values}


def _train(args: argparse.Namespace) -> int:
    """Supervised models through the walk-forward runner, RL agents through `rl.train_agents`; one list out."""
    from dataclasses import replace

    from pinelab_core.rl.service import split_models, train_agents
    from pinelab_core.training.runner import train_and_register

    settings = settings_from_args(args)
    request = _request_from_args(args, settings.device)
    supervised, agents = split_models(request.models)
    parts = [(kind, replace(request, models=models)) for kind, models in (("train", supervised), ("rl", agents))
             if models]
    if args.background:
        from pinelab_core.training.jobs import submit_job

        ids = [submit_job(settings, kind, part.to_dict()) for kind, part in parts]
        emit(args, {"job_id": ids[0], "job_ids": ids}, f"queued job(s) {', '.join(map(str, ids))}; follow them "
             "with `pinelab jobs`")
        return 0
    last_stage = [""]

    def on_progress(fraction: float, stage: str, _event: Any) -> None:
        if stage != last_stage[0] and not args.json:
            print(f"[{fraction:4.0%}] {stage}", file=sys.stderr, flush=True)
            last_stage[0] = stage

    trained = []
    for kind, part in parts:
        run = train_and_register if kind == "train" else train_agents
        trained += run(settings, part, progress=on_progress)
    emit(args, [item.to_dict() for item in trained], _trained_text(trained))
    return 0


def _trained_text(trained: list[Any]) -> str:
    lines = []
    for item in trained:
        m = item.metrics
        if "sharpe_iqm" in m:  # an RL agent: out-of-sample over seeds, against the baselines
            lines.append(f"{item.ref} ({item.status}, {item.device})")
            lines.append(f"  out of sample, seeds' IQM: Sharpe {m['sharpe_iqm']:.2f} (spread {m['sharpe_min']:.2f}"
                         f"..{m['sharpe_max']:.2f}), return {m['total_return_iqm']:.1%}, max drawdown "
                         f"{m['max_drawdown_iqm']:.1%}")
            lines.append(f"  buy-and-hold Sharpe {m['buy_and_hold_sharpe']:.2f}, random actions "
                         f"{m['random_sharpe']:.2f}" + (f", supervised ensemble {m['ensemble_sharpe']:.2f}"
                                                        if "ensemble_sharpe" in m else ""))
            continue
        flag = "  OVERFIT: train score far above validation" if item.overfit else ""
        lines.append(f"{item.ref} ({item.status}, {item.device}){flag}")
        lines.append(
            f"  balanced accuracy {m['balanced_accuracy']:.3f} vs majority baseline "
            f"{m['baseline_balanced_accuracy']:.3f}; accuracy {m['accuracy']:.3f} vs {m['baseline_accuracy']:.3f}; "
            f"log loss {m['log_loss']:.3f}"
        )
        lines.append(
            f"  implied long/flat/short: Sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:.1%}, "
            f"win rate {m['win_rate']:.1%}, profit factor {m['profit_factor']:.2f}"
        )
        lines.append(
            f"  buy-and-hold, same bars: Sharpe {m['buy_and_hold_sharpe']:.2f}, "
            f"max drawdown {m['buy_and_hold_max_drawdown']:.1%}"
        )
    return "\n".join(lines)


def _models(args: argparse.Namespace) -> int:
    from pinelab_core.models.registry import list_versions

    settings = settings_from_args(args)
    versions = list_versions(settings, status=args.status, symbol=args.symbol)
    if not versions:
        emit(args, [], "no models registered yet; train one with `pinelab train`")
        return 0
    rows = [f"{'version':<48} {'status':<10} {'kind':<13} {'bal.acc':>7} {'base':>6} {'sharpe':>7}  created"]
    for info in versions:
        m = info.metrics
        rows.append(
            f"{info.ref:<48} {info.status:<10} {info.kind:<13} {_num(m.get('balanced_accuracy')):>7} "
            f"{_num(m.get('baseline_balanced_accuracy')):>6} {_num(m.get('sharpe'), 2):>7}  "
            f"{info.created_at:%Y-%m-%d %H:%M}"
        )
    payload = [{"ref": i.ref, "name": i.name, "version": i.version, "kind": i.kind, "status": i.status,
                "symbol": i.symbol, "timeframe": i.timeframe, "label": i.label, "horizon": i.horizon,
                "device": i.device, "created_at": i.created_at, "job_id": i.job_id,
                "metrics": {k: m for k, m in i.metrics.items() if k in _HEADLINE or k.startswith("buy_and_hold")}}
               for i in versions]
    emit(args, payload, "\n".join(rows))
    return 0


def _jobs(args: argparse.Namespace) -> int:
    from pinelab_core.training.jobs import cancel_job, list_jobs, reconcile_jobs

    settings = settings_from_args(args)
    if args.cancel is not None:
        job = cancel_job(settings, args.cancel)
        emit(args, job, f"job {job.id}: {job.status}" + (" (cancel requested)" if job.status == "running" else ""))
        return 0
    reconcile_jobs(settings)
    jobs = list_jobs(settings, limit=args.limit)
    text = "\n".join(f"{j.id:>5} {j.kind:<6} {j.status:<10} {j.progress:5.0%}  {j.created_at:%Y-%m-%d %H:%M}  "
                     f"{j.stage}" for j in jobs) or "no jobs yet"
    emit(args, jobs, text)
    return 0


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"
