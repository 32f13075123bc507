"""The consensus: one score in [-1, 1] per market from every source's active call and learned weight.

    score       = sum(w * direction * strength) / sum(w)        over sources with an active call
    agreement   = |sum(w * direction * strength)| / sum(w * strength)
    coverage    = sum(w of active sources) / sum(w of all sources)
    confidence  = agreement * coverage

A call is active for `horizon` bars after the bar it was placed at. The position size targets a
volatility (annualised) and is capped; fractional Kelly, when asked for, caps it further using
the contributing sources' track record.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinelab_core.signals.sources import Signal
from pinelab_core.types import Action

__all__ = ["AggregateSignal", "Contribution", "SizingRule", "aggregate_signals", "position_size",
           "realised_volatility"]


@dataclass(frozen=True)
class SizingRule:
    """Volatility targeting with a cap; `kelly_fraction` (e.g. 0.5 for half Kelly) adds a Kelly cap."""

    target_volatility: float = 0.15  # annualised
    max_position: float = 1.0  # fraction of equity, long or short
    kelly_fraction: float | None = None
    action_threshold: float = 0.2  # |score| below this is HOLD


@dataclass(frozen=True)
class Contribution:
    source: str
    weight: float
    direction: int
    strength: float
    share: float  # this source's part of the score
    time: pd.Timestamp | None


@dataclass(frozen=True)
class AggregateSignal:
    symbol: str
    timeframe: str
    time: pd.Timestamp
    score: float
    confidence: float
    action: Action
    position_size: float
    volatility: float
    contributions: list[Contribution] = field(default_factory=list)


def realised_volatility(ohlcv: pd.DataFrame, window: int = 20) -> float:
    """Annualised volatility of the last `window` bars; bars per year are counted from the data itself,
    so equity sessions, FX weeks and 24/7 crypto annualise correctly."""
    close = ohlcv["close"].to_numpy(np.float64)[-(window + 1):]
    if len(close) < 3:
        return float("nan")
    span_years = (ohlcv.index[-1] - ohlcv.index[0]).total_seconds() / (365.25 * 86400)
    bars_per_year = (len(ohlcv) - 1) / span_years if span_years > 0 else 252.0
    return float(np.std(np.diff(np.log(close)), ddof=1) * math.sqrt(bars_per_year))


def position_size(score: float, volatility: float, rule: SizingRule = SizingRule(), *,
                  win_rate: float | None = None, payoff: float | None = None) -> float:
    """Signed fraction of equity: score x target/volatility, capped; Kelly-capped when configured."""
    if not math.isfinite(volatility) or volatility <= 0 or not math.isfinite(score):
        return 0.0
    size = min(abs(score) * rule.target_volatility / volatility, rule.max_position)
    if rule.kelly_fraction is not None and win_rate is not None and payoff is not None and payoff > 0:
        kelly = win_rate - (1.0 - win_rate) / payoff
        size = min(size, max(0.0, kelly) * rule.kelly_fraction)
    return float(math.copysign(size, score)) if size > 0 else 0.0


def aggregate_signals(
    signals: Iterable[Signal],
    weights: dict[str, float],
    ohlcv: pd.DataFrame,
    *,
    symbol: str,
    timeframe: str,
    at: pd.Timestamp | None = None,
    rule: SizingRule = SizingRule(),
    track_record: pd.DataFrame | None = None,
) -> AggregateSignal:
    """The consensus at bar `at` (default: the last bar) from each source's latest active call.

    Args:
        signals: every source's signals on this market.
        weights: the learned weight per source; a source missing here is not counted.
        ohlcv: the market, for bar positions and volatility (only bars <= `at` are used).
        track_record: tracked outcomes (`load_outcomes`), for fractional Kelly.
    """
    index = ohlcv.index
    at = index[-1] if at is None else pd.Timestamp(at)
    now = int(index.searchsorted(at, side="right")) - 1
    latest: dict[str, Signal] = {}
    for signal in signals:
        placed = int(index.searchsorted(pd.Timestamp(signal.time), side="right")) - 1
        active = signal.source in weights and 0 <= now - placed < max(1, signal.horizon) and placed <= now
        if active and (signal.source not in latest or signal.time >= latest[signal.source].time):
            latest[signal.source] = signal
    total = sum(weights.values())
    active_weight = sum(weights[s] for s in latest)
    pull = sum(weights[s] * sig.direction * sig.strength for s, sig in latest.items())
    conviction = sum(weights[s] * sig.strength for s, sig in latest.items())
    score = float(np.clip(pull / active_weight, -1.0, 1.0)) if active_weight > 0 else 0.0
    agreement = abs(pull) / conviction if conviction > 0 else 0.0
    confidence = float(agreement * (active_weight / total)) if total > 0 else 0.0
    contributions = [
        Contribution(s, weights[s], latest[s].direction if s in latest else 0,
                     latest[s].strength if s in latest else 0.0,
                     (weights[s] * latest[s].direction * latest[s].strength / active_weight) if s in latest else 0.0,
                     latest[s].time if s in latest else None)
        for s in sorted(weights)
    ]
    volatility = realised_volatility(ohlcv.iloc[: now + 1])
    win_rate, payoff = _kelly_inputs(track_record, latest)
    size = position_size(score, volatility, rule, win_rate=win_rate, payoff=payoff)
    action = Action.BUY if score >= rule.action_threshold else Action.SELL if score <= -rule.action_threshold \
        else Action.HOLD
    return AggregateSignal(symbol, timeframe, index[now], score, confidence, action,
                           size if action is not Action.HOLD else 0.0, volatility, contributions)


def _kelly_inputs(track_record: pd.DataFrame | None, active: dict[str, Signal]) -> tuple[float | None, float | None]:
    """Win rate and payoff (mean win / mean loss) of the active sources' resolved signals."""
    if track_record is None or track_record.empty or not active:
        return None, None
    mine = track_record[track_record["source"].isin(list(active)) & track_record["realised_return"].notna()
                        & (track_record["direction"] != 0)]
    returns = mine["realised_return"].astype(float)
    wins, losses = returns[returns > 0], returns[returns < 0]
    if len(wins) == 0 or len(losses) == 0:
        return None, None
    return float(len(wins) / len(returns)), float(wins.mean() / -losses.mean())
