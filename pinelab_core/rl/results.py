"""What the Training page shows about agents, read back from the store and the registry (survives reloads)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session, col, select

from pinelab_core.config import Settings
from pinelab_core.store import get_engine

__all__ = ["AgentResults", "agent_learning_curve", "agent_results", "list_agents"]


@dataclass(frozen=True)
class AgentResults:
    """One registered agent's out-of-sample story."""

    ref: str
    name: str
    version: int
    kind: str
    status: str
    device: str
    device_reason: str
    metrics: dict[str, float]
    folds: pd.DataFrame  # fold x seed: train end, test span, return, Sharpe
    baselines: pd.DataFrame  # buy_and_hold, random, ensemble: the backtester's stats
    per_seed: pd.DataFrame  # the agent's stats per seed (from the metrics' IQM and spread)
    equity: pd.DataFrame  # out-of-sample equity per seed and baseline
    training: dict
    options: dict


def agent_results(settings: Settings, name: str, version: int | None = None) -> AgentResults:
    """Read an agent version's manifest and evaluation curves (verified like any artifact).

    Raises:
        ModelNotFoundError / ModelSchemaError: no such version, or its files were altered.
    """
    from pinelab_core.models.registry import load_version
    from pinelab_core.rl.evaluation import HEADLINE

    loaded = load_version(settings, name, version, device="cpu")
    manifest, agent = loaded.manifest, loaded.model
    options = dict(manifest.options)
    metrics = dict(loaded.info.metrics)
    per_seed = pd.DataFrame({stat: {"IQM": metrics.get(f"{stat}_iqm"), "lowest seed": metrics.get(f"{stat}_min"),
                                    "highest seed": metrics.get(f"{stat}_max")} for stat in HEADLINE})
    baselines = pd.DataFrame.from_dict(options.get("baselines", {}), orient="index")
    stored = getattr(agent, "evaluation", None)
    equity = stored if stored is not None else pd.DataFrame()
    return AgentResults(
        ref=loaded.info.ref, name=loaded.info.name, version=loaded.info.version, kind=loaded.info.kind,
        status=loaded.info.status, device=loaded.info.device, device_reason=str(options.get("device_reason", "")),
        metrics=metrics, folds=pd.DataFrame(manifest.fold_metrics), baselines=baselines, per_seed=per_seed,
        equity=equity, training=dict(options.get("training", {})), options=options,
    )


def agent_learning_curve(settings: Settings, job_id: int) -> pd.DataFrame:
    """The learning-curve points a job wrote: run, timesteps, episode reward, loss, timesteps per second."""
    from pinelab_core.store.tables import AgentProgressRow

    with Session(get_engine(settings)) as session:
        rows = session.exec(select(AgentProgressRow).where(AgentProgressRow.job_id == job_id)
                            .order_by(col(AgentProgressRow.id))).all()
    columns = ["run", "timesteps", "total", "episode_reward", "loss", "timesteps_per_second"]
    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)


def list_agents(settings: Settings, *, status: str | None = None, symbol: str | None = None,
                timeframe: str | None = None) -> list:
    """Registered agent versions (newest first per name), optionally filtered."""
    from pinelab_core.models.registry import list_versions
    from pinelab_core.rl.agents import AGENT_KINDS

    return [v for v in list_versions(settings, status=status, symbol=symbol, timeframe=timeframe)
            if v.kind in AGENT_KINDS]
