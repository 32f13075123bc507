"""The model registry: versioned artifacts under `models/<name>/<version>/`, indexed in the database.

    info = register_model(settings, model, manifest, oof=report.oos, activate=True)
    loaded = load_version(settings, info.name, expected_features=list(X.columns))
    loaded.model.predict_proba(X)

A version folder holds the model's own files (safe formats only), `manifest.json` and, when given,
`oof.parquet` (out-of-fold predictions: time index, `y_true`, one probability column per class) that the
ensemble learns its weights and calibration from. Loading re-hashes every file and checks the feature
schema; anything that differs is a `ModelSchemaError` that says what.

Statuses: `candidate` (new), `active` (the one version of a name that serves predictions), `challenger`
(runs beside the active one for comparison), `archived` (kept, not used).
"""

from __future__ import annotations

import difflib
import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, ModelNotFoundError, ModelSchemaError
from pinelab_core.models.artifacts import (
    OOF_FILE,
    ModelManifest,
    combined_checksum,
    complete_manifest,
    file_checksums,
    verify_checksums,
)
from pinelab_core.models.base import Model
from pinelab_core.models.schema import feature_schema_difference
from pinelab_core.store import get_engine
from pinelab_core.store.tables import ModelRow, ModelVersionRow

__all__ = [
    "STATUSES",
    "LoadedModel",
    "ModelVersionInfo",
    "compare_versions",
    "delete_version",
    "get_version",
    "list_versions",
    "load_oof",
    "load_version",
    "register_model",
    "set_status",
    "versions_frame",
]

