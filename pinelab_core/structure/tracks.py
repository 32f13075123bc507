"""Track records split by market regime, and weights learned per regime, point in time.

A call (a prediction, a signal) belongs to the regime the market was in at the bar it was placed at, as known
at that bar's close (`regime_history`, forward-filtered). Splitting a track record by it answers "how does this
model do in a crisis?"; learning a source's weight only from its calls in one regime gives the consensus a
weight per regime, used when the market is in that regime again.

These functions take the outcomes and the regimes as frames and never read the store, so the signal desk and
the Predictions page can use them on what they already loaded; everything is as of the bar they pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.errors import DataValidationError
from pinelab_core.structure.regimes import UNKNOWN, RegimeState, regime_at, regime_history
from pinelab_core.structure.store import store_regimes

__all__ = [
    "MAX_REGIME_BARS", "REGIME_COLUMN", "RegimeTrackRecord", "market_regimes", "regime_track_record",
    "regime_weights", "track_record_by_regime", "weights_in_regime", "with_regime",
]

#: Most bars a page labels with regimes (one HMM fit per 100 bars; calls placed earlier count as "unknown").
MAX_REGIME_BARS = 3_000

#: The column `with_regime` adds.
REGIME_COLUMN = "market_regime"


def with_regime(records: pd.DataFrame, regimes: pd.DataFrame | pd.Series, *, time_column: str = "time") -> pd.DataFrame:
    """`records` with a `market_regime` column: the regime at the last bar at or before each record's time.

    Args:
        records: calls with a UTC time column (a signal's `time`, a prediction's `bar_time`).
        regimes: `regime_history(ohlcv)` (or its `regime` column) on the market the calls were made on.
        time_column: the records' time column.

    Records placed before the first bar, or in bars no fit served yet, get "unknown".
    """
    if time_column not in records:
        raise DataValidationError(f"The records have no {time_column!r} column; pass time_column=... .")
    labels = regimes["regime"] if isinstance(regimes, pd.DataFrame) else regimes
    out = records.copy()
    if out.empty:
        out[REGIME_COLUMN] = pd.Series(dtype=object)
        return out
    times = pd.DatetimeIndex(pd.to_datetime(out[time_column], utc=True))
    position = labels.index.searchsorted(times, side="right") - 1  # the bar the call was placed at (or before)
    known = position >= 0
    values = np.full(len(out), UNKNOWN, dtype=object)
    values[known] = labels.to_numpy(dtype=object)[position[known]]
    out[REGIME_COLUMN] = values
    return out


def track_record_by_regime(records: pd.DataFrame, regimes: pd.DataFrame | pd.Series, *, by: str | None = None,
                           time_column: str = "time", return_column: str = "realised_return",
                           hit_column: str = "hit") -> pd.DataFrame:
    """Resolved calls per regime (and per `by`, e.g. "source" or "model"): count, hit rate, mean and total return.

    Works on `load_outcomes`/`outcomes_as_of` frames (time, realised_return, hit) and on
    `prediction_history` frames (time_column="bar_time"); rows without a realised return are left out.

    Returns:
        Columns [by,] market_regime, calls, hit_rate, mean_return, total_return (compounded), share (of the
        calls of that `by` value); one row per pair with at least one resolved call.
    """
    labelled = with_regime(records, regimes, time_column=time_column)
    resolved = labelled[labelled[return_column].notna()] if return_column in labelled else labelled.iloc[:0]
    if "direction" in resolved:
        resolved = resolved[resolved["direction"] != 0]  # a flat call earns nothing and hits nothing
    keys = [by, REGIME_COLUMN] if by else [REGIME_COLUMN]
    columns = [*keys, "calls", "hit_rate", "mean_return", "total_return", "share"]
    if resolved.empty:
        return pd.DataFrame(columns=columns)
    returns = resolved[return_column].astype(float)
    hits = resolved[hit_column].astype(float) if hit_column in resolved else (returns > 0).astype(float)
    grouped = pd.DataFrame({**{k: resolved[k] for k in keys}, "r": returns, "hit": hits}).groupby(keys, sort=True)
    table = grouped.agg(calls=("r", "size"), hit_rate=("hit", "mean"), mean_return=("r", "mean")).reset_index()
    table["total_return"] = grouped["r"].apply(lambda r: float(np.expm1(np.log1p(r).sum()))).to_numpy()
    totals = table.groupby(by)["calls"].transform("sum") if by else table["calls"].sum()
    table["share"] = table["calls"] / totals
    return table[columns]


def regime_weights(outcomes: pd.DataFrame, regimes: pd.DataFrame | pd.Series,
                   learn: Callable[[pd.DataFrame], Mapping[str, float]], *, at: pd.Timestamp | None = None,
                   time_column: str = "time") -> dict[str, dict[str, float]]:
    """Weights learned separately from the calls placed in each regime, as known at bar `at`.

    Args:
        outcomes: tracked calls with `exit_time` (when the outcome became known) and the columns `learn` needs.
        regimes: `regime_history` of the market, computed on bars up to `at` or beyond (it is causal, so
            later bars change none of the regimes at or before `at`).
        learn: outcomes -> {source: weight}, e.g. `lambda o: learn_weights(o, rule, sources)[0]` from
            `pinelab_core.signals.weights` (sources missing from a regime's calls keep its initial weight).
        at: only outcomes whose exit time is at or before it count (default: all given).

    Returns:
        {regime: {source: weight}} for every regime name that has calls, plus "unknown" when some calls were
        placed before the regimes were known; look the current regime up with `regime_at(...).regime`.
    """
    labelled = with_regime(outcomes, regimes, time_column=time_column)
    if at is not None and "exit_time" in labelled:
        labelled = labelled[labelled["exit_time"] <= pd.Timestamp(at)]
    return {str(name): dict(learn(group.drop(columns=[REGIME_COLUMN])))
            for name, group in labelled.groupby(REGIME_COLUMN, sort=True)}


def weights_in_regime(outcomes: pd.DataFrame, regimes: pd.DataFrame | pd.Series,
                      learn: Callable[[pd.DataFrame], Mapping[str, float]], *, at: pd.Timestamp | None = None,
                      time_column: str = "time") -> tuple[str, dict[str, float]]:
    """The regime at bar `at` (default: the last bar of `regimes`) and the weights learned from the calls
    placed in that regime whose outcome was known by `at`: the consensus weights for that bar.

    A regime without resolved calls yet gets `learn` of no outcomes (every source at its initial weight).
    """
    labels = regimes["regime"] if isinstance(regimes, pd.DataFrame) else regimes
    when = labels.index[-1] if at is None else pd.Timestamp(at)
    position = int(labels.index.searchsorted(when, side="right")) - 1
    current = str(labels.iloc[position]) if position >= 0 else UNKNOWN
    per_regime = regime_weights(outcomes, labels.iloc[: position + 1], learn, at=when, time_column=time_column)
    return current, per_regime.get(current) or dict(learn(outcomes.iloc[:0]))


@dataclass(frozen=True)
class RegimeTrackRecord:
    """The regime now and a track record split by regime (see `regime_track_record`).

    Attributes:
        current: the regime at the last bar, as known at its close.
        by_regime: `track_record_by_regime` of the records.
        regimes: the regime of each bar the split used (`regime_history` columns).
    """

    current: RegimeState
    by_regime: pd.DataFrame
    regimes: pd.DataFrame


def market_regimes(ohlcv: pd.DataFrame, *, since: pd.Timestamp | None = None, max_bars: int = MAX_REGIME_BARS,
                   engine: Engine | None = None, symbol: str = "", timeframe: str = "",
                   data_source: str | None = None) -> pd.DataFrame:
    """`regime_history` of the bars from `since` (at most the last `max_bars`), kept in the `market_regime` table
    when an `engine` is given (with `symbol`, `timeframe` and `data_source` naming the market; the data source
    defaults to the frame's provenance, "demo" for simulated bars, as the signal desk keys its calls)."""
    bars = len(ohlcv) if since is None else len(ohlcv) - int(ohlcv.index.searchsorted(pd.Timestamp(since)))
    history = regime_history(ohlcv, last=max(1, min(bars, max_bars, len(ohlcv))))
    if engine is not None:
        origin = data_source if data_source is not None else str(ohlcv.attrs.get("provenance", {}).get("source", ""))
        store_regimes(engine, history, symbol=symbol, timeframe=timeframe, data_source=origin)
    return history


def regime_track_record(ohlcv: pd.DataFrame, records: pd.DataFrame, *, by: str | None = None,
                        time_column: str = "time", max_bars: int = MAX_REGIME_BARS, engine: Engine | None = None,
                        symbol: str = "", timeframe: str = "", data_source: str | None = None) -> RegimeTrackRecord:
    """The current regime and `records` (tracked signals, logged predictions) split by the regime of their bar.

    Args:
        ohlcv: the market the records were made on, up to the bar the page shows.
        records: calls with `time_column`, `realised_return` and `hit` (`load_outcomes`, `prediction_history`).
        by: split each regime further by this column (e.g. "source").
        max_bars: label at most this many of the latest bars; older calls count as "unknown".
        engine, symbol, timeframe, data_source: keep the regimes in the `market_regime` table.
    """
    times = pd.to_datetime(records[time_column], utc=True) if time_column in records and len(records) else None
    since = times.min() if times is not None else ohlcv.index[-1]
    regimes = market_regimes(ohlcv, since=since, max_bars=max_bars, engine=engine, symbol=symbol,
                             timeframe=timeframe, data_source=data_source)
    table = track_record_by_regime(records, regimes, by=by, time_column=time_column)
    return RegimeTrackRecord(regime_at(ohlcv), table, regimes)
