"""The signal desk: one call that does a market's whole signal round, for the page and the CLI.

Generate every source's signals, track them, judge the ones whose horizon passed (which moves the
learned weights), fuse the latest calls into the consensus and store it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.signals.aggregate import AggregateSignal, SizingRule, aggregate_signals
from pinelab_core.signals.outcomes import (
    SimilarSignals,
    load_outcomes,
    load_weights,
    record_signals,
    resolve_outcomes,
    similar_signals,
    source_performance,
)
from pinelab_core.signals.sources import SIGNAL_SOURCES, MarketView, generate_signals
from pinelab_core.signals.weights import WeightRule, learn_weights
from pinelab_core.store.tables import AggregatedSignalRow
from pinelab_core.types import Timeframe

__all__ = ["SignalDesk", "run_signal_desk"]


@dataclass(frozen=True)
class SignalDesk:
    """Everything the Signals page shows about one market."""

    aggregate: AggregateSignal
    signals: pd.DataFrame  # every tracked signal on this market: the feed and the chart markers
    performance: pd.DataFrame  # per source: weight, signals, resolved, hit rate, returns
    weight_path: pd.DataFrame  # exit_time, source, weight: how the weights got where they are
    similar: dict[str, SimilarSignals]  # per active source: how its like-for-like calls did


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
    """
    names = list(SIGNAL_SOURCES) if sources is None else sources
    tf = Timeframe.parse(timeframe).value
    view = MarketView.build(ohlcv, symbol, tf, horizon=horizon, engine=engine, settings=settings)
    origin = data_source if data_source is not None else str(ohlcv.attrs.get("provenance", {}).get("source", ""))
    signals = generate_signals(view, names)
    record_signals(engine, signals, data_source=origin)
    resolve_outcomes(engine, ohlcv, symbol, tf, weight_rule, data_source=origin)
    weights = load_weights(engine, names, weight_rule, symbol=symbol, timeframe=tf, data_source=origin)
    outcomes = load_outcomes(engine, symbol=symbol, timeframe=tf, sources=names, data_source=origin)
    aggregate = aggregate_signals(signals, weights, ohlcv, symbol=symbol, timeframe=tf, rule=sizing,
                                  track_record=outcomes)
    _store_aggregate(engine, aggregate, origin)
    _, path = learn_weights(outcomes, weight_rule, names)
    similar = {c.source: similar_signals(outcomes, next(s for s in reversed(signals)
                                                        if s.source == c.source and s.time == c.time))
               for c in aggregate.contributions if c.time is not None}
    return SignalDesk(aggregate, outcomes, source_performance(outcomes, weights), path, similar)


def _store_aggregate(engine: Engine, aggregate: AggregateSignal, data_source: str) -> None:
    """Keep one consensus row per market and bar (a page refresh updates it, never duplicates it)."""
    when = aggregate.time.to_pydatetime()
    contributions = {c.source: {"weight": c.weight, "direction": c.direction, "strength": c.strength,
                                "share": c.share} for c in aggregate.contributions}
    with Session(engine) as session:
        row = session.exec(select(AggregatedSignalRow).where(
            AggregatedSignalRow.data_source == data_source, AggregatedSignalRow.symbol == aggregate.symbol,
            AggregatedSignalRow.timeframe == aggregate.timeframe, AggregatedSignalRow.time == when)).first()
        if row is None:
            row = AggregatedSignalRow(data_source=data_source, symbol=aggregate.symbol, timeframe=aggregate.timeframe,
                                      time=when, score=0.0, confidence=0.0, position_size=0.0, action="HOLD")
        row.score, row.confidence = aggregate.score, aggregate.confidence
        row.position_size, row.action = aggregate.position_size, aggregate.action.value
        row.contributions_json = json.dumps(contributions)
        session.add(row)
        session.commit()
