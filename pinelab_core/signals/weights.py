"""Learned source weights: a multiplicative-weights update from each realised outcome, with a floor.

For every resolved signal a source's log-weight decays a little toward zero (weight 1) and then
moves by learning_rate * reward: log w <- (1 - decay) * log w + learning_rate * reward. The reward
is the signal's direction-adjusted return scaled by the market's volatility over the horizon
(tanh keeps one wild bar from deciding everything) and by the signal's strength. The decay makes
it an exponentially weighted record, so old luck fades; the floor keeps a source that had a bad
stretch in the game, so it can earn its way back; the ceiling stops one lucky source drowning the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

__all__ = ["WeightRule", "learn_weights", "outcome_reward", "update_weight"]


@dataclass(frozen=True)
class WeightRule:
    """How fast weights move and where they stop."""

    learning_rate: float = 0.1
    decay: float = 0.01
    floor: float = 0.05
    ceiling: float = 5.0
    initial: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.initial <= self.ceiling:
            raise ValueError("WeightRule needs 0 < floor <= initial <= ceiling.")
        if self.learning_rate <= 0 or not 0 <= self.decay < 1:
            raise ValueError("WeightRule needs learning_rate > 0 and 0 <= decay < 1.")


def outcome_reward(directional_return: float, volatility: float, strength: float = 1.0) -> float:
    """The score of one call in [-1, 1]: tanh(return / volatility over the horizon) x strength."""
    scale = volatility if volatility > 0 and math.isfinite(volatility) else 0.01
    return float(max(0.0, min(strength, 1.0)) * math.tanh(directional_return / scale))


def update_weight(weight: float, reward: float, rule: WeightRule = WeightRule()) -> float:
    """One multiplicative-weights step with decay, clipped to [floor, ceiling]."""
    log_weight = (1.0 - rule.decay) * math.log(weight) + rule.learning_rate * reward
    return float(min(rule.ceiling, max(rule.floor, math.exp(log_weight))))


def learn_weights(
    outcomes: pd.DataFrame, rule: WeightRule = WeightRule(), sources: Iterable[str] = ()
) -> tuple[dict[str, float], pd.DataFrame]:
    """Replay outcomes in the order they were realised; the final weights and the path they took.

    Outcomes known at the same moment are taken in a fixed order (placement time, horizon), so the result
    depends only on the set of outcomes, never on the order they were resolved or loaded in.

    Args:
        outcomes: columns `source`, `reward` and `exit_time` (when the outcome became known); `time` and
            `horizon` break ties when present.
        rule: the update's learning rate, floor and ceiling.
        sources: sources to include even without outcomes (they keep the initial weight).

    Returns:
        ({source: weight}, frame of exit_time, source, weight after each update).
    """
    weights = {name: rule.initial for name in sources}
    path: list[tuple[object, str, float]] = []
    keys = [name for name in ("exit_time", "time", "horizon", "source") if name in outcomes]
    ordered = outcomes.dropna(subset=["reward"]).sort_values(keys, kind="stable")
    for when, source, reward in zip(ordered["exit_time"], ordered["source"], ordered["reward"], strict=True):
        weights[source] = update_weight(weights.get(source, rule.initial), float(reward), rule)
        path.append((when, source, weights[source]))
    return weights, pd.DataFrame(path, columns=["exit_time", "source", "weight"])
