"""`explain(symbol, bar=...)`: why the active ensemble said what it said at any bar, in SHAP values.

Features are rebuilt from the bars up to the explained bar only, so an explanation of a past bar is the
explanation the models would have given then. Local explanations use each member's exact explainer
(native TreeSHAP, permutation SHAP, integrated gradients) and pool them; `explain_history` does the same
for a run of bars, for the global views (mean |SHAP|, beeswarm, dependence).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.explain.attribution import Attribution
from pinelab_core.explain.ensemble import Explanation, ensemble_attribution, explanation_at
from pinelab_core.explain.nets import attention_over_window, explain_sequence
from pinelab_core.explain.trees import explain_tabular
from pinelab_core.models.active import ActiveEnsemble, load_active, member_inputs, member_probabilities
from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.models.inference import is_in_sample
from pinelab_core.types import Timeframe

__all__ = ["explain", "explain_attention", "explain_history", "explain_rows"]

_BACKGROUND_ROWS = 100


def explain(symbol: str, timeframe: str = "1d", source: str = "auto", bar: str | pd.Timestamp | None = None,
            settings: Settings | None = None, *, ohlcv: pd.DataFrame | None = None,
            latest: bool = True) -> Explanation:
    """SHAP explanation of the ensemble's chosen class at `bar` (default: the last bar).

    base_value + sum(contributions) == output, where output is the calibrated ensemble's centred
    log-probability of the chosen class (and each member's explanation is additive the same way).

    Args:
        symbol, timeframe, source, settings: as for `predict`.
        bar: the bar to explain (time string or timestamp; the last bar at or before it is used).
        ohlcv: bars already loaded; loaded from `source` when None.
        latest: whether `ohlcv` ends at the market's newest bar. An explanation of any other bar, or of a
            bar the models learned from, is flagged `in_sample`.

    Raises:
        ModelNotFoundError: no active model (train one first).
        DataValidationError: the bar is outside the data or has too little history before it.
    """
    settings = settings or Settings.from_env()
    timeframe = Timeframe.parse(timeframe).value
    ohlcv = _load(symbol, timeframe, source, settings, ohlcv)
    active = load_active(settings, symbol, timeframe)
    position = _bar_position(ohlcv, bar)
    sliced = active.history_slice(ohlcv, position)
    combined, members, available, pooled = explain_rows(active, sliced, np.array([len(sliced) - 1]))
    target = int(combined.target[0])
    explanation = explanation_at(0, combined, members, active.ensemble, available, symbol=symbol,
                                 timeframe=timeframe, probability=float(pooled[0, target]))
    latest = latest and position == len(ohlcv) - 1
    explanation.in_sample = is_in_sample(explanation.bar_time, active.trained_through, latest=latest)
    explanation.trained_through = active.trained_through
    return explanation


def explain_history(symbol: str, timeframe: str = "1d", source: str = "auto", settings: Settings | None = None,
                    *, ohlcv: pd.DataFrame | None = None, bars: int = 150, target_class: str | None = None
                    ) -> tuple[Attribution, dict[str, Attribution]]:
    """SHAP values of the ensemble and each member over the last `bars` bars (for the global views).

    Args:
        target_class: explain this class on every bar ("UP", "DOWN", "SIDEWAYS"); None = each bar's chosen class.

    Returns:
        (ensemble attribution, member key -> attribution), on the same bars.
    """
    settings = settings or Settings.from_env()
    timeframe = Timeframe.parse(timeframe).value
    ohlcv = _load(symbol, timeframe, source, settings, ohlcv)
    active = load_active(settings, symbol, timeframe)
    bars = max(1, min(int(bars), len(ohlcv) - 1))
    sliced = active.history_slice(ohlcv, more_bars=bars)
    rows = np.arange(len(sliced) - bars, len(sliced))
    combined, members, _, _ = explain_rows(active, sliced, rows, target_class=target_class, quick=True)
    return combined, members


def explain_attention(symbol: str, timeframe: str = "1d", source: str = "auto", bar: str | pd.Timestamp | None = None,
                      settings: Settings | None = None, *, ohlcv: pd.DataFrame | None = None) -> dict[str, pd.Series]:
    """Each active LSTM member's attention weights over the window that ends at `bar` (default: the last bar).

    Read from the bars up to `bar` only, like `explain`. Returns member key ("name/vN") -> weights indexed by
    bar time; empty when the ensemble has no LSTM.

    Raises:
        ModelNotFoundError: no active model (train one first).
    """
    settings = settings or Settings.from_env()
    timeframe = Timeframe.parse(timeframe).value
    ohlcv = _load(symbol, timeframe, source, settings, ohlcv)
    active = load_active(settings, symbol, timeframe)
    lstms = [m for m in active.members if m.kind == "lstm"]
    if not lstms:
        return {}
    sliced = active.history_slice(ohlcv, _bar_position(ohlcv, bar))
    inputs = member_inputs(active, sliced)
    return {m.key: attention_over_window(m.model, inputs[m.key], len(sliced) - 1) for m in lstms
            if len(sliced) >= m.model.context_rows + 1}


def explain_rows(active: ActiveEnsemble, ohlcv: pd.DataFrame, rows: np.ndarray, *, target_class: str | None = None,
                 quick: bool = False) -> tuple[Attribution, dict[str, Attribution], np.ndarray, np.ndarray]:
    """Explain the bars at positions `rows` of `ohlcv` for every member and the pool.

    Returns:
        (ensemble attribution, member attributions, availability (n, n_members), pooled probabilities).
    """
    inputs = member_inputs(active, ohlcv)
    member_probs = member_probabilities(active, inputs, rows)
    pooled = active.ensemble.combine(member_probs)
    target = pooled.argmax(axis=1) if target_class is None else np.full(len(rows), _class_index(target_class))
    available = np.isfinite(member_probs).all(axis=2)
    attributions: dict[str, Attribution] = {}
    for m, member in enumerate(active.members):
        keep = available[:, m]
        if not keep.all():
            continue  # a net without a full window on some bars: its coefficient there is 0 anyway
        frame = inputs[member.key]
        if member.model.context_rows:
            # Global views explain many bars: fewer baselines and a looser gap keep them interactive.
            attributions[member.key] = explain_sequence(member.model, frame, rows, target,
                                                        n_background=4 if quick else 12, n_steps=16 if quick else 32,
                                                        tolerance=1e-4 if quick else 1e-6)
        else:
            background = frame.iloc[: int(rows.min())].dropna(how="all").tail(_BACKGROUND_ROWS)
            attributions[member.key] = explain_tabular(member.model, frame.iloc[rows], target,
                                                       background if len(background) else frame.iloc[rows])
    if not attributions:
        raise DataValidationError("No member model could explain these bars. Pick a bar with more history.")
    available = available & np.array([m.key in attributions for m in active.members])[None, :]
    return ensemble_attribution(active.ensemble, attributions, available), attributions, available, pooled


def _load(symbol: str, timeframe: str, source: str, settings: Settings, ohlcv: pd.DataFrame | None) -> pd.DataFrame:
    if ohlcv is not None:
        return ohlcv
    from pinelab_core.data import load_ohlcv

    return load_ohlcv(symbol, timeframe, source=source, settings=settings)


def _bar_position(ohlcv: pd.DataFrame, bar: str | pd.Timestamp | None) -> int:
    if bar is None:
        return len(ohlcv) - 1
    try:
        when = pd.Timestamp(bar)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"Bar {bar!r} is not a time. Use e.g. 2024-03-01 or 2024-03-01T14:00.") from exc
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    position = int(ohlcv.index.searchsorted(when, side="right")) - 1
    if position < 1:
        raise DataValidationError(
            f"Bar {when} is before the data ({ohlcv.index[0]} .. {ohlcv.index[-1]}). Pick a bar inside it."
        )
    return position


def _class_index(name: str) -> int:
    upper = str(name).strip().upper()
    if upper not in DIRECTION_CLASSES:
        raise DataValidationError(f"Unknown class {name!r}. Use one of: {', '.join(DIRECTION_CLASSES)}.")
    return DIRECTION_CLASSES.index(upper)
