"""Feature matrices cached as Parquet under `settings.cache_dir / "features"`, indexed in the store.

A snapshot is found by (data fingerprint, feature-set version, groups). The fingerprint hashes the
OHLCV values and times, so new or corrected bars miss the cache; the version hashes the spec
definitions and their code, so a changed definition misses it too. A snapshot whose file is gone or
unreadable is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.features.builder import FeatureDtype, build_feature_frame, check_ohlcv
from pinelab_core.features.registry import FEATURE_SET_VERSION, select_specs
from pinelab_core.store import get_engine
from pinelab_core.store.tables import FeatureSnapshotRow
from pinelab_core.types import OHLCV_COLUMNS

__all__ = ["build_features_cached", "data_fingerprint"]


def data_fingerprint(ohlcv: pd.DataFrame) -> str:
    """SHA-256 (hex, 64 chars) of the OHLCV values and bar times: equal data, equal fingerprint."""
    frame = ohlcv[list(OHLCV_COLUMNS)]
    row_hashes = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(str(frame.index.tz).encode())
    return digest.hexdigest()


def build_features_cached(
    ohlcv: pd.DataFrame | Mapping[str, pd.DataFrame],
    settings: Settings,
    groups: Iterable[str] | str | None = None,
    dtype: FeatureDtype = "float64",
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """`build_features`, but read from the Parquet cache when this exact data and feature set were built.

    Args:
        ohlcv: An OHLCV frame or a dict of symbol -> frame.
        settings: Where the cache folder and the database are.
        groups: Feature groups, as for `build_features`.
        dtype: "float64" or "float32" (the cache always stores float64 and casts on the way out).

    Returns:
        The same matrix `build_features(ohlcv, groups, dtype)` returns.
    """
    if isinstance(ohlcv, Mapping):
        return {symbol: _cached_one(frame, settings, groups, dtype) for symbol, frame in ohlcv.items()}
    return _cached_one(ohlcv, settings, groups, dtype)


def _cached_one(
    ohlcv: pd.DataFrame, settings: Settings, groups: Iterable[str] | str | None, dtype: FeatureDtype
) -> pd.DataFrame:
    frame = check_ohlcv(ohlcv)
    specs = select_specs(groups)
    names = [s.name for s in specs]
    group_key = ",".join(sorted({s.group for s in specs}))
    fingerprint = data_fingerprint(frame)
    engine = get_engine(settings)
    with Session(engine) as session:
        row = session.exec(
            select(FeatureSnapshotRow).where(
                FeatureSnapshotRow.data_fingerprint == fingerprint,
                FeatureSnapshotRow.feature_set_version == FEATURE_SET_VERSION,
                FeatureSnapshotRow.groups == group_key,
            )
        ).first()
        cached_path = Path(row.path) if row is not None else None
    if cached_path is not None:
        cached = _read_snapshot(cached_path, names, len(frame))
        if cached is not None:
            return cached.astype(dtype)
    matrix = build_feature_frame(frame, groups=groups, dtype="float64")
    path = _snapshot_path(settings, fingerprint, group_key)
    _write_atomically(matrix, path)
    _record_snapshot(engine, fingerprint, group_key, path, matrix)
    return matrix.astype(dtype)


def _snapshot_path(settings: Settings, fingerprint: str, group_key: str) -> Path:
    groups_hash = hashlib.sha256(group_key.encode()).hexdigest()[:8]
    return settings.cache_dir / "features" / f"{fingerprint[:24]}-{FEATURE_SET_VERSION}-{groups_hash}.parquet"


def _read_snapshot(path: Path, names: list[str], n_rows: int) -> pd.DataFrame | None:
    """The cached matrix, or None when the file is missing, unreadable or not the expected shape."""
    try:
        matrix = pd.read_parquet(path)
    except (OSError, ValueError):  # missing or damaged file: rebuild rather than fail the page
        return None
    if list(matrix.columns) != names or len(matrix) != n_rows:
        return None
    return matrix


def _write_atomically(matrix: pd.DataFrame, path: Path) -> None:
    """Write to a temporary name and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    matrix.to_parquet(temporary, index=True)
    os.replace(temporary, path)


def _record_snapshot(engine: object, fingerprint: str, group_key: str, path: Path, matrix: pd.DataFrame) -> None:
    with Session(engine) as session:  # type: ignore[arg-type]
        stale = session.exec(
            select(FeatureSnapshotRow).where(
                FeatureSnapshotRow.data_fingerprint == fingerprint, FeatureSnapshotRow.groups == group_key
            )
        ).all()
        for old in stale:  # an older feature-set version of the same data: its file is obsolete too
            if old.path != str(path):
                Path(old.path).unlink(missing_ok=True)
            session.delete(old)
        session.add(FeatureSnapshotRow(
            data_fingerprint=fingerprint,
            feature_set_version=FEATURE_SET_VERSION,
            groups=group_key,
            path=str(path),
            n_rows=len(matrix),
            n_columns=matrix.shape[1],
        ))
        session.commit()
