"""Champion and challenger: every version's own live calls, logged beside the ensemble's and never acted on.

At each closed bar the scheduler's `shadow` step asks each active version (the champion of its name) and each
`challenger` version trained on the market for its call at that bar, and logs it in `shadow_prediction`, but
only when the bar lies after the version's training range (`trained_through`): an in-sample call never enters a
live record. Once the label's horizon has passed, the outcome is filled in with the version's own label spec.

`head_to_head` scores a challenger against its champion on the bars both called: hit rate, log loss, the implied
strategy traded through the execution engine on those bars, and a one-sided Diebold-Mariano test on the per-bar
log-loss difference (Newey-West variance over horizon - 1 lags, since overlapping horizons are correlated), plus
an exact McNemar test on the hits. `promotion_decision` applies the model's `ModelPolicyRow` rule; `promote`
makes the challenger the active version and logs a learning event.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError
from pinelab_core.live.db import insert_ignore, table_of, to_timestamp
from pinelab_core.store.tables import ShadowPredictionRow

if TYPE_CHECKING:
    from pinelab_core.live.steps import BarContext

__all__ = ["HeadToHead", "diebold_mariano", "head_to_head", "loaded_version", "mcnemar", "resolve_shadow",
           "shadow_frame", "shadow_step", "version_call", "version_inputs"]

_LOADED: dict[tuple[str, str, int], Any] = {}
_LOCK = threading.Lock()
_EPS = 1e-15


@dataclass(frozen=True)
class HeadToHead:
    """A challenger against its champion on the same resolved bars."""

    model: str
    champion: int | None
    challenger: int
    n_bars: int
    scores: pd.DataFrame  # rows champion/challenger: n, hit_rate, log_loss, brier, strategy_return
    log_loss_gain: float  # champion minus challenger mean log loss (> 0: the challenger is better)
    dm_p_value: float  # H1: the challenger's log loss is lower
    mcnemar_p_value: float  # H1: the challenger hits more often
    equity: pd.DataFrame = field(default_factory=pd.DataFrame)  # implied strategy equity of both, same bars


def version_call(settings: Settings, name: str, version: int, ohlcv: pd.DataFrame) -> tuple[np.ndarray, Any]:
    """One version's class probabilities (DOWN, SIDEWAYS, UP) at the last bar of `ohlcv`, and its manifest."""
    model, manifest = loaded_version(settings, name, version)
    frame = version_inputs(manifest, _history_slice(manifest.feature_names, ohlcv, model.context_rows), settings)
    rows = frame.iloc[-(model.context_rows + 1):]
    return np.asarray(model.predict_proba(rows), dtype=float)[-1], manifest


