"""Insights: one market read the way the pages read it, on one timeframe or across several.

    market_insights(symbol, timeframe, source, settings) -> MarketInsights   the Predictions page in one record:
        the ensemble's call, forecasts, the desk's consensus, the regime, top SHAP contributions, patterns, sentiment
    multi_timeframe_view(symbol, "15m,1h,4h,1d", source, settings, as_of=None) -> MultiTimeframeView
        every model's, the ensemble's and each signal source's call per timeframe at its latest closed bar,
        with an agreement score; .grid() is the timeframe-by-source table of the Predictions page
    current_regime(ohlcv) -> Regime; register_regime_provider(name, fn) adds a regime model (an HMM, say)
    pattern_hits(ohlcv) -> (bar, [PatternHit]) candlestick patterns that fired at the last bar
    chart_pattern_hits(ohlcv, settings) -> ChartPatternRead the pattern model's strongest patterns at the last bar
    insights.payload: the JSON the insights API answers with (insights_payload, view_json, ...)
"""

from pinelab_core.insights.market import MarketInsights, market_insights
from pinelab_core.insights.patterns import ChartPatternRead, PatternHit, chart_pattern_hits, pattern_hits
from pinelab_core.insights.regime import REGIME_PROVIDERS, Regime, current_regime, register_regime_provider
from pinelab_core.insights.timeframes import (
    DEFAULT_TIMEFRAMES,
    MultiTimeframeView,
    SourceCall,
    TimeframeRead,
    agreement_of,
    multi_timeframe_view,
)

__all__ = [
    "DEFAULT_TIMEFRAMES",
    "REGIME_PROVIDERS",
    "ChartPatternRead",
    "MarketInsights",
    "MultiTimeframeView",
    "PatternHit",
    "Regime",
    "SourceCall",
    "TimeframeRead",
    "agreement_of",
    "chart_pattern_hits",
    "current_regime",
    "market_insights",
    "multi_timeframe_view",
    "pattern_hits",
    "register_regime_provider",
]
