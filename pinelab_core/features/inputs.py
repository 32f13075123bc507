"""Which features a model should see by default, and how much history inference needs for them.

Training sees each bar with all the history before it; inference builds features on a trailing slice. The two
agree only for features whose value does not depend on where the frame starts (not cumulative sums such as
OBV) and only once the slice is long enough for recursive smoothings to forget their seed (`history` in the
catalog). Raw price levels (sma_200 = 202.7) are left out too: a model would learn thresholds that never recur.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from pinelab_core.errors import DataValidationError
from pinelab_core.features.registry import ALL_SPECS, FEATURE_GROUPS, OPT_IN_GROUPS, SPECS
from pinelab_core.features.spec import FeatureSpec

__all__ = ["groups_to_build", "model_feature_names", "required_history"]


def model_feature_names(
    names: Iterable[str] | str | None = None,
    *,
    include_price_levels: bool = False,
    include_start_dependent: bool = False,
) -> list[str]:
    """The default model inputs, in catalog (matrix) order: scale-free, start-independent features.

    Args:
        names: Restrict to these feature columns and/or groups (a list or a comma-separated string), opt-in
            groups (`hmm`, `garch`, `anomaly`) included; None takes every group of the default build.
        include_price_levels: Also keep features that are not scale-free (price levels such as `sma_200`,
            Bollinger bands, pivots; values in price or volume units such as `atr_14`, `macd`, `adosc`).
        include_start_dependent: Also keep features whose value depends on where the frame starts (`obv`, `ad`).

    Returns:
        Feature names, in the order `build_features` gives the columns.

    Raises:
        DataValidationError: a name is neither a feature nor a group.
    """
    chosen = _select(names)
    return [
        s.name for s in chosen
        if (include_price_levels or s.scale_free) and (include_start_dependent or not s.start_dependent)
    ]


def required_history(names: Iterable[str] | str) -> int:
    """Bars of trailing history inference needs so that these features' last-bar values equal the values the
    full history gives, to 1e-6 relative (the longest `history` among them; tested on daily, hourly and
    minute data at several cut points).

    Args:
        names: Feature columns and/or groups (e.g. a model's feature names, or `model_feature_names()`).

    Raises:
        DataValidationError: a name is unknown, or a feature depends on where the data starts (no trailing
            slice reproduces it: build it on the same full history the model was trained on, or leave it out).
    """
    chosen = _select(names)
    dependent = [s.name for s in chosen if s.start_dependent]
    if dependent:
        raise DataValidationError(
            f"{dependent} depend on where the data starts (cumulative sums): no trailing slice reproduces their "
            "training values. Leave them out (model_feature_names() does by default) or build features on the "
            "full history instead of a slice."
        )
    return max((s.history for s in chosen), default=0)


def _select(names: Iterable[str] | str | None) -> list[FeatureSpec]:
    """The specs named (by feature or by group), in matrix order; the default build's specs when `names` is None."""
    if names is None:
        return list(SPECS)
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n and n.strip()]
    by_name = {s.name for s in ALL_SPECS}
    all_groups = (*FEATURE_GROUPS, *OPT_IN_GROUPS)
    unknown = [n for n in wanted if n not in by_name and n.lower() not in all_groups]
    if unknown:
        choices = sorted(by_name | set(all_groups))
        hints = {n: difflib.get_close_matches(n, choices, n=1) for n in unknown}
        hint = " ".join(f"{n!r}: did you mean {h[0]!r}?" for n, h in hints.items() if h)
        raise DataValidationError(f"Unknown features or groups {unknown}; see feature_catalog(). {hint}".rstrip())
    groups, columns = {n.lower() for n in wanted if n.lower() in all_groups}, set(wanted)
    return [s for s in ALL_SPECS if s.group in groups or s.name in columns]


_GROUP_OF: dict[str, str] = {s.name: s.group for s in ALL_SPECS}


def groups_to_build(names: Iterable[str]) -> list[str] | None:
    """The `groups` argument of `build_features` that yields these feature columns: None (the default build)
    unless some belong to an opt-in group (e.g. a model trained on "mtf" or "hmm" features), then the default
    groups plus those opt-in ones. Names PineLab does not build are left for the caller to report."""
    opt_in = {_GROUP_OF.get(name) for name in names} & set(OPT_IN_GROUPS)
    if not opt_in:
        return None
    return [*FEATURE_GROUPS, *(g for g in OPT_IN_GROUPS if g in opt_in)]