def version_inputs(manifest: Any, ohlcv: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """A version's input columns on `ohlcv` (its own market's bars): its features (with any opt-in group and the
    market's news sentiment it learned from), or the normalised candles a candle net reads."""
    from pinelab_core.models.inputs import CANDLE_COLUMNS, candle_inputs

    names = list(manifest.feature_names)
    if names and set(names) <= set(CANDLE_COLUMNS):
        return candle_inputs(ohlcv)[names]
    from pinelab_core.features import build_features
    from pinelab_core.features.inputs import groups_to_build
    from pinelab_core.sentiment.daily import SENTIMENT_FEATURES

    frame = cast(pd.DataFrame, build_features(ohlcv, groups=groups_to_build(names)))
    if set(names) & set(SENTIMENT_FEATURES):
        from pinelab_core.sentiment.service import market_sentiment_features
        from pinelab_core.store import get_engine

        scorer = (manifest.options or {}).get("sentiment_scorer")
        frame = frame.join(market_sentiment_features(get_engine(settings), manifest.symbol, ohlcv, settings=settings,
                                                     scorer=scorer))
    return frame[names]


def shadow_step(context: BarContext) -> str:
    """Log every champion's and challenger's call at this bar (out of sample only), then resolve what is due."""
    from pinelab_core.live.steps import StepSkipped
    from pinelab_core.models.registry import list_versions

    versions = [v for v in list_versions(context.settings, symbol=context.symbol, timeframe=context.timeframe)
                if v.status in ("active", "challenger")]
    if not versions:
        raise StepSkipped("no active or challenger version trained on this market")
    rows, skipped = [], 0
    close = float(context.view["close"].iloc[-1])
    for info in versions if context.latest else []:  # a bar caught up on after a pause was never called live
        probabilities, manifest = version_call(context.settings, info.name, info.version, context.view)
        through = manifest.trained_through
        if not through or context.at <= to_timestamp(pd.Timestamp(through)) or not np.isfinite(probabilities).all():
            skipped += 1  # in-sample (or no window yet): never a live record
            continue
        rows.append({"model_name": info.name, "version": info.version,
                     "role": "champion" if info.status == "active" else "challenger",
                     "data_source": context.data_source, "symbol": context.symbol, "timeframe": context.timeframe,
                     "bar_time": context.at.to_pydatetime(), "horizon": int(manifest.horizon),
                     "prob_down": float(probabilities[0]), "prob_sideways": float(probabilities[1]),
                     "prob_up": float(probabilities[2]), "close_at_bar": close})
    with context.engine.begin() as connection:
        insert_ignore(connection, ShadowPredictionRow, rows, ("model_name", "version", "data_source", "symbol",
                                                              "timeframe", "bar_time"))
    resolved = resolve_shadow(context.settings, context.engine, context.data_source, context.symbol,
                              context.timeframe, context.view)
    return f"{len(rows)} call(s) logged, {skipped} in-sample skipped, {resolved} resolved"


def resolve_shadow(settings: Settings, engine: Engine, source: str, symbol: str, timeframe: str,
                   ohlcv: pd.DataFrame) -> int:
    """Fill in the outcome of the market's open shadow calls whose horizon has passed in `ohlcv`, once each."""
    from pinelab_core.training.labels import LabelSpec, make_labels

    table = table_of(ShadowPredictionRow)
    with engine.connect() as connection:
        open_rows = connection.execute(select(table.c.id, table.c.model_name, table.c.version, table.c.bar_time,
                                              table.c.horizon).where(
            table.c.data_source == source, table.c.symbol == symbol, table.c.timeframe == timeframe,
            table.c.outcome.is_(None))).all()
    labels: dict[tuple[str, int], pd.Series] = {}
    close = ohlcv["close"]
    updates = []
    for row_id, name, version, bar_time, horizon in open_rows:
        position = ohlcv.index.get_indexer([to_timestamp(bar_time)])[0]
        if position < 0 or position + horizon >= len(ohlcv):
            continue
        if (name, version) not in labels:
            _, manifest = loaded_version(settings, name, version)
            labels[(name, version)] = make_labels(ohlcv, LabelSpec.from_dict(manifest.label))
        label = labels[(name, version)].iloc[position]
        if pd.isna(label):
            continue
        updates.append({"row_id": row_id, "outcome_value": int(label),
                        "return_value": float(np.log(close.iloc[position + horizon] / close.iloc[position]))})
    if not updates:
        return 0
    from sqlalchemy import bindparam

    statement = update(table).where(table.c.id == bindparam("row_id"), table.c.outcome.is_(None)).values(
        outcome=bindparam("outcome_value"), realised_return=bindparam("return_value"),
        resolved_at=pd.Timestamp.now(tz="UTC").to_pydatetime())
    with engine.begin() as connection:
        return sum(connection.execute(statement, values).rowcount or 0 for values in updates)


def shadow_frame(engine: Engine, model: str | None = None) -> pd.DataFrame:
    """Logged shadow calls (optionally of one model), oldest first, with `predicted` and per-row `log_loss`."""
    table = table_of(ShadowPredictionRow)
    query = select(table).order_by(table.c.bar_time, table.c.id)
    if model is not None:
        query = query.where(table.c.model_name == model)
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(query).mappings().all(), columns=list(table.c.keys()))
    frame["bar_time"] = pd.to_datetime(frame["bar_time"], utc=True)
    probabilities = frame[["prob_down", "prob_sideways", "prob_up"]].to_numpy(dtype=float)
    frame["predicted"] = probabilities.argmax(axis=1) if len(frame) else []
    known = frame["outcome"].notna().to_numpy()
    chosen = np.full(len(frame), np.nan)
    if known.any():
        picked = probabilities[known, frame.loc[known, "outcome"].astype(int).to_numpy()]
        chosen[known] = -np.log(np.clip(picked, _EPS, 1.0))
    frame["log_loss"] = chosen
    frame["hit"] = np.where(known, frame["predicted"] == frame["outcome"], np.nan)
    return frame


def head_to_head(engine: Engine, model: str, challenger: int | None = None, *,
                 ohlcv: pd.DataFrame | None = None, fees: float = 0.0005) -> HeadToHead:
    """Score the newest (or the given) challenger of `model` against its champion on the bars both resolved.

    Args:
        engine: the store.
        model: the model name.
        challenger: the challenger version (default: the newest challenger with a resolved call, else the newest
            with calls: one registered a few bars ago has nothing to compare yet).
        ohlcv: the market's bars, to trade both implied strategies through the execution engine on the same bars.
        fees: the implied strategies' fees.

    Raises:
        ModelNotFoundError: no challenger calls are logged for `model`.
    """
    calls = shadow_frame(engine, model)
    challengers = calls.loc[calls["role"] == "challenger", "version"]
    if challengers.empty:
        raise ModelNotFoundError(f"No challenger of {model!r} has logged a live call yet. Retrain it (a challenger "
                                 "is registered) and keep `pinelab run` going.")
    resolved = calls.loc[(calls["role"] == "challenger") & calls["outcome"].notna(), "version"]
    version = int(challenger if challenger is not None else (resolved if len(resolved) else challengers).max())
    mine = calls[(calls["version"] == version) & calls["outcome"].notna()].set_index("bar_time")
    champion_rows = calls[(calls["role"] == "champion") & (calls["version"] != version) & calls["outcome"].notna()]
    champion = int(champion_rows["version"].max()) if len(champion_rows) else None
    theirs = champion_rows[champion_rows["version"] == champion].set_index("bar_time")
    common = mine.index.intersection(theirs.index)
    mine, theirs = mine.loc[common], theirs.loc[common]
    horizon = int(mine["horizon"].max()) if len(mine) else 1
    scores = pd.DataFrame([_scores(theirs), _scores(mine)], index=["champion", "challenger"])
    difference = (theirs["log_loss"] - mine["log_loss"]).to_numpy(dtype=float)
    equity = _strategies(ohlcv, theirs, mine, fees) if ohlcv is not None and len(common) >= 2 else pd.DataFrame()
    if len(equity):
        scores["strategy_return"] = [equity[c].iloc[-1] / equity[c].iloc[0] - 1.0 for c in ("champion", "challenger")]
    return HeadToHead(model, champion, version, len(common), scores,
                      float(np.mean(difference)) if len(difference) else float("nan"),
                      diebold_mariano(difference, horizon), mcnemar(theirs["hit"].to_numpy(), mine["hit"].to_numpy()),
                      equity)


