"""Everything PineLab says about one market at its last closed bar: the Predictions page in one record.

The ensemble's call comes from `predict` with the same arguments the Predictions page uses, so the API, the
page and `pinelab predict` give the same call for the same bars. The consensus is the signal desk's round
(`run_signal_desk`, as on the Signals page), the regime the rule features' (plus any registered regime
model), the explanation `explain`'s SHAP values, the patterns TA-Lib's and the chart-pattern model's at the last bar,
the sentiment the news score the bar counts (`sentiment_at`, as the `sentiment` source reads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError
from pinelab_core.insights.patterns import ChartPatternRead, PatternHit, chart_pattern_hits, pattern_hits
from pinelab_core.insights.regime import Regime, current_regime
from pinelab_core.insights.timeframes import MultiTimeframeView, multi_timeframe_view, timeframe_read
from pinelab_core.types import Timeframe

if TYPE_CHECKING:
    from pinelab_core.explain import Explanation
    from pinelab_core.models.ensemble import Prediction
    from pinelab_core.rl.calls import AgentCall
    from pinelab_core.sentiment.service import SentimentRead
    from pinelab_core.signals.desk import SignalDesk

__all__ = ["MarketInsights", "load_market", "market_insights", "market_signals"]


@dataclass(frozen=True)
class MarketInsights:
    """The ensemble's call, the agents' calls, forecasts, consensus, regime, SHAP and patterns of one market at one
    bar."""

    symbol: str
    timeframe: str
    source: str
    provenance: dict[str, object]  # where the bars came from (source, simulated, note)
    prediction: Prediction
    desk: SignalDesk
    regime: Regime
    explanation: Explanation | None
    explanation_error: str
    patterns: list[PatternHit]  # TA-Lib's candlestick hits, then the chart-pattern model's
    multi_timeframe: MultiTimeframeView | None = None
    agents: tuple[AgentCall, ...] = ()  # active RL agents' calls (they trade beside the ensemble, not in it)
    chart_patterns: ChartPatternRead = ChartPatternRead([], None)
    sentiment: SentimentRead | None = None
    sentiment_error: str = ""

    @property
    def bar_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.prediction.bar_time)


def load_market(symbol: str, timeframe: str, source: str, settings: Settings) -> pd.DataFrame:
    """The market's bars, ending with its newest closed bar (what the pages show without an end date)."""
    from pinelab_core.data import load_ohlcv

    return load_ohlcv(symbol, Timeframe.parse(timeframe).value, source=source, settings=settings)


def market_insights(symbol: str, timeframe: str = "1d", source: str = "auto", settings: Settings | None = None, *,
                    engine: Engine | None = None, ohlcv: pd.DataFrame | None = None,
                    timeframes: str | Iterable[str] | None = None,
                    frames: Mapping[str, pd.DataFrame] | None = None) -> MarketInsights:
    """Read one market the way the Predictions and Signals pages do, at the frame's last bar.

    Args:
        symbol, timeframe, source, settings: as for `predict`.
        engine: the store; by default `get_engine(settings)`.
        ohlcv: bars already loaded (ending at the newest closed bar); loaded from `source` when None.
        timeframes: also read the symbol on these timeframes (e.g. "15m,1h,4h,1d"), see `multi_timeframe_view`.
        frames: bars already loaded for those timeframes.

    Raises:
        ModelNotFoundError: no model is active for the timeframe (train one first).
        DataValidationError / DataFetchError: the bars could not be loaded.
    """
    from pinelab_core.explain import explain
    from pinelab_core.models.inference import predict
    from pinelab_core.rl.calls import agent_calls
    from pinelab_core.sentiment.service import sentiment_at
    from pinelab_core.store import get_engine

    settings = settings or Settings.from_env()
    engine = engine if engine is not None else get_engine(settings)
    timeframe = Timeframe.parse(timeframe).value
    ohlcv = ohlcv if ohlcv is not None else load_market(symbol, timeframe, source, settings)
    prediction = predict(symbol, timeframe, source, settings, ohlcv=ohlcv)
    agents = agent_calls(settings, symbol, timeframe, ohlcv)  # what `pinelab predict` lists beside the call
    desk = market_signals(ohlcv, symbol, timeframe, settings, engine)
    try:
        explanation, explanation_error = explain(symbol, timeframe, source, settings=settings, ohlcv=ohlcv), ""
    except PinelabError as exc:  # the call stands without its explanation; say why it is missing
        explanation, explanation_error = None, str(exc)
    view = None
    if timeframes is not None:
        own = timeframe_read(ohlcv, symbol, timeframe, source, settings, engine, prediction=prediction, desk=desk,
                             agents=agents)
        view = multi_timeframe_view(symbol, timeframes, source, settings, engine=engine, known={timeframe: own},
                                    frames=frames)
    chart = chart_pattern_hits(ohlcv, settings)
    try:
        sentiment, sentiment_error = sentiment_at(engine, symbol, ohlcv, settings=settings), ""
    except PinelabError as exc:  # e.g. FinBERT configured but its weights unreadable: say so, answer the rest
        sentiment, sentiment_error = None, str(exc)
    return MarketInsights(symbol, timeframe, source, dict(ohlcv.attrs.get("provenance", {})), prediction, desk,
                          current_regime(ohlcv), explanation, explanation_error,
                          [*pattern_hits(ohlcv)[1], *chart.hits], view, tuple(agents), chart, sentiment,
                          sentiment_error)


def market_signals(ohlcv: pd.DataFrame, symbol: str, timeframe: str, settings: Settings, engine: Engine,
                   horizon: int = 5) -> SignalDesk:
    """The signal desk's round on the market (the Signals page's consensus and track records)."""
    from pinelab_core.signals import run_signal_desk

    return run_signal_desk(ohlcv, symbol, timeframe, engine=engine, settings=settings, horizon=horizon)
