"""The feature engine: 180+ causal features from OHLCV bars, their catalog, a look-ahead audit,
feature ranking against a label, and a Parquet cache keyed by data fingerprint + feature-set version.

    build_features(ohlcv, groups=None, dtype="float64") -> feature matrix (frame, dict or panel); the opt-in
        groups in OPT_IN_GROUPS (hmm, garch, anomaly: models refitted walk-forward; mtf: multi-timeframe) only
        when named
    build_features_cached(ohlcv, settings, groups=None) -> the same, read from cache when possible
    feature_catalog(groups=None) -> name, group, parameters, lookback, history, start_dependent, scale_free,
        description per column
    model_feature_names(names=None, *, include_price_levels=False, include_start_dependent=False) -> default
        model inputs (scale-free, start-independent), in matrix order
    required_history(names) -> bars of trailing history inference needs for these features' last-bar values
    causality_audit(ohlcv, n_cuts=12, seed=0, groups=None) -> pass/fail per feature
    rank_features(features, label, method="mutual_info" | "lightgbm" | "permutation", ...) -> ranking
    drop_correlated(features, threshold=0.95) -> features without near-duplicates
    clustered_correlation(features) -> correlation matrix in hierarchical-cluster order
    forward_direction_label(close, horizon) -> +1/0/-1 direction of the next `horizon` bars (for ranking)
"""

from __future__ import annotations

from pinelab_core.features.audit import causality_audit
from pinelab_core.features.builder import build_features
from pinelab_core.features.cache import build_features_cached, data_fingerprint
from pinelab_core.features.inputs import model_feature_names, required_history
from pinelab_core.features.registry import (
    FEATURE_GROUPS,
    FEATURE_SET_VERSION,
    OPT_IN_GROUPS,
    OPT_IN_NOTE,
    feature_catalog,
)
from pinelab_core.features.selection import (
    clustered_correlation,
    drop_correlated,
    forward_direction_label,
    rank_features,
)

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_SET_VERSION",
    "OPT_IN_GROUPS",
    "OPT_IN_NOTE",
    "build_features",
    "build_features_cached",
    "causality_audit",
    "clustered_correlation",
    "data_fingerprint",
    "drop_correlated",
    "feature_catalog",
    "forward_direction_label",
    "model_feature_names",
    "rank_features",
    "required_history",
]