STATUSES: tuple[str, ...] = ("candidate", "active", "challenger", "archived")
_REGISTER_ATTEMPTS = 5


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version as the registry lists it (the manifest has the rest)."""

    name: str
    version: int
    kind: str
    status: str
    symbol: str
    timeframe: str
    label: str
    horizon: int
    path: Path
    checksum: str
    device: str
    metrics: dict[str, float]
    created_at: datetime
    job_id: int | None = None

    @property
    def ref(self) -> str:
        """"name@v3", how pages and logs refer to a version."""
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """A verified, ready-to-predict model with its manifest and registry entry."""

    model: Model
    manifest: ModelManifest
    info: ModelVersionInfo


def register_model(
    settings: Settings, model: Model, manifest: ModelManifest, *, oof: pd.DataFrame | None = None,
    activate: bool = False,
) -> ModelVersionInfo:
    """Save a fitted model as the next version of `manifest.name` and index it.

    Args:
        settings: where the models folder and the database are.
        model: a fitted model; its feature names and device fill the manifest where it leaves them empty.
        manifest: name (a slug, see `model_slug`), label spec, data fingerprint, metrics, ... The version,
            files, checksum, created_at and library versions are filled in here.
        oof: out-of-fold predictions indexed by time, with `y_true` and probability columns.
        activate: make this the active version of its name (others of the name become candidates).

    Returns:
        The new version's registry entry.

    Raises:
        ModelSchemaError: bad name, or the manifest's features or kind contradict the model.
        DataValidationError: `oof` is not a time-indexed frame with a `y_true` column.
    """
    manifest = complete_manifest(model, manifest)
    root = settings.models_dir / manifest.name
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        names = [path.relative_to(staging).as_posix() for path in model.save(staging)]
        if oof is not None:
            _check_oof(oof)
            oof.to_parquet(staging / OOF_FILE)
            names.append(OOF_FILE)
        manifest.files = file_checksums(staging, names)
        manifest.checksum = combined_checksum(manifest.files)
        info = _publish(settings, staging, manifest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if activate:
        info = set_status(settings, info.name, info.version, "active")
    return info


def list_versions(
    settings: Settings, status: str | None = None, symbol: str | None = None, timeframe: str | None = None,
    name: str | None = None,
) -> list[ModelVersionInfo]:
    """Registered versions, newest first within each name, optionally filtered."""
    if status is not None:
        _check_status(status)
    query = select(ModelVersionRow)
    for column, value in ((ModelVersionRow.status, status), (ModelVersionRow.symbol, symbol),
                          (ModelVersionRow.timeframe, timeframe), (ModelVersionRow.model_name, name)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(ModelVersionRow.model_name, col(ModelVersionRow.version).desc())
    with Session(get_engine(settings)) as session:
        return [_info(settings, row) for row in session.exec(query).all()]


def versions_frame(settings: Settings, **filters: Any) -> pd.DataFrame:
    """`list_versions` as a table for pages: one row per version, metrics as columns."""
    rows = [{"model": i.name, "version": i.version, "kind": i.kind, "status": i.status, "symbol": i.symbol,
             "timeframe": i.timeframe, "label": i.label, "horizon": i.horizon, "device": i.device,
             "created_at": i.created_at, **i.metrics} for i in list_versions(settings, **filters)]
    return pd.DataFrame(rows)


def get_version(settings: Settings, name: str, version: int | None = None) -> ModelVersionInfo:
    """One version; `version=None` means the active one, else the newest.

    Raises:
        ModelNotFoundError: no such name or version (with the closest names).
    """
    with Session(get_engine(settings)) as session:
        return _info(settings, _row(session, name, version))


def load_version(
    settings: Settings, name: str, version: int | None = None, *, expected_features: Sequence[str] | None = None,
    device: str = "auto",
) -> LoadedModel:
    """Load a registered model after verifying its files and, optionally, the feature schema.

    Args:
        settings: where the models folder and the database are.
        name: the model name; `version=None` loads the active version, else the newest.
        version: a version number.
        expected_features: the feature columns the caller will predict with, in order.
        device: where torch nets and XGBoost predict ("auto", "cpu", "cuda", "mps").

    Raises:
        ModelNotFoundError: unknown name or version.
        ModelSchemaError: a file is missing or altered (named), the manifest was edited, or the features differ
            (missing / extra / reordered, listed).
    """
    from pinelab_core.models import model_class

    with Session(get_engine(settings)) as session:
        row = _row(session, name, version)
        info, stored = _info(settings, row), json.loads(row.manifest_json or "{}")
    manifest = _verified_manifest(info, stored)
    if expected_features is not None:
        difference = feature_schema_difference(manifest.feature_names, list(expected_features))
        if difference is not None:
            raise ModelSchemaError(
                f"{info.ref} was trained on other features than the ones given: {difference}. "
                "Build the features it was trained with (same groups and order) or retrain it."
            )
    model = model_class(manifest.kind).load(info.path, device=device)
    if model.feature_names_ != manifest.feature_names:
        raise ModelSchemaError(f"{info.ref}: the model file's features differ from its manifest. Retrain it.")
    return LoadedModel(model, manifest, info)


def load_oof(settings: Settings, name: str, version: int | None = None) -> pd.DataFrame:
    """The out-of-fold predictions stored with a version (time index, y_true, probabilities).

    Raises:
        ModelNotFoundError: the version has no out-of-fold predictions.
        ModelSchemaError: the file was altered after registration.
    """
    with Session(get_engine(settings)) as session:
        row = _row(session, name, version)
        info, manifest = _info(settings, row), ModelManifest.from_dict(json.loads(row.manifest_json or "{}"))
    if OOF_FILE not in manifest.files:
        raise ModelNotFoundError(f"{info.ref} was registered without out-of-fold predictions. Retrain it.")
    verify_checksums(info.path, replace(manifest, files={OOF_FILE: manifest.files[OOF_FILE]},
                                        checksum=combined_checksum({OOF_FILE: manifest.files[OOF_FILE]})))
    return pd.read_parquet(info.path / OOF_FILE)


def set_status(settings: Settings, name: str, version: int, status: str) -> ModelVersionInfo:
    """Mark a version candidate, active, challenger or archived. Activating demotes the name's active one."""
    _check_status(status)
    with Session(get_engine(settings)) as session:
        row = _row(session, name, version)
        if status == "active":
            others = session.exec(select(ModelVersionRow).where(
                ModelVersionRow.model_name == name, ModelVersionRow.status == "active",
                ModelVersionRow.version != version)).all()
            for other in others:
                other.status = "candidate"
                session.add(other)
        row.status = status
        session.add(row)
        session.commit()
        session.refresh(row)
        return _info(settings, row)


def delete_version(settings: Settings, name: str, version: int) -> None:
    """Delete a version's artifact folder and its rows together (the name goes when its last version does)."""
    engine = get_engine(settings)
    with Session(engine) as session:
        row = _row(session, name, version)
        folder = _info(settings, row).path
        # Move the folder aside first: if the database refuses, it is moved back and nothing is lost.
        trash = folder.with_name(f".deleting-{version}-{uuid.uuid4().hex}")
        if folder.exists():
            folder.rename(trash)
        try:
            session.delete(row)
            session.flush()
            remaining = session.exec(select(func.count()).select_from(ModelVersionRow).where(
                ModelVersionRow.model_name == name)).one()
            if remaining == 0 and (model_row := session.get(ModelRow, name)) is not None:
                session.delete(model_row)
            session.commit()
        except Exception:
            if trash.exists():
                trash.rename(folder)
            raise
    shutil.rmtree(trash, ignore_errors=True)
    parent = settings.models_dir / name
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()


