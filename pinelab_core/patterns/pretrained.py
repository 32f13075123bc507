"""The chart-pattern model that ships with PineLab, so a fresh install reads patterns without training first.

    info = install_pretrained_pattern_model(settings)   # registers it as the next "chart-patterns" version
    export_pattern_model(settings, PRETRAINED_DIR)     # how the shipped files were made (bench/ship_patterns.py)

It is the `pinelab patterns train` default (synthetic patterns, seed 0) trained once and stored in the package
as the registry keeps any version: `net.pt` (a torch `state_dict`, loaded with `weights_only=True`), `net.json`
and `manifest.json` with the sha256 of each file and the held-out metrics it was trained with. Installing
verifies the checksums, loads it like any registry model and registers it (source "pretrained"), so the
Registry page lists it, `pinelab patterns train` replaces it with your own, and the registry's usual checks
apply from then on.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pinelab_core.config import Settings
from pinelab_core.errors import ModelSchemaError

if TYPE_CHECKING:
    from pinelab_core.models.registry import ModelVersionInfo

__all__ = ["PRETRAINED_DIR", "export_pattern_model", "install_pretrained_pattern_model", "pretrained_summary"]

#: Where the shipped pattern model lives inside the package.
PRETRAINED_DIR = Path(__file__).with_name("pretrained")


def install_pretrained_pattern_model(settings: Settings, *, activate: bool = True,
                                     directory: Path = PRETRAINED_DIR) -> ModelVersionInfo:
    """Register the shipped pattern model as the next "chart-patterns" version (active unless told otherwise).

    Raises:
        ModelSchemaError: the shipped files are missing or altered (reinstall PineLab, or train your own with
            `pinelab patterns train`).
    """
    from pinelab_core.models.artifacts import ModelManifest, verify_checksums
    from pinelab_core.models.patterns import ChartPatternModel
    from pinelab_core.models.registry import register_model

    shipped = ModelManifest.read(directory)
    verify_checksums(directory, shipped)
    if shipped.kind != ChartPatternModel.kind:
        raise ModelSchemaError(f"{directory} holds a {shipped.kind!r} model, not the pattern model.")
    model = ChartPatternModel.load(directory, device="cpu")
    manifest = ModelManifest(
        name=shipped.name, kind=shipped.kind, label=shipped.label, data_fingerprint=shipped.data_fingerprint,
        symbol=shipped.symbol, timeframe=shipped.timeframe, source="pretrained", seed=shipped.seed,
        metrics=shipped.metrics,
        options={**shipped.options, "pretrained": {"checksum": shipped.checksum, "created_at": shipped.created_at,
                                                   "library_versions": shipped.library_versions,
                                                   "device": shipped.device}},
    )
    return register_model(settings, model, manifest, activate=activate)


def export_pattern_model(settings: Settings, directory: Path, version: int | None = None) -> Path:
    """Copy a registered pattern model's files (weights, config, manifest) into `directory`, replacing it."""
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.patterns.training import pattern_model_version

    info = pattern_model_version(settings, version)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    source = Path(info.path)
    for name in ("manifest.json", *sorted(ModelManifest.read(source).files)):
        shutil.copy2(source / name, directory / name)
    return directory


def pretrained_summary(directory: Path = PRETRAINED_DIR) -> dict[str, object]:
    """What the shipped model is: its held-out accuracy and macro F1, how it was trained, when."""
    from pinelab_core.models.artifacts import ModelManifest

    manifest = ModelManifest.read(directory)
    return {"accuracy": manifest.metrics.get("accuracy"), "macro_f1": manifest.metrics.get("macro_f1"),
            "trained_on": manifest.data_fingerprint, "created_at": manifest.created_at,
            "config": manifest.options.get("config", {})}

