"""Headlines in: a CSV (malformed rows named by line), Yahoo's news (a recorded-shape response through
yfinance's own parser, no network), TradingView alerts that carry text (through the sidecar), the demo
headlines; stored once with their scores, rescored under a new scorer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yfinance
from fastapi.testclient import TestClient

from pinelab_core.config import Settings
from pinelab_core.errors import DataFetchError, DataValidationError
from pinelab_core.sentiment import (
    demo_headlines,
    fetch_news,
    import_headlines,
    load_headlines,
    read_headlines_csv,
    sentiment_panel,
    sync_headlines,
    yahoo_headlines,
)
from pinelab_core.sentiment.scorers import NEUTRAL_BAND, LexiconScorer
from pinelab_core.webhook import ALERT_PATH, create_app

FIXTURES = Path(__file__).parent / "fixtures"

CSV = b"""published_at,symbol,headline,publisher
2026-10-01T14:05:00Z,AAPL,Demo Corp beats estimates,Wire
2026-10-02,NASDAQ:AAPL,Shares plunge after profit warning,
1790000000,MSFT,Quiet day for the market,
"""


def test_a_csv_gives_headlines_in_utc_with_the_symbol_column_or_the_chosen_market() -> None:
    headlines = read_headlines_csv(CSV)
    assert [h.symbol for h in headlines] == ["AAPL", "NASDAQ:AAPL", "MSFT"]
    assert headlines[0].published_at == pd.Timestamp("2026-10-01 14:05", tz="UTC")
    assert headlines[1].published_at == pd.Timestamp("2026-10-02", tz="UTC")  # a date alone: midnight UTC
    assert headlines[2].published_at == pd.Timestamp(1_790_000_000, unit="s", tz="UTC")
    assert headlines[0].publisher == "Wire" and {h.origin for h in headlines} == {"csv"}
    only = read_headlines_csv(b"time,title\n2026-10-01 09:00,Record profits\n", symbol="DEMO-BTC")
    assert only[0].symbol == "DEMO-BTC" and only[0].text == "Record profits"


def test_malformed_rows_are_named_by_line_and_nothing_is_stored(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    bad = b"published_at,symbol,headline\n2026-10-01,AAPL,Fine row\nsoon,AAPL,Bad time\n2026-10-03,AAPL,\n"
    with pytest.raises(DataValidationError) as caught:
        import_headlines(engine, bad, settings=settings)
    message = str(caught.value)
    assert "2 malformed headline row(s)" in message
    assert "line 3: the time 'soon' is not a date or time" in message
    assert "line 4: the headline is empty" in message
    assert load_headlines(engine, "AAPL").empty
    with pytest.raises(DataValidationError, match="line 2: the time 'now' is relative"):
        read_headlines_csv(b"published_at,symbol,headline\nnow,AAPL,Record profits\n")
    with pytest.raises(DataValidationError, match="no headline, symbol column"):
        read_headlines_csv(b"published_at,body\n2026-10-01,x\n")


@pytest.mark.both_backends
def test_headlines_are_stored_once_with_their_scores(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert import_headlines(engine, CSV, settings=settings) == 3
    assert import_headlines(engine, CSV, settings=settings) == 0  # the same file again: stored once
    stored = load_headlines(engine, "aapl")  # any spelling of the ticker
    assert list(stored["text"]) == ["Demo Corp beats estimates", "Shares plunge after profit warning"]
    assert list(stored["label"]) == ["positive", "negative"] and set(stored["scorer"]) == {"lexicon"}
    assert stored["published_at"].dt.tz is not None


def test_a_new_scorer_scores_the_stored_headlines_again_and_keeps_the_old_scores(engine, settings: Settings,  # type: ignore[no-untyped-def]
                                                                                 tmp_path: Path) -> None:
    import_headlines(engine, CSV, settings=settings)
    lm = tmp_path / "lm.csv"
    lm.write_text("Word,Negative,Positive\nQUIET,2009,0\n")
    scorer = LexiconScorer(lm)
    assert sync_headlines(engine, "MSFT", scorer) == 1
    both = load_headlines(engine, "MSFT").set_index("scorer")["score"]
    assert both["lexicon"] == 0.0 and both["lexicon+lm"] < -NEUTRAL_BAND
    assert sync_headlines(engine, "MSFT", scorer) == 0


class _RecordedYahoo:
    """yfinance's HTTP layer answering the news request with the recorded-shape body."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body, self.requests = body, []

    def post(self, url: str, body: Any = None, **_: Any) -> Any:
        self.requests.append((url, body))
        text = json.dumps(self.body)
        return type("Response", (), {"text": text, "json": lambda _self: json.loads(text)})()


