"""Track records split by regime and weights learned per regime: each call belongs to the regime known at the
bar it was placed at, and the weights for bar t are the same whether later history was processed or not."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.signals.weights import WeightRule, learn_weights
from pinelab_core.structure import (
    regime_history,
    regime_weights,
    track_record_by_regime,
    weights_in_regime,
    with_regime,
)
from tests.structure_helpers import regime_switching_ohlcv

HORIZON = 5


@cache
def _market() -> tuple[pd.DataFrame, pd.DataFrame]:
    bars, _ = regime_switching_ohlcv(2_000, seed=7)
    return bars, regime_history(bars)


def _outcomes() -> pd.DataFrame:
    """Two sources calling every 3rd bar: "breakout" wins in volatile regimes and loses in calm ones,
    "meanrev" the other way round."""
    bars, regimes = _market()
    rows = []
    for position in range(800, len(bars) - HORIZON - 1, 3):
        volatile = str(regimes["regime"].iloc[position]).startswith(("volatile", "crisis"))
        for source, good in (("breakout", volatile), ("meanrev", not volatile)):
            realised = 0.01 if good else -0.01
            rows.append({"source": source, "time": bars.index[position], "direction": 1, "horizon": HORIZON,
                         "realised_return": realised, "hit": realised > 0, "reward": 0.5 if good else -0.5,
                         "exit_time": bars.index[position + HORIZON + 1]})
    return pd.DataFrame(rows)


def test_each_call_gets_the_regime_known_at_its_bar() -> None:
    bars, regimes = _market()
    calls = pd.DataFrame({"time": [bars.index[0] - pd.Timedelta(days=1), bars.index[900],
                                   bars.index[900] + pd.Timedelta(minutes=30)]})
    labelled = with_regime(calls, regimes)
    assert list(labelled["market_regime"]) == ["unknown", regimes["regime"].iloc[900], regimes["regime"].iloc[900]]
    assert with_regime(calls.iloc[:0], regimes).empty
    with pytest.raises(DataValidationError, match="bar_time"):
        with_regime(calls, regimes, time_column="bar_time")


def test_track_records_split_by_regime_show_where_a_source_earns() -> None:
    _, regimes = _market()
    table = track_record_by_regime(_outcomes(), regimes, by="source")
    assert list(table.columns) == ["source", "market_regime", "calls", "hit_rate", "mean_return", "total_return",
                                   "share"]
    by_key = table.set_index(["source", "market_regime"])
    calm = [r for r in by_key.loc["breakout"].index if r.startswith("calm")]
    wild = [r for r in by_key.loc["breakout"].index if r.startswith(("volatile", "crisis"))]
    assert calm and wild
    assert (by_key.loc[("breakout", calm), "hit_rate"] == 0.0).all()
    assert (by_key.loc[("breakout", wild), "hit_rate"] == 1.0).all()
    assert table.groupby("source")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])
    predictions = _outcomes().rename(columns={"time": "bar_time"}).drop(columns=["direction"])
    overall = track_record_by_regime(predictions, regimes, time_column="bar_time")
    assert overall["calls"].sum() == len(predictions) and "source" not in overall


def test_weights_per_regime_reward_the_source_that_earns_in_it() -> None:
    _, regimes = _market()
    rule = WeightRule()

    def learn(outcomes: pd.DataFrame) -> dict[str, float]:
        return learn_weights(outcomes, rule, ["breakout", "meanrev"])[0]

    per_regime = regime_weights(_outcomes(), regimes, learn)
    for name, weights in per_regime.items():
        if name.startswith("calm"):
            assert weights["meanrev"] > 1.0 > weights["breakout"]
        elif name != "unknown":
            assert weights["breakout"] > 1.0 > weights["meanrev"]
    overall = learn(_outcomes())
    assert abs(np.log(overall["breakout"] / overall["meanrev"])) < max(
        abs(np.log(w["breakout"] / w["meanrev"])) for w in per_regime.values())


def test_regime_weights_at_a_bar_ignore_later_history_and_later_outcomes() -> None:
    bars, full = _market()
    outcomes = _outcomes()

    def learn(known: pd.DataFrame) -> dict[str, float]:
        return learn_weights(known, WeightRule(), ["breakout", "meanrev"])[0]

    for position in (1_200, 1_650):
        at = bars.index[position]
        now = weights_in_regime(outcomes, regime_history(bars.iloc[: position + 1]), learn, at=at)
        later = weights_in_regime(outcomes, full, learn, at=at)
        assert now == later and now[0] == full["regime"].iloc[position]
        known = outcomes[outcomes["exit_time"] <= at]
        assert now[1] == regime_weights(known, full, learn).get(now[0], learn(outcomes.iloc[:0]))
