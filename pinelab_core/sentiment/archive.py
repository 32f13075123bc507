"""Headlines in the store with their scores: store once, read back per market and scorer, keep in sync.

One row per headline and scorer (`news_headline`, unique on market, time, text and scorer), written with
`INSERT ... ON CONFLICT DO NOTHING`, so two processes importing the same news store it once. Switching the
scorer (say to FinBERT) scores the stored headlines again under the new name; the old scores stay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC

import pandas as pd
from sqlalchemy import or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.sentiment.headlines import ALERT_TEXT_FIELDS, Headline, alert_text, demo_headlines, is_demo_symbol
from pinelab_core.sentiment.scorers import SentimentScorer, score_texts
from pinelab_core.store.tables import NewsHeadlineRow, TradingViewAlertRow
from pinelab_core.types import symbol_key

__all__ = ["HEADLINE_COLUMNS", "import_alert_headlines", "load_headlines", "rescore_headlines", "store_headlines",
           "sync_headlines"]

HEADLINE_COLUMNS = ["published_at", "symbol", "text", "score", "label", "scorer", "origin", "publisher", "url"]
_TABLE = NewsHeadlineRow.__table__  # type: ignore[attr-defined]


def _text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode("utf-8")).hexdigest()


def store_headlines(engine: Engine, headlines: Iterable[Headline], scorer: SentimentScorer) -> int:
    """Score the headlines with `scorer` and store them; returns how many rows were new."""
    items = list(headlines)
    if not items:
        return 0
    scores = score_texts([h.text for h in items], scorer)
    rows = [{
        "symbol": h.symbol, "symbol_key": symbol_key(h.symbol),
        "published_at": pd.Timestamp(h.published_at).tz_convert(UTC).to_pydatetime(), "text": h.text,
        "text_hash": _text_hash(h.text), "publisher": h.publisher, "url": h.url, "origin": h.origin,
        "ref_id": h.ref_id, "scorer": s.scorer, "score": s.score, "label": s.label,
        "sentences_json": json.dumps([[text, round(value, 6)] for text, value in s.sentences]),
        "scored_at": pd.Timestamp.now(tz=UTC).to_pydatetime(),
    } for h, s in zip(items, scores, strict=True)]
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stored = 0
    with engine.begin() as connection:
        for row in rows:
            statement = dialect.insert(_TABLE).values(**row).on_conflict_do_nothing(
                index_elements=["symbol_key", "published_at", "text_hash", "scorer"]).returning(_TABLE.c.id)
            stored += connection.execute(statement).first() is not None
    return stored


def load_headlines(engine: Engine, symbol: str, *, scorer: str | None = None, start: pd.Timestamp | None = None,
                   end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The stored headlines of a market (any spelling of its ticker), oldest first, one scorer's scores.

    Args:
        scorer: a scorer's name (`SentimentScorer.name`); None keeps every scorer's rows.
        start, end: published between them (inclusive), when given.
    """
    query = select(NewsHeadlineRow).where(NewsHeadlineRow.symbol_key == symbol_key(symbol))
    if scorer is not None:
        query = query.where(NewsHeadlineRow.scorer == scorer)
    if start is not None:
        query = query.where(col(NewsHeadlineRow.published_at) >= pd.Timestamp(start).to_pydatetime())
    if end is not None:
        query = query.where(col(NewsHeadlineRow.published_at) <= pd.Timestamp(end).to_pydatetime())
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(NewsHeadlineRow.published_at), col(NewsHeadlineRow.id))).all()
    frame = pd.DataFrame([{name: getattr(r, name) for name in HEADLINE_COLUMNS} for r in rows],
                         columns=HEADLINE_COLUMNS)
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    frame["score"] = frame["score"].astype("float64")
    return frame


def import_alert_headlines(engine: Engine, scorer: SentimentScorer) -> int:
    """Store the text of TradingView alerts that carry a `headline` (or `news`, `text`) field; returns new rows.

    The headline is published when the alert arrived (`received_at`); alerts already imported are skipped.
    An alert whose field holds no text (or whose key only appears inside another value) is read and left out.
    """
    # An anti-join, not "ids above the last one imported": on PostgreSQL ids can commit out of order.
    imported = select(NewsHeadlineRow.ref_id).where(NewsHeadlineRow.origin == "webhook",
                                                    NewsHeadlineRow.scorer == scorer.name,
                                                    col(NewsHeadlineRow.ref_id).is_not(None))
    carries_text = or_(*(col(TradingViewAlertRow.payload).ilike(f'%"{name}"%') for name in ALERT_TEXT_FIELDS))
    with Session(engine) as session:
        alerts = session.exec(select(TradingViewAlertRow).where(carries_text, col(TradingViewAlertRow.id).not_in(
            imported)).order_by(col(TradingViewAlertRow.id))).all()
    headlines = []
    for alert in alerts:
        text = alert_text(alert.payload)
        if text:
            received = pd.Timestamp(alert.received_at)
            received = received.tz_localize(UTC) if received.tzinfo is None else received.tz_convert(UTC)
            headlines.append(Headline(alert.ticker, received, text, "TradingView alert", "", "webhook", alert.id))
    return store_headlines(engine, headlines, scorer)


def rescore_headlines(engine: Engine, symbol: str, scorer: SentimentScorer) -> int:
    """Score a market's stored headlines that `scorer` has not scored yet (after switching scorers)."""
    stored = load_headlines(engine, symbol)
    if stored.empty:
        return 0
    mine = set(zip(stored.loc[stored["scorer"] == scorer.name, "published_at"],
                   stored.loc[stored["scorer"] == scorer.name, "text"].map(_text_hash), strict=True))
    todo = stored[[(t, _text_hash(x)) not in mine for t, x in zip(stored["published_at"], stored["text"],
                                                                    strict=True)]]
    todo = todo.drop_duplicates(["published_at", "text"])
    return store_headlines(engine, [Headline(r.symbol, r.published_at, r.text, r.publisher, r.url, r.origin)
                                    for r in todo.itertuples(index=False)], scorer)


def sync_headlines(engine: Engine, symbol: str, scorer: SentimentScorer) -> int:
    """Bring a market's headlines up to date offline: the demo headlines (demo markets only), alerts that
    carry text, and the scorer's scores of headlines stored under another scorer. Returns new rows."""
    new = store_headlines(engine, demo_headlines(symbol), scorer) if is_demo_symbol(symbol) else 0
    new += import_alert_headlines(engine, scorer)
    return new + rescore_headlines(engine, symbol, scorer)
