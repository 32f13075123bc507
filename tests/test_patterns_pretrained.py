"""The pattern model PineLab ships: verified, registered like any version, read by the Charts page, the CLI and
the insights API, and refused when its files were altered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.patterns import ChartPatternModel
from pinelab_core.patterns import PRETRAINED_DIR, install_pretrained_pattern_model, load_pattern_model, scan_patterns
from pinelab_core.patterns.pretrained import export_pattern_model, pretrained_summary
from tests.conftest import random_walk_ohlcv
from tests.patterns_helpers import register_pattern_model, tiny_pattern_model


def test_an_exported_model_installs_as_the_next_version_and_reads_the_same(settings: Settings, tmp_path: Path,
                                                                           second_store: Settings) -> None:
    tiny = tiny_pattern_model()
    register_pattern_model(settings, tiny)
    shipped = export_pattern_model(settings, tmp_path / "shipped")
    assert sorted(p.name for p in shipped.iterdir()) == ["manifest.json", "net.json", "net.pt"]
    info = install_pretrained_pattern_model(second_store, directory=shipped)
    assert info.ref == "chart-patterns@v1" and info.status == "active"
    ohlcv = random_walk_ohlcv(120, seed=3, freq="D")
    mine, theirs = scan_patterns(ohlcv, tiny, last=50), scan_patterns(ohlcv, load_pattern_model(second_store), last=50)
    np.testing.assert_allclose(theirs.probabilities.to_numpy(), mine.probabilities.to_numpy(), rtol=1e-6, atol=1e-7)
    again = install_pretrained_pattern_model(second_store, directory=shipped, activate=False)
    assert again.version == 2 and again.status == "candidate"


def test_altered_shipped_files_are_refused(settings: Settings, tmp_path: Path) -> None:
    register_pattern_model(settings, tiny_pattern_model())
    shipped = export_pattern_model(settings, tmp_path / "shipped")
    weights = shipped / "net.pt"
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    with pytest.raises(ModelSchemaError, match="net.pt"):
        install_pretrained_pattern_model(settings, directory=shipped)
    shutil.rmtree(shipped)
    with pytest.raises(ModelSchemaError, match="missing"):
        install_pretrained_pattern_model(settings, directory=shipped)


def test_the_shipped_model_is_in_the_package_and_scores_what_its_manifest_says(settings: Settings) -> None:
    summary = pretrained_summary()
    assert summary["accuracy"] is not None and float(summary["accuracy"]) > 0.6  # chance: 1 in 13
    assert summary["config"]["per_class"] == 300 and summary["config"]["seed"] == 0  # type: ignore[index]
    assert (PRETRAINED_DIR / "net.pt").stat().st_size < 500_000
    info = install_pretrained_pattern_model(settings)
    model = load_pattern_model(settings)
    assert isinstance(model, ChartPatternModel) and info.metrics["accuracy"] == summary["accuracy"]


def test_pinelab_patterns_install_then_detect(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patterns", "install", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["model"] == "chart-patterns@v1" and payload["status"] == "active"
    assert main(["patterns", "detect", "--source", "demo", "--symbol", "DEMO-EQUITY", "--last", "40", "--json"]) == 0
    detected = json.loads(capsys.readouterr().out)
    assert detected["model"] == "chart-patterns@v1" and len(detected["now"]) == 5


def test_the_predictions_context_line_reads_the_shipped_model_and_the_news(settings: Settings) -> None:
    from pinelab_core.data import load_ohlcv
    from pinelab_core.insights.patterns import chart_pattern_hits
    from pinelab_core.store import get_engine
    from pinelab_core.ui.context import bar_context

    ohlcv = load_ohlcv("DEMO-BTC", "1d", source="demo", settings=settings)
    engine = get_engine(settings)
    assert "no pattern model yet" in bar_context(ohlcv, "DEMO-BTC", settings, engine)
    install_pretrained_pattern_model(settings)
    line = bar_context(ohlcv, "DEMO-BTC", settings, engine)
    hits = chart_pattern_hits(ohlcv, settings, top=3).hits
    assert line.startswith("**News sentiment:** +0.36 (positive) from 1 headline")
    assert "Bitcoin rebounds as funding rates normalise" in line and "chart-patterns@v1" in line
    assert all(f"{h.name.replace('_', ' ')} {h.probability:.0%}" in line for h in hits)
