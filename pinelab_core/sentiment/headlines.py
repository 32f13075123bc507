"""Where headlines come from: Yahoo Finance news, a CSV you upload, TradingView alerts that carry text, and
the shipped demo headlines. Each source returns `Headline` records; `sentiment.archive` scores and stores them.

A headline's `published_at` is the moment it became public (UTC); it decides the first bar it may count for.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from pinelab_core.errors import DataFetchError, DataValidationError

__all__ = [
    "ALERT_TEXT_FIELDS",
    "DEMO_HEADLINES_PATH",
    "Headline",
    "alert_text",
    "demo_headlines",
    "is_demo_symbol",
    "read_headlines_csv",
    "yahoo_headlines",
]

#: The handwritten demo headlines (fictional; they do not describe the simulated prices).
DEMO_HEADLINES_PATH = Path(__file__).with_name("demo_headlines.csv")
#: Alert fields whose text is scored as a headline (an alert's `comment` is an order note, not news).
ALERT_TEXT_FIELDS: tuple[str, ...] = ("headline", "news", "text")
MAX_HEADLINE_CHARS = 2_000
_MAX_LISTED_ROWS = 10
_RELATIVE_TIMES = frozenset({"now", "today", "yesterday", "tomorrow"})

_COLUMNS: dict[str, tuple[str, ...]] = {
    "published_at": ("published_at", "published", "time", "datetime", "date", "timestamp", "pubdate"),
    "text": ("headline", "title", "text"),
    "symbol": ("symbol", "ticker"),
    "publisher": ("publisher", "source", "provider"),
    "url": ("url", "link"),
}


@dataclass(frozen=True)
class Headline:
    """One headline about one market."""

    symbol: str
    published_at: pd.Timestamp  # UTC
    text: str
    publisher: str = ""
    url: str = ""
    origin: str = ""  # yahoo | csv | webhook | demo
    ref_id: int | None = None  # the alert row it came from (webhook)


def is_demo_symbol(symbol: str) -> bool:
    """True for the simulated demo markets (DEMO-BTC, ...), the only ones the demo headlines are for."""
    return symbol.strip().upper().startswith("DEMO-")


def demo_headlines(symbol: str | None = None) -> list[Headline]:
    """The shipped demo headlines (handwritten, fictional), for one demo market or all of them."""
    headlines = read_headlines_csv(DEMO_HEADLINES_PATH, origin="demo")
    return [h for h in headlines if symbol is None or h.symbol.upper() == symbol.strip().upper()]


def read_headlines_csv(source: str | Path | bytes | IO[Any], *, symbol: str | None = None,
                       origin: str = "csv") -> list[Headline]:
    """Headlines from a CSV: a time column (`published_at`, `time`, `date`, ...), a `headline` (or `title`,
    `text`) column, and a `symbol` column unless `symbol` is given (it names the market of rows that name none);
    `publisher` and `url` are optional.

    Times without an offset are read as UTC; a date alone is midnight UTC, so the headline counts from the
    bar after the one that opens that midnight (a date does not say when in the day the news broke).

    Raises:
        DataValidationError: a required column is missing, or rows are malformed; the message names the
            file's line numbers and what is wrong with each.
    """
    raw = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        frame = pd.read_csv(raw, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"The headlines file is not a readable CSV ({exc}).") from exc
    columns = _match_columns(frame, need_symbol=symbol is None)
    headlines: list[Headline] = []
    problems: list[str] = []
    for position, row in enumerate(frame.itertuples(index=False)):
        values = dict(zip(frame.columns, row, strict=True))
        line = position + 2  # the header is line 1
        try:
            headlines.append(_row_headline(values, columns, symbol, origin))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        shown = "; ".join(problems[:_MAX_LISTED_ROWS])
        more = f" (and {len(problems) - _MAX_LISTED_ROWS} more)" if len(problems) > _MAX_LISTED_ROWS else ""
        raise DataValidationError(f"{len(problems)} malformed headline row(s): {shown}{more}. Fix these rows "
                                  "and upload again; nothing was stored.")
    return headlines


def _match_columns(frame: pd.DataFrame, *, need_symbol: bool) -> dict[str, str]:
    lowered = {str(c).strip().lower(): str(c) for c in frame.columns}
    found = {name: next((lowered[a] for a in aliases if a in lowered), "") for name, aliases in _COLUMNS.items()}
    missing = [shown for name, shown in (("published_at", "published_at"), ("text", "headline")) if not found[name]]
    if need_symbol and not found["symbol"]:
        missing.append("symbol")
    if missing:
        raise DataValidationError(
            f"The headlines CSV has no {', '.join(missing)} column (it has {', '.join(map(str, frame.columns))}). "
            "Name them published_at, headline and symbol (or pick the market the headlines are about)."
        )
    return found


def _row_headline(values: dict[str, str], columns: dict[str, str], symbol: str | None, origin: str) -> Headline:
    text = " ".join(values[columns["text"]].split())
    if not text:
        raise ValueError("the headline is empty")
    if len(text) > MAX_HEADLINE_CHARS:
        raise ValueError(f"the headline has {len(text):,} characters (at most {MAX_HEADLINE_CHARS:,})")
    market = (values[columns["symbol"]].strip() if columns["symbol"] else "") or symbol or ""
    if not market:
        raise ValueError("the symbol is empty")
    published = _parse_time(values[columns["published_at"]])
    optional = {name: values[columns[name]].strip() if columns[name] else "" for name in ("publisher", "url")}
    return Headline(market.strip(), published, text, optional["publisher"][:200], optional["url"][:1000], origin)


def _parse_time(value: str) -> pd.Timestamp:
    text = value.strip()
    if not text:
        raise ValueError("the time is empty")
    if text.lower() in _RELATIVE_TIMES:  # pandas reads these against the clock: never a publication time
        raise ValueError(f"the time {text!r} is relative; write the moment it was published (2026-10-30T14:05Z)")
    try:
        if text.lstrip("-").replace(".", "", 1).isdigit():  # epoch seconds, or milliseconds when that large
            number = float(text)
            stamp = pd.Timestamp(number, unit="ms" if abs(number) > 1e11 else "s", tz="UTC")
        else:
            stamp = pd.Timestamp(text)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    except (ValueError, OverflowError):
        raise ValueError(f"the time {text!r} is not a date or time (use ISO 8601, e.g. 2026-10-30T14:05:00Z)") from None
    if pd.isna(stamp):
        raise ValueError(f"the time {text!r} is not a date or time")
    return stamp


# --- Yahoo Finance --------------------------------------------------------------------------------


def yahoo_headlines(symbol: str, *, count: int = 50, client_factory: Callable[[str], Any] | None = None,
                    sleep: Callable[[float], None] = time.sleep, retries: int = 2) -> list[Headline]:
    """The latest news Yahoo Finance lists for `symbol` (yfinance's `Ticker.get_news`), newest first.

    Raises:
        DataFetchError: Yahoo could not be reached or answered with something that is not a news list.
    """
    from pinelab_core.data.network import call_with_retries

    ticker = (client_factory or _yfinance_ticker)(symbol)
    articles = call_with_retries(lambda: ticker.get_news(count=count), source="yahoo news", symbol=symbol,
                                 retries=retries, sleep=sleep, retry_on=(Exception,))
    if not isinstance(articles, list):
        raise DataFetchError(f"Yahoo answered the news request for {symbol} with a {type(articles).__name__}, "
                             "not a list. Retry later.", source="yahoo", symbol=symbol)
    headlines = [h for h in (_yahoo_article(symbol, a) for a in articles) if h is not None]
    return sorted(headlines, key=lambda h: h.published_at, reverse=True)


def _yfinance_ticker(symbol: str) -> Any:
    import yfinance

    return yfinance.Ticker(symbol)


def _yahoo_article(symbol: str, article: Any) -> Headline | None:
    """One news item in either of yfinance's shapes (1.x: {"content": {...}}; 0.2: flat with an epoch time)."""
    if not isinstance(article, dict):
        return None
    nested = article.get("content")
    content: dict[str, Any] = nested if isinstance(nested, dict) else article
    title = " ".join(str(content.get("title") or "").split())
    when = content.get("pubDate") or content.get("displayTime") or content.get("providerPublishTime")
    if not title or when in (None, ""):
        return None
    try:
        published = _parse_time(str(when))
    except ValueError:
        return None
    provider = content.get("provider")
    publisher = provider.get("displayName", "") if isinstance(provider, dict) else str(content.get("publisher", ""))
    link = content.get("canonicalUrl")
    url = link.get("url", "") if isinstance(link, dict) else str(content.get("link", ""))
    return Headline(symbol, published, title[:MAX_HEADLINE_CHARS], str(publisher)[:200], str(url)[:1000], "yahoo")


# --- TradingView alerts ---------------------------------------------------------------------------


def alert_text(payload: str) -> str:
    """The headline text an alert carries in its `headline`, `news` or `text` field ("" when none)."""
    try:
        fields = json.loads(payload or "{}")
    except ValueError:
        return ""
    if not isinstance(fields, dict):
        return ""
    lowered = {str(k).lower(): v for k, v in fields.items()}
    for name in ALERT_TEXT_FIELDS:
        value = lowered.get(name)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MAX_HEADLINE_CHARS]
    return ""
