"""Learned weights, the consensus score and position sizing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinelab_core.signals.aggregate import SizingRule, aggregate_signals, position_size
from pinelab_core.signals.sources import Signal
from pinelab_core.signals.weights import WeightRule, learn_weights, outcome_reward, update_weight
from pinelab_core.types import Action
from tests.conftest import random_walk_ohlcv

OHLCV = random_walk_ohlcv(300, seed=3)


def _signal(source: str, bar: int, direction: int, strength: float = 1.0, horizon: int = 5) -> Signal:
    return Signal(source, "X", "1h", OHLCV.index[bar], direction, strength, horizon)


def test_weights_move_toward_the_source_that_earns() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(400):
        for source, hit_rate in (("good", 0.62), ("bad", 0.38)):
            rows.append({"source": source, "exit_time": i, "reward": 0.5 if rng.random() < hit_rate else -0.5})
    weights, path = learn_weights(pd.DataFrame(rows), WeightRule(), ["good", "bad", "silent"])
    assert weights["good"] > 1.0 > weights["bad"]
    assert weights["silent"] == 1.0  # no outcomes, no opinion about it
    assert path["exit_time"].is_monotonic_increasing and len(path) == 800


def test_the_floor_holds_and_a_source_can_recover() -> None:
    rule = WeightRule(learning_rate=0.5, floor=0.1)
    weight = 1.0
    for _ in range(200):
        weight = update_weight(weight, -1.0, rule)
        assert weight >= rule.floor
    assert weight == pytest.approx(rule.floor)
    recovered = [weight := update_weight(weight, 1.0, rule) for _ in range(6)]
    assert all(b > a for a, b in zip([rule.floor, *recovered], recovered, strict=False))
    assert recovered[-1] > 1.0
    for _ in range(500):
        weight = update_weight(weight, 1.0, rule)
    assert weight <= rule.ceiling


def test_reward_scales_by_volatility_and_strength() -> None:
    assert outcome_reward(0.02, 0.01) > outcome_reward(0.02, 0.04) > 0
    assert outcome_reward(-0.02, 0.01) == -outcome_reward(0.02, 0.01)
    assert outcome_reward(0.02, 0.01, strength=0.5) == pytest.approx(0.5 * outcome_reward(0.02, 0.01))
    assert -1 <= outcome_reward(10.0, 0.001) <= 1


def test_unanimous_sources_give_full_score_and_coverage_sets_confidence() -> None:
    weights = {"a": 1.0, "b": 1.0, "c": 2.0}
    agg = aggregate_signals([_signal("a", 296, 1), _signal("b", 298, 1)], weights, OHLCV, symbol="X", timeframe="1h")
    assert agg.score == pytest.approx(1.0) and agg.action is Action.BUY
    assert agg.confidence == pytest.approx(0.5)  # the silent source holds half the weight
    assert {c.source: c.share for c in agg.contributions} == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})


def test_the_heavier_source_wins_a_disagreement() -> None:
    signals = [_signal("trusted", 295, -1), _signal("doubted", 295, 1)]
    agg = aggregate_signals(signals, {"trusted": 3.0, "doubted": 1.0}, OHLCV, symbol="X", timeframe="1h")
    assert agg.score == pytest.approx(-0.5) and agg.action is Action.SELL and agg.position_size < 0
    assert agg.confidence == pytest.approx(0.5)


def test_only_active_and_past_signals_count() -> None:
    weights = {"a": 1.0}
    stale = aggregate_signals([_signal("a", 280, 1, horizon=5)], weights, OHLCV, symbol="X", timeframe="1h")
    assert stale.score == 0 and stale.action is Action.HOLD and stale.position_size == 0
    at = OHLCV.index[250]
    future = aggregate_signals([_signal("a", 252, 1)], weights, OHLCV, symbol="X", timeframe="1h", at=at)
    assert future.score == 0 and future.time == at


def test_volatility_targeting_with_cap_and_fractional_kelly() -> None:
    assert position_size(1.0, 0.30, SizingRule(target_volatility=0.15)) == pytest.approx(0.5)
    assert position_size(-1.0, 0.05, SizingRule(target_volatility=0.15, max_position=1.0)) == pytest.approx(-1.0)
    half_kelly = SizingRule(target_volatility=0.15, kelly_fraction=0.5)
    assert position_size(1.0, 0.30, half_kelly, win_rate=0.55, payoff=1.0) == pytest.approx(0.05)
    assert position_size(1.0, 0.30, half_kelly, win_rate=0.40, payoff=1.0) == 0.0  # negative edge: no bet
    assert position_size(0.5, float("nan")) == 0.0


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    calls=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(200, 299), st.sampled_from([-1, 0, 1]),
                             st.floats(0.0, 1.0), st.integers(1, 30)), max_size=20),
    weights=st.lists(st.floats(0.05, 5.0), min_size=4, max_size=4),
    cap=st.floats(0.1, 3.0),
)
def test_score_confidence_and_size_stay_in_bounds(calls, weights, cap) -> None:  # type: ignore[no-untyped-def]
    signals = [_signal(s, bar, d, strength, h) for s, bar, d, strength, h in calls]
    agg = aggregate_signals(signals, dict(zip("abcd", weights, strict=True)), OHLCV, symbol="X", timeframe="1h",
                            rule=SizingRule(max_position=cap))
    assert -1.0 <= agg.score <= 1.0
    assert 0.0 <= agg.confidence <= 1.0 + 1e-12
    assert abs(agg.position_size) <= cap + 1e-12
    assert sum(c.share for c in agg.contributions) == pytest.approx(agg.score)
