"""`pinelab predict` and `pinelab explain`: the ensemble's call on a market, and why, from the shell."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pinelab_core.cli.common import add_data_options, emit, settings_from_args
from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `predict` and `explain` subcommands."""
    predict = subparsers.add_parser(
        "predict", help="the active models' calibrated signal and the active RL agents' calls for a symbol",
        description="Predict the last bar with the active ensemble: signal, calibrated confidence, each model's "
        "probabilities (keyed name/vN), agreement and price forecasts; beside it (agents) each active RL agent's "
        "call: action, target position and its probability. Example: pinelab predict --source demo "
        "--symbol DEMO-EQUITY --json. Several symbols: --symbol DEMO-EQUITY,DEMO-BTC.",
    )
    add_data_options(predict)
    predict.add_argument("--min-confidence", type=float, default=0.0,
                         help="below this calibrated confidence the signal is HOLD (default 0)")
    predict.add_argument("--no-forecasts", action="store_true", help="skip the 1/5/20-bar price forecasts")
    predict.add_argument("--resolve", action="store_true",
                         help="first fill in the outcomes of logged predictions whose horizon has passed")
    _add_starter_option(predict)
    predict.set_defaults(handler=_predict)

    explain = subparsers.add_parser(
        "explain", help="SHAP explanation of the ensemble's call at any bar",
        description="Explain the ensemble's chosen class at a bar with SHAP values: base_value + "
        "sum(contributions) == output (the calibrated ensemble's centred log-probability of the class). "
        "Example: pinelab explain --source demo --symbol DEMO-EQUITY --bar 2024-03-01 --json",
    )
    add_data_options(explain)
    explain.add_argument("--bar", default=None, help="bar to explain, e.g. 2024-03-01 (default: the last bar)")
    explain.add_argument("--top", type=int, default=12, help="contributions shown in the text output (default 12)")
    _add_starter_option(explain)
    explain.set_defaults(handler=_explain)


def _add_starter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-starter", action="store_true",
                        help="no model yet? train the quick starter preset (LightGBM + XGBoost, ~1 min) first")


def _predict(args: argparse.Namespace) -> int:
    from pinelab_core.models.inference import predict

    settings = settings_from_args(args)
    symbols = [s.strip() for s in args.symbol.split(",") if s.strip()]
    if args.resolve:
        _resolve(settings)
    results, texts = {}, []
    for symbol in symbols:
        ohlcv = _load(args, settings, symbol)
        calls = _agent_calls(args, settings, symbol, ohlcv)
        try:
            prediction = _with_starter(args, settings, symbol, lambda o=ohlcv, s=symbol: predict(
                s, args.timeframe, args.source, settings, ohlcv=o, min_confidence=args.min_confidence,
                forecasts=not args.no_forecasts, latest=args.end is None))
        except ModelNotFoundError:
            if not calls:
                raise
            prediction = None  # no classifier yet, but active agents: their calls are the answer
        results[symbol] = _with_agents(symbol, prediction, calls)
        texts.append("\n".join(part for part in (_prediction_text(prediction) if prediction else "",
                                                  _agents_text(calls)) if part))
    payload: Any = results[symbols[0]] if len(symbols) == 1 else results
    emit(args, payload, "\n\n".join(texts))
    return 0


def _agent_calls(args: argparse.Namespace, settings: Settings, symbol: str, ohlcv: Any) -> list[Any]:
    from pinelab_core.rl.calls import agent_calls

    return agent_calls(settings, symbol, args.timeframe, ohlcv, latest=args.end is None)


def _with_agents(symbol: str, prediction: Any, calls: list[Any]) -> Any:
    """The prediction's JSON with an "agents" list beside it (the ensemble's fields unchanged)."""
    from pinelab_core.cli.common import to_jsonable

    base = to_jsonable(prediction) if prediction is not None else {"symbol": symbol, "signal": None}
    return {**base, "agents": [call.to_dict() for call in calls]}


def _agents_text(calls: list[Any]) -> str:
    lines = [f"  agent {c.agent:<34} {c.action:<4} target {c.target:+.2f}  p={c.confidence:.1%}"
             + ("  (in-sample)" if c.in_sample else "") for c in calls]
    return "\n".join(lines)


