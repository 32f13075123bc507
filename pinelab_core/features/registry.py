"""The one registry of feature specs, its catalog, and the feature-set version that keys the cache.

Order matters: the matrix columns and the catalog rows follow `FEATURE_GROUPS`, then each group's
spec order, so a model's feature order is stable from version to version.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from collections.abc import Iterable
from types import ModuleType

import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features import (
    anomaly,
    candles,
    garch,
    hmm_regime,
    levels,
    moments,
    momentum,
    mtf,
    patterns,
    regime,
    sparse,
    spec,
    spectral,
    statistics,
    structure,
    trend,
    volatility,
    volume,
    walkforward,
)
from pinelab_core.features import time as time_features
from pinelab_core.features.spec import FeatureSpec

__all__ = ["ALL_SPECS", "FEATURE_GROUPS", "FEATURE_SET_VERSION", "OPT_IN_GROUPS", "OPT_IN_NOTE", "SPECS",
           "feature_catalog", "select_specs"]

#: Bump by hand when a change alters values without touching the spec modules' source (e.g. a new
#: TA-Lib release with a changed definition); source edits change the version on their own.
#: 2: defined values after the warm-up, bounded swing memory, capped support/resistance (issue 10).
FEATURE_ENGINE_REVISION = 2

_GROUP_MODULES: dict[str, ModuleType] = {
    "trend": trend,
    "momentum": momentum,
    "volatility": volatility,
    "volume": volume,
    "statistics": statistics,
    "patterns": patterns,
    "structure": structure,
    "time": time_features,
    "spectral": spectral,
    "regime": regime,
}

#: Groups built only when named: models fitted walk-forward (HMM, GARCH, isolation forest) cost far more than
#: the rest of the matrix (bench/results/features.md), so `build_features(ohlcv)` leaves them out; the
#: multi-timeframe group too (the feature benchmark's budget, and not every model wants a coarser view).
_OPT_IN_MODULES: dict[str, ModuleType] = {
    "hmm": hmm_regime,
    "garch": garch,
    "anomaly": anomaly,
    "mtf": mtf,
}

#: Feature groups of the default build, in matrix order.
FEATURE_GROUPS: tuple[str, ...] = tuple(_GROUP_MODULES)
#: Groups built only when asked for by name (`build_features(ohlcv, groups=[..., "hmm"])`), after the default ones.
OPT_IN_GROUPS: tuple[str, ...] = tuple(_OPT_IN_MODULES)
#: What a trader choosing groups should know about the opt-in ones (the Features and Training pages show it).
OPT_IN_NOTE = ("hmm (regime probabilities), garch (conditional volatility) and anomaly (isolation forest, robust "
               "z-scores) refit models walk-forward on past bars only: causal, but slower, so not picked by default; "
               "mtf (multi-timeframe: the closed 4x and 24x bars' return, trend, RSI, range and volatility) is "
               "optional too.")

#: Every feature of the default build, in matrix order.
SPECS: tuple[FeatureSpec, ...] = tuple(s for module in _GROUP_MODULES.values() for s in module.SPECS)
#: The default features, then the opt-in groups' features: every feature PineLab can compute, in matrix order.
ALL_SPECS: tuple[FeatureSpec, ...] = SPECS + tuple(s for module in _OPT_IN_MODULES.values() for s in module.SPECS)
_ALL_MODULES: dict[str, ModuleType] = {**_GROUP_MODULES, **_OPT_IN_MODULES}


def _check_registry() -> None:
    names = [s.name for s in ALL_SPECS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:  # a programming error in a spec module, caught at import by every test run
        raise RuntimeError(f"Duplicate feature names in the registry: {duplicates}")
    for module_group, module in _ALL_MODULES.items():
        stray = [s.name for s in module.SPECS if s.group != module_group]
        if stray:
            raise RuntimeError(f"Features {stray} sit in the {module_group} module under another group")


_check_registry()


def _feature_set_version() -> str:
    """Hash of every spec's definition and of the code that computes it, plus a manual revision."""
    digest = hashlib.sha256(f"revision={FEATURE_ENGINE_REVISION}".encode())
    for item in ALL_SPECS:
        digest.update(f"{item.name}|{item.group}|{item.params_text}|{item.lookback}|{item.history}".encode())
    for module in (spec, levels, candles, moments, walkforward, sparse, *_ALL_MODULES.values()):  # what groups reuse
        try:
            digest.update(inspect.getsource(module).encode())
        except (OSError, TypeError):  # no source (frozen install): fall back to the specs alone
            digest.update(module.__name__.encode())
    return digest.hexdigest()[:16]


#: Changes whenever a definition, parameter or compute function changes: cached matrices then miss.
FEATURE_SET_VERSION: str = _feature_set_version()


def select_specs(groups: Iterable[str] | str | None = None) -> tuple[FeatureSpec, ...]:
    """The specs of the named groups (the default build's when None; opt-in groups only by name), in matrix order.

    Raises:
        DataValidationError: a group name is unknown (with the closest valid name as a hint).
    """
    if groups is None:
        return SPECS
    names = groups.split(",") if isinstance(groups, str) else list(groups)
    wanted = [g.strip().lower() for g in names if g and g.strip()]
    unknown = [g for g in wanted if g not in _ALL_MODULES]
    if unknown:
        hints = [difflib.get_close_matches(g, list(_ALL_MODULES), n=1) for g in unknown]
        hint = " ".join(f"{g!r}: did you mean {h[0]!r}?" for g, h in zip(unknown, hints, strict=True) if h)
        valid = ", ".join(FEATURE_GROUPS) + "; opt-in: " + ", ".join(OPT_IN_GROUPS)
        raise DataValidationError(f"Unknown feature group(s) {unknown}. Valid groups: {valid}. {hint}".rstrip())
    if not wanted:
        raise DataValidationError(f"No feature group selected. Pick from: {', '.join(FEATURE_GROUPS)}.")
    chosen = set(wanted)
    return tuple(s for s in ALL_SPECS if s.group in chosen)


def feature_catalog(groups: Iterable[str] | str | None = None) -> pd.DataFrame:
    """One row per column `build_features(groups=groups)` produces, in the same order.

    Returns:
        Columns: name, group, parameters (text), lookback (warm-up rows, NaN in the matrix; every later value
        is finite), history (bars of trailing history for the last bar to equal the full-history value to
        1e-6 relative; -1 for start-dependent features, which no trailing slice reproduces), start_dependent
        (the value depends on where the frame starts, e.g. cumulative OBV), scale_free (dimensionless: reads
        the same at any price or volume level; False for price levels, price or volume units), description.
    """
    specs = select_specs(groups)
    return pd.DataFrame(
        {
            "name": [s.name for s in specs],
            "group": [s.group for s in specs],
            "parameters": [s.params_text for s in specs],
            "lookback": [s.lookback for s in specs],
            "history": [s.history for s in specs],
            "start_dependent": [s.start_dependent for s in specs],
            "scale_free": [s.scale_free for s in specs],
            "description": [s.description for s in specs],
        }
    )
