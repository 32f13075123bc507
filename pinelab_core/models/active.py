"""The active models of a market, loaded once and pooled: what `predict` and `explain` run on.

`load_active(settings, symbol, timeframe)` asks the registry for the active versions (the symbol's own,
else any trained for the timeframe), loads each artifact once per process (cached by "name/vN"), fits the
ensemble's weights and calibration on their out-of-fold predictions, and remembers the result until the
set of active versions changes. `member_inputs` builds each member's input frame from an OHLCV slice:
the feature matrix is computed once and shared, candle-reading nets get `candle_inputs`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError, ModelSchemaError
from pinelab_core.models.base import Model
from pinelab_core.models.calibration import reliability_table
from pinelab_core.models.ensemble import PROB_COLUMNS, Ensemble, fit_ensemble
from pinelab_core.models.inputs import CANDLE_COLUMNS, candle_inputs
from pinelab_core.sentiment.daily import SENTIMENT_FEATURES

__all__ = ["ActiveEnsemble", "Member", "clear_model_cache", "load_active", "member_inputs", "member_probabilities"]

#: Fewest bars an inference slice holds, beyond the features' warm-up and the nets' windows.
MIN_SLICE_BARS = 300
_FEW_WINDOWS = 64

_MODELS: dict[tuple[str, str], tuple[Model, Any]] = {}
_ENSEMBLES: dict[tuple[str, str, str, tuple[str, ...]], ActiveEnsemble] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Member:
    """One loaded model version in the pool."""

    key: str  # "name/vN"
    name: str
    version: int
    kind: str
    model: Model
    feature_names: tuple[str, ...]
    label: dict[str, Any]
    trained_on: str  # the symbol the version was trained on
    trained_through: pd.Timestamp | None = None  # the newest bar the version learned from (manifest)
    news_scorer: str | None = None  # the scorer of the news sentiment features it learned from (None: no news)

    @property
    def reads_candles(self) -> bool:
        return bool(self.feature_names) and set(self.feature_names) <= set(CANDLE_COLUMNS)


@dataclass(frozen=True)
class ActiveEnsemble:
    """The pooled active members of one (symbol, timeframe), with their learned weights and calibration."""

    symbol: str
    timeframe: str
    members: tuple[Member, ...]
    ensemble: Ensemble
    horizon: int
    label: dict[str, Any]
    oof_hit_rates: dict[str, float]  # member key (and "ensemble") -> out-of-fold hit rate
    trained_through: pd.Timestamp | None = None  # the newest bar any member learned from: bars up to it are in-sample
    oof_reliability: pd.DataFrame | None = None  # the calibrated pool's confidence vs hit rate, out of fold
    settings: Settings | None = None  # where the market's headlines are, for members that learned from news

    @property
    def versions(self) -> list[str]:
        return [m.key for m in self.members]

    @property
    def history_bars(self) -> int | None:
        """Bars of trailing history a prediction needs, or None when only the whole history will do.

        Enough for every member's features to have, at the last bar, the value the full history gives
        (`features.required_history`, which counts EMA settling too), plus every net's window. A member that
        learned from a feature depending on where the data starts (`obv`, `ad`) gets the whole history.
        """
        from pinelab_core.errors import DataValidationError
        from pinelab_core.features import required_history

        # the news features need no bars before the one they describe (they read the store's headlines)
        names = sorted({name for m in self.members if not m.reads_candles for name in m.feature_names
                        if name not in SENTIMENT_FEATURES})
        try:
            history = required_history(names) if names else 0
        except DataValidationError:
            return None
        context = max((m.model.context_rows for m in self.members), default=0)
        return max(MIN_SLICE_BARS, history) + context + 1

    def history_slice(self, ohlcv: pd.DataFrame, last: int | None = None, *, more_bars: int = 0) -> pd.DataFrame:
        """The bars a prediction at position `last` (default: the last bar) reads: `history_bars` up to it,
        and `more_bars` before that when the `more_bars` bars before `last` are predicted too."""
        stop = len(ohlcv) if last is None else last + 1
        bars = self.history_bars
        return ohlcv.iloc[0 if bars is None else max(0, stop - bars - more_bars):stop]


def load_active(settings: Settings, symbol: str, timeframe: str) -> ActiveEnsemble:
    """The active ensemble for a market, from the in-process cache while the active versions are unchanged.

    Raises:
        ModelNotFoundError: no active model exists for the timeframe (train one first).
    """
    from pinelab_core.models import registry

    versions = _active_versions(settings, symbol, timeframe)
    key = (str(settings.models_dir), symbol, timeframe, tuple(f"{v.name}/v{v.version}" for v in versions))
    with _LOCK:
        cached = _ENSEMBLES.get(key)
    if cached is not None:
        return cached
    members = [_load_member(settings, registry, v) for v in versions]
    members = _same_label(members)
    oof = {m.key: _oof_or_none(settings, registry, m) for m in members}
    ensemble = fit_ensemble({m.key: m.kind for m in members}, oof)
    label = members[0].label
    hit_rates = {key: rate for key, rate in ((k, _hit_rate(f)) for k, f in oof.items()) if rate is not None}
    if "hit_rate" in ensemble.oof_metrics:
        hit_rates["ensemble"] = ensemble.oof_metrics["hit_rate"]
    active = ActiveEnsemble(symbol, timeframe, tuple(members), ensemble, int(label.get("horizon", 1)), label,
                            hit_rates, _trained_through(members, oof), _oof_reliability(ensemble), settings)
    with _LOCK:
        _ENSEMBLES[key] = active
    return active


def clear_model_cache() -> None:
    """Forget loaded models and fitted ensembles (tests; after deleting artifacts by hand)."""
    with _LOCK:
        _MODELS.clear()
        _ENSEMBLES.clear()


def member_inputs(active: ActiveEnsemble, ohlcv: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each member's input frame on `ohlcv`'s index (the feature matrix is built once and shared)."""
    features: pd.DataFrame | None = None
    candles: pd.DataFrame | None = None
    news: dict[str, pd.DataFrame] = {}
    inputs = {}
    for member in active.members:
        if member.reads_candles:
            candles = candle_inputs(ohlcv) if candles is None else candles
            frame = candles
        else:
            if features is None:
                from pinelab_core.features import build_features
                from pinelab_core.features.inputs import groups_to_build

                # the default build, plus any optional group (e.g. "mtf") a member was trained on
                names = [n for m in active.members if not m.reads_candles for n in m.feature_names]
                features = build_features(ohlcv, groups=groups_to_build(names))
            frame = features
            if member.news_scorer is not None:
                frame = frame.join(_news_features(active, ohlcv, member.news_scorer, news))
        missing = [name for name in member.feature_names if name not in frame.columns]
        if missing:
            raise ModelSchemaError(
                f"{member.key} was trained on features this PineLab no longer builds ({', '.join(missing[:5])}). "
                "Retrain the model with the current feature set."
            )
        inputs[member.key] = frame[list(member.feature_names)]
    return inputs