def diebold_mariano(difference: np.ndarray, horizon: int = 1) -> float:
    """One-sided p-value that the mean loss difference is above 0, with Newey-West variance (horizon - 1 lags)."""
    d = np.asarray(difference, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 3:
        return float("nan")
    centred = d - d.mean()
    variance = float(centred @ centred) / n
    for lag in range(1, min(max(horizon - 1, 0), n - 1) + 1):
        weight = 1.0 - lag / max(horizon, 2)
        variance += 2.0 * weight * float(centred[lag:] @ centred[:-lag]) / n
    if variance <= 0:
        return 0.0 if d.mean() > 0 else 1.0
    return float(stats.norm.sf(d.mean() / np.sqrt(variance / n)))


def mcnemar(champion_hits: np.ndarray, challenger_hits: np.ndarray) -> float:
    """Exact one-sided McNemar p-value that the challenger hits more often (binomial on the discordant bars)."""
    a = np.asarray(champion_hits, dtype=float) > 0.5
    b = np.asarray(challenger_hits, dtype=float) > 0.5
    only_challenger, only_champion = int(np.sum(b & ~a)), int(np.sum(a & ~b))
    discordant = only_challenger + only_champion
    if discordant == 0:
        return 1.0
    return float(stats.binom.sf(only_challenger - 1, discordant, 0.5))


def _scores(rows: pd.DataFrame) -> dict[str, float]:
    if rows.empty:
        return {"n": 0, "hit_rate": np.nan, "log_loss": np.nan, "brier": np.nan, "strategy_return": np.nan}
    probabilities = rows[["prob_down", "prob_sideways", "prob_up"]].to_numpy(dtype=float)
    onehot = np.eye(3)[rows["outcome"].astype(int).to_numpy()]
    return {"n": len(rows), "hit_rate": float(rows["hit"].mean()), "log_loss": float(rows["log_loss"].mean()),
            "brier": float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1))), "strategy_return": np.nan}


def _strategies(ohlcv: pd.DataFrame, champion: pd.DataFrame, challenger: pd.DataFrame, fees: float) -> pd.DataFrame:
    """Both implied strategies (UP long, DOWN short, SIDEWAYS flat) through the execution engine, same bars."""
    from pinelab_core.backtest import run_backtest
    from pinelab_core.training.report import implied_positions

    first, last = champion.index.min(), champion.index.max()
    bars = ohlcv.loc[(ohlcv.index >= first) & (ohlcv.index <= last)]
    if len(bars) < 2:
        return pd.DataFrame()
    curves = {}
    for name, rows in (("champion", champion), ("challenger", challenger)):
        positions = pd.Series(implied_positions(rows["predicted"].to_numpy()), index=rows.index).reindex(bars.index)
        curves[name] = run_backtest(bars, positions, fees=fees).equity["equity"]
    return pd.DataFrame(curves)


def loaded_version(settings: Settings, name: str, version: int) -> tuple[Any, Any]:
    key = (str(settings.models_dir), name, int(version))
    with _LOCK:
        loaded = _LOADED.get(key)
    if loaded is None:
        from pinelab_core.models.registry import load_version

        result = load_version(settings, name, int(version), device="cpu")
        loaded = (result.model, result.manifest)
        with _LOCK:
            _LOADED[key] = loaded
    return loaded


def _history_slice(feature_names: list[str], ohlcv: pd.DataFrame, context_rows: int) -> pd.DataFrame:
    """The trailing bars a call at the last bar reads, by the inference rule (`features.required_history`):
    every input then equals its full-history value; a start-dependent input (`obv`) gets the whole history."""
    from pinelab_core.errors import DataValidationError
    from pinelab_core.features import required_history
    from pinelab_core.models.active import MIN_SLICE_BARS
    from pinelab_core.models.inputs import CANDLE_COLUMNS
    from pinelab_core.sentiment.daily import SENTIMENT_FEATURES

    names = [n for n in feature_names if n not in CANDLE_COLUMNS and n not in SENTIMENT_FEATURES]
    try:
        history = required_history(names) if names else 0
    except DataValidationError:
        return ohlcv
    return ohlcv.iloc[-(max(MIN_SLICE_BARS, history) + context_rows + 1):]
