"""Signals: TradingView alerts, rule signals, learned source weights, the consensus and its sizing.

    parse_alert(body, content_type) -> TradingViewAlert      what the webhook accepts
    alert_template() -> str                                   the message to paste into TradingView
    list_alerts(engine, limit=50) -> frame                    received alerts, newest first
    webhook_activity(engine) -> WebhookActivity               accepted / rejected counts, last alert
    SIGNAL_SOURCES, register_source(name, produce, text)      the source registry
    generate_signals(MarketView) -> [Signal]                  every source's calls on a market
    evaluate_signals(signals, ohlcv) -> frame                 outcomes, entered at the next bar's open
    learn_weights(outcomes, WeightRule()) -> weights, path    multiplicative weights with a floor
    outcomes_as_of(outcomes, t) -> frame                      tracked calls as known at bar t's close
    aggregate_signals(...) -> AggregateSignal                 consensus score, confidence, position size
    run_signal_desk(ohlcv, symbol, timeframe, engine=...)     the whole round (point in time), page and CLI
        regimes=True: the HMM regime now and track records by regime; regime_weights=True: weights per regime
    store_consensus(engine, aggregate, data_source)           upsert; never over a newer round's consensus
    signal_feed(engine), filter_feed(feed, symbols=...)        the live feed of alerts and calls
    latest_consensus(engine) -> frame                         the newest consensus of every market

Names load lazily so the webhook sidecar imports only what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "TradingViewAlert": "tradingview", "parse_alert": "tradingview", "alert_template": "tradingview",
    "AlertFieldError": "tradingview", "AlertFormatError": "tradingview",
    "list_alerts": "alerts", "webhook_activity": "alerts", "WebhookActivity": "alerts",
    "Signal": "sources", "MarketView": "sources", "SIGNAL_SOURCES": "sources", "register_source": "sources",
    "generate_signals": "sources", "symbol_key": "sources",
    "RULES": "rules", "market_regime": "regime", "context_frame": "context",
    "WeightRule": "weights", "learn_weights": "weights", "update_weight": "weights",
    "evaluate_signals": "outcomes", "record_signals": "outcomes", "resolve_outcomes": "outcomes",
    "load_outcomes": "outcomes", "load_weights": "outcomes", "source_performance": "outcomes",
    "similar_signals": "outcomes", "SimilarSignals": "outcomes", "outcomes_as_of": "outcomes",
    "AggregateSignal": "aggregate", "Contribution": "aggregate", "SizingRule": "aggregate",
    "aggregate_signals": "aggregate", "position_size": "aggregate",
    "SignalDesk": "desk", "run_signal_desk": "desk", "store_consensus": "desk",
    "signal_feed": "feed", "filter_feed": "feed", "latest_consensus": "feed",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinelab_core.signals' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinelab_core.signals.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