def test_yahoo_news_is_parsed_through_yfinance_from_a_recorded_response(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    recorded = _RecordedYahoo(json.loads((FIXTURES / "yahoo_news_demo.json").read_text()))

    def ticker(symbol: str) -> yfinance.Ticker:
        client = yfinance.Ticker(symbol)
        client._data = recorded  # no network: yfinance's own parsing of the stored body
        return client

    headlines = yahoo_headlines("DEMO", client_factory=ticker)
    assert "latestNews" in recorded.requests[0][0] and recorded.requests[0][1]["serviceConfig"]["s"] == ["DEMO"]
    assert [h.text for h in headlines] == ["Demo Corp beats quarterly estimates and raises its outlook",
                                           "Demo Corp shares plunge as regulators open an investigation"]
    assert headlines[0].published_at == pd.Timestamp("2026-10-28 20:05", tz="UTC")
    assert headlines[0].publisher == "Example Wire" and headlines[0].url.endswith("demo-corp-beats")
    assert fetch_news(engine, "DEMO", settings=settings, client_factory=ticker) == 2
    assert list(load_headlines(engine, "DEMO")["label"]) == ["negative", "positive"]


def test_yahoo_news_in_the_older_flat_shape_and_a_failing_yahoo() -> None:
    flat = [{"title": "Demo Corp soars on record profits", "publisher": "Wire", "link": "https://example.com/x",
             "providerPublishTime": 1_790_000_000}, {"title": "no time"}, "junk"]
    client = type("Ticker", (), {"get_news": lambda self, count: flat})
    [headline] = yahoo_headlines("DEMO", client_factory=lambda _: client())
    assert headline.published_at == pd.Timestamp(1_790_000_000, unit="s", tz="UTC") and headline.publisher == "Wire"

    def down(self: object, count: int) -> list[Any]:
        raise ConnectionError("offline")

    with pytest.raises(DataFetchError, match="could not deliver DEMO"):
        yahoo_headlines("DEMO", client_factory=lambda _: type("T", (), {"get_news": down})(), sleep=lambda _: None)


@pytest.mark.both_backends
def test_an_alert_that_carries_a_headline_becomes_one_scored_headline(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.with_overrides(webhook_secret="s3cret", webhook_rate_limit=0), enrich=False)
    alerts = [{"ticker": "BINANCE:BTCUSDT", "action": "buy", "price": 43000, "passphrase": "s3cret",
               "headline": "Bitcoin surges after fund approval"},
              {"ticker": "BTCUSDT", "action": "sell", "price": 42000, "passphrase": "s3cret", "comment": "Exit"}]
    with TestClient(app) as client:
        for alert in alerts:
            assert client.post(ALERT_PATH, content=json.dumps(alert),
                               headers={"content-type": "application/json"}).status_code == 200
    panel = sentiment_panel(engine, "BTC/USDT", settings=settings)
    assert len(panel.headlines) == 1  # the order comment ("Exit") is not news
    row = panel.headlines.iloc[0]
    assert row["text"] == "Bitcoin surges after fund approval" and row["origin"] == "webhook"
    assert row["label"] == "positive" and panel.scorer == "lexicon" and not panel.demo
    assert len(sentiment_panel(engine, "BTCUSDT", settings=settings).headlines) == 1  # imported once


def test_demo_markets_get_the_shipped_demo_headlines_and_say_so(engine, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    shipped = demo_headlines()
    assert {h.symbol for h in shipped} == {"DEMO-EQUITY", "DEMO-INDEX", "DEMO-BTC", "DEMO-ETH", "DEMO-FX"}
    assert all(h.publisher == "PineLab demo (fictional)" and h.origin == "demo" for h in shipped)
    panel = sentiment_panel(engine, "DEMO-BTC", settings=settings)
    assert panel.demo and len(panel.headlines) == len(demo_headlines("DEMO-BTC")) >= 10
    assert panel.headlines["published_at"].is_monotonic_decreasing  # newest first
    assert panel.daily["headlines"].sum() == len(panel.headlines)
    assert sentiment_panel(engine, "AAPL", settings=settings).headlines.empty  # never on a real market


def test_the_cli_imports_a_csv_and_lists_headlines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    path = tmp_path / "news.csv"
    path.write_bytes(CSV)
    assert main(["sentiment", "--file", str(path)]) == 0
    assert "3 new headline(s) stored" in capsys.readouterr().out
    assert main(["sentiment", "--list", "--symbol", "AAPL", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["scorer"] == "lexicon" and not listed["demo"]
    assert [h["label"] for h in listed["headlines"]] == ["negative", "positive"]  # newest first
    assert main(["sentiment", "--list", "--symbol", "DEMO-ETH"]) == 0
    assert "(demo headlines: handwritten, fictional)" in capsys.readouterr().out
    assert main(["sentiment", "--fetch"]) == 2
    assert "--fetch and --list need --symbol" in capsys.readouterr().err
