"""Train, evaluate and register agents: the one path behind `pinelab train --models ppo` and the Training page.

    versions = train_agents(settings, TrainRequest(symbols=["DEMO-EQUITY"], models=["ppo"],
                                                   model_params={"ppo": {"timesteps": 50_000}}))

Per (symbol, agent kind): a walk-forward evaluation over seeds against the baselines (`evaluate_agent`), then
the deployed agent learns on every bar and is registered (SB3 zip + policy description + VecNormalize
statistics + the evaluation's equity curves, checksummed, with a manifest that holds the out-of-sample
numbers). The background job ("rl" kind) writes progress, log lines and learning-curve points as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlmodel import Session

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.store import get_engine

if TYPE_CHECKING:
    from pinelab_core.rl.evaluation import AgentEvaluation
    from pinelab_core.training.runner import TrainedVersion, TrainRequest
    from pinelab_core.training.worker import JobReporter

__all__ = ["EVALUATION_OPTIONS", "agent_name", "run_rl_job", "split_models", "train_agents"]

#: Evaluation options read from an agent's model_params (the rest are the agent's own params).
EVALUATION_OPTIONS: dict[str, Any] = {"eval_seeds": 3, "eval_folds": 3, "test_fraction": 0.3}
Progress = Callable[[float, str, Any], None]


def split_models(models: list[str]) -> tuple[list[str], list[str]]:
    """(supervised models, RL agents) of a model list, order kept."""
    from pinelab_core.rl.agents import AGENT_KINDS

    return [m for m in models if m not in AGENT_KINDS], [m for m in models if m in AGENT_KINDS]


def agent_name(symbol: str, timeframe: str, kind: str, role: str = "") -> str:
    """The registry name of an agent: e.g. "demo-equity-1d-rl-ppo" (or "...-rl-trend-ppo" for a desk role)."""
    from pinelab_core.models.artifacts import model_slug

    return model_slug(symbol, timeframe, "rl", role, kind)


def train_agents(settings: Settings, request: TrainRequest, *, progress: Progress | None = None,
                 job_id: int | None = None) -> list[TrainedVersion]:
    """Evaluate, train and register every (symbol, agent) of `request` (its RL models only)."""
    from pinelab_core.data import load_ohlcv

    request.validate()
    _, kinds = split_models(request.models)
    if not kinds:
        raise DataValidationError("Name at least one agent to train: ppo, a2c or dqn.")
    tasks = [(symbol, kind) for symbol in request.symbols for kind in kinds]
    results = []
    for number, (symbol, kind) in enumerate(tasks):
        ohlcv = load_ohlcv(symbol, request.timeframe, request.start, request.end, request.source, settings)

        def tick(fraction: float, stage: str, event: Any, number: int = number, symbol: str = symbol) -> None:
            if progress is not None:
                progress((number + fraction) / len(tasks), f"{symbol} {stage}", event)

        results.append(_train_one(settings, request, symbol, kind, ohlcv, tick, job_id))
    return results


def _train_one(settings: Settings, request: TrainRequest, symbol: str, kind: str, ohlcv: pd.DataFrame,
               progress: Progress, job_id: int | None) -> TrainedVersion:
    from pinelab_core.rl.agents import AGENT_KINDS
    from pinelab_core.rl.evaluation import evaluate_agent

    options = dict(request.model_params.get(kind, {}))
    evaluation_options = {k: options.pop(k, v) for k, v in EVALUATION_OPTIONS.items()}
    role = str(options.pop("role", ""))
    params = {"fees": request.fees, "slippage": request.slippage, **options}
    seeds = [request.seed + k for k in range(int(evaluation_options["eval_seeds"]))]
    evaluation = evaluate_agent(ohlcv, kind, seeds=seeds, n_folds=int(evaluation_options["eval_folds"]),
                                test_fraction=float(evaluation_options["test_fraction"]), params=params,
                                ensemble_positions=_ensemble_positions(settings, symbol, request.timeframe),
                                progress=lambda f, stage, e: progress(0.85 * f, stage, e))
    agent = AGENT_KINDS[kind](seed=request.seed, device=request.device, **params)
    agent.learn(ohlcv, progress=lambda e: progress(0.85 + 0.15 * e.timesteps / max(e.total, 1),
                                                  f"{kind} deployed agent (every bar)", e))
    agent.evaluation = evaluation.equity
    return _register(settings, request, symbol, ohlcv, agent, evaluation, role, job_id)


def _register(settings: Settings, request: TrainRequest, symbol: str, ohlcv: pd.DataFrame, agent: Any,
              evaluation: AgentEvaluation, role: str, job_id: int | None) -> TrainedVersion:
    from pinelab_core.features import data_fingerprint
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model
    from pinelab_core.rl.policy import LOADING_NOTE
    from pinelab_core.training.jobs import json_safe
    from pinelab_core.training.runner import TrainedVersion

    metrics = json_safe(evaluation.metrics())
    manifest = ModelManifest(
        name=agent_name(symbol, request.timeframe, agent.kind, role), kind=agent.kind,
        label={"kind": "rl", "horizon": 1, "role": role, "actions": agent.action_description()},
        data_fingerprint=data_fingerprint(ohlcv), symbol=symbol, timeframe=request.timeframe, source=request.source,
        seed=request.seed, device=agent.fitted_device_, metrics=metrics, job_id=job_id,
        trained_through=pd.Timestamp(ohlcv.index[-1]).isoformat(),
        options=json_safe({**agent.params, "role": role, "start": request.start, "end": request.end,
                           "loading": LOADING_NOTE, "device_reason": agent.device_reason,
                           "training": agent.training_summary, "eval_seeds": list(evaluation.seeds),
                           "baselines": evaluation.baselines.to_dict(orient="index")}),
        fold_metrics=json_safe(evaluation.folds.to_dict(orient="records")),
    )
    info = register_model(settings, agent, manifest, activate=request.activate)
    return TrainedVersion(symbol=symbol, model=agent.kind, name=info.name, version=info.version, status=info.status,
                          device=agent.fitted_device_, overfit=False, metrics=metrics)


def _ensemble_positions(settings: Settings, symbol: str, timeframe: str) -> pd.Series | None:
    """The active supervised ensemble's cross-fitted out-of-fold calls as targets (None without active models)."""
    from pinelab_core.errors import PinelabError
    from pinelab_core.models.active import load_active
    from pinelab_core.models.ensemble import PROB_COLUMNS

    try:
        active = load_active(settings, symbol, timeframe)
    except PinelabError:
        return None
    scored = active.ensemble.cross_fitted
    if scored is None or scored.empty:
        return None
    calls = scored[list(PROB_COLUMNS)].to_numpy().argmax(axis=1) - 1.0  # DOWN -> short, SIDEWAYS flat, UP long
    return pd.Series(calls, index=scored.index)


