"""`pinelab sentiment`: score a text, import a headlines CSV, fetch a market's news, list its scored headlines."""

from __future__ import annotations

import argparse
from typing import Any

from pinelab_core.cli.common import add_json_option, emit
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sentiment", help="score news sentiment: one text, a headlines CSV, or a market's stored headlines",
        description="Score a text (--text), import a headlines CSV (--file), fetch Yahoo Finance news (--fetch) "
                    "or list a market's stored headlines (--symbol). Scores lie in [-1, 1]; the scorer is the "
                    "offline lexicon (VADER + finance words) unless PINELAB_FINBERT_PATH points at FinBERT.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", action="append", help="a text to score (repeat for several)")
    what.add_argument("--file", help="a headlines CSV to score and store (published_at, headline, symbol)")
    what.add_argument("--fetch", action="store_true", help="fetch the market's Yahoo Finance news (network)")
    what.add_argument("--list", action="store_true", help="list the market's stored headlines with their scores")
    parser.add_argument("--symbol", default=None, help="the market (needed by --fetch and --list; with --file, "
                                                       "the market of rows that name none)")
    parser.add_argument("--scorer", default=None, help="auto (default, PINELAB_SENTIMENT_SCORER), lexicon or finbert")
    parser.add_argument("--limit", type=int, default=20, help="headlines --list shows (default 20)")
    add_json_option(parser)
    parser.set_defaults(handler=_sentiment)


def _sentiment(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    scorer = args.scorer or settings.sentiment_scorer
    if args.text:
        return _score(args, scorer, settings)
    if (args.fetch or args.list) and not args.symbol:
        raise DataValidationError("--fetch and --list need --symbol (the market the headlines are about).")
    from pinelab_core.sentiment import fetch_news, import_headlines, sentiment_panel
    from pinelab_core.store import get_engine

    engine = get_engine(settings)
    if args.file:
        new = import_headlines(engine, args.file, symbol=args.symbol, settings=settings, scorer=scorer)
        emit(args, {"stored": new, "file": args.file}, f"{new} new headline(s) stored from {args.file}.")
        return 0
    if args.fetch:
        new = fetch_news(engine, args.symbol, settings=settings, scorer=scorer)
        emit(args, {"stored": new, "symbol": args.symbol}, f"{new} new headline(s) stored for {args.symbol}.")
        return 0
    panel = sentiment_panel(engine, args.symbol, settings=settings, scorer=scorer)
    shown = panel.headlines.head(max(1, args.limit))
    note = " (demo headlines: handwritten, fictional)" if panel.demo else ""
    text = (f"{args.symbol}: {len(panel.headlines)} headline(s), scored by {panel.scorer}{note}\n"
            + (shown[["published_at", "score", "label", "text"]].to_string(index=False) if len(shown) else
               "No headlines yet: --fetch (Yahoo), --file (CSV), or alerts with a \"headline\" field."))
    emit(args, {"symbol": args.symbol, "scorer": panel.scorer, "demo": panel.demo, "headlines": shown}, text)
    return 0


def _score(args: argparse.Namespace, scorer: str, settings: Settings) -> int:
    from pinelab_core.sentiment import score_texts

    results = score_texts(args.text, scorer, settings)
    payload: list[dict[str, Any]] = [{"text": r.text, "score": round(r.score, 4), "label": r.label,
                                      "scorer": r.scorer, "sentences": [{"text": t, "score": round(v, 4)}
                                                                        for t, v in r.sentences]}
                                     for r in results]
    text = "\n".join(f"{r.score:+.3f} {r.label:<8} ({r.scorer})  {r.text}" for r in results)
    emit(args, payload[0] if len(payload) == 1 else payload, text)
    return 0
