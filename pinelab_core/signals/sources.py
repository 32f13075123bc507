"""Signal sources by name: each turns a market (OHLCV + context) into directional `Signal`s.

The registry holds the rule signals (rsi, macd, bollinger, candlestick), TradingView alerts, the
model ensemble's logged predictions, news sentiment and chart-pattern breakouts. Add one (the RL agent, say) with
`register_source(name, producer, description)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.signals.regime import market_regime
from pinelab_core.signals.rules import RULES
from pinelab_core.store.tables import PredictionRow, TradingViewAlertRow
from pinelab_core.types import Timeframe, symbol_key

__all__ = [
    "SIGNAL_SOURCES",
    "MarketView",
    "Signal",
    "SignalSource",
    "generate_signals",
    "register_source",
    "symbol_key",
]


@dataclass(frozen=True)
class Signal:
    """One source's directional call, placed at the close of bar `time` (filled from the next open)."""

    source: str
    symbol: str
    timeframe: str
    time: pd.Timestamp
    direction: int  # +1 buy, -1 sell, 0 flat
    strength: float = 1.0  # conviction in [0, 1]
    horizon: int = 5  # bars until it is judged
    regime: str = ""
    price: float | None = None  # the close of bar `time`
    ref_id: int | None = None  # the alert or prediction row it came from


@dataclass(frozen=True)
class MarketView:
    """What a source sees: the market, its regime per bar, and (for stored sources) the store."""

    symbol: str
    timeframe: str
    ohlcv: pd.DataFrame
    regime: pd.Series
    horizon: int = 5
    engine: Engine | None = None
    settings: Settings | None = None

    @classmethod
    def build(cls, ohlcv: pd.DataFrame, symbol: str, timeframe: str, **kwargs: object) -> MarketView:
        return cls(symbol, Timeframe.parse(timeframe).value, ohlcv, market_regime(ohlcv), **kwargs)  # type: ignore[arg-type]


Producer = Callable[[MarketView], list[Signal]]


@dataclass(frozen=True)
class SignalSource:
    name: str
    produce: Producer
    description: str


SIGNAL_SOURCES: dict[str, SignalSource] = {}


def register_source(name: str, produce: Producer, description: str) -> None:
    """Add (or replace) a signal source under a short name."""
    SIGNAL_SOURCES[name] = SignalSource(name, produce, description)


def generate_signals(view: MarketView, sources: list[str] | None = None) -> list[Signal]:
    """Every signal of the chosen sources (all registered by default) over the view's bars."""
    names = list(SIGNAL_SOURCES) if sources is None else sources
    unknown = [n for n in names if n not in SIGNAL_SOURCES]
    if unknown:
        raise DataValidationError(f"Unknown signal source(s) {unknown}. Known: {', '.join(SIGNAL_SOURCES)}.")
    signals: list[Signal] = []
    for name in names:
        signals.extend(SIGNAL_SOURCES[name].produce(view))
    return signals


# --- the built-in sources -----------------------------------------------------------------------


def _rule_producer(rule: str) -> Producer:
    def produce(view: MarketView) -> list[Signal]:
        fired = RULES[rule](view.ohlcv)
        closes = view.ohlcv["close"].reindex(fired.index)
        regimes = view.regime.reindex(fired.index)
        return [
            Signal(rule, view.symbol, view.timeframe, when, int(d), float(s), view.horizon, str(r), float(c))
            for when, d, s, r, c in zip(fired.index, fired["direction"], fired["strength"], regimes, closes,
                                        strict=True)
        ]

    return produce


_POSITION = {"long": 1, "short": -1, "flat": 0}
_ACTION = {"BUY": 1, "SELL": -1}


def _tradingview_alerts(view: MarketView) -> list[Signal]:
    """Alerts on this market, each placed at the bar in progress when it arrived (never earlier)."""
    if view.engine is None or view.ohlcv.empty:
        return []
    key = symbol_key(view.symbol)
    first = view.ohlcv.index[0].to_pydatetime()
    with Session(view.engine) as session:
        rows = session.exec(select(TradingViewAlertRow).where(col(TradingViewAlertRow.received_at) >= first)).all()
    bar = Timeframe.parse(view.timeframe).offset
    end = view.ohlcv.index[-1] + bar
    signals = []
    for row in rows:
        if symbol_key(row.ticker) != key:
            continue
        received = pd.Timestamp(row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC))
        if received >= end:  # the data does not reach this alert's bar yet
            continue
        position = int(view.ohlcv.index.searchsorted(received, side="right")) - 1
        when = view.ohlcv.index[position]
        # The strategy's position after the order is the call; a bare action when there is none.
        direction = _POSITION.get(row.market_position, _ACTION.get(row.action, 0))
        signals.append(Signal("tradingview", view.symbol, view.timeframe, when, direction, 1.0, view.horizon,
                              str(view.regime.iloc[position]), float(view.ohlcv["close"].iloc[position]), row.id))
    return signals


