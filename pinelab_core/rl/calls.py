"""Active agents' calls on a market: for the Predictions page, `pinelab predict` and the signal desk.

An agent's call at a bar depends on the position it holds, so it is read from one deterministic rollout. The
rollout starts, flat, at the first bar after the agent's training data (`trained_through`), so a call at bar t
depends only on bars up to t and on that fixed start: computed with data ending at t or long after, it is the
same (point in time). Calls on bars the agent learned from are flagged `in_sample` and never become signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError

__all__ = ["AgentCall", "active_agents", "agent_calls", "agent_history", "agent_role", "clear_agent_cache"]

_AGENTS: dict[tuple[str, str], tuple[Any, Any]] = {}
_ROLLOUTS: dict[tuple, pd.DataFrame] = {}
_LOCK = threading.Lock()
_ACTIONS = {1: "BUY", -1: "SELL", 0: "FLAT"}


@dataclass(frozen=True)
class AgentCall:
    """What one active agent decides at a bar's close."""

    agent: str  # "name@vN"
    kind: str
    role: str
    symbol: str
    timeframe: str
    bar_time: pd.Timestamp
    target: float  # the position it wants from the next open, in [-1, 1]
    action: str  # BUY, SELL or FLAT (the sign of the target)
    confidence: float  # probability of the chosen action
    in_sample: bool  # the bar is not the newest, or the agent learned from it
    trained_through: pd.Timestamp | None
    trained_on: str

    def to_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "kind": self.kind, "role": self.role, "symbol": self.symbol,
                "timeframe": self.timeframe, "bar_time": self.bar_time.isoformat(), "target": self.target,
                "action": self.action, "confidence": self.confidence, "in_sample": self.in_sample,
                "trained_through": self.trained_through.isoformat() if self.trained_through is not None else None,
                "trained_on": self.trained_on}


def active_agents(settings: Settings, symbol: str, timeframe: str, role: str | None = None) -> list[Any]:
    """Active agent versions for a market: the symbol's own, else those of one other symbol on the timeframe."""
    from pinelab_core.rl.results import list_agents

    versions = list_agents(settings, status="active", symbol=symbol, timeframe=timeframe)
    if not versions:
        others = list_agents(settings, status="active", timeframe=timeframe)
        if others:
            newest = max(others, key=lambda v: v.created_at)
            versions = [v for v in others if v.symbol == newest.symbol]
    if role is not None:
        versions = [v for v in versions if agent_role(settings, v) == role]
    return sorted(versions, key=lambda v: v.name)


def agent_role(settings: Settings, version: Any) -> str:
    """The desk role an agent was trained for ("trend", "mean_reversion", or "" for a general agent)."""
    _, manifest = _load(settings, version)
    return str(manifest.label.get("role", "") or "")


def agent_history(settings: Settings, version: Any, ohlcv: pd.DataFrame) -> pd.DataFrame:
    """One agent's rollout over `ohlcv`: target, confidence and in_sample per bar (NaN before it can trade)."""
    agent, manifest = _load(settings, version)
    through = pd.Timestamp(manifest.trained_through) if manifest.trained_through else None
    key = (str(settings.models_dir), version.name, version.version, ohlcv.index[0], ohlcv.index[-1], len(ohlcv))
    with _LOCK:
        cached = _ROLLOUTS.get(key)
    if cached is not None:
        return cached
    start = None
    if through is not None and ohlcv.index[-1] > through:
        start = int(ohlcv.index.searchsorted(through, side="right"))
    try:
        rollout = agent.act(ohlcv, start=start)
    except PinelabError:
        if start is None:
            raise
        rollout = agent.act(ohlcv)  # the warm-up reaches past the start: trade from the first bar it can
    in_sample = np.ones(len(ohlcv), dtype=bool) if through is None else (ohlcv.index <= through)
    frame = pd.DataFrame({"target": rollout.targets, "confidence": rollout.confidence, "in_sample": in_sample})
    with _LOCK:
        _ROLLOUTS[key] = frame
    return frame


def agent_calls(settings: Settings, symbol: str, timeframe: str, ohlcv: pd.DataFrame, *,
                latest: bool = True) -> list[AgentCall]:
    """Every active agent's call at the last bar of `ohlcv` (empty when no agent is active).

    Args:
        latest: whether `ohlcv` ends at the market's newest closed bar; if not, the calls describe the past
            and are flagged `in_sample`.
    """
    calls = []
    for version in active_agents(settings, symbol, timeframe):
        history = agent_history(settings, version, ohlcv)
        last = history.iloc[-1]
        if not np.isfinite(last["target"]):
            continue
        _, manifest = _load(settings, version)
        target = float(last["target"])
        calls.append(AgentCall(
            agent=f"{version.name}@v{version.version}", kind=version.kind, role=agent_role(settings, version),
            symbol=symbol, timeframe=timeframe, bar_time=pd.Timestamp(ohlcv.index[-1]), target=target,
            action=_ACTIONS[int(np.sign(target))], confidence=float(last["confidence"]),
            in_sample=bool(last["in_sample"]) or not latest,
            trained_through=pd.Timestamp(manifest.trained_through) if manifest.trained_through else None,
            trained_on=str(manifest.symbol)))
    return calls


def clear_agent_cache() -> None:
    """Forget loaded agents and rollouts (tests; after deleting artifacts by hand)."""
    with _LOCK:
        _AGENTS.clear()
        _ROLLOUTS.clear()


def _load(settings: Settings, version: Any) -> tuple[Any, Any]:
    from pinelab_core.models.registry import load_version

    key = (str(settings.models_dir), f"{version.name}/v{version.version}")
    with _LOCK:
        loaded = _AGENTS.get(key)
    if loaded is None:
        result = load_version(settings, version.name, version.version, device="cpu")
        loaded = (result.model, result.manifest)
        with _LOCK:
            _AGENTS[key] = loaded
    return loaded