def run_rl_job(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    """The worker's "rl" job: `train_agents` with progress, learning-curve points and log lines in the store."""
    from pinelab_core.store.tables import AgentProgressRow
    from pinelab_core.training.runner import TrainRequest

    request = TrainRequest.from_dict(params)
    engine = get_engine(settings)
    pending: list[AgentProgressRow] = []
    last_flush = [time.monotonic()]

    def on_progress(fraction: float, stage: str, event: Any) -> None:
        pending.append(AgentProgressRow(job_id=reporter.job_id, run=stage[:128], timesteps=event.timesteps,
                                        total=event.total, episode_reward=event.episode_reward, loss=event.loss,
                                        timesteps_per_second=event.timesteps_per_second))
        if time.monotonic() - last_flush[0] > 1.0 or event.timesteps >= event.total:
            with Session(engine) as session:
                session.add_all(pending)
                session.commit()
            pending.clear()
            last_flush[0] = time.monotonic()
        reporter.progress(fraction, stage)

    trained = train_agents(settings, request, progress=on_progress, job_id=reporter.job_id)
    for item in trained:
        m = item.metrics
        reporter.log(f"registered {item.ref}: out-of-sample Sharpe IQM {m['sharpe_iqm']:.2f} "
                     f"(seeds {m['sharpe_min']:.2f}..{m['sharpe_max']:.2f}), buy-and-hold "
                     f"{m['buy_and_hold_sharpe']:.2f}, random {m['random_sharpe']:.2f}")
    return {"versions": [item.to_dict() for item in trained]}
