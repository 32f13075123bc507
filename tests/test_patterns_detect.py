"""Chart patterns in use: causal detection, the event study, the signal source, the CLI, and the pages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.models.patterns import ChartPatternModel
from pinelab_core.patterns import (
    PATTERN_CLASSES,
    PatternScan,
    analyse_patterns,
    pattern_event_study,
    pattern_events,
    pattern_features,
    patterns_now,
    scan_patterns,
)
from pinelab_core.signals import MarketView, generate_signals
from tests.conftest import random_walk_ohlcv
from tests.patterns_helpers import register_pattern_model, tiny_pattern_model


@pytest.fixture(scope="module")
def tiny() -> ChartPatternModel:
    return tiny_pattern_model()


def _scan(probabilities: np.ndarray, closes: np.ndarray | None = None) -> PatternScan:
    index = pd.date_range("2024-01-01", periods=len(probabilities), freq="D", tz="UTC", name="time")
    frame = pd.DataFrame(probabilities, index=index, columns=list(PATTERN_CLASSES))
    close = pd.Series(np.arange(len(index), dtype=float) + 100 if closes is None else closes, index=index)
    return PatternScan(frame, pd.Series(30, index=index), close)


def _probabilities(pattern_prob: list[float], pattern: str = "double_bottom") -> np.ndarray:
    rows = np.zeros((len(pattern_prob), len(PATTERN_CLASSES)))
    rows[:, PATTERN_CLASSES.index(pattern)] = pattern_prob
    rows[:, 0] = 1.0 - np.asarray(pattern_prob)
    return rows


def test_a_pattern_is_reported_once_at_the_bar_it_completes() -> None:
    scan = _scan(_probabilities([0.1, 0.2, 0.6, 0.8, 0.7, 0.3, 0.55]))
    events = pattern_events(scan, threshold=0.5)
    assert list(events["time"]) == [scan.probabilities.index[2], scan.probabilities.index[6]]
    assert list(events["pattern"]) == ["double_bottom"] * 2 and list(events["direction"]) == [1, 1]
    assert events["probability"].iloc[0] == pytest.approx(0.6)
    # The first scanned bar only serves as context: a pattern already strong there is not reported at it.
    assert pattern_events(_scan(_probabilities([0.9, 0.9])), 0.5).empty


def test_a_symmetrical_triangle_takes_the_direction_of_its_breakout() -> None:
    probs = _probabilities([0.1, 0.1, 0.1, 0.9], "symmetrical_triangle")
    falling = pattern_events(_scan(probs, np.array([10.0, 10.0, 10.0, 9.0])), 0.5)
    assert list(falling["direction"]) == [-1]
    now = patterns_now(_scan(probs, np.array([10.0, 10.0, 10.0, 11.0])), top=3)
    assert now["pattern"].iloc[0] == "symmetrical_triangle" and now["direction"].iloc[0] == 1 and len(now) == 3


def test_detection_is_point_in_time(tiny: ChartPatternModel) -> None:
    """Scanned with data ending at t, and again after 40 more bars: every bar up to t reads the same."""
    ohlcv = random_walk_ohlcv(260, seed=4, freq="D")
    t = 200
    early = scan_patterns(ohlcv.iloc[:t + 1], tiny, last=120)
    late = scan_patterns(ohlcv, tiny, last=None)
    common = early.probabilities.index
    pd.testing.assert_frame_equal(early.probabilities, late.probabilities.loc[common])
    pd.testing.assert_series_equal(early.scale, late.scale.loc[common])
    threshold = float(np.quantile(late.probabilities[late.patterns].max(axis=1), 0.7))
    early_events = pattern_events(early, threshold)
    late_events = pattern_events(late, threshold)
    assert len(early_events), "the threshold should give some detections to compare"
    in_range = late_events[late_events["time"].between(common[1], common[-1])].reset_index(drop=True)
    pd.testing.assert_frame_equal(early_events.reset_index(drop=True), in_range)
    features = pattern_features(ohlcv.iloc[:t + 1], tiny, last=50)
    assert list(features.columns) == [f"pattern_{p}" for p in PATTERN_CLASSES[1:]]
    assert features.iloc[:-51].isna().all().all() and features.iloc[-50:].notna().all().all()


def _market_with_planted_moves(direction: int, *, n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random walk where, after every event bar, the price moves 4% in `direction` over the next bars."""
    ohlcv = random_walk_ohlcv(n, seed=seed, freq="D")
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(np.arange(20, n - 30), size=25, replace=False))
    drift = np.zeros(n)
    for p in positions:
        drift[p + 2:p + 12] += direction * np.log(1.04) / 10
    factor = np.exp(np.cumsum(drift))
    ohlcv[["open", "high", "low", "close"]] = ohlcv[["open", "high", "low", "close"]].mul(factor, axis=0)
    events = pd.DataFrame({"time": ohlcv.index[positions], "pattern": "bull_flag", "probability": 0.9,
                           "direction": 1, "bars": 30, "close": ohlcv["close"].iloc[positions].to_numpy()})
    return ohlcv, events


