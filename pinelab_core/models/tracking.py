"""Prediction tracking: log every prediction, fill in its outcome once the horizon has passed, score it.

A logged row keeps the ensemble's and each member's probabilities, the model versions with the label
spec they were trained for, and a fingerprint of the bars read. `resolve_outcomes` labels the bar with
that same spec (so "hit" means what training meant) as soon as `horizon` later bars exist.
`performance` turns resolved rows into hit rate, Brier score and calibration per model and for the
ensemble, overall and rolling.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError
from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.models.calibration import brier_score
from pinelab_core.models.ensemble import Prediction
from pinelab_core.store import get_engine
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import PredictionRow, model_set_key

__all__ = ["OhlcvLoader", "log_prediction", "performance", "prediction_history", "resolve_outcomes"]

#: (source, symbol, timeframe) -> OHLCV frame; how `resolve_outcomes` reads later bars.
OhlcvLoader = Callable[[str, str, str], pd.DataFrame]


def log_prediction(settings: Settings, prediction: Prediction, label: dict[str, Any]) -> int:
    """Store a prediction (once per market, bar and model set); return its row id.

    The row's natural key (source, symbol, timeframe, bar time, `model_key`) is unique in the store and
    the insert is `ON CONFLICT DO NOTHING`, so processes logging the same call at once store it once.
    """
    versions_json = json.dumps({"versions": prediction.model_versions, "label": label,
                                "weights_source": prediction.weights_source}, sort_keys=True)
    members = {"probabilities": prediction.models, "weights": prediction.weights, "agreement": prediction.agreement}
    key = {"source": prediction.source, "symbol": prediction.symbol, "timeframe": prediction.timeframe,
           "bar_time": prediction.bar_time.to_pydatetime(), "model_key": model_set_key(versions_json)}
    values = {**key, "created_at": datetime.now(UTC), "horizon": prediction.horizon,
              "signal": prediction.signal.value, "confidence": prediction.confidence,
              "probabilities_json": json.dumps(prediction.probabilities), "members_json": json.dumps(members),
              "model_versions_json": versions_json, "input_fingerprint": prediction.input_fingerprint,
              "close_at_bar": prediction.close,
              "in_sample": prediction.in_sample}
    engine = get_engine(settings)
    table = PredictionRow.__table__  # type: ignore[attr-defined]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=list(key))
    with engine.begin() as connection:
        new_id = connection.execute(statement.returning(table.c.id)).scalar()
        if new_id is None:  # logged before (by this process or another)
            same = [table.c[name] == value for name, value in key.items()]
            new_id = connection.execute(select(table.c.id).where(*same)).scalar_one()
    return int(new_id)


def resolve_outcomes(settings: Settings, ohlcv_loader: OhlcvLoader) -> int:
    """Fill in the outcome of every logged prediction whose horizon has passed; return how many were filled.

    Exactly once: outcomes are computed from the market data first (no lock held while loading it), then
    written in one write transaction that only touches rows still open (`WHERE outcome IS NULL`), so two
    processes resolving at once fill each row once and the count says how many this call filled. A market
    whose data cannot be loaded is skipped (its rows stay open and are retried next time).
    """
    engine = get_engine(settings)
    with Session(engine) as session:
        open_rows = session.exec(select(PredictionRow).where(col(PredictionRow.outcome).is_(None))).all()
    markets: dict[tuple[str, str, str], list[PredictionRow]] = {}
    for row in open_rows:
        markets.setdefault((row.source, row.symbol, row.timeframe), []).append(row)
    resolved: list[dict[str, Any]] = []
    for (source, symbol, timeframe), rows in markets.items():
        try:
            ohlcv = ohlcv_loader(source, symbol, timeframe)
        except PinelabError:
            continue
        resolved += _market_outcomes(rows, ohlcv)
    if not resolved:
        return 0
    table = PredictionRow.__table__  # type: ignore[attr-defined]
    fill = update(table).where(table.c.id == bindparam("row_id"), table.c.outcome.is_(None)).values(
        realised_return=bindparam("realised_return"), outcome=bindparam("outcome_value"), hit=bindparam("hit_value"),
        resolved_at=bindparam("resolved_time"))
    filled = 0
    with write_transaction(engine, lock="prediction-outcomes") as connection:
        for values in resolved:
            filled += connection.execute(fill, values).rowcount or 0
    return filled


def _market_outcomes(rows: list[PredictionRow], ohlcv: pd.DataFrame) -> list[dict[str, Any]]:
    """The outcome of each row whose horizon has passed in `ohlcv`, labelled with the row's own label spec."""
    from pinelab_core.training.labels import LabelSpec, make_labels

    close = ohlcv["close"]
    labels_by_spec: dict[str, pd.Series] = {}
    outcomes = []
    for row in rows:
        spec_json = json.dumps(json.loads(row.model_versions_json).get("label", {}), sort_keys=True)
        if spec_json not in labels_by_spec:
            labels_by_spec[spec_json] = make_labels(ohlcv, LabelSpec.from_dict(json.loads(spec_json)))
        outcome = _row_outcome(row, close, labels_by_spec[spec_json])
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _row_outcome(row: PredictionRow, close: pd.Series, labels: pd.Series) -> dict[str, Any] | None:
    bar = pd.Timestamp(row.bar_time)
    bar = bar.tz_localize("UTC") if bar.tzinfo is None else bar.tz_convert("UTC")
    position = close.index.get_indexer([bar])[0]
    if position < 0 or position + row.horizon >= len(close):
        return None
    label = labels.iloc[position]
    if pd.isna(label):
        return None
    outcome = DIRECTION_CLASSES[int(label)]
    chosen = max(json.loads(row.probabilities_json).items(), key=lambda item: item[1])[0]
    return {"row_id": row.id, "outcome_value": outcome, "hit_value": chosen == outcome,
            "realised_return": float(np.log(close.iloc[position + row.horizon] / close.iloc[position])),
            "resolved_time": datetime.now(UTC)}


