"""Outcome tracking, live scores, accuracy decay and feature drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_predict_service import SYMBOL, TIMEFRAME, planted_ohlcv, train_active_models

from pinelab_core.config import Settings
from pinelab_core.models.active import clear_model_cache, load_active
from pinelab_core.models.drift import (
    accuracy_alerts,
    feature_alerts,
    feature_drift,
    population_stability_index,
)
from pinelab_core.models.inference import clear_prediction_cache, predict
from pinelab_core.models.tracking import performance, prediction_history, resolve_outcomes
from pinelab_core.training.labels import LabelSpec, make_labels


def test_outcomes_fill_in_once_the_horizon_has_passed(settings: Settings) -> None:
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = planted_ohlcv(1_000)
    train_active_models(settings, ohlcv.iloc[:985], ("lightgbm",))  # learned from bars up to 981
    for end in (990, 995, 997):  # live predictions at bars 989, 994 and 996, after the training range
        predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:end], forecasts=False)
    # With bars 0..996 known only bar 989 (horizon 3) is resolvable; bar 994 needs bar 997.
    assert resolve_outcomes(settings, lambda source, symbol, timeframe: ohlcv.iloc[:997]) == 1
    assert resolve_outcomes(settings, lambda source, symbol, timeframe: ohlcv) == 2
    history = prediction_history(settings, SYMBOL, TIMEFRAME)
    assert history["outcome"].notna().all()
    labels = make_labels(ohlcv, LabelSpec.from_dict({"kind": "direction", "horizon": 3}))
    expected = [("DOWN", "SIDEWAYS", "UP")[int(labels.loc[t])] for t in history["bar_time"]]
    assert list(history["outcome"]) == expected
    close = ohlcv["close"]
    first = history.iloc[0]
    position = close.index.get_loc(first["bar_time"])
    assert first["realised_return"] == pytest.approx(np.log(close.iloc[position + 3] / close.iloc[position]))
    chosen = history[["prob_DOWN", "prob_SIDEWAYS", "prob_UP"]].to_numpy().argmax(axis=1)
    assert list(history["hit"]) == [("DOWN", "SIDEWAYS", "UP")[c] == o for c, o in zip(chosen, expected, strict=True)]


def test_performance_scores_each_model_and_the_ensemble() -> None:
    history = pd.DataFrame({
        "outcome": ["UP", "DOWN", "UP", None],
        "prob_DOWN": [0.1, 0.7, 0.6, 0.2], "prob_SIDEWAYS": [0.2, 0.2, 0.2, 0.2], "prob_UP": [0.7, 0.1, 0.2, 0.6],
        "members": [{"a/v1": {"DOWN": 0.2, "SIDEWAYS": 0.2, "UP": 0.6}}] * 4,
    })
    table = performance(history).set_index("model")
    assert table.loc["ensemble", "n"] == 3
    assert table.loc["ensemble", "hit_rate"] == pytest.approx(2 / 3)
    assert table.loc["a/v1", "hit_rate"] == pytest.approx(2 / 3)
    # Brier of the first row: (0.1^2 + 0.2^2 + 0.3^2) = 0.14
    assert 0 < table.loc["ensemble", "brier"] < 1
    assert performance(history.iloc[3:]).empty


def test_accuracy_decay_raises_an_alert_past_ten_points() -> None:
    live = pd.DataFrame({"model": ["ensemble", "a/v1", "b/v1"], "n": [40, 40, 5],
                         "rolling_hit_rate": [0.38, 0.52, 0.10]})
    alerts = accuracy_alerts(live, {"ensemble": 0.55, "a/v1": 0.55, "b/v1": 0.60})
    assert [a.subject for a in alerts] == ["ensemble"]  # a/v1 fell 3 points; b/v1 has too few outcomes
    assert "17 points" in alerts[0].message and alerts[0].severity == "warning"


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5_000)
    assert population_stability_index(reference, rng.normal(0, 1, 2_000)) < 0.02
    assert population_stability_index(reference, rng.normal(1.5, 1, 2_000)) > 0.5
    assert np.isnan(population_stability_index(reference, np.array([np.nan])))
    ref = pd.DataFrame({"same": reference[:1000], "shifted": reference[1000:2000]})
    cur = pd.DataFrame({"same": rng.normal(0, 1, 500), "shifted": rng.normal(3, 1, 500)})
    drift = feature_drift(ref, cur)
    assert list(drift["feature"]) == ["shifted", "same"]
    assert list(drift["status"]) == ["significant", "stable"]
    assert feature_alerts(drift, share=0.2)  # half the features drifted


def test_drift_report_on_an_active_market(settings: Settings) -> None:
    from pinelab_core.models.monitor import drift_report

    clear_model_cache()
    ohlcv = planted_ohlcv(900)
    train_active_models(settings, ohlcv, ("lightgbm",))
    active = load_active(settings, SYMBOL, TIMEFRAME)
    report = drift_report(settings, active, ohlcv)
    assert set(report.features.columns) == {"feature", "psi", "status"}
    assert len(report.features) > 100
    assert report.performance.empty  # nothing resolved yet
    assert report.alerts == [] or all(a.kind == "features" for a in report.alerts)


def test_two_resolvers_at_once_fill_each_outcome_once(settings: Settings) -> None:
    """Both read the open rows before either writes (the dashboard and `pinelab predict --resolve`): the
    rows are filled once and the counts add up to the rows, not twice that."""
    import threading

    clear_model_cache()
    clear_prediction_cache()
    ohlcv = planted_ohlcv(1_000)
    train_active_models(settings, ohlcv.iloc[:985], ("lightgbm",))
    for end in (990, 992, 994):
        predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:end], forecasts=False)
    both_read = threading.Barrier(2)

    def loader(source: str, symbol: str, timeframe: str):  # type: ignore[no-untyped-def]
        both_read.wait(timeout=30)  # the open rows are read before the loader is called
        return ohlcv

    counts: list[int] = []
    workers = [threading.Thread(target=lambda: counts.append(resolve_outcomes(settings, loader))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(counts) == 2 and sum(counts) == 3, counts
    assert prediction_history(settings, SYMBOL, TIMEFRAME)["outcome"].notna().sum() == 3
