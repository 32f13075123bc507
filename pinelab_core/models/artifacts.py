"""What sits beside every saved model: `manifest.json` (a `ModelManifest`) and the checksums of its files.

A manifest answers "what is this model and can I trust it?" without loading it: the features it needs and
their order, the label it predicts, the data it saw (fingerprint, symbol, timeframe, source), the seed and
options, the library versions and device it was trained with, its out-of-sample metrics, and a sha256 per
artifact file plus one over all of them.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.schema import feature_schema_difference

if TYPE_CHECKING:
    from pinelab_core.models.base import Model

__all__ = [
    "MANIFEST_FILE",
    "OOF_FILE",
    "ModelManifest",
    "check_model_name",
    "combined_checksum",
    "complete_manifest",
    "file_checksums",
    "library_versions",
    "model_slug",
    "verify_checksums",
]

MANIFEST_FILE = "manifest.json"
OOF_FILE = "oof.parquet"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_LIBRARIES = {"numpy": "numpy", "pandas": "pandas", "sklearn": "scikit-learn", "lightgbm": "lightgbm",
              "xgboost": "xgboost", "torch": "torch", "pinelab": "pinelab"}


@dataclass
class ModelManifest:
    """Everything needed to reproduce, audit and safely reload one model version."""

    name: str
    kind: str
    feature_names: list[str] = field(default_factory=list)
    label: dict[str, Any] = field(default_factory=dict)  # kind, horizon, params, classes
    data_fingerprint: str = ""
    symbol: str = ""
    timeframe: str = ""
    source: str = ""
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    device: str = ""
    metrics: dict[str, float] = field(default_factory=dict)  # aggregate out-of-sample
    fold_metrics: list[dict[str, Any]] = field(default_factory=list)
    feature_importance: dict[str, float] = field(default_factory=dict)
    version: int = 0  # set by register_model
    checksum: str = ""  # sha256 over `files`, set by register_model
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    created_at: str = ""  # ISO-8601 UTC
    job_id: int | None = None
    trained_through: str = ""  # ISO-8601 UTC: the newest bar the deployed model learned from

    @property
    def horizon(self) -> int:
        return int(self.label.get("horizon", 0) or 0)

    @property
    def label_kind(self) -> str:
        return str(self.label.get("kind", ""))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Strict JSON (NaN and infinities become null) that any tool can read."""
        return json.dumps(_finite(json.loads(json.dumps(self.to_dict(), default=_json_default))), indent=2,
                          allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelManifest:
        """Build from a dict, ignoring keys this version does not know (manifests from newer PineLabs)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read(cls, directory: Path) -> ModelManifest:
        path = directory / MANIFEST_FILE
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise ModelSchemaError(f"{path} is missing: the artifact folder is incomplete. Retrain the model.") from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise ModelSchemaError(f"{path} is not a valid manifest ({exc}). Retrain the model.") from exc

    def write(self, directory: Path) -> Path:
        path = directory / MANIFEST_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def model_slug(*parts: object) -> str:
    """A safe, readable model name from its parts, e.g. ("BTC/USDT", "1h", "direction", "h5", "lstm").

    The suggested convention is `model_slug(symbol, timeframe, label, f"h{horizon}", kind)`.
    """
    text = "-".join(str(p) for p in parts if str(p).strip())
    slug = re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-._")
    return re.sub(r"-{2,}", "-", slug)[:128] or "model"


def check_model_name(name: str) -> str:
    """Validate a model name that becomes a folder name (no path separators, no traversal)."""
    if not isinstance(name, str) or not _SLUG.match(name) or ".." in name:
        raise ModelSchemaError(
            f"Model name {name!r} is not allowed: use lower-case letters, digits, '.', '_' and '-' "
            f"(up to 128), e.g. {model_slug(str(name)) !r}. model_slug(...) builds one."
        )
    return name


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model's numbers depend on (read from metadata, no imports)."""
    versions = {"python": platform.python_version()}
    for key, distribution in _LIBRARIES.items():
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[key] = "not installed"
    return versions


def file_checksums(directory: Path, names: list[str]) -> dict[str, str]:
    """sha256 of each named file inside `directory`."""
    return {name: _sha256(directory / name) for name in sorted(names)}


def combined_checksum(files: dict[str, str]) -> str:
    """One sha256 over the per-file hashes, so a single value identifies the whole artifact."""
    text = "\n".join(f"{name}:{digest}" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_checksums(directory: Path, manifest: ModelManifest) -> None:
    """Re-hash every artifact file; raise ModelSchemaError naming the first missing or altered file."""
    if combined_checksum(manifest.files) != manifest.checksum:
        raise ModelSchemaError(
            f"The manifest in {directory} does not match its own checksum: it was edited. Retrain the model."
        )
    for name, expected in sorted(manifest.files.items()):
        path = directory / name
        if not path.is_file():
            raise ModelSchemaError(f"Artifact file {path} is missing. Restore it or retrain the model.")
        if _sha256(path) != expected:
            raise ModelSchemaError(
                f"Checksum mismatch for {path}: the file changed after the model was registered. "
                "Restore it or retrain the model."
            )


def complete_manifest(model: Model, manifest: ModelManifest) -> ModelManifest:
    """A copy of `manifest` with what the fitted model knows filled in, after checking they agree."""
    check_model_name(manifest.name)
    if not model.feature_names_:
        raise ModelSchemaError("The model is not fitted (it has no feature names). Fit it before registering.")
    if manifest.kind and manifest.kind != model.kind:
        raise ModelSchemaError(f"The manifest says kind {manifest.kind!r} but the model is {model.kind!r}.")
    if manifest.feature_names:
        difference = feature_schema_difference(model.feature_names_, manifest.feature_names)
        if difference is not None:
            raise ModelSchemaError(f"The manifest's features differ from the fitted model's: {difference}.")
    importance = model.feature_importance()
    return replace(
        manifest, kind=model.kind, feature_names=list(model.feature_names_),
        library_versions=manifest.library_versions or library_versions(),
        device=manifest.device or model.fitted_device_, seed=manifest.seed if manifest.seed else model.seed,
        feature_importance=manifest.feature_importance or (
            {str(k): float(v) for k, v in importance.items()} if importance is not None else {}),
        created_at=utc_timestamp(), options=manifest.options or dict(model.params),
    )


def utc_timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths and timestamps inside metrics or options."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