def prediction_history(settings: Settings, symbol: str | None = None, timeframe: str | None = None,
                       limit: int = 1_000) -> pd.DataFrame:
    """Logged predictions, newest last: bar_time, signal, confidence, probabilities, outcome, hit, members...

    Returns:
        One row per prediction with columns `bar_time`, `symbol`, `timeframe`, `horizon`, `signal`,
        `confidence`, `prob_<CLASS>`, `close_at_bar`, `realised_return`, `outcome`, `hit`, `members` (dict of
        member key -> probabilities) and `model_versions`.
    """
    query = select(PredictionRow)
    if symbol is not None:
        query = query.where(PredictionRow.symbol == symbol)
    if timeframe is not None:
        query = query.where(PredictionRow.timeframe == timeframe)
    query = query.order_by(col(PredictionRow.bar_time).desc(), col(PredictionRow.id).desc()).limit(limit)
    with Session(get_engine(settings)) as session:
        rows = session.exec(query).all()
    records = []
    for row in reversed(rows):
        probabilities = json.loads(row.probabilities_json)
        members = json.loads(row.members_json)
        record = {"bar_time": pd.Timestamp(row.bar_time, tz="UTC") if row.bar_time.tzinfo is None
                  else pd.Timestamp(row.bar_time), "symbol": row.symbol, "timeframe": row.timeframe,
                  "source": row.source, "horizon": row.horizon, "signal": row.signal, "confidence": row.confidence}
        record.update({f"prob_{name}": probabilities.get(name, np.nan) for name in DIRECTION_CLASSES})
        record.update({"close_at_bar": row.close_at_bar, "realised_return": row.realised_return,
                       "outcome": row.outcome, "hit": row.hit, "members": members.get("probabilities", {}),
                       "model_versions": json.loads(row.model_versions_json).get("versions", [])})
        records.append(record)
    columns = ["bar_time", "symbol", "timeframe", "source", "horizon", "signal", "confidence",
               *[f"prob_{n}" for n in DIRECTION_CLASSES], "close_at_bar", "realised_return", "outcome", "hit",
               "members", "model_versions"]
    return pd.DataFrame(records, columns=columns)


def performance(history: pd.DataFrame, window: int = 50) -> pd.DataFrame:
    """Hit rate, Brier score and mean confidence per model and for the ensemble, on resolved predictions.

    Args:
        history: `prediction_history(...)` output.
        window: bars of the rolling columns (`rolling_hit_rate` is the hit rate of the last `window`).

    Returns:
        One row per model ("ensemble" first): `model`, `n`, `hit_rate`, `brier`, `mean_confidence`,
        `rolling_hit_rate`.
    """
    resolved = history[history["outcome"].notna()] if not history.empty else history
    columns = ["model", "n", "hit_rate", "brier", "mean_confidence", "rolling_hit_rate"]
    if resolved.empty:
        return pd.DataFrame(columns=columns)
    y_true = resolved["outcome"].map(DIRECTION_CLASSES.index).to_numpy(dtype=int)
    probs = {"ensemble": resolved[[f"prob_{n}" for n in DIRECTION_CLASSES]].to_numpy(dtype=float)}
    keys = sorted({key for members in resolved["members"] for key in members})
    for key in keys:
        probs[key] = np.array([[m.get(key, {}).get(n, np.nan) for n in DIRECTION_CLASSES]
                               for m in resolved["members"]], dtype=float)
    rows = []
    for model, p in probs.items():
        known = np.isfinite(p).all(axis=1)
        if not known.any():
            continue
        hits = p[known].argmax(axis=1) == y_true[known]
        rows.append({"model": model, "n": int(known.sum()), "hit_rate": float(hits.mean()),
                     "brier": brier_score(p[known], y_true[known]),
                     "mean_confidence": float(p[known].max(axis=1).mean()),
                     "rolling_hit_rate": float(hits[-window:].mean())})
    return pd.DataFrame(rows, columns=columns)
