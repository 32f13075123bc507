"""Anomalies: each bar is judged against the 250 bars before it (never itself), planted spikes are flagged with a
sentence a trader reads ("Unusual volume at 14:00 on ..."), and the isolation forest isolates a planted outlier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.features import build_features
from pinelab_core.structure import anomaly_alerts, anomaly_scores
from tests.conftest import random_walk_ohlcv


def _spiked(n: int = 1_500, at: int = 1_200) -> pd.DataFrame:
    bars = random_walk_ohlcv(n, seed=6)
    bars.iloc[at, bars.columns.get_loc("volume")] *= 12.0
    return bars


def test_the_robust_z_score_judges_a_bar_against_the_bars_before_it() -> None:
    bars = _spiked()
    z = build_features(bars, groups="anomaly")["rz_volume_250"]
    volume = bars["volume"].to_numpy()
    for t in (300, 1_199, 1_200, 1_201):
        past = volume[t - 250 : t]  # the bar itself is not in its own yardstick
        q1, median, q3 = np.log(np.quantile(past, [0.25, 0.5, 0.75]))
        assert z.iloc[t] == pytest.approx((np.log(volume[t]) - median) / ((q3 - q1) / 1.349), rel=1e-9, abs=1e-9)
    assert z.iloc[1_200] > 4.0 and z.iloc[:250].isna().all() and z.iloc[250:].notna().all()


def test_a_volume_spike_raises_an_alert_that_says_when_and_how_much() -> None:
    bars = _spiked()
    alerts = anomaly_alerts(bars)
    spike = [a for a in alerts if a.kind == "volume" and a.time == bars.index[1_200]]
    assert len(spike) == 1
    time = bars.index[1_200]
    assert spike[0].message.startswith(f"Unusual volume at {time:%H:%M} on {time:%Y-%m-%d}: ")
    assert "x the usual" in spike[0].message and spike[0].score > 4.0
    assert [a.time for a in alerts] == sorted((a.time for a in alerts), reverse=True)  # newest first
    assert len(anomaly_alerts(bars, threshold=2.0, limit=5)) == 5
    with pytest.raises(DataValidationError, match="threshold"):
        anomaly_alerts(bars, threshold=0)


def test_daily_alerts_name_the_day_and_moves_say_their_size() -> None:
    bars = random_walk_ohlcv(600, seed=2, freq="1D")
    bars.iloc[500, bars.columns.get_loc("close")] *= 0.85
    falls = [a for a in anomaly_alerts(bars) if a.kind == "return" and a.time == bars.index[500]]
    assert falls and falls[0].message.startswith(f"Unusual fall on {bars.index[500]:%Y-%m-%d}: -1")


def test_a_market_without_volume_reads_zero_until_volume_appears() -> None:
    bars = random_walk_ohlcv(700, seed=1)
    bars["volume"] = 0.0
    bars.iloc[650, bars.columns.get_loc("volume")] = 5_000.0
    z = build_features(bars, groups="anomaly")["rz_volume_250"]
    assert (z.iloc[250:650] == 0.0).all() and z.iloc[650] == 20.0  # capped: no spread to measure against
    assert not [a for a in anomaly_alerts(bars.iloc[:640]) if a.kind == "volume"]


def test_the_isolation_forest_isolates_a_planted_outlier() -> None:
    bars = random_walk_ohlcv(1_600, seed=9)
    at = 1_500
    bars.iloc[at, bars.columns.get_loc("volume")] *= 15.0
    bars.iloc[at, bars.columns.get_loc("close")] *= 1.08
    bars.iloc[at, bars.columns.get_loc("high")] = bars["close"].iloc[at] * 1.03
    scores = anomaly_scores(bars)
    assert list(scores.columns) == ["z_return", "z_volume", "z_range", "isolation", "sparse_error"]
    isolation = scores["isolation"].dropna()
    assert len(isolation) > 300 and isolation.between(0.0, 1.0).all()
    assert isolation.loc[bars.index[at]] > 0.6 > isolation.drop(bars.index[at]).median()
