"""Active agents as signal sources of the signal desk (registered by `signals.sources`, which calls in here).

One source per desk role: "agent" (a general agent), "agent:trend" and "agent:mean_reversion". Each speaks
with the newest active agent of its role on the market: its action is the call (the sign of its target
position), the probability of that action the strength. A call is placed when the agent changes its mind, and
again every `horizon` bars while it holds, so the consensus always sees it; only bars after the agent's
training data produce calls (in-sample bars never enter a track record).
"""

from __future__ import annotations

import numpy as np

from pinelab_core.config import Settings
from pinelab_core.signals.sources import AGENT_SOURCES, MarketView, Signal

__all__ = ["AGENT_SOURCES", "agent_signals"]


def agent_signals(view: MarketView, role: str, source: str) -> list[Signal]:
    """The calls of the newest active agent with `role` on the view's market (none when there is no such agent)."""
    from pinelab_core.rl.calls import active_agents, agent_history

    if view.ohlcv.empty:
        return []
    settings = view.settings or Settings.from_env()
    versions = active_agents(settings, view.symbol, view.timeframe, role)
    if not versions:
        return []
    version = max(versions, key=lambda v: v.created_at)
    history = agent_history(settings, version, view.ohlcv)
    targets, confidence = history["target"].to_numpy(), history["confidence"].to_numpy()
    live = ~history["in_sample"].to_numpy() & np.isfinite(targets)
    closes, regimes = view.ohlcv["close"].to_numpy(), view.regime.reindex(view.ohlcv.index).astype(str).to_numpy()
    signals, last_side, last_bar = [], None, -10**9
    for bar in np.flatnonzero(live):
        side = int(np.sign(targets[bar]))
        if side == last_side and bar - last_bar < max(1, view.horizon):
            continue
        signals.append(Signal(source, view.symbol, view.timeframe, view.ohlcv.index[bar], side,
                              float(min(max(confidence[bar], 0.0), 1.0)), view.horizon, str(regimes[bar]),
                              float(closes[bar])))
        last_side, last_bar = side, int(bar)
    return signals

