"""Figure of the Sentiment page: the daily score of a market's headlines."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pinelab_core.viz import theme

__all__ = ["daily_sentiment_chart"]


def daily_sentiment_chart(daily: pd.DataFrame, *, title: str = "Daily sentiment") -> go.Figure:
    """One bar per day of publication: the mean headline score in [-1, 1], teal above 0, red below.

    Args:
        daily: `daily_sentiment` output (index: UTC day; score, headlines, positive, negative, neutral).
    """
    days = pd.DatetimeIndex(daily.index).tz_convert("UTC").tz_localize(None) if len(daily) else daily.index
    scores = daily["score"].astype(float)
    figure = go.Figure(go.Bar(
        x=days, y=scores, marker={"color": [theme.RISING if s > 0 else theme.FALLING if s < 0 else theme.GRID
                                            for s in scores]},
        customdata=daily[["headlines", "positive", "negative", "neutral"]].to_numpy(),
        hovertemplate="%{x|%Y-%m-%d}<br>score %{y:+.2f}<br>%{customdata[0]} headline(s): %{customdata[1]} "
                      "positive, %{customdata[2]} negative, %{customdata[3]} neutral<extra></extra>",
        name="daily score",
    ))
    figure.update_layout(title=title, yaxis={"range": [-1, 1], "title": "score"})
    return theme.apply_dark_theme(figure, height=300)
