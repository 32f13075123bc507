"""The declarative feature registry's building blocks: `FeatureSpec` records and the `Bars` context.

Every column `build_features` produces is one `FeatureSpec` (name, group, parameters, lookback,
description, compute function). The catalog is read from the same records, so the catalog and the
matrix can never disagree. Compute functions receive a `Bars` object: the OHLCV columns as
contiguous float64 arrays plus a memo, so shared intermediate results (one MACD call feeding three
columns, ATR feeding several ratios) are computed once per build.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import talib
from talib import abstract

__all__ = [
    "NO_FINITE_HISTORY", "Bars", "ComputeFn", "FeatureSpec", "ema_weight", "feature_factory", "log_ratio",
    "safe_divide", "smoothing_history", "talib_lookback", "wilder_weight",
]

ComputeFn = Callable[["Bars"], np.ndarray]

# TA-Lib input tuples by short name: which OHLCV arrays a function takes, in TA-Lib's order.
_INPUTS: dict[str, tuple[str, ...]] = {
    "c": ("close",),
    "v": ("volume",),
    "hl": ("high", "low"),
    "hlc": ("high", "low", "close"),
    "hlcv": ("high", "low", "close", "volume"),
    "cv": ("close", "volume"),
    "ohlc": ("open", "high", "low", "close"),
}


#: Start-dependent features have no finite history (`FeatureSpec.history`): no trailing slice reproduces them.
NO_FINITE_HISTORY = -1

#: A smoothing's seed has faded once its weight is below this: far under 1e-6 of any feature's scale.
_SEED_WEIGHT = 1e-9


@dataclass(frozen=True)
class FeatureSpec:
    """One feature column: what it is called, how it is computed, and how much history it needs.

    Attributes:
        name: Column name in the feature matrix (stable across versions for the classic indicators).
        group: Feature family (trend, momentum, ...); `build_features(groups=...)` selects by it.
        params: The parameters of the definition (window lengths, multipliers), shown in the catalog.
        lookback: Warm-up rows: the first `lookback` rows are NaN, never back-filled.
        description: One line a trader understands.
        compute: Function of a `Bars` context returning a float array as long as the frame.
        history: Bars of trailing history after which the value no longer depends on older bars (to 1e-6
            relative): lookback + 1 for a fixed window, more for recursive smoothing (EMA, Wilder, KAMA),
            `NO_FINITE_HISTORY` for start-dependent features.
        scale_free: Dimensionless (ratio, return, oscillator, distance relative to price or ATR), so it reads
            the same on any price or volume level; False for price levels, price or volume units.
        start_dependent: The value depends on where the frame starts (cumulative sums such as OBV).
    """

    name: str
    group: str
    params: Mapping[str, Any]
    lookback: int
    description: str
    compute: ComputeFn = field(repr=False, compare=False)
    history: int = 0
    scale_free: bool = True
    start_dependent: bool = False

    @property
    def params_text(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.params.items())


def feature_factory(group: str) -> Callable[..., FeatureSpec]:
    """A `FeatureSpec` constructor with the group filled in, so each group module reads as a table.

    `history` defaults to lookback + 1 (a fixed window); `start_dependent` features get no finite history.
    """

    def make(
        name: str,
        lookback: int,
        description: str,
        compute: ComputeFn,
        *,
        history: int | None = None,
        scale_free: bool = True,
        start_dependent: bool = False,
        **params: Any,
    ) -> FeatureSpec:
        bars = NO_FINITE_HISTORY if start_dependent else max(int(history or 0), int(lookback) + 1)
        return FeatureSpec(name, group, dict(params), int(lookback), description, compute, bars, scale_free,
                           start_dependent)

    return make


def smoothing_history(lookback: int, *weights: float) -> int:
    """History of cascaded exponential smoothings with these per-bar weights (EMA(n): 2 / (n + 1), Wilder's
    smoothing: 1 / n): the warm-up plus, per stage, the bars until its seed weighs less than 1e-9."""
    return lookback + 1 + sum(math.ceil(math.log(_SEED_WEIGHT) / math.log(1.0 - w)) for w in weights)


def ema_weight(period: int) -> float:
    return 2.0 / (period + 1.0)


def wilder_weight(period: int) -> float:
    return 1.0 / period


@cache
def talib_lookback(function: str, **params: Any) -> int:
    """TA-Lib's own warm-up length for `function` with `params` (its first valid output row)."""
    fn = abstract.Function(function)  # type: ignore[attr-defined]
    if params:
        fn.parameters = params
    return int(fn.lookback)


