"""One line of context under a call: the news sentiment and the chart patterns its bar counts (as the insights
API answers them), so the page and `/api/v1/insights` say the same."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError

__all__ = ["bar_context"]


def bar_context(ohlcv: pd.DataFrame, symbol: str, settings: Settings, engine: Engine) -> str:
    """Markdown: "**News sentiment:** ... · **Chart patterns:** ..." at the frame's last bar."""
    from pinelab_core.insights.patterns import chart_pattern_hits
    from pinelab_core.sentiment.service import sentiment_at

    try:
        news = sentiment_at(engine, symbol, ohlcv, settings=settings)
        source = f"{news.scorer}, demo headlines" if news.demo else news.scorer
        sentiment = (f"{news.score:+.2f} ({news.label}) from {news.headlines} headline"
                     f"{'' if news.headlines == 1 else 's'} of the day before the bar opened ({source})")
        if news.latest:
            sentiment += f", newest: “{news.latest}”"
    except PinelabError as exc:
        sentiment = f"unavailable ({exc})"
    chart = chart_pattern_hits(ohlcv, settings, top=3)
    if chart.hits:
        patterns = ", ".join(f"{h.name.replace('_', ' ')} {h.probability:.0%} {h.direction}"
                             f"{' (completed here)' if h.completed else ''}" for h in chart.hits)
        patterns += f" ({chart.model})"
    elif chart.model:
        patterns = chart.note or f"none above 5% ({chart.model})"
    else:
        patterns = "no pattern model yet (Charts page, or `pinelab patterns install`)"
    return f"**News sentiment:** {sentiment} · **Chart patterns:** {patterns}"