def _explain(args: argparse.Namespace) -> int:
    from pinelab_core.explain import explain

    settings = settings_from_args(args)
    ohlcv = _load(args, settings, args.symbol)
    explanation = _with_starter(args, settings, args.symbol, lambda: explain(
        args.symbol, args.timeframe, args.source, bar=args.bar, settings=settings, ohlcv=ohlcv,
        latest=args.end is None))
    emit(args, explanation, _explanation_text(explanation, args.top))
    return 0


def _load(args: argparse.Namespace, settings: Settings, symbol: str) -> Any:
    from pinelab_core.data import load_ohlcv

    return load_ohlcv(symbol, args.timeframe, args.start, args.end, args.source, settings)


def _with_starter(args: argparse.Namespace, settings: Settings, symbol: str, call: Any) -> Any:
    """Run `call`; with --train-starter and no active model, train the starter preset first."""
    try:
        return call()
    except ModelNotFoundError:
        if not args.train_starter:
            raise
    from pinelab_core.models.starter import train_starter

    print(f"No active model for {symbol} {args.timeframe}: training the starter preset (LightGBM + XGBoost)...",
          file=sys.stderr, flush=True)
    train_starter(settings, symbol, args.timeframe, args.source, start=args.start, end=args.end,
                  progress=lambda fraction, stage, _event: print(f"[{fraction:4.0%}] {stage}", file=sys.stderr,
                                                                 flush=True))
    return call()


def _resolve(settings: Settings) -> None:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.models.tracking import resolve_outcomes

    filled = resolve_outcomes(settings, lambda source, symbol, timeframe: load_ohlcv(
        symbol, timeframe, source=source or settings.default_source, settings=settings))
    print(f"resolved {filled} past prediction(s)", file=sys.stderr)


def _prediction_text(prediction: Any) -> str:
    lines = [f"{prediction.symbol} {prediction.timeframe} @ {prediction.bar_time:%Y-%m-%d %H:%M} UTC "
             f"(close {prediction.close:.6g}, next {prediction.horizon} bars)",
             f"  signal {prediction.signal.value}  confidence {prediction.confidence:.1%}  "
             f"agreement {prediction.agreement:.0%}  weights: {prediction.weights_source}",
             "  ensemble  " + "  ".join(f"{k} {v:.1%}" for k, v in prediction.probabilities.items())]
    if prediction.trained_on and prediction.symbol not in prediction.trained_on:
        lines.insert(1, f"  (models trained on {', '.join(prediction.trained_on)})")
    if prediction.in_sample:
        lines.insert(1, "  IN-SAMPLE: a look back at a past bar (not the newest, or one the models learned from); "
                        "not logged")
    for key, probs in prediction.models.items():
        shown = "  ".join(f"{k} {v:.1%}" for k, v in probs.items())
        lines.append(f"  {key:<28} w={prediction.weights[key]:.2f}  {shown}")
    for f in prediction.forecasts:
        lines.append(f"  +{f.horizon} bars: {f.price:.6g}  ({f.lower_price:.6g} .. {f.upper_price:.6g}, "
                     f"{f.interval:.0%} interval)")
    return "\n".join(lines)


def _explanation_text(explanation: Any, top: int) -> str:
    lines = [f"{explanation.symbol} {explanation.timeframe} @ {explanation.bar_time:%Y-%m-%d %H:%M} UTC: "
             f"{explanation.target_class} with probability {explanation.probability:.1%}",
             f"  {explanation.output_space}: base {explanation.base_value:+.4f} + contributions "
             f"{sum(explanation.contributions.values()):+.4f} = output {explanation.output:+.4f}"]
    for name, value in list(explanation.contributions.items())[:top]:
        lines.append(f"  {value:+.4f}  {name} = {explanation.feature_values.get(name, float('nan')):.6g}")
    rest = len(explanation.contributions) - top
    if rest > 0:
        lines.append(f"  ... {rest} more (use --json for all)")
    return "\n".join(lines)
