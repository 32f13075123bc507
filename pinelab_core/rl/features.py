"""What an agent observes: scale-free, start-independent columns of the feature engine, as one float32 matrix.

The feature catalog says per feature whether it is `scale_free` and `start_dependent`; agents observe only
`pinelab_core.features.model_feature_names()` (scale-free and start-independent), so an agent never sees a
raw price level or a cumulative level, and a policy learned on one market reads another's bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError

__all__ = ["DEFAULT_FEATURES", "ObservationFeatures", "observation_features", "scale_free_features"]

#: A compact default: returns at three speeds, trend distance, momentum, volatility, volume and regime.
DEFAULT_FEATURES: tuple[str, ...] = (
    "logret_1", "logret_5", "logret_10", "logret_mean_20", "dist_sma_20", "dist_sma_50", "macd_hist_atr",
    "rsi_14", "bb_pctb_20", "donchian_pos_20", "natr_14", "rv_20", "vol_ratio_10_60", "volume_z_20", "adx_14",
    "efficiency_ratio_20",
)


def scale_free_features() -> list[str]:
    """Names of the features an agent may observe (scale-free, start-independent), in catalog order."""
    from pinelab_core.features import model_feature_names

    return list(model_feature_names())


class ObservationFeatures:
    """The observed feature matrix (float32, NaN-free after `first_valid`) and its column names."""

    def __init__(self, values: np.ndarray, names: Sequence[str], first_valid: int) -> None:
        self.values = values
        self.names = tuple(names)
        self.first_valid = first_valid


def observation_features(ohlcv: pd.DataFrame, features: Sequence[str] | str | pd.DataFrame | None = None,
                         ) -> ObservationFeatures:
    """Build the feature columns an agent observes, on the OHLCV bars.

    Args:
        ohlcv: the market (OHLCV frame contract).
        features: None for `DEFAULT_FEATURES`; "scale_free" for every scale-free feature; a list of catalog
            names (each must be scale-free); or a ready frame on the OHLCV index (your own causal columns).

    Returns:
        The matrix as float32, with NaNs after the warm-up (e.g. a support level above every swing) set to 0,
        and `first_valid`, the first row from which every column has had a value.

    Raises:
        DataValidationError: unknown or price-level feature names, or a frame not on the OHLCV index.
    """
    if isinstance(features, pd.DataFrame):
        if not features.index.equals(ohlcv.index):
            raise DataValidationError("The feature frame must sit on the OHLCV frame's index (one row per bar).")
        frame = features.astype(np.float64)
    else:
        names = _resolve_names(features)
        frame = _build(ohlcv, names)
    values = frame.to_numpy(np.float64)
    if not np.isfinite(values[np.isfinite(values)]).all():
        raise DataValidationError("Observed features must be finite numbers or NaN (no infinities).")
    seen = np.isfinite(values)
    started = np.maximum.accumulate(seen, axis=0).all(axis=1) if len(values) else np.array([], dtype=bool)
    first_valid = int(np.argmax(started)) if started.any() else len(values)
    matrix = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    return ObservationFeatures(np.ascontiguousarray(matrix), list(frame.columns), first_valid)


def _resolve_names(features: Sequence[str] | str | None) -> list[str]:
    import difflib

    if features is None:
        return list(DEFAULT_FEATURES)
    allowed = scale_free_features()
    if isinstance(features, str):
        if features == "scale_free":
            return allowed
        features = [part.strip() for part in features.split(",") if part.strip()]
    names = [str(name) for name in features]
    for name in names:
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
            raise DataValidationError(f"{name!r} is not a scale-free feature an agent may observe.{suggestion} "
                                      "See pinelab_core.rl.scale_free_features().")
    if not names:
        raise DataValidationError("Give at least one feature to observe.")
    return names


def _build(ohlcv: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    from pinelab_core.features import build_features, feature_catalog

    catalog = feature_catalog()
    groups = sorted(set(catalog.loc[catalog["name"].isin(names), "group"]))
    matrix = cast(pd.DataFrame, build_features(ohlcv, groups=groups))  # one frame in, one frame out
    return matrix[names]
