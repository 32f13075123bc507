"""Chart patterns: the synthetic generator, the renderings, the CNN in the registry, and its evaluation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, ModelNotFoundError
from pinelab_core.models import list_models
from pinelab_core.models.patterns import ChartPatternModel
from pinelab_core.patterns import (
    PATTERN_CLASSES,
    PATTERN_DIRECTION,
    PatternSamples,
    PatternTrainConfig,
    evaluate_patterns,
    generate_patterns,
    latest_pattern_job,
    load_pattern_model,
    read_labelled_windows,
    render_batch,
    render_image,
    render_series,
    submit_pattern_training,
    train_pattern_model,
)
from pinelab_core.training.runner import TrainRequest
from tests.patterns_helpers import register_pattern_model, tiny_pattern_model

FIXTURE = Path(__file__).parent / "fixtures" / "pattern_windows_labelled.csv"


@pytest.fixture(scope="module")
def tiny() -> ChartPatternModel:
    return tiny_pattern_model()


def test_generator_covers_ten_patterns_and_none_reproducibly() -> None:
    assert len(PATTERN_CLASSES) >= 11 and PATTERN_CLASSES[0] == "none"
    assert set(PATTERN_DIRECTION) == set(PATTERN_CLASSES)
    first, second = generate_patterns(per_class=2, seed=3), generate_patterns(per_class=2, seed=3)
    assert sorted(first.label_names()) == sorted(PATTERN_CLASSES * 2)
    for a, b in zip(first.windows, second.windows, strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = generate_patterns(per_class=2, seed=4)
    assert not all(a.equals(b) for a, b in zip(first.windows, other.windows, strict=True))


def test_generated_windows_are_valid_bars_of_the_asked_lengths() -> None:
    samples = generate_patterns(per_class=3, seed=1, min_bars=20, max_bars=50)
    for window in samples.windows:
        assert 20 <= len(window) <= 50
        assert (window["high"] >= window[["open", "close"]].max(axis=1) - 1e-12).all()
        assert (window["low"] <= window[["open", "close"]].min(axis=1) + 1e-12).all()
        assert (window[["open", "high", "low", "close", "volume"]] > 0).all().all()


def test_patterns_end_with_their_breakout_at_the_last_bar() -> None:
    """A bullish pattern's last close sits high in its window, a bearish one's low: it completes there."""
    samples = generate_patterns(per_class=30, seed=2)
    position = np.array([(w["close"].iloc[-1] - w["low"].min()) / (w["high"].max() - w["low"].min())
                         for w in samples.windows])
    direction = np.array([PATTERN_DIRECTION[name] for name in samples.label_names()])
    assert np.median(position[direction > 0]) > 0.7 > 0.3 > np.median(position[direction < 0])


def test_renderings_are_128_by_128_and_scale_free() -> None:
    window = generate_patterns(per_class=1, seed=0, classes=("double_top",)).windows[0]
    image = render_image(window)
    assert image.shape == (128, 128) and image.dtype == np.float32
    assert set(np.unique(image)) <= {0.0, 0.5, 1.0} and image.max() == 1.0
    scaled = window.copy()
    scaled[["open", "high", "low", "close"]] *= 1000.0
    np.testing.assert_array_equal(render_image(scaled), image)
    np.testing.assert_array_equal(render_image(scaled, "line"), render_image(window, "line"))
    assert (render_image(window, "line").sum(axis=0) >= 1).all(), "the line passes through every column"
    series = render_series(window)
    assert series.shape == (4, 128) and 0.0 <= series.min() < 0.05 and 0.95 < series.max() <= 1.0
    long = pd.concat([window] * 5)  # more bars than columns: merged, still every column drawn
    assert (render_image(long).sum(axis=0) > 0).all()
    assert render_batch([window, window]).shape == (2, 1, 128, 128)
    assert render_batch([window], style="series").shape == (1, 4, 128)


def test_the_pattern_model_is_not_offered_as_a_direction_model() -> None:
    assert "pattern_cnn" not in list_models() and list_models("pattern") == ["pattern_cnn"]
    with pytest.raises(DataValidationError, match="not a direction model"):
        TrainRequest(symbols=["DEMO-EQUITY"], models=["pattern_cnn"]).validate()


def test_registry_round_trip_gives_identical_probabilities(tiny: ChartPatternModel, settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError, match="pinelab patterns train"):
        load_pattern_model(settings)
    info = register_pattern_model(settings, tiny)
    assert info.ref == "chart-patterns@v1" and info.status == "active" and info.kind == "pattern_cnn"
    loaded = load_pattern_model(settings)
    windows = generate_patterns(per_class=1, seed=9, max_bars=32).windows
    probs = tiny.predict_windows(windows)
    np.testing.assert_array_equal(loaded.predict_windows(windows), probs)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_evaluation_reports_per_class_precision_recall_and_confusion() -> None:
    samples = generate_patterns(per_class=2, seed=5, max_bars=40)

    class Oracle:  # right on every window except the first, which it calls "none"
        def predict_windows(self, windows: list[pd.DataFrame]) -> np.ndarray:
            out = np.eye(len(PATTERN_CLASSES))[samples.labels]
            out[0] = np.eye(len(PATTERN_CLASSES))[0]
            return out

    evaluation = evaluate_patterns(Oracle(), samples)
    first = PATTERN_CLASSES[samples.labels[0]]
    assert first != "none" or samples.labels[0] == 0
    assert evaluation.confusion.to_numpy().sum() == len(samples) == evaluation.n_windows
    assert evaluation.accuracy == pytest.approx((len(samples) - (samples.labels[0] != 0)) / len(samples))
    assert evaluation.per_class.loc[first, "recall"] == pytest.approx(0.5 if samples.labels[0] else 1.0)
    assert set(evaluation.metrics()) >= {"accuracy", "macro_f1", "recall_double_top"}


def test_the_hand_labelled_fixture_reads_and_scores(tiny: ChartPatternModel) -> None:
    labelled = read_labelled_windows(FIXTURE)
    assert len(labelled) >= 20 and len(set(labelled.labels)) >= 5
    assert all(len(w) >= 30 and isinstance(w.index, pd.DatetimeIndex) for w in labelled.windows)
    evaluation = evaluate_patterns(tiny, labelled)
    assert evaluation.confusion.to_numpy().sum() == len(labelled)


def test_labelled_files_are_validated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("window,label,time,open,high,low,close,volume\n1,triple_top,2024-01-01,1,1,1,1,1\n")
    with pytest.raises(DataValidationError, match="unknown labels"):
        read_labelled_windows(bad)


def test_training_registers_an_active_scored_version(settings: Settings) -> None:
    config = PatternTrainConfig(per_class=3, validation_per_class=1, test_per_class=2, epochs=1, channels=2,
                                scales=[16, 32], device="cpu", labelled_path=str(FIXTURE))
    result = train_pattern_model(settings, config)
    assert result.info.ref == "chart-patterns@v1" and result.info.status == "active"
    assert result.info.timeframe == "any" and result.labelled is not None
    assert {"accuracy", "macro_f1", "labelled_accuracy"} <= set(result.info.metrics)
    assert result.held_out.n_windows == 2 * len(PATTERN_CLASSES)


def test_the_patterns_job_trains_and_registers_in_a_worker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.training import jobs
    from pinelab_core.training.worker import run_job

    monkeypatch.setattr(jobs, "_spawn_worker", lambda settings, job_id: os.getpid())  # run it here instead
    config = PatternTrainConfig(per_class=2, validation_per_class=1, test_per_class=1, epochs=1, channels=2,
                                scales=[16, 32], device="cpu")
    job_id = submit_pattern_training(settings, config)
    assert jobs.get_job(settings, job_id).status == "running"
    assert run_job(settings, job_id) == "succeeded"
    job = jobs.get_job(settings, job_id)
    assert job.result["versions"] == [{"name": "chart-patterns", "version": 1}]
    assert latest_pattern_job(settings).id == job_id
    assert load_pattern_model(settings).kind == "pattern_cnn"


@pytest.mark.slow
def test_the_cnn_learns_patterns_from_images() -> None:
    """Three easy classes, a few epochs: held-out accuracy far above chance (1/3). Learning works end to end."""
    classes = ("none", "double_top", "double_bottom")
    model = ChartPatternModel(seed=0, device="cpu", epochs=8, channels=4, scales=[40], num_threads=1, batch_size=16,
                              learning_rate=3e-3)
    model.fit_samples(generate_patterns(per_class=60, seed=0, classes=classes, min_bars=30, max_bars=60))
    held = generate_patterns(per_class=20, seed=1, classes=classes, min_bars=30, max_bars=60)
    predicted = np.asarray(PATTERN_CLASSES)[model.predict_windows(held.windows).argmax(axis=1)]
    assert np.mean(predicted == np.asarray(held.label_names())) > 0.6


def test_samples_must_not_be_empty() -> None:
    with pytest.raises(Exception, match="No pattern samples"):
        ChartPatternModel(device="cpu").fit_samples(PatternSamples([], np.empty(0, dtype=np.int64)))


def test_cli_trains_registers_and_reports_the_scores(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pinelab_core.cli import main

    assert main(["patterns", "train", "--per-class", "2", "--epochs", "1", "--channels", "2", "--device", "cpu",
                 "--style", "line", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == "chart-patterns@v1" and 0.0 <= payload["metrics"]["accuracy"] <= 1.0
    assert len(payload["held_out"]) == len(PATTERN_CLASSES) and len(payload["confusion"]) == len(PATTERN_CLASSES)
    assert load_pattern_model(Settings.from_env()).params["style"] == "line"


def test_importing_patterns_loads_neither_torch_nor_the_backtest_engine() -> None:
    """Every page imports pinelab_core.ui, which imports the patterns package: it must stay light (an eager
    backtest import once added seconds to every page's first load)."""
    import subprocess
    import sys

    code = ("import sys, pinelab_core.patterns; "
            "print(sorted(m for m in ('torch', 'pinelab_core.backtest', 'sklearn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert loaded == "[]"