def _ensemble_predictions(view: MarketView) -> list[Signal]:
    """The model ensemble's logged live predictions for this market and bar size (the `prediction` table).

    Rows flagged in-sample (a past bar, or one inside the models' training range) are never a live call.
    """
    if view.engine is None or view.ohlcv.empty:
        return []
    first = view.ohlcv.index[0].to_pydatetime()
    with Session(view.engine) as session:
        rows = session.exec(select(PredictionRow).where(PredictionRow.timeframe == view.timeframe,
                                                        col(PredictionRow.bar_time) >= first,
                                                        col(PredictionRow.in_sample).is_(False))).all()
    key = symbol_key(view.symbol)
    signals = []
    for row in rows:
        bar_time = pd.Timestamp(row.bar_time if row.bar_time.tzinfo else row.bar_time.replace(tzinfo=UTC))
        position = int(view.ohlcv.index.searchsorted(bar_time, side="right")) - 1
        if symbol_key(row.symbol) != key or position < 0 or view.ohlcv.index[position] != bar_time:
            continue
        direction = _ACTION.get(row.signal.upper(), 0)
        signals.append(Signal("ensemble", view.symbol, view.timeframe, bar_time, direction,
                              float(min(max(row.confidence, 0.0), 1.0)), row.horizon or view.horizon,
                              str(view.regime.iloc[position]), float(view.ohlcv["close"].iloc[position]), row.id))
    return signals


def _sentiment(view: MarketView) -> list[Signal]:
    """News sentiment: at each bar where a headline starts to count (the bar after it was published), the sign
    of the daily score (see `sentiment.sentiment_calls`). Demo markets use the shipped demo headlines."""
    if view.engine is None or view.ohlcv.empty:
        return []
    from pinelab_core.sentiment import market_headlines, sentiment_calls

    _, headlines = market_headlines(view.engine, view.symbol, view.settings)
    calls = sentiment_calls(view.ohlcv, headlines)
    positions = view.ohlcv.index.get_indexer(calls.index)
    closes, regimes = view.ohlcv["close"].to_numpy(), view.regime.to_numpy()
    return [Signal("sentiment", view.symbol, view.timeframe, when, int(d), float(s), view.horizon,
                   str(regimes[p]), float(closes[p]))
            for when, d, s, p in zip(calls.index, calls["direction"], calls["strength"], positions, strict=True)]


#: Bars a pattern round scans (newest first); older detections were recorded by the rounds that saw them.
PATTERN_SIGNAL_BARS = 300
#: Probability at which a detected pattern becomes a call.
PATTERN_SIGNAL_THRESHOLD = 0.5


def _chart_patterns(view: MarketView) -> list[Signal]:
    """Breakout calls of the chart-pattern model: each detection at the bar its pattern completed.

    Direction is the breakout the pattern implies (a symmetrical triangle: the way it broke), strength the
    pattern's probability. No pattern model trained yet: no calls (the source stays silent, never guesses).
    """
    from pinelab_core.errors import ModelNotFoundError
    from pinelab_core.patterns.detect import cached_pattern_model, pattern_events, scan_patterns

    if view.settings is None or view.ohlcv.empty:
        return []
    try:
        model = cached_pattern_model(view.settings)
    except ModelNotFoundError:
        return []
    events = pattern_events(scan_patterns(view.ohlcv, model, last=PATTERN_SIGNAL_BARS), PATTERN_SIGNAL_THRESHOLD)
    positions = view.ohlcv.index.get_indexer(pd.DatetimeIndex(events["time"]))
    return [Signal("patterns", view.symbol, view.timeframe, view.ohlcv.index[p], int(d), float(prob),
                   view.horizon, str(view.regime.iloc[p]), float(view.ohlcv["close"].iloc[p]))
            for p, d, prob in zip(positions, events["direction"], events["probability"], strict=True) if d != 0]


for _rule, _text in {
    "rsi": "RSI(14) back above 30 buys, back below 70 sells",
    "macd": "MACD crossing its signal line",
    "bollinger": "close re-entering the Bollinger bands (20, 2)",
    "candlestick": "net vote of TA-Lib candlestick patterns",
}.items():
    register_source(_rule, _rule_producer(_rule), _text)
register_source("tradingview", _tradingview_alerts, "your TradingView alerts received by the webhook")
register_source("ensemble", _ensemble_predictions, "the model ensemble's logged predictions (when trained)")
register_source("sentiment", _sentiment, "news headline sentiment, from the bar after publication")
#: The RL desk's sources: source name -> agent role. Registered here, so every process's consensus counts them.
AGENT_SOURCES: dict[str, str] = {"agent": "", "agent:trend": "trend", "agent:mean_reversion": "mean_reversion"}


def _agent_producer(role: str, source: str) -> Callable[[MarketView], list[Signal]]:
    def produce(view: MarketView) -> list[Signal]:
        from pinelab_core.rl.sources import agent_signals

        return agent_signals(view, role, source)

    return produce


for _source, _role in AGENT_SOURCES.items():
    register_source(_source, _agent_producer(_role, _source),
                    f"the active {_role.replace('_', '-') + ' ' if _role else ''}RL agent's calls (when one is active)")
register_source("patterns", _chart_patterns, "breakouts of chart patterns found by the pattern CNN (when trained)")