class Bars:
    """The OHLCV arrays of one symbol plus a memo of intermediate results for one build.

    `touched`, when set to a set, collects every memo key read (the builder traces one build on a small
    frame this way to learn when each intermediate is used for the last time, and frees it then).
    `matrix` and `positions` (feature name -> column) let kernels that produce several neighbouring
    features write straight into the output matrix (`block`), saving a copy and a temporary per feature;
    `target`, set by the builder while a feature is computed, is that feature's column (None when the matrix
    is not float64), for a final step that can write in place (`log_ratio(..., out=b.target)`).
    """

    def __init__(self, ohlcv: pd.DataFrame, matrix: np.ndarray | None = None,
                 positions: Mapping[str, int] | None = None) -> None:
        self.index: pd.DatetimeIndex = ohlcv.index  # type: ignore[assignment]
        self.open = _column(ohlcv, "open")
        self.high = _column(ohlcv, "high")
        self.low = _column(ohlcv, "low")
        self.close = _column(ohlcv, "close")
        self.volume = _column(ohlcv, "volume")
        self._memo: dict[Any, Any] = {}
        self.touched: set[Any] | None = None
        self._matrix = matrix
        self._positions = positions or {}
        self.target: np.ndarray | None = None  # the matrix column of the feature being computed (float64)

    def __len__(self) -> int:
        return len(self.close)

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """Return the cached value for `key`, computing it with `make()` the first time."""
        if self.touched is not None:
            self.touched.add(key)
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def release(self, keys: Iterable[Any]) -> None:
        """Forget the intermediates under `keys` (no later feature reads them), so their memory is reused."""
        for key in keys:
            self._memo.pop(key, None)

    def block(self, names: Sequence[str]) -> np.ndarray:
        """A (len(names), rows) float64 array whose rows a kernel fills with these features, in order: the
        output matrix's own columns when this build writes them side by side in float64, else a new array."""
        first = self._positions.get(names[0], -1)
        matrix = self._matrix
        contiguous = first >= 0 and all(self._positions.get(n) == first + k for k, n in enumerate(names))
        if matrix is not None and contiguous and matrix.dtype == np.float64 and matrix.flags.f_contiguous:
            return matrix[:, first : first + len(names)].T  # F-order columns are C-order rows of the transpose
        return np.empty((len(names), len(self)))

    def ta(self, function: str, inputs: str, **params: Any) -> tuple[np.ndarray, ...]:
        """Call TA-Lib's `function` on the named inputs ('c', 'hlc', ...), memoised; always a tuple."""
        key = ("talib", function, inputs, tuple(sorted(params.items())))

        def run() -> tuple[np.ndarray, ...]:
            out = getattr(talib, function)(*(getattr(self, name) for name in _INPUTS[inputs]), **params)
            return tuple(np.asarray(o, dtype=np.float64) for o in out) if isinstance(out, tuple | list) else (
                np.asarray(out, dtype=np.float64),
            )

        return self.memo(key, run)

    def ta_on(self, function: str, series_key: str, series: Callable[[], np.ndarray], **params: Any) -> np.ndarray:
        """Call a single-input TA-Lib `function` on a derived series (memoised under `series_key`)."""
        key = ("talib_on", function, series_key, tuple(sorted(params.items())))
        return self.memo(key, lambda: np.asarray(getattr(talib, function)(series(), **params), dtype=np.float64))

    @property
    def log_close(self) -> np.ndarray:
        return self.memo("log_close", lambda: np.log(self.close))

    @property
    def log_open(self) -> np.ndarray:
        return self.memo("log_open", lambda: np.log(self.open))

    @property
    def log_high(self) -> np.ndarray:
        return self.memo("log_high", lambda: np.log(self.high))

    @property
    def log_low(self) -> np.ndarray:
        return self.memo("log_low", lambda: np.log(self.low))

    @property
    def log_body(self) -> np.ndarray:
        """log(close / open), as a difference of logs: the price logs are shared by every such ratio."""
        return self.memo("log_body", lambda: self.log_close - self.log_open)

    @property
    def log_gap(self) -> np.ndarray:
        """log(open / previous close); row 0 is NaN (no previous close)."""

        def make() -> np.ndarray:
            out = np.full(len(self), np.nan)
            out[1:] = self.log_open[1:] - self.log_close[:-1]
            return out

        return self.memo("log_gap", make)

    @property
    def log_return(self) -> np.ndarray:
        """One-bar log return; row 0 is NaN (no previous close)."""
        return self.memo("log_return", lambda: lagged_difference(self.log_close, 1))


def lagged_difference(values: np.ndarray, lag: int) -> np.ndarray:
    """values[t] - values[t - lag], NaN for the first `lag` rows."""
    out = np.full(len(values), np.nan)
    if lag < len(values):
        out[lag:] = values[lag:] - values[:-lag]
    return out


def lagged(values: np.ndarray, lag: int) -> np.ndarray:
    """values[t - lag] (a causal shift), NaN for the first `lag` rows."""
    out = np.full(len(values), np.nan)
    if lag < len(values):
        out[lag:] = values[: len(values) - lag]
    return out


def safe_divide(numerator: np.ndarray, denominator: np.ndarray, fill: float | None = None) -> np.ndarray:
    """numerator / denominator, never inf.

    Where the denominator is zero and both inputs are known (no movement, no volume: a defined market state,
    not missing data) the result is `fill`, the value the ratio means there (0.5 for "mid-range", 0 for "no
    flow", 1 for "as usual"); without a `fill`, NaN. NaN inputs (warm-up) stay NaN either way.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.divide(numerator, denominator)
    if fill is None:
        return _infinite_to_nan(out)
    undefined = ~np.isfinite(out)
    if undefined.any():
        known = np.isfinite(numerator) & np.isfinite(denominator)
        out[undefined & known] = fill
        out[undefined & ~known] = np.nan
    return out


def log_ratio(numerator: np.ndarray, denominator: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """log(numerator / denominator): a scale-free distance that reads the same on any price level.

    `out` (e.g. `Bars.target`, the feature's own matrix column) receives the result without a temporary.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.divide(numerator, denominator, out=out)
        np.log(result, out=result)  # in place: no temporary beyond the result
    return _infinite_to_nan(result)


def _infinite_to_nan(values: np.ndarray) -> np.ndarray:
    """Replace +-inf by NaN in place (NaN stays NaN); the common case, no infinity, costs one cheap scan."""
    infinite = np.isinf(values)
    if infinite.any():
        values[infinite] = np.nan
    return values


def _column(ohlcv: pd.DataFrame, name: str) -> np.ndarray:
    return np.ascontiguousarray(ohlcv[name].to_numpy(dtype=np.float64, copy=False))
