"""`build_features`: the feature matrix of one symbol, a dict of symbols, or a (symbol, time) panel."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features.memory import keep_freed_memory
from pinelab_core.features.registry import ALL_SPECS, select_specs
from pinelab_core.features.spec import Bars, FeatureSpec
from pinelab_core.types import INDEX_NAME, OHLCV_COLUMNS

__all__ = ["build_feature_frame", "build_features", "check_ohlcv"]

FeatureDtype = Literal["float64", "float32"]
_LARGE_BUILD_ROWS = 100_000  # from here on intermediates are megabytes each: let them reuse freed memory


def build_features(
    ohlcv: pd.DataFrame | Mapping[str, pd.DataFrame],
    groups: Iterable[str] | str | None = None,
    dtype: FeatureDtype = "float64",
) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """Compute the causal feature matrix: every value at row t uses rows <= t only.

    Args:
        ohlcv: An OHLCV frame (float columns open/high/low/close/volume on a time index), a dict of
            symbol -> OHLCV frame, or a panel with a (symbol, time) MultiIndex.
        groups: Feature groups to compute (see `FEATURE_GROUPS`), a list or a comma-separated string;
            None computes the default build (every group but the opt-in `OPT_IN_GROUPS`, named to be built).
        dtype: "float64" (default) or "float32" for large matrices (half the memory).

    Returns:
        A float frame on the same index as the input (a dict of them for a dict input, a panel for a
        panel), columns in `feature_catalog(groups)` order. Warm-up rows are NaN, never back-filled.

    Raises:
        DataValidationError: the input is not an OHLCV frame, or a group name is unknown.
    """
    _check_dtype(dtype)
    specs = select_specs(groups)
    if isinstance(ohlcv, Mapping):
        return {symbol: _build_one(frame, specs, dtype, f"symbol {symbol!r}") for symbol, frame in ohlcv.items()}
    if isinstance(ohlcv, pd.DataFrame) and isinstance(ohlcv.index, pd.MultiIndex):
        return _build_panel(ohlcv, specs, dtype)
    return _build_one(ohlcv, specs, dtype, "the OHLCV frame")


def build_feature_frame(
    ohlcv: pd.DataFrame, groups: Iterable[str] | str | None = None, dtype: FeatureDtype = "float64"
) -> pd.DataFrame:
    """`build_features` for exactly one OHLCV frame (no dict or panel), typed as returning a frame."""
    _check_dtype(dtype)
    return _build_one(ohlcv, select_specs(groups), dtype, "the OHLCV frame")


def _check_dtype(dtype: str) -> None:
    if dtype not in ("float64", "float32"):
        raise DataValidationError(f"dtype must be 'float64' or 'float32', got {dtype!r}.")


def _build_one(ohlcv: pd.DataFrame, specs: tuple[FeatureSpec, ...], dtype: str, where: str) -> pd.DataFrame:
    frame = check_ohlcv(ohlcv, where)
    if len(frame) >= _LARGE_BUILD_ROWS:
        keep_freed_memory()
    matrix = np.empty((len(frame), len(specs)), dtype=dtype, order="F")  # column-major: one write per feature
    names = tuple(s.name for s in specs)
    bars, plan = Bars(frame, matrix, {name: k for k, name in enumerate(names)}), _release_plan(names)
    with np.errstate(divide="ignore", invalid="ignore"):
        for column, item in enumerate(specs):
            bars.target = matrix[:, column] if matrix.dtype == np.float64 else None
            values = item.compute(bars)
            if not _is_column(values, matrix, column):  # a kernel may have written it in place already
                matrix[:, column] = values
            # Free what no later feature reads: peak memory stays near the matrix itself on million-bar
            # frames, and the freed memory is reused by the next feature instead of faulting in new pages.
            bars.release(plan[column])
    return pd.DataFrame(matrix, index=frame.index, columns=[s.name for s in specs], copy=False)


def _is_column(values: np.ndarray, matrix: np.ndarray, column: int) -> bool:
    """True when `values` is the matrix's own column (same memory, same layout), so no copy is needed."""
    target = matrix[:, column]
    return (values.__array_interface__["data"][0] == target.__array_interface__["data"][0]
            and values.strides == target.strides and values.shape == target.shape and values.dtype == target.dtype)


@functools.cache
def _release_plan(names: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    """Per feature in `names`, the memo keys it is the last to read, learned by tracing one build on a small
    frame. A key the trace missed stays until the build ends; one read after its planned release is simply
    recomputed, so a wrong plan costs time, never a wrong value."""
    by_name = {s.name: s for s in ALL_SPECS}
    bars, last_use = Bars(_tracing_frame()), {}
    with np.errstate(all="ignore"):
        for position, name in enumerate(names):
            bars.touched = set()
            by_name[name].compute(bars)
            last_use.update(dict.fromkeys(bars.touched, position))
    plan: list[list[Any]] = [[] for _ in names]
    for key, position in last_use.items():
        plan[position].append(key)
    return tuple(tuple(keys) for keys in plan)


def _tracing_frame(n: int = 600) -> pd.DataFrame:
    """A small valid market, longer than every warm-up, so each feature reads all it will ever read."""
    rng = np.random.default_rng(0)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0.001, 0.01, n) * close
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name=INDEX_NAME)
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.uniform(1e3, 1e4, n)}, index=index)


def _build_panel(panel: pd.DataFrame, specs: tuple[FeatureSpec, ...], dtype: str) -> pd.DataFrame:
    """Per symbol (never per row): split the (symbol, time) panel, build each, stack back in input order."""
    if panel.index.nlevels != 2:
        raise DataValidationError(
            f"A panel needs a 2-level (symbol, time) index, got {panel.index.nlevels} levels. "
            "Pass a dict of symbol -> frame instead."
        )
    symbols = panel.index.get_level_values(0).unique()
    pieces = []
    for symbol in symbols:
        frame = panel.xs(symbol, level=0)
        pieces.append(_build_one(frame, specs, dtype, f"symbol {symbol!r}"))
    return pd.concat(pieces, keys=list(symbols), names=[panel.index.names[0] or "symbol", INDEX_NAME])


def check_ohlcv(ohlcv: object, where: str = "the OHLCV frame") -> pd.DataFrame:
    """Validate the parts of the OHLCV contract the features rely on; return the frame to use.

    A naive index is taken as UTC and an unsorted one is sorted, each with a warning; missing columns,
    a non-time index, duplicate times or non-numeric prices raise.
    """
    if not isinstance(ohlcv, pd.DataFrame):
        raise DataValidationError(f"{where} must be a pandas DataFrame from load_ohlcv(), got {type(ohlcv).__name__}.")
    missing = [c for c in OHLCV_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise DataValidationError(
            f"{where} lacks columns {missing}; features need open, high, low, close, volume. "
            "Load it with load_ohlcv() or read_ohlcv_file()."
        )
    frame = ohlcv
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataValidationError(f"{where} needs a DatetimeIndex of bar times, got {type(frame.index).__name__}.")
    if frame.index.tz is None:
        warnings.warn(f"{where} has a naive time index; treating it as UTC.", stacklevel=3)
        frame = frame.tz_localize("UTC")
    if frame.index.has_duplicates:
        raise DataValidationError(f"{where} has duplicate bar times; drop them (keep the last) and retry.")
    if not frame.index.is_monotonic_increasing:
        warnings.warn(f"{where} was not sorted by time; sorting it.", stacklevel=3)
        frame = frame.sort_index()
    for column in OHLCV_COLUMNS:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataValidationError(f"{where}: column {column!r} is {frame[column].dtype}, not numeric.")
    return frame
