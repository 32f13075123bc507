"""The front door of news sentiment for the page, the CLI and the signal source: fetch or import headlines,
score and store them, and read a market's headlines back with the scorer that produced their scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.sentiment.archive import load_headlines, store_headlines, sync_headlines
from pinelab_core.sentiment.daily import SENTIMENT_FEATURES, daily_sentiment, sentiment_features
from pinelab_core.sentiment.headlines import is_demo_symbol, read_headlines_csv, yahoo_headlines
from pinelab_core.sentiment.scorers import SentimentScorer, get_scorer, score_label

__all__ = ["SentimentPanel", "SentimentRead", "fetch_news", "import_headlines", "market_headlines",
           "market_sentiment_features", "sentiment_at", "sentiment_panel"]


@dataclass(frozen=True)
class SentimentPanel:
    """What the Sentiment page shows about one market."""

    symbol: str
    scorer: str  # the scorer that produced every score shown
    headlines: pd.DataFrame  # newest first (`HEADLINE_COLUMNS`)
    daily: pd.DataFrame  # per UTC day: score, headlines, positive, negative, neutral
    demo: bool  # the headlines are PineLab's handwritten demo headlines, not news


@dataclass(frozen=True)
class SentimentRead:
    """The news sentiment a market's bar counts: the mean score of the headlines published in the day before the
    bar opened (`sentiment_features`' row for the bar), and the newest of those headlines."""

    bar_time: pd.Timestamp
    score: float  # in [-1, 1]; 0.0 without headlines
    label: str  # positive | negative | neutral
    headlines: int  # how many headlines the score averages
    scorer: str
    demo: bool  # PineLab's handwritten demo headlines, not news
    latest: str | None = None  # the newest counted headline's text
    latest_at: pd.Timestamp | None = None


def _scorer(settings: Settings | None, scorer: str | None) -> tuple[Settings, SentimentScorer]:
    settings = settings or Settings.from_env()
    return settings, get_scorer(scorer or settings.sentiment_scorer, settings)


def market_headlines(engine: Engine, symbol: str, settings: Settings | None = None,
                     scorer: str | None = None) -> tuple[str, pd.DataFrame]:
    """A market's headlines (synced offline first: demo headlines, alerts with text) and the scorer's name."""
    _, model = _scorer(settings, scorer)
    sync_headlines(engine, symbol, model)
    return model.name, load_headlines(engine, symbol, scorer=model.name)


def market_sentiment_features(engine: Engine, symbol: str, ohlcv: pd.DataFrame, *, settings: Settings | None = None,
                              scorer: str | None = None) -> pd.DataFrame:
    """`sentiment_features` of the market's stored headlines on its bars: what a model trained with news learns
    from (`TrainRequest(sentiment=True)`) and reads again at inference, with the same scorer."""
    _, headlines = market_headlines(engine, symbol, settings, scorer)
    return sentiment_features(ohlcv, headlines)


def sentiment_panel(engine: Engine, symbol: str, *, settings: Settings | None = None,
                    scorer: str | None = None) -> SentimentPanel:
    """Headlines with their scores, the daily aggregate and the scorer's name, for the Sentiment page."""
    name, headlines = market_headlines(engine, symbol, settings, scorer)
    newest = headlines.iloc[::-1].reset_index(drop=True)
    demo = is_demo_symbol(symbol) and bool((headlines["origin"] == "demo").any())
    return SentimentPanel(symbol, name, newest, daily_sentiment(headlines), demo)


def fetch_news(engine: Engine, symbol: str, *, settings: Settings | None = None, scorer: str | None = None,
               client_factory: Callable[[str], Any] | None = None) -> int:
    """Fetch the market's latest Yahoo Finance news (network), score and store it; returns new headlines.

    Raises:
        DataFetchError: Yahoo could not be reached (retry later; stored headlines stay usable).
    """
    settings, model = _scorer(settings, scorer)
    headlines = yahoo_headlines(symbol, client_factory=client_factory, retries=settings.fetch_retries)
    return store_headlines(engine, headlines, model)


def import_headlines(engine: Engine, source: str | Path | bytes | IO[Any], *, symbol: str | None = None,
                     settings: Settings | None = None, scorer: str | None = None) -> int:
    """Read a headlines CSV (see `read_headlines_csv`), score and store it; returns new headlines.

    Raises:
        DataValidationError: a column is missing or rows are malformed (named by line); nothing is stored.
    """
    headlines = read_headlines_csv(source, symbol=symbol)
    _, model = _scorer(settings, scorer)
    return store_headlines(engine, headlines, model)


def sentiment_at(engine: Engine, symbol: str, ohlcv: pd.DataFrame, *, settings: Settings | None = None,
                 scorer: str | None = None) -> SentimentRead:
    """The sentiment the frame's last bar counts (what the `sentiment` source and feature read there)."""
    name, headlines = market_headlines(engine, symbol, settings, scorer)
    bar = pd.Timestamp(ohlcv.index[-1])
    row = sentiment_features(ohlcv.iloc[-2:], headlines).iloc[-1]  # the window reaches back to the bar before
    score, count = float(row[SENTIMENT_FEATURES[0]]), int(row[SENTIMENT_FEATURES[1]])
    published = pd.to_datetime(headlines["published_at"], utc=True)
    counted = headlines[published < bar].tail(1) if count else headlines.iloc[:0]
    demo = is_demo_symbol(symbol) and bool((headlines["origin"] == "demo").any())
    return SentimentRead(bar, score, score_label(score), count, name, demo,
                         str(counted["text"].iloc[0]) if len(counted) else None,
                         pd.Timestamp(counted["published_at"].iloc[0]) if len(counted) else None)