def _news_features(active: ActiveEnsemble, ohlcv: pd.DataFrame, scorer: str,
                   known: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The market's news sentiment features, scored by the scorer the member learned them with (once per scorer)."""
    if scorer not in known:
        from pinelab_core.sentiment.service import market_sentiment_features
        from pinelab_core.store import get_engine

        settings = active.settings or Settings.from_env()
        known[scorer] = market_sentiment_features(get_engine(settings), active.symbol, ohlcv, settings=settings,
                                                  scorer=scorer)
    return known[scorer]


def member_probabilities(active: ActiveEnsemble, inputs: dict[str, pd.DataFrame], rows: np.ndarray) -> np.ndarray:
    """(len(rows), n_members, n_classes) probabilities at the given positions; NaN where a net lacks a window.

    Tabular members predict only the requested rows; sequence members get the rows since the first
    requested row's window start, so no more is computed than needed.
    """
    rows = np.asarray(rows, dtype=int)
    out = np.full((len(rows), len(active.members), 3), np.nan)
    for m, member in enumerate(active.members):
        frame = inputs[member.key]
        context = member.model.context_rows
        if context == 0:
            out[:, m] = member.model.predict_proba(frame.iloc[rows])
            continue
        start = max(0, int(rows.min()) - context)
        with _few_threads(int(rows.max()) + 1 - start - context):
            probs = member.model.predict_proba(frame.iloc[start:int(rows.max()) + 1])
        out[:, m] = probs[rows - start]
    return out


@contextlib.contextmanager
def _few_threads(n_windows: int) -> Iterator[None]:
    """One torch thread for a handful of windows: intra-op threads cost more than they save there, and on a
    busy CPU they stall (measured 37 ms vs 3.6 ms for one LSTM window on a loaded 2-core machine)."""
    if n_windows > _FEW_WINDOWS:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _active_versions(settings: Settings, symbol: str, timeframe: str) -> list[Any]:
    from pinelab_core.models import registry

    versions = _classifiers(registry.list_versions(settings, status="active", symbol=symbol, timeframe=timeframe))
    if not versions:
        # No model of this symbol: borrow the timeframe's models of one other symbol (the newest trained), never
        # a mix, whose out-of-fold rows would pair one market's probabilities with another's outcomes.
        others = _classifiers(registry.list_versions(settings, status="active", timeframe=timeframe))
        if others:
            newest = max(others, key=lambda v: v.created_at)
            versions = [v for v in others if v.symbol == newest.symbol]
    if not versions:
        raise ModelNotFoundError(
            f"No trained model is active for {symbol} {timeframe}. Train starter models first: "
            f"`pinelab predict --symbol {symbol} --timeframe {timeframe} --train-starter`, "
            f"or `pinelab train --symbol {symbol} --timeframe {timeframe}` (or the Training page)."
        )
    return sorted(versions, key=lambda v: (v.name, v.version))


def _classifiers(versions: list[Any]) -> list[Any]:
    """The direction classifiers among registered versions: RL agents trade beside the ensemble, not in it."""
    from pinelab_core.rl.agents import AGENT_KINDS

    return [v for v in versions if v.kind not in AGENT_KINDS]


def _load_member(settings: Settings, registry: Any, version: Any) -> Member:
    key = f"{version.name}/v{version.version}"
    cache_key = (str(settings.models_dir), key)
    with _LOCK:
        loaded = _MODELS.get(cache_key)
    if loaded is None:
        result = registry.load_version(settings, version.name, version.version, device="cpu")
        loaded = (result.model, result.manifest)
        with _LOCK:
            _MODELS[cache_key] = loaded
    model, manifest = loaded
    label = _as_dict(getattr(manifest, "label", {}))
    through = str(getattr(manifest, "trained_through", "") or "")
    names = tuple(getattr(manifest, "feature_names", model.feature_names_))
    scorer = _as_dict(getattr(manifest, "options", {})).get("sentiment_scorer")
    return Member(key, version.name, int(version.version), model.kind, model, names, label,
                  str(getattr(manifest, "symbol", "")), _utc(through) if through else None,
                  str(scorer) if scorer and set(names) & set(SENTIMENT_FEATURES) else None)


def _trained_through(members: Sequence[Member], oof: dict[str, pd.DataFrame | None]) -> pd.Timestamp | None:
    """The newest bar any member learned from: its manifest says so; older manifests only have their
    out-of-fold rows, whose last bar is the last labelled row the refit also learned from."""
    ends = [m.trained_through for m in members if m.trained_through is not None]
    for member in members:
        frame = oof.get(member.key)
        if member.trained_through is None and frame is not None and len(frame):
            ends.append(_utc(frame.index.max()))
    return max(ends) if ends else None


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _same_label(members: Sequence[Member]) -> list[Member]:
    """Members must predict the same thing: keep those sharing the label of the newest version."""
    newest = max(members, key=lambda m: m.version)
    return [m for m in members if m.label == newest.label]


def _oof_reliability(ensemble: Ensemble) -> pd.DataFrame | None:
    """Confidence against hit rate of the cross-fitted pool: every row scored by a pool fitted before it."""
    scored = ensemble.cross_fitted
    if ensemble.weights_source != "out-of-fold" or scored is None or scored.empty:
        return None
    return reliability_table(scored[list(PROB_COLUMNS)].to_numpy(), scored["y_true"].to_numpy(dtype=int), n_bins=10)


def _oof_or_none(settings: Settings, registry: Any, member: Member) -> pd.DataFrame | None:
    try:
        return registry.load_oof(settings, member.name, member.version)
    except ModelNotFoundError:
        return None  # registered without out-of-fold predictions: the ensemble falls back to fixed weights


def _hit_rate(oof: pd.DataFrame | None) -> float | None:
    if oof is None or oof.empty:
        return None
    rows = oof[[*PROB_COLUMNS, "y_true"]].dropna()
    if rows.empty:
        return None
    return float((rows[list(PROB_COLUMNS)].to_numpy().argmax(axis=1) == rows["y_true"].to_numpy()).mean())


def _as_dict(label: Any) -> dict[str, Any]:
    if isinstance(label, dict):
        return dict(label)
    to_dict = getattr(label, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}
