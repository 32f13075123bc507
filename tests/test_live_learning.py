"""Models that keep learning: shadow calls only out of sample, resolved once; the head-to-head's tests; regimes
and performance as known at each bar; drift found for real; retrains that reuse the manifest and register a
challenger; fine-tuned nets compared with a full retrain; promotion logged once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.live import head_to_head, learning_frames, promote, promotion_verdict, set_policy, shadow_frame
from pinelab_core.live.challenger import diebold_mariano, mcnemar
from pinelab_core.live.learning import record_regime, snapshot_performance, version_drift
from pinelab_core.live.steps import BarContext, run_bar_steps
from pinelab_core.models.registry import get_version, list_versions
from pinelab_core.training.runner import TrainRequest, train_and_register
from tests.models_fixtures import FAST_PARAMS

TRAINED_THROUGH = "2026-09-30 23:00"


class Reporter:
    job_id = None

    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, fraction: float, stage: str) -> None:
        self.lines.append(stage)

    def log(self, message: str, level: str = "INFO") -> None:
        self.lines.append(message)


def _bars(settings: Settings) -> pd.DataFrame:
    return load_ohlcv("DEMO-BTC", "1h", "2026-07-01", source="demo", settings=settings)


def _train(settings: Settings, model: str = "lightgbm", **changes: object) -> str:
    options = {"groups": ["momentum", "volatility"], **changes}
    request = TrainRequest(symbols=["DEMO-BTC"], source="demo", timeframe="1h", start="2026-07-01",
                           end=TRAINED_THROUGH, models=[model], model_params={model: FAST_PARAMS[model]}, activate=True,
                           **options)  # type: ignore[arg-type]
    return train_and_register(settings, request)[0].name


def _step(settings: Settings, engine, bars: pd.DataFrame, at: int, steps: tuple[str, ...]) -> list[str]:  # type: ignore[no-untyped-def]
    view = bars.iloc[:at + 1]
    return run_bar_steps(BarContext(settings, engine, "demo", "DEMO-BTC", "1h", 5, view,
                                    {("demo", "DEMO-BTC", "1h"): view}), steps)


def test_the_significance_tests_on_known_cases() -> None:
    assert diebold_mariano(np.full(50, 0.1) + np.random.default_rng(0).normal(0, 0.01, 50)) < 1e-6
    assert diebold_mariano(-np.abs(np.random.default_rng(1).normal(0, 1, 50))) > 0.99
    assert mcnemar(np.zeros(10), np.ones(10)) == pytest.approx(0.5 ** 10)  # 10 of 10 discordant bars
    assert mcnemar(np.ones(5), np.ones(5)) == 1.0


def test_shadow_calls_are_live_only_and_resolve_once(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    name = _train(settings)
    bars = _bars(settings)
    start = int(bars.index.get_loc(pd.Timestamp(TRAINED_THROUGH, tz="UTC")))
    for at in range(start - 8, start + 12):  # bars the model learned from, then live ones
        assert _step(settings, engine, bars, at, ("shadow",)) == []
    calls = shadow_frame(engine, name)
    from pinelab_core.live.challenger import loaded_version

    through = pd.Timestamp(loaded_version(settings, name, 1)[1].trained_through)
    assert (calls["bar_time"] > through).all() and len(calls) == int((bars.index[start - 8:start + 12] > through).sum())
    assert len(calls) < 20  # the in-sample bars were skipped
    resolved = calls[calls["outcome"].notna()]
    assert len(resolved) == len(calls) - 5  # the last 5 (horizon) bars are still open
    from pinelab_core.training.labels import LabelSpec, make_labels

    labels = make_labels(bars, LabelSpec("direction", 5))
    assert (resolved["outcome"].to_numpy() == labels.loc[resolved["bar_time"]].to_numpy()).all()
    _step(settings, engine, bars, start + 12, ("shadow",))
    assert len(shadow_frame(engine, name)["outcome"].dropna()) == len(resolved) + 1


def test_regime_and_performance_are_what_was_known_at_the_bar(settings: Settings, engine, second_store) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.store import get_engine

    bars = _bars(settings)
    cut = len(bars) - 200
    record_regime(engine, "demo", "DEMO-BTC", "1h", bars.iloc[:cut])
    record_regime(engine, "demo", "DEMO-BTC", "1h", bars)  # later history processed since
    fresh = get_engine(second_store)
    record_regime(fresh, "demo", "DEMO-BTC", "1h", bars.iloc[:cut])  # a fresh store with data ending at t
    seen = learning_frames(engine).regimes.set_index("bar_time").loc[bars.index[cut - 1]]
    again = learning_frames(fresh).regimes.set_index("bar_time").loc[bars.index[cut - 1]]
    columns = ["label", "trend_regime", "vol_regime", "vol_percentile", "efficiency_ratio"]
    assert seen[columns].to_dict() == again[columns].to_dict()
    assert snapshot_performance(engine, "demo", "DEMO-BTC", "1h", bars) == 0  # no shadow call: nothing to score


def test_feature_drift_is_found_for_real_on_a_planted_shift(settings: Settings) -> None:
    name = _train(settings)
    bars = _bars(settings)
    calm = bars.loc[:pd.Timestamp(TRAINED_THROUGH, tz="UTC") + pd.Timedelta(hours=150)]
    wild = calm.copy()  # the last 150 bars swing ten times as hard: the market left what the model learned
    tail = wild.index[-150:]
    moves = wild.loc[tail, "close"].iloc[0] * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.08, 150)))
    wild.loc[tail, "open"], wild.loc[tail, "close"] = np.roll(moves, 1), moves
    wild.loc[tail, "high"] = wild.loc[tail, ["open", "close"]].max(axis=1) * 1.05
    wild.loc[tail, "low"] = wild.loc[tail, ["open", "close"]].min(axis=1) * 0.95

    def drifted(frame: pd.DataFrame) -> int:  # "9 of 20 features drifted significantly ..."
        alerts = [a for a in version_drift(settings, name, 1, frame) if a.kind == "features"]
        return int(alerts[0].message.split(" of ")[0]) if alerts else 0

    assert drifted(wild) > drifted(calm) and drifted(wild) > 0


def test_a_retrain_reuses_the_manifest_and_registers_a_challenger(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.live.retrain import retrain_request, run_retrain_job
    from pinelab_core.models.registry import load_version

    name = _train(settings)
    parent = load_version(settings, name, 1).manifest
    request = retrain_request(parent, end="2026-10-05 00:00")
    assert (request.symbols, request.models, request.groups, request.start, request.horizon) == (
        ["DEMO-BTC"], ["lightgbm"], ["momentum", "volatility"], "2026-07-01", 5)
    assert request.model_params == {"lightgbm": FAST_PARAMS["lightgbm"]}
    result = run_retrain_job(settings, {"model": name, "version": 1, "end": "2026-10-05 00:00", "reason": "drift"},
                             Reporter())
    challenger = get_version(settings, name, 2)
    child = load_version(settings, name, 2).manifest
    assert challenger.status == "challenger" and result["versions"][0]["status"] == "challenger"
    assert child.feature_names == parent.feature_names and child.label == parent.label
    assert pd.Timestamp(child.trained_through) > pd.Timestamp(parent.trained_through)
    assert pd.Timestamp(child.trained_through) <= pd.Timestamp("2026-10-05", tz="UTC")  # data up to "now" only
    assert get_version(settings, name, 1).status == "active"  # the champion keeps serving
    events = learning_frames(engine).events
    assert events["kind"].tolist() == ["challenger_registered"]


def _unresolved_call(engine, name: str, *, version: int, at: pd.Timestamp) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import Session

    from pinelab_core.store.tables import ShadowPredictionRow

    with Session(engine) as session:
        session.add(ShadowPredictionRow(model_name=name, version=version, role="challenger", data_source="demo",
                                        symbol="DEMO-BTC", timeframe="1h", bar_time=at.to_pydatetime(), horizon=5,
                                        prob_down=0.3, prob_sideways=0.4, prob_up=0.3, close_at_bar=1.0))
        session.commit()


def test_promotion_follows_the_rule_and_is_logged_once(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.live.retrain import run_retrain_job

    name = _train(settings)
    run_retrain_job(settings, {"model": name, "version": 1, "end": "2026-10-03 00:00"}, Reporter())
    bars = _bars(settings)
    start = int(bars.index.get_loc(pd.Timestamp("2026-10-03 06:00", tz="UTC")))
    for at in range(start, start + 30):
        _step(settings, engine, bars, at, ("shadow",))
    duel = head_to_head(engine, name, ohlcv=bars)
    assert (duel.champion, duel.challenger, duel.n_bars) == (1, 2, 25)
    assert set(duel.equity.columns) == {"champion", "challenger"} and len(duel.equity) > 20
    _unresolved_call(engine, name, version=3, at=bars.index[start + 29])  # a challenger registered a bar ago
    assert head_to_head(engine, name).challenger == 2, "the default duel is the newest one with something to compare"
    assert head_to_head(engine, name, 3).n_bars == 0
    strict = set_policy(engine, name, min_shadow_bars=100)
    assert not promotion_verdict(duel, strict).promote
    loose = set_policy(engine, name, min_shadow_bars=10, max_p_value=1.0, min_log_loss_gain=-1.0)
    assert promotion_verdict(duel, loose).promote
    assert promote(settings, engine, name, 2, reason="test") and not promote(settings, engine, name, 2)
    assert [v.version for v in list_versions(settings, status="active", name=name)] == [2]
    assert (learning_frames(engine).events["kind"] == "promoted").sum() == 1


def test_fine_tuning_a_net_is_compared_with_a_full_retrain(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.live.retrain import run_retrain_job

    name = _train(settings, "lstm")
    result = run_retrain_job(settings, {"model": name, "version": 1, "end": "2026-10-20 00:00", "mode": "incremental",
                                        "reason": "test"}, Reporter())
    comparison = result["comparison"]
    assert result["mode"] == "incremental" and comparison["new_rows"] > 300 and comparison["replay_rows"] > 0
    for key in ("fine_tune_log_loss", "full_retrain_log_loss", "parent_log_loss"):
        assert np.isfinite(comparison[key]) and comparison[key] > 0
    assert comparison["fine_tune_seconds"] > 0 and comparison["full_retrain_seconds"] > 0
    child = get_version(settings, name, 2)
    assert child.status == "challenger"
    events = learning_frames(engine).events
    assert events.iloc[0]["kind"] == "fine_tuned" and events.iloc[0]["detail"]["comparison"] == comparison


def test_a_daily_schedule_requests_one_retrain_per_day(settings: Settings, engine,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.training import jobs

    submitted: list[dict] = []
    monkeypatch.setattr(jobs, "submit_job", lambda _settings, kind, params: submitted.append(params) or 41)
    name = _train(settings)
    set_policy(engine, name, schedule="daily", on_drift=False, on_accuracy=False)
    bars = _bars(settings)
    midnight = int(bars.index.get_loc(pd.Timestamp("2026-10-02", tz="UTC")))
    for at in (midnight, midnight + 1, midnight + 24):  # two new days, one bar in between
        _step(settings, engine, bars, at, ("learning",))
    _step(settings, engine, bars, midnight, ("learning",))  # a restart re-running a finished bar changes nothing
    assert [p["end"][:10] for p in submitted] == ["2026-10-02", "2026-10-03"]
    assert all(p["model"] == name and p["reason"] == "daily schedule" for p in submitted)
    events = learning_frames(engine).events
    assert (events["kind"] == "retrain_requested").sum() == 2 and set(events["job_id"]) == {41}


def test_a_version_call_reads_what_the_full_history_gives(settings: Settings) -> None:
    """Point in time: the shadow call at bar t, from the trailing slice, equals the call on features built from
    the whole history up to t (the slice follows features.required_history, as inference does)."""
    from pinelab_core.features import build_features
    from pinelab_core.live.challenger import loaded_version, version_call

    name = _train(settings)
    bars = _bars(settings)
    model, manifest = loaded_version(settings, name, 1)
    for at in (len(bars) - 400, len(bars) - 1):
        view = bars.iloc[:at + 1]
        sliced, _ = version_call(settings, name, 1, view)
        full = build_features(view)[manifest.feature_names]
        expected = np.asarray(model.predict_proba(full.iloc[-1:]), dtype=float)[-1]
        np.testing.assert_allclose(sliced, expected, rtol=1e-6, atol=1e-9)