def test_the_event_study_finds_a_planted_edge_after_costs() -> None:
    ohlcv, events = _market_with_planted_moves(+1)
    study = pattern_event_study(ohlcv, events, horizon=10, cost=0.001)
    row = study.loc["bull_flag"]
    assert row["events"] == 25 and row["pending"] == 0
    assert row["mean_return"] > 0.02 and row["excess_return"] > 0.02 and row["p_value"] < 0.01
    assert bool(row["significant"])


def test_the_event_study_reports_no_edge_on_a_random_walk() -> None:
    ohlcv = random_walk_ohlcv(800, seed=11, freq="D")
    rng = np.random.default_rng(3)
    positions = np.sort(rng.choice(np.arange(10, 780), size=40, replace=False))
    events = pd.DataFrame({"time": ohlcv.index[positions], "pattern": "double_top", "probability": 0.8,
                           "direction": -1, "bars": 30, "close": 0.0})
    row = pattern_event_study(ohlcv, events, horizon=10, cost=0.001).loc["double_top"]
    assert row["p_value"] > 0.05 and not bool(row["significant"])
    assert row["mean_return"] == pytest.approx(row["random_mean"], abs=0.02)
    recent = events.assign(time=[ohlcv.index[-3]] * len(events))
    assert pattern_event_study(ohlcv, recent, horizon=10).loc["double_top", "pending"] == 40


