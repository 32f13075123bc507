"""The Sentiment page under Streamlit's AppTest: headlines with scores, the daily chart, the scorer named,
demo headlines flagged as demo data, a real market's own headlines."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.sentiment import demo_headlines, import_headlines
from pinelab_core.store import get_engine
from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "app_pages" / "12_Sentiment.py"


def _run(**state: object) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=120)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def test_a_demo_market_lists_its_demo_headlines_and_says_they_are_demo_data() -> None:
    app = _run(market_symbol="DEMO-BTC", market_timeframe="1h")
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value == "Sentiment · DEMO-BTC"
    assert "Scores by **lexicon**" in app.caption[0].value
    assert any("Demo data" in i.value and "fictional" in i.value for i in app.info)
    table = app.dataframe[0].value
    assert len(table) == len(demo_headlines("DEMO-BTC")) and table["score"].between(-1, 1).all()
    assert {"published_at", "text", "score", "label", "scorer", "origin"} <= set(table.columns)
    assert app.get("plotly_chart") and app.metric[1].value == str(len(table))
    assert app.button(key="sentiment_fetch").disabled  # the demo source never fetches news


def test_a_real_market_shows_its_imported_headlines_without_a_demo_note(tmp_path: Path) -> None:
    settings = Settings.from_env(secrets_path=tmp_path / "none.toml")
    import_headlines(get_engine(settings), b"published_at,headline\n2026-10-01T14:05:00Z,Demo Corp beats estimates\n",
                     symbol="AAPL", settings=settings)
    app = _run(market_source="yahoo", market_symbol="AAPL", market_timeframe="1d")
    assert not app.exception, [e.value for e in app.exception]
    assert not any("Demo data" in i.value for i in app.info)
    table = app.dataframe[0].value
    assert list(table["text"]) == ["Demo Corp beats estimates"] and list(table["label"]) == ["positive"]
    assert not app.button(key="sentiment_fetch").disabled
