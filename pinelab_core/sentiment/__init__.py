"""News sentiment: score headlines offline (VADER + finance words) or with FinBERT, store them, and turn them
into a causal daily feature and a signal source.

    score_texts(texts, scorer="auto") -> [SentimentScore(text, score in [-1, 1], label, scorer, sentences)]
    get_scorer("auto" | "lexicon" | "finbert", settings) -> a scorer (FinBERT from PINELAB_FINBERT_PATH)
    fetch_news(engine, symbol) / import_headlines(engine, csv, symbol=None) -> headlines stored with scores
    sentiment_panel(engine, symbol) -> SentimentPanel (headlines, daily scores, scorer, demo flag)
    sentiment_at(engine, symbol, ohlcv) -> SentimentRead (the score the last bar counts, its headlines)
    sentiment_features(ohlcv, headlines) -> sentiment_1d, sentiment_headlines_1d (from the bar after publication)
    market_sentiment_features(engine, symbol, ohlcv) -> the same from the market's stored headlines (training)
    sentiment_calls(ohlcv, headlines) -> the `sentiment` signal source's calls
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "SentimentScore": "scorers", "SentimentScorer": "scorers", "SCORERS": "scorers", "LexiconScorer": "scorers",
    "FinbertScorer": "scorers", "get_scorer": "scorers", "score_texts": "scorers", "score_label": "scorers",
    "split_sentences": "scorers", "describe_scorer": "scorers",
    "Headline": "headlines", "read_headlines_csv": "headlines", "yahoo_headlines": "headlines",
    "demo_headlines": "headlines", "is_demo_symbol": "headlines",
    "HEADLINE_COLUMNS": "archive", "store_headlines": "archive", "load_headlines": "archive",
    "sync_headlines": "archive", "import_alert_headlines": "archive",
    "SENTIMENT_FEATURES": "daily", "daily_sentiment": "daily", "sentiment_features": "daily",
    "sentiment_calls": "daily",
    "SentimentPanel": "service", "sentiment_panel": "service", "fetch_news": "service",
    "import_headlines": "service", "market_headlines": "service", "SentimentRead": "service",
    "sentiment_at": "service", "market_sentiment_features": "service",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinelab_core.sentiment' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinelab_core.sentiment.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
