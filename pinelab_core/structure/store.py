"""The `market_regime` table: the regime of each bar as known at its close, kept per market.

Pages and the signal desk compute regimes with `regime_history` (causal, so a bar's regime never changes once
its bar has closed) and keep them here, so a track record, a report or another process can read the regime a
call was placed in without refitting an HMM. Writes are upserts keyed by (data source, symbol, timeframe, bar):
two processes storing the same market store the same rows, once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pinelab_core.store.tables import MarketRegimeRow
from pinelab_core.structure.regimes import PROBABILITY_COLUMNS, REGIME_NAMES, UNKNOWN

__all__ = ["load_regimes", "store_regimes"]

_TABLE = MarketRegimeRow.__table__  # type: ignore[attr-defined]
_KEY = ("data_source", "symbol", "timeframe", "time")
_CHUNK = 2_000  # rows per statement: well under SQLite's bound-parameter limit at 8 columns


def store_regimes(engine: Engine, history: pd.DataFrame, *, symbol: str, timeframe: str,
                  data_source: str = "") -> int:
    """Upsert the known regimes of `history` (`regime_history(ohlcv)`); returns the rows written.

    Rows already stored with the same values are not written again (a page refresh re-reads the same thousands
    of bars); a bar whose values differ (a newer PineLab computing it differently) is updated.

    Args:
        engine: the store.
        history: a `regime_history` frame; bars still "unknown" (before the first fit) are not stored.
        symbol, timeframe: the market.
        data_source: where the bars came from ("demo", "yahoo", ...): regimes of simulated bars stay apart.
    """
    known = history[history["regime"] != UNKNOWN]
    if known.empty:
        return 0
    now = datetime.now(UTC)
    probabilities = known[list(PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64)
    rows = [{"data_source": data_source, "symbol": symbol, "timeframe": timeframe, "time": time.to_pydatetime(),
             "regime": str(regime), "probability": float(probability), "n_states": int(n_states),
             "probabilities_json": json.dumps(dict(zip(REGIME_NAMES, map(float, p), strict=True))),
             "created_at": now}
            for time, regime, probability, n_states, p in zip(known.index, known["regime"], known["probability"],
                                                               known["n_states"], probabilities, strict=True)]
    rows = _changed(engine, rows, symbol=symbol, timeframe=timeframe, data_source=data_source)
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as connection:
        for start in range(0, len(rows), _CHUNK):
            statement = dialect.insert(_TABLE).values(rows[start : start + _CHUNK])
            # Same bars, same regime: an update only refreshes values a newer PineLab may compute differently.
            statement = statement.on_conflict_do_update(
                index_elements=list(_KEY),
                set_={name: statement.excluded[name] for name in ("regime", "probability", "n_states",
                                                                  "probabilities_json", "created_at")})
            connection.execute(statement)
    return len(rows)


_VALUES = ("regime", "probability", "n_states", "probabilities_json")


def _changed(engine: Engine, rows: list[dict[str, object]], *, symbol: str, timeframe: str,
             data_source: str) -> list[dict[str, object]]:
    """The rows whose bar is not stored yet, or stored with other values."""
    times = [row["time"] for row in rows]
    query = select(_TABLE.c.time, *(_TABLE.c[name] for name in _VALUES)).where(
        _TABLE.c.data_source == data_source, _TABLE.c.symbol == symbol, _TABLE.c.timeframe == timeframe,
        _TABLE.c.time >= min(times), _TABLE.c.time <= max(times))  # type: ignore[type-var]
    with engine.connect() as connection:
        stored = {_utc(r[0]): tuple(r[1:]) for r in connection.execute(query).all()}
    if not stored:
        return rows
    return [row for row in rows if stored.get(_utc(row["time"])) != tuple(row[name] for name in _VALUES)]


def _utc(moment: object) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def load_regimes(engine: Engine, *, symbol: str, timeframe: str, data_source: str = "",
                 start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Stored regimes of one market, oldest first: `regime`, `probability`, `n_states` and `p_<regime>` columns
    on a UTC time index (the `regime_history` columns the track records use)."""
    query = select(_TABLE).where(_TABLE.c.data_source == data_source, _TABLE.c.symbol == symbol,
                                 _TABLE.c.timeframe == timeframe).order_by(_TABLE.c.time)
    if start is not None:
        query = query.where(_TABLE.c.time >= pd.Timestamp(start).to_pydatetime())
    if end is not None:
        query = query.where(_TABLE.c.time <= pd.Timestamp(end).to_pydatetime())
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    index = pd.DatetimeIndex([pd.Timestamp(r["time"]) for r in rows], name="time")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")  # SQLite returns naive UTC
    frame = pd.DataFrame({"regime": [r["regime"] for r in rows],
                          "probability": [r["probability"] for r in rows],
                          "n_states": [r["n_states"] for r in rows]}, index=index)
    stored = [json.loads(r["probabilities_json"]) for r in rows]
    for name, column in zip(REGIME_NAMES, PROBABILITY_COLUMNS, strict=True):
        frame[column] = [p.get(name, np.nan) for p in stored]
    return frame
