"""A tiny pattern model trained once per test module (seeded, seconds on a CPU), and how to register it."""

from __future__ import annotations

from pinelab_core.config import Settings
from pinelab_core.models.artifacts import ModelManifest
from pinelab_core.models.patterns import ChartPatternModel
from pinelab_core.models.registry import ModelVersionInfo, register_model
from pinelab_core.patterns import PATTERN_CLASSES, PATTERN_MODEL_NAME, generate_patterns

TINY_PARAMS: dict[str, object] = {"epochs": 1, "channels": 2, "layers": 3, "scales": [16, 32], "batch_size": 32,
                                  "num_threads": 1}


def tiny_pattern_model(seed: int = 0) -> ChartPatternModel:
    model = ChartPatternModel(seed=seed, device="cpu", **TINY_PARAMS)
    model.fit_samples(generate_patterns(per_class=4, seed=seed, max_bars=32))
    return model


def register_pattern_model(settings: Settings, model: ChartPatternModel) -> ModelVersionInfo:
    manifest = ModelManifest(name=PATTERN_MODEL_NAME, kind=model.kind, symbol="synthetic", timeframe="any",
                             label={"kind": "pattern", "horizon": 0, "classes": list(PATTERN_CLASSES)})
    return register_model(settings, model, manifest, activate=True)
