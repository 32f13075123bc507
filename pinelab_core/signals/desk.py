"""The signal desk: one call that does a market's whole signal round, for the page and the CLI.

Generate every source's signals, track them, judge the ones whose horizon passed (which moves the
learned weights), fuse the latest calls into the consensus and store it. Everything it returns for the
frame's last bar t is point in time: weights, track records and the consensus use only the outcomes
whose exit time is at or before t, so replaying a past bar after later history gives the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.signals.aggregate import AggregateSignal, SizingRule, aggregate_signals
from pinelab_core.signals.outcomes import (
    SimilarSignals,
    load_outcomes,
    outcomes_as_of,
    record_signals,
    resolve_outcomes,
    similar_signals,
    source_performance,
)
from pinelab_core.signals.sources import SIGNAL_SOURCES, MarketView, generate_signals
from pinelab_core.signals.weights import WeightRule, learn_weights
from pinelab_core.store.tables import AggregatedSignalRow
from pinelab_core.structure.tracks import RegimeTrackRecord, regime_track_record, weights_in_regime
from pinelab_core.types import Timeframe

__all__ = ["SignalDesk", "run_signal_desk", "store_consensus"]

_CONSENSUS = AggregatedSignalRow.__table__  # type: ignore[attr-defined]
_CONSENSUS_KEY = ("data_source", "symbol", "timeframe", "time")


@dataclass(frozen=True)
class SignalDesk:
    """Everything the Signals page shows about one market."""

    aggregate: AggregateSignal
    signals: pd.DataFrame  # tracked signals on this market as of the last bar: the feed and the chart markers
    performance: pd.DataFrame  # per source, as of the last bar: weight, signals, resolved, hit rate, returns
    weight_path: pd.DataFrame  # exit_time, source, weight: how the weights got where they are by the last bar
    similar: dict[str, SimilarSignals]  # per active source: how its like-for-like calls did
    regime: RegimeTrackRecord | None = None  # the HMM regime now and each source's record per regime (regimes=True)
    weights_regime: str | None = None  # the regime whose calls taught the consensus weights (regime_weights=True)


def run_signal_desk(
    ohlcv: pd.DataFrame,
    symbol: str,
    timeframe: str,
    *,
    engine: Engine,
    settings: Settings | None = None,
    sources: list[str] | None = None,
    horizon: int = 5,
    weight_rule: WeightRule = WeightRule(),
    sizing: SizingRule = SizingRule(),
    data_source: str | None = None,
    regimes: bool = False,
    regime_weights: bool = False,
) -> SignalDesk:
    """Run one market's signal round and return what a trader needs to see.

    Args:
        ohlcv: the market (the OHLCV frame contract); signals are judged on it, bar t+1's open onwards.
        symbol, timeframe: the market's name and bar size (tracked signals are keyed by them).
        engine: the store (alerts, predictions, tracked signals, weights).
        sources: source names from `SIGNAL_SOURCES` (all by default).
        horizon: bars each signal is held before it is judged.
        data_source: where the bars come from; by default the frame's provenance ("demo", "yahoo", ...).
            Tracked calls and learned weights are kept per data source, symbol and timeframe, so calls
            judged on simulated bars never move the weights used on the real market.
        regimes: also find the HMM regime of every bar the tracked calls were placed at (kept in the
            `market_regime` table) and split each source's track record by it.
        regime_weights: fuse with weights learned only from the calls placed in the current regime (implies
            `regimes`); the weight path shown stays the one learned from every call.
    """
    names = list(SIGNAL_SOURCES) if sources is None else sources
    tf = Timeframe.parse(timeframe).value
    inputs_at = datetime.now(UTC)  # before anything is read: a later round's consensus is never replaced by this one
    view = MarketView.build(ohlcv, symbol, tf, horizon=horizon, engine=engine, settings=settings)
    origin = data_source if data_source is not None else str(ohlcv.attrs.get("provenance", {}).get("source", ""))
    signals = generate_signals(view, names)
    record_signals(engine, signals, data_source=origin)
    resolve_outcomes(engine, ohlcv, symbol, tf, weight_rule, data_source=origin)
    at = ohlcv.index[-1]
    # Point in time: what was known at this bar's close, whatever later history the store has processed.
    known = outcomes_as_of(load_outcomes(engine, symbol=symbol, timeframe=tf, sources=names, data_source=origin), at)
    weights, path = learn_weights(known, weight_rule, names)
    regime, weights_regime = None, None
    if regimes or regime_weights:
        regime = regime_track_record(ohlcv, known, by="source", engine=engine, symbol=symbol, timeframe=tf,
                                     data_source=origin)
    if regime is not None and regime_weights:
        weights_regime, weights = weights_in_regime(known, regime.regimes, lambda o: learn_weights(
            o, weight_rule, names)[0], at=at)
    aggregate = aggregate_signals(signals, weights, ohlcv, symbol=symbol, timeframe=tf, at=at, rule=sizing,
                                  track_record=known)
    store_consensus(engine, aggregate, origin, inputs_at=inputs_at)
    similar = {c.source: similar_signals(known, next(s for s in reversed(signals)
                                                     if s.source == c.source and s.time == c.time))
               for c in aggregate.contributions if c.time is not None}
    return SignalDesk(aggregate, known, source_performance(known, weights), path, similar, regime, weights_regime)


def store_consensus(engine: Engine, aggregate: AggregateSignal, data_source: str, *,
                    inputs_at: datetime | None = None) -> bool:
    """Upsert the consensus row of its market and bar; returns False when a newer one was kept instead.

    One row per market and bar (a page refresh updates it, never duplicates it). A row is replaced only
    by a consensus whose inputs were read at least as late (`inputs_at`, default now): a slow round that
    started before an alert arrived never overwrites the consensus of a round that saw the alert.
    """
    contributions = {c.source: {"weight": c.weight, "direction": c.direction, "strength": c.strength,
                                "share": c.share} for c in aggregate.contributions}
    values = {"data_source": data_source, "symbol": aggregate.symbol, "timeframe": aggregate.timeframe,
              "time": aggregate.time.to_pydatetime(), "score": aggregate.score, "confidence": aggregate.confidence,
              "position_size": aggregate.position_size, "action": aggregate.action.value,
              "contributions_json": json.dumps(contributions), "created_at": datetime.now(UTC),
              "inputs_at": inputs_at or datetime.now(UTC)}
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_CONSENSUS).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["data_source", "symbol", "timeframe", "time"],
        set_={name: statement.excluded[name] for name in values if name not in _CONSENSUS_KEY},
        where=_CONSENSUS.c.inputs_at <= statement.excluded.inputs_at,
    ).returning(_CONSENSUS.c.id)
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None