def test_the_patterns_source_is_silent_without_a_model_and_calls_breakouts_with_one(
        tiny: ChartPatternModel, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ohlcv = random_walk_ohlcv(150, seed=2, freq="D")
    view = MarketView.build(ohlcv, "TEST", "1d", settings=settings)
    assert generate_signals(view, ["patterns"]) == []
    register_pattern_model(settings, tiny)
    scan = scan_patterns(ohlcv, tiny, last=300)
    # The tiny model is unsure of everything: report at its own upper quantile so there are calls to check.
    threshold = float(np.quantile(scan.probabilities[scan.patterns].max(axis=1), 0.6))
    monkeypatch.setattr("pinelab_core.signals.sources.PATTERN_SIGNAL_THRESHOLD", threshold)
    expected = pattern_events(scan, threshold)
    assert (expected["direction"] != 0).sum() > 0
    signals = generate_signals(view, ["patterns"])
    assert [s.time for s in signals] == list(expected.loc[expected["direction"] != 0, "time"])
    assert all(s.source == "patterns" and s.direction in (1, -1) and 0 < s.strength <= 1 for s in signals)


def test_analyse_and_the_cli_report_detections_now_and_the_study(tiny: ChartPatternModel, settings: Settings,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    register_pattern_model(settings, tiny)
    ohlcv = random_walk_ohlcv(300, seed=5, freq="D")
    report = analyse_patterns(ohlcv, settings, last=100, threshold=0.1)
    assert report.model_ref == "chart-patterns@v1" and len(report.now) == 5
    assert report.now["probability"].is_monotonic_decreasing
    assert main(["patterns", "detect", "--source", "demo", "--symbol", "DEMO-EQUITY", "--last", "60",
                 "--threshold", "0.1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == "chart-patterns@v1" and len(payload["now"]) == 5
    assert {"events", "study"} <= set(payload)


def test_pattern_calls_get_their_own_track_record_in_the_consensus(
        tiny: ChartPatternModel, settings: Settings, engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.signals import run_signal_desk

    register_pattern_model(settings, tiny)
    ohlcv = random_walk_ohlcv(200, seed=6, freq="D")
    scan = scan_patterns(ohlcv, tiny, last=300)
    monkeypatch.setattr("pinelab_core.signals.sources.PATTERN_SIGNAL_THRESHOLD",
                        float(np.quantile(scan.probabilities[scan.patterns].max(axis=1), 0.6)))
    desk = run_signal_desk(ohlcv, "TEST", "1d", engine=engine, settings=settings, sources=["rsi", "patterns"])
    performance = desk.performance.set_index("source")
    assert "patterns" in performance.index and performance.loc["patterns", "signals"] > 0
    assert performance.loc["patterns", "resolved"] > 0, "judged calls move the learned weight"
    assert set(desk.signals["source"]) == {"rsi", "patterns"}


def test_the_insights_read_of_chart_patterns_is_the_scan_at_the_last_bar(tiny: ChartPatternModel,
                                                                         settings: Settings) -> None:
    from pinelab_core.insights.patterns import chart_pattern_hits

    ohlcv = random_walk_ohlcv(220, seed=7, freq="D")
    missing = chart_pattern_hits(ohlcv, settings)
    assert missing.hits == [] and missing.model is None and "pinelab patterns train" in missing.note
    register_pattern_model(settings, tiny)
    read = chart_pattern_hits(ohlcv, settings, top=5, floor=0.0)
    scan = scan_patterns(ohlcv, tiny, last=None)
    now = patterns_now(scan, top=5)
    assert read.model == "chart-patterns@v1" and read.note == ""
    assert [h.name for h in read.hits] == list(now["pattern"])
    assert [h.probability for h in read.hits] == pytest.approx(list(now["probability"]), abs=1e-9)
    assert [h.value for h in read.hits] == list(now["direction"].astype(float))
    assert all(h.detector == "cnn" and h.function == read.model for h in read.hits)
    for t in (150, 180, 219):  # completed exactly where the full scan's detections are, whatever the history
        at = chart_pattern_hits(ohlcv.iloc[:t + 1], settings, top=5, floor=0.0)
        completed = set(pattern_events(scan, 0.5).query("time == @ohlcv.index[@t]")["pattern"])
        assert {h.name for h in at.hits if h.completed} == completed & {h.name for h in at.hits}
        again = chart_pattern_hits(ohlcv.iloc[t + 1 - 40:t + 1], settings, top=5, floor=0.0)
        assert again == at, "the read of bar t never depends on how much history was loaded"
        later = scan.probabilities.loc[ohlcv.index[t]]  # the full scan, which also saw the bars after t
        assert [h.probability for h in at.hits] == pytest.approx(list(later[[h.name for h in at.hits]]), abs=1e-9)
    floor = read.hits[0].probability
    assert [h.name for h in chart_pattern_hits(ohlcv, settings, floor=floor).hits] == [read.hits[0].name]
    short = chart_pattern_hits(ohlcv.iloc[:10], settings)
    assert short.hits == [] and "too few bars" in short.note.lower()


def test_the_patterns_endpoint_adds_the_pattern_model_once_it_is_registered(tiny: ChartPatternModel,
                                                                             settings: Settings) -> None:
    import dataclasses

    from fastapi.testclient import TestClient

    from pinelab_core.api.compute import Query, answer_query
    from pinelab_core.api.schemas import RESPONSE_MODELS
    from pinelab_core.data import load_ohlcv
    from pinelab_core.insights.patterns import chart_pattern_hits
    from pinelab_core.webhook import create_app

    token = "patterns-test-token-0123456789"
    settings = dataclasses.replace(settings, api_token=token, api_executor="thread", webhook_secret="s3cret-xyz")
    headers = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/patterns/DEMO-EQUITY?source=demo"
    with TestClient(create_app(settings, enrich=False)) as client:
        before = client.get(path, headers=headers).json()
    RESPONSE_MODELS["patterns"].model_validate(before)
    assert before["detectors"] == ["talib"] and before["chart_model"] is None
    assert "pinelab patterns train" in before["chart_note"]
    query = Query("patterns", "DEMO-EQUITY", "1d", "demo")
    unchanged = answer_query(query, settings)
    assert unchanged is not None and answer_query(query, settings, known=unchanged.inputs) is None
    register_pattern_model(settings, tiny)
    assert answer_query(query, settings, known=unchanged.inputs) is not None, \
        "a new pattern model changes the answer's inputs: the cached answer is recomputed once its TTL is over"
    with TestClient(create_app(settings, enrich=False)) as client:
        body = client.get(path, headers=headers).json()
    RESPONSE_MODELS["patterns"].model_validate(body)
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=settings)
    read = chart_pattern_hits(ohlcv, settings)
    assert body["detectors"] == ["talib", "cnn"] and body["chart_model"] == "chart-patterns@v1"
    cnn = [p for p in body["patterns"] if p["detector"] == "cnn"]
    assert [(p["name"], p["completed"]) for p in cnn] == [(h.name, h.completed) for h in read.hits]
    assert [p["probability"] for p in cnn] == pytest.approx([h.probability for h in read.hits])
    talib = [p for p in body["patterns"] if p["detector"] == "talib"]
    assert all(p["probability"] is None and p["completed"] is None for p in talib)