def compare_versions(
    settings: Settings, versions: Sequence[tuple[str, int]] | None = None, *, name: str | None = None
) -> pd.DataFrame:
    """Out-of-sample metrics side by side: one row per metric, one column per version ("name@v3").

    Args:
        settings: where the database is.
        versions: (name, version) pairs to compare; when omitted, every version of `name`.
        name: the model name whose versions to compare when `versions` is not given.
    """
    if versions is None:
        if name is None:
            raise ModelNotFoundError("Say which versions to compare: pass versions=[(name, v), ...] or name=...")
        infos = list(reversed(list_versions(settings, name=name)))
        if not infos:
            get_version(settings, name)  # raises the did-you-mean error
    else:
        infos = [get_version(settings, n, int(v)) for n, v in versions]
    columns = {info.ref: pd.Series({k: v for k, v in info.metrics.items() if _is_number(v)}, dtype="float64")
               for info in infos}
    return pd.DataFrame(columns)


def _publish(settings: Settings, staging: Path, manifest: ModelManifest) -> ModelVersionInfo:
    """Give the staged folder the next free version number and index it, retrying if another process raced us."""
    engine = get_engine(settings)
    for _ in range(_REGISTER_ATTEMPTS):
        with Session(engine) as session:
            latest = session.exec(select(func.max(ModelVersionRow.version)).where(
                ModelVersionRow.model_name == manifest.name)).one()
            # A folder without a row (a crashed or concurrent registration) keeps its number: never overwrite it.
            version = max(int(latest or 0), _highest_folder_number(staging.parent)) + 1
            final = staging.parent / str(version)
            manifest.version = version
            manifest.write(staging)
            try:
                staging.rename(final)  # atomic; fails if another process took this number first
            except OSError:
                continue
            try:
                if session.get(ModelRow, manifest.name) is None:
                    session.add(ModelRow(name=manifest.name))
                    session.flush()
                row = _version_row(manifest, f"{manifest.name}/{version}")
                session.add(row)
                session.commit()
            except IntegrityError:
                session.rollback()
                final.rename(staging)
                continue
            session.refresh(row)
            return _info(settings, row)
    raise ModelSchemaError(f"Could not find a free version number for {manifest.name!r}; retry.")


def _highest_folder_number(root: Path) -> int:
    numbers = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()] if root.is_dir() else []
    return max(numbers, default=0)


def _version_row(manifest: ModelManifest, path: str) -> ModelVersionRow:
    return ModelVersionRow(
        model_name=manifest.name, version=manifest.version, kind=manifest.kind, symbol=manifest.symbol,
        timeframe=manifest.timeframe, label=manifest.label_kind, horizon=manifest.horizon, path=path,
        checksum=manifest.checksum, device=manifest.device, job_id=manifest.job_id,
        metrics_json=json.dumps(json.loads(manifest.to_json())["metrics"]), manifest_json=manifest.to_json(),
    )


def _verified_manifest(info: ModelVersionInfo, stored: dict[str, Any]) -> ModelManifest:
    if not info.path.is_dir():
        raise ModelSchemaError(f"The artifact folder {info.path} of {info.ref} is missing. Restore it or delete "
                               "the version.")
    manifest = ModelManifest.read(info.path)
    if manifest.to_dict() != ModelManifest.from_dict(stored).to_dict() or manifest.checksum != info.checksum:
        raise ModelSchemaError(f"{info.path / 'manifest.json'} differs from the registry's record of {info.ref}: "
                               "it was edited or replaced. Restore it or retrain the model.")
    verify_checksums(info.path, manifest)
    return manifest


def _row(session: Session, name: str, version: int | None) -> ModelVersionRow:
    query = select(ModelVersionRow).where(ModelVersionRow.model_name == name)
    if version is not None:
        row = session.exec(query.where(ModelVersionRow.version == int(version))).first()
    else:
        row = session.exec(query.where(ModelVersionRow.status == "active")).first() or session.exec(
            query.order_by(col(ModelVersionRow.version).desc())).first()
    if row is not None:
        return row
    names = list(session.exec(select(ModelRow.name)).all())
    if name in names:
        raise ModelNotFoundError(f"Model {name!r} has no version {version}. Run `pinelab models` to list them.")
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ModelNotFoundError(f"No model named {name!r} is registered.{hint} Train one or run `pinelab models`.")


def _info(settings: Settings, row: ModelVersionRow) -> ModelVersionInfo:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return ModelVersionInfo(
        name=row.model_name, version=row.version, kind=row.kind, status=row.status, symbol=row.symbol,
        timeframe=row.timeframe, label=row.label, horizon=row.horizon, path=settings.models_dir / row.path,
        checksum=row.checksum, device=row.device, metrics=json.loads(row.metrics_json or "{}"), created_at=created,
        job_id=row.job_id,
    )


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise DataValidationError(f"Unknown status {status!r}. Use one of: {', '.join(STATUSES)}.")


def _check_oof(oof: pd.DataFrame) -> None:
    if not isinstance(oof, pd.DataFrame) or "y_true" not in oof.columns:
        raise DataValidationError("Out-of-fold predictions must be a DataFrame with a 'y_true' column.")
    if not isinstance(oof.index, pd.DatetimeIndex):
        raise DataValidationError("Out-of-fold predictions must be indexed by bar time (a DatetimeIndex).")
