"""The API's answers as pydantic models: what /docs shows, and what the tests hold every answer to.

Answers are rendered by `pinelab_core.insights.payload` in the worker and sent as bytes; these models
describe them (and `tests/test_api.py` validates real answers against them), they are not used to build them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["RESPONSE_MODELS", "ErrorOut"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    ok: bool = False
    error: str  # unauthorized | rate_limited | no_model | no_data | not_served | invalid | busy | unavailable ...
    reason: str
    train: dict[str, str] | None = None  # for no_model: the command (and page) that trains one


class MemberOut(_Out):
    model: str
    weight: float | None
    probabilities: dict[str, float | None]


class CallOut(_Out):
    signal: str
    confidence: float | None
    probabilities: dict[str, float | None]
    agreement: float | None
    horizon: int
    in_sample: bool
    models: list[MemberOut]
    model_versions: list[str]
    weights_source: str
    trained_on: list[str]
    trained_through: str | None
    input_fingerprint: str


class AgentCallOut(_Out):
    agent: str  # "name@vN"
    kind: str  # ppo | a2c | dqn
    role: str  # trend | mean_reversion | "" (a general agent)
    bar_time: str | None
    target: float | None  # the position it wants from the next open, in [-1, 1]
    action: str  # BUY | SELL | FLAT
    confidence: float | None
    in_sample: bool
    trained_through: str | None
    trained_on: str


class ForecastOut(_Out):
    horizon: int
    target_time: str | None
    price: float | None
    lower_price: float | None
    upper_price: float | None
    expected_return: float | None
    lower_return: float | None
    upper_return: float | None
    interval: float | None
    method: str


class ContributionOut(_Out):
    source: str
    weight: float | None
    direction: int
    strength: float | None
    share: float | None
    placed_at: str | None


class ConsensusOut(_Out):
    action: str
    score: float | None
    confidence: float | None
    position_size: float | None
    volatility: float | None
    bar_time: str | None
    contributions: list[ContributionOut]


class RegimeOut(_Out):
    method: str
    bar_time: str | None
    label: str
    trend: str
    volatility: str
    volatility_percentile: float | None
    efficiency_ratio: float | None
    providers: dict[str, dict[str, Any]]


class ContributionValueOut(_Out):
    feature: str
    contribution: float | None
    value: float | None


class ExplanationOut(_Out):
    target_class: str | None = None
    probability: float | None = None
    output_space: str | None = None
    base_value: float | None = None
    output: float | None = None
    in_sample: bool | None = None
    top: list[ContributionValueOut] = []
    other_contributions: float | None = None
    error: str | None = None


class PatternOut(_Out):
    name: str
    function: str
    value: float | None
    direction: str
    description: str
    detector: str
    probability: float | None
    completed: bool | None


class SentimentOut(_Out):
    bar_time: str | None = None
    score: float | None = None
    label: str | None = None
    headlines: int | None = None
    scorer: str | None = None
    demo: bool | None = None
    latest: str | None = None
    latest_at: str | None = None
    error: str | None = None


class SourceCallOut(_Out):
    source: str
    kind: str
    action: str
    direction: int
    strength: float | None
    placed_at: str | None
    counted: bool
    note: str


class TimeframeReadOut(_Out):
    timeframe: str
    bar_time: str | None
    close: float | None
    in_sample: bool
    agreement: float | None
    note: str
    calls: list[SourceCallOut]


class MultiTimeframeOut(_Out):
    symbol: str
    source: str
    as_of: str | None
    timeframes: list[str]
    score: float | None
    agreement: float | None
    action: str
    votes: dict[str, int]
    reads: list[TimeframeReadOut]


class InsightsOut(_Out):
    symbol: str
    timeframe: str
    source: str
    simulated: bool
    data_note: str
    bar_time: str | None
    close: float | None
    call: CallOut
    agents: list[AgentCallOut]
    forecasts: list[ForecastOut]
    consensus: ConsensusOut
    regime: RegimeOut
    explanation: ExplanationOut
    patterns: list[PatternOut]
    chart_model: str | None
    chart_note: str
    sentiment: SentimentOut
    multi_timeframe: MultiTimeframeOut | None


class PricePredictionOut(_Out):
    symbol: str
    timeframe: str
    source: str
    bar_time: str | None
    close: float | None
    horizons: list[int]
    in_sample: bool
    signal: str
    confidence: float | None
    forecasts: list[ForecastOut]


class SourceRecordOut(_Out):
    source: str
    weight: float | None
    signals: int
    resolved: int
    hit_rate: float | None
    mean_return: float | None
    total_return: float | None


class TrackedCallOut(_Out):
    source: str
    placed_at: str | None
    direction: int
    strength: float | None
    horizon: int
    realised_return: float | None
    exit_time: str | None


class SignalsOut(_Out):
    symbol: str
    timeframe: str
    source: str
    bar_time: str | None
    consensus: ConsensusOut
    sources: list[SourceRecordOut]
    recent_calls: list[TrackedCallOut]


class PatternsOut(_Out):
    symbol: str
    timeframe: str
    source: str
    bar_time: str | None
    detectors: list[str]
    chart_model: str | None
    chart_note: str
    patterns: list[PatternOut]


class ModelsOut(_Out):
    counts: dict[str, int]
    active: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    drift: list[dict[str, Any]]


class StatusOut(_Out):
    store: dict[str, Any]
    jobs: dict[str, Any]
    data: dict[str, Any]
    webhook: dict[str, Any]
    api: dict[str, Any]


#: endpoint name -> the model of its 200 answer
RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "insights": InsightsOut, "signals": SignalsOut, "price-prediction": PricePredictionOut,
    "patterns": PatternsOut, "timeframes": MultiTimeframeOut, "models": ModelsOut, "status": StatusOut,
}
