"""The JSON the insights API answers with, built field by field from the typed records.

Each field is named here on purpose (never "every attribute of the dataclass"), so the API's shape changes
only when this module does. Times are ISO 8601 UTC strings, NaN and infinities are null.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from pinelab_core.insights.market import MarketInsights
from pinelab_core.insights.patterns import ChartPatternRead, PatternHit
from pinelab_core.insights.regime import Regime
from pinelab_core.insights.timeframes import MultiTimeframeView, SourceCall, TimeframeRead

if TYPE_CHECKING:
    from pinelab_core.explain import Explanation
    from pinelab_core.models.ensemble import Forecast, Prediction
    from pinelab_core.rl.calls import AgentCall
    from pinelab_core.sentiment.service import SentimentRead
    from pinelab_core.signals.aggregate import AggregateSignal
    from pinelab_core.signals.desk import SignalDesk

__all__ = [
    "agent_json", "chart_model_json", "consensus_json", "explanation_json", "forecasts_json", "insights_payload",
    "number", "patterns_payload", "prediction_json", "regime_json", "sentiment_json", "signals_payload", "stamp",
    "view_json",
]


def stamp(value: Any) -> str | None:
    """ISO 8601 (UTC) or None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    moment = pd.Timestamp(value)
    return (moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")).isoformat()


def number(value: Any) -> float | None:
    """A finite float or None (JSON has no NaN)."""
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def insights_payload(insights: MarketInsights, top: int = 10) -> dict[str, Any]:
    """The whole read of a market: the Predictions page (and the consensus, regime, SHAP, patterns) as JSON."""
    p = insights.prediction
    provenance = insights.provenance
    return {
        "symbol": insights.symbol, "timeframe": insights.timeframe, "source": insights.source,
        "simulated": bool(provenance.get("simulated", False)), "data_note": str(provenance.get("note", "")),
        "bar_time": stamp(p.bar_time), "close": number(p.close),
        "call": prediction_json(p),
        "agents": [agent_json(a) for a in insights.agents],
        "forecasts": forecasts_json(p.forecasts),
        "consensus": consensus_json(insights.desk.aggregate),
        "regime": regime_json(insights.regime),
        "explanation": explanation_json(insights.explanation, top) if insights.explanation is not None
        else {"error": insights.explanation_error},
        "patterns": [pattern_json(hit) for hit in insights.patterns], **chart_model_json(insights.chart_patterns),
        "sentiment": sentiment_json(insights.sentiment) if insights.sentiment is not None
        else {"error": insights.sentiment_error},
        "multi_timeframe": view_json(insights.multi_timeframe) if insights.multi_timeframe is not None else None,
    }


def prediction_json(p: Prediction) -> dict[str, Any]:
    """The ensemble's call: the fields of `pinelab predict --json` except the forecasts (given on their own)."""
    return {
        "signal": p.signal.value, "confidence": number(p.confidence),
        "probabilities": {k: number(v) for k, v in p.probabilities.items()},
        "agreement": number(p.agreement), "horizon": int(p.horizon), "in_sample": bool(p.in_sample),
        "models": [{"model": key, "weight": number(p.weights.get(key)),
                    "probabilities": {k: number(v) for k, v in probabilities.items()}}
                   for key, probabilities in p.models.items()],
        "model_versions": list(p.model_versions), "weights_source": p.weights_source,
        "trained_on": list(p.trained_on), "trained_through": stamp(p.trained_through),
        "input_fingerprint": p.input_fingerprint,
    }


def agent_json(a: AgentCall) -> dict[str, Any]:
    """An active RL agent's call: the entries of `pinelab predict --json`'s "agents" list."""
    return {"agent": a.agent, "kind": a.kind, "role": a.role, "bar_time": stamp(a.bar_time), "target": number(a.target),
            "action": a.action, "confidence": number(a.confidence), "in_sample": bool(a.in_sample),
            "trained_through": stamp(a.trained_through), "trained_on": a.trained_on}


def forecasts_json(forecasts: Iterable[Forecast], horizons: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The quantile price forecasts (median and interval), optionally only these horizons."""
    wanted = None if horizons is None else set(horizons)
    return [{"horizon": int(f.horizon), "target_time": stamp(f.target_time), "price": number(f.price),
             "lower_price": number(f.lower_price), "upper_price": number(f.upper_price),
             "expected_return": number(f.expected_return), "lower_return": number(f.lower_return),
             "upper_return": number(f.upper_return), "interval": number(f.interval), "method": f.method}
            for f in forecasts if wanted is None or int(f.horizon) in wanted]


def consensus_json(a: AggregateSignal) -> dict[str, Any]:
    """The desk's consensus and each source's part of it (share: its contribution to the score)."""
    return {
        "action": a.action.value, "score": number(a.score), "confidence": number(a.confidence),
        "position_size": number(a.position_size), "volatility": number(a.volatility), "bar_time": stamp(a.time),
        "contributions": [{"source": c.source, "weight": number(c.weight), "direction": int(c.direction),
                           "strength": number(c.strength), "share": number(c.share), "placed_at": stamp(c.time)}
                          for c in a.contributions],
    }


def signals_payload(desk: SignalDesk, *, symbol: str, timeframe: str, source: str, recent: int = 20) -> dict[str, Any]:
    """The consensus, each source's track record (point in time) and the latest tracked calls."""
    performance = desk.performance
    calls = desk.signals.sort_values("time").tail(recent)
    return {
        "symbol": symbol, "timeframe": timeframe, "source": source, "bar_time": stamp(desk.aggregate.time),
        "consensus": consensus_json(desk.aggregate),
        "sources": [{"source": str(row.source), "weight": number(row.weight), "signals": int(row.signals),
                     "resolved": int(row.resolved), "hit_rate": number(row.hit_rate),
                     "mean_return": number(row.mean_return), "total_return": number(row.total_return)}
                    for row in performance.itertuples(index=False)],
        "recent_calls": [{"source": str(row.source), "placed_at": stamp(row.time), "direction": int(row.direction),
                          "strength": number(row.strength), "horizon": int(row.horizon),
                          "realised_return": number(row.realised_return), "exit_time": stamp(row.exit_time)}
                         for row in calls.itertuples(index=False)],
    }


def regime_json(regime: Regime) -> dict[str, Any]:
    return {"method": regime.method, "bar_time": stamp(regime.bar_time), "label": regime.label,
            "trend": regime.trend, "volatility": regime.volatility,
            "volatility_percentile": number(regime.volatility_percentile),
            "efficiency_ratio": number(regime.efficiency_ratio), "providers": regime.providers}


def explanation_json(e: Explanation, top: int = 10) -> dict[str, Any]:
    """The top SHAP contributions (largest |value| first) with each feature's value at the bar."""
    contributions = list(e.contributions.items())[:top]
    return {"target_class": e.target_class, "probability": number(e.probability), "output_space": e.output_space,
            "base_value": number(e.base_value), "output": number(e.output), "in_sample": bool(e.in_sample),
            "top": [{"feature": name, "contribution": number(value), "value": number(e.feature_values.get(name))}
                    for name, value in contributions],
            "other_contributions": number(sum(v for _, v in list(e.contributions.items())[top:]))}


def pattern_json(hit: PatternHit) -> dict[str, Any]:
    return {"name": hit.name, "function": hit.function, "value": number(hit.value), "direction": hit.direction,
            "description": hit.description, "detector": hit.detector, "probability": number(hit.probability),
            "completed": hit.completed}


def patterns_payload(bar_time: pd.Timestamp, hits: list[PatternHit], chart: ChartPatternRead, *, symbol: str,
                     timeframe: str, source: str) -> dict[str, Any]:
    """TA-Lib's candlestick hits, then the chart-pattern model's (`chart_model` None: none registered yet)."""
    return {"symbol": symbol, "timeframe": timeframe, "source": source, "bar_time": stamp(bar_time),
            "detectors": ["talib", "cnn"] if chart.model else ["talib"],
            **chart_model_json(chart), "patterns": [pattern_json(hit) for hit in (*hits, *chart.hits)]}


def sentiment_json(read: SentimentRead) -> dict[str, Any]:
    """The news sentiment the bar counts, and the scorer that produced it."""
    return {"bar_time": stamp(read.bar_time), "score": number(read.score), "label": read.label,
            "headlines": read.headlines, "scorer": read.scorer, "demo": read.demo, "latest": read.latest,
            "latest_at": stamp(read.latest_at)}


def chart_model_json(chart: ChartPatternRead) -> dict[str, Any]:
    return {"chart_model": chart.model, "chart_note": chart.note}


def view_json(view: MultiTimeframeView) -> dict[str, Any]:
    """The timeframe-by-source grid: one entry per timeframe with its calls, and the agreement over all."""
    return {"symbol": view.symbol, "source": view.source, "as_of": stamp(view.as_of),
            "timeframes": view.timeframes, "score": number(view.score), "agreement": number(view.agreement),
            "action": view.action, "votes": dict(view.votes),
            "reads": [_read_json(read) for read in view.reads]}


def _read_json(read: TimeframeRead) -> dict[str, Any]:
    return {"timeframe": read.timeframe, "bar_time": stamp(read.bar_time), "close": number(read.close),
            "in_sample": read.in_sample, "agreement": number(read.agreement), "note": read.note,
            "calls": [_call_json(c) for c in read.calls]}


def _call_json(call: SourceCall) -> dict[str, Any]:
    return {"source": call.source, "kind": call.kind, "action": call.action, "direction": call.direction,
            "strength": number(call.strength), "placed_at": stamp(call.placed_at), "counted": call.counted,
            "note": call.note}
