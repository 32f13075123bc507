"""Every dashboard page runs under Streamlit's AppTest without an exception; the Charts page reacts to input.

Pages are discovered with a glob, so a page added later is covered without touching this file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT

PAGES = sorted((REPO_ROOT / "app_pages").glob("*.py"))
CHARTS = REPO_ROOT / "app_pages" / "1_Charts.py"
TIMEOUT_S = 120  # some pages compute (features, models); this machine may be busy


def _run(script: Path, **state: object) -> AppTest:
    app = AppTest.from_file(str(script), default_timeout=TIMEOUT_S)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def _figure(app: AppTest) -> dict:
    charts = app.get("plotly_chart")
    assert charts, "no chart on the page"
    return json.loads(charts[0].proto.spec)


def _texts(elements) -> str:  # type: ignore[no-untyped-def]
    return " ".join(element.value for element in elements)


def test_app_opens_on_the_charts_page_with_the_shared_sidebar() -> None:
    app = _run(REPO_ROOT / "app.py")
    assert not app.exception
    assert [t.value for t in app.title] == ["DEMO-EQUITY · 1d"]
    assert app.sidebar.selectbox(key="market_source").value == "demo"
    assert "Simulated" in _texts(app.info)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_runs_on_its_own(page: Path) -> None:
    app = _run(page)
    assert not app.exception, [e.value for e in app.exception]


def test_charts_page_draws_candles_volume_and_the_chosen_overlays() -> None:
    app = _run(CHARTS)
    names = [trace.get("name") for trace in _figure(app)["data"]]
    assert names[:2] == ["Price", "Volume"] and "SMA 50" in names
    app.multiselect(key="chart_overlays").set_value(["ema", "vwap"]).run()
    app.number_input(key="chart_overlays_ema_window").set_value(9).run()
    assert not app.exception
    names = [trace.get("name") for trace in _figure(app)["data"]]
    assert "EMA 9" in names and "VWAP" in names and "SMA 50" not in names
    app.toggle(key="chart_levels").set_value(False).run()
    assert not {"Support", "Resistance"} & {trace.get("name") for trace in _figure(app)["data"]}
    assert app.get("download_button"), "the CSV download is missing"


def test_switching_symbol_and_timeframe_through_session_state() -> None:
    app = _run(CHARTS, market_symbol="DEMO-BTC", market_timeframe="4h")
    assert not app.exception
    assert app.title[0].value == "DEMO-BTC · 4h"
    figure = _figure(app)
    assert figure["data"][0]["x"][0].count(":") == 1  # intraday bars carry a time of day


def test_long_history_says_it_is_downsampled() -> None:
    app = _run(CHARTS, market_symbol="DEMO-FX", market_timeframe="1m")
    assert not app.exception
    assert "aggregated from" in _texts(app.caption)


def test_a_broken_csv_shows_the_validation_error_not_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,10,9,11,10,100\n2024-01-03,10,12,9,abc,100\n")
    app = _run(CHARTS, market_source="file", market_file=str(broken))
    assert not app.exception
    assert app.error, "the page should show the DataValidationError"
    assert "What to do" in _texts(app.caption)


def test_uploading_a_file_in_the_sidebar_selects_it(tmp_path: Path) -> None:
    app = _run(REPO_ROOT / "app.py")
    rows = [f"2024-01-{day:02d},{100 + day},{102 + day},{99 + day},{101 + day},{1000 + day}" for day in range(1, 29)]
    csv = ("Date,Open,High,Low,Close,Volume\n" + "\n".join(rows) + "\n").encode()
    app.sidebar.file_uploader(key="market_upload").set_value(("my prices.csv", csv, "text/csv")).run()
    assert not app.exception
    assert app.session_state["market_source"] == "file"
    assert app.session_state["market_file"].endswith("my_prices.csv")
    assert app.title[0].value == "my_prices · 1d"
    assert not app.error
    broken = b"Date,Open,High,Low,Close\n2024-01-02,10,9,11,10\n"
    app.sidebar.file_uploader(key="market_upload").set_value(("bad.csv", broken, "text/csv")).run()
    assert not app.exception and app.error


def _fake_loader(result: object):  # type: ignore[no-untyped-def]
    def load_ohlcv(symbol: str, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if isinstance(result, Exception):
            raise result
        return result

    return load_ohlcv


def test_a_failed_fetch_says_retry_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.errors import DataFetchError

    failure = DataFetchError("yahoo could not deliver AAPL: timed out", source="yahoo", symbol="AAPL")
    monkeypatch.setattr("pinelab_core.ui.market_data.load_ohlcv", _fake_loader(failure))
    app = _run(CHARTS, market_source="yahoo", market_symbol="AAPL")
    assert not app.exception
    assert "timed out" in _texts(app.error) and "Retry later" in _texts(app.caption)
    assert not app.get("plotly_chart")


def test_cached_fallback_data_is_flagged_on_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import random_walk_ohlcv

    frame = random_walk_ohlcv(300, seed=1, freq="1D")
    frame.attrs["provenance"] = {"simulated": False, "from_cache": True,
                                 "note": "Cached data from 2022-10-29: yahoo could not be reached."}
    monkeypatch.setattr("pinelab_core.ui.market_data.load_ohlcv", _fake_loader(frame))
    app = _run(CHARTS, market_source="yahoo", market_symbol="MSFT")
    assert not app.exception
    assert "Cached data from 2022-10-29" in _texts(app.warning)
    # Real (if stale) prices are not called simulated (the page's other notes, e.g. no pattern model, may show).
    assert "imulated" not in _texts(app.info)


def test_choosing_an_exchange_in_the_sidebar_loads_from_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import random_walk_ohlcv

    calls: list[tuple[str, str, str]] = []

    def load_ohlcv(symbol: str, timeframe: str, start: object, end: object, *, source: str, settings: object):  # type: ignore[no-untyped-def]
        calls.append((source, symbol, timeframe))
        return random_walk_ohlcv(200, seed=2, freq="1D")

    monkeypatch.setattr("pinelab_core.ui.market_data.load_ohlcv", load_ohlcv)
    app = _run(REPO_ROOT / "app.py")
    app.sidebar.selectbox(key="market_source").set_value("ccxt").run()
    assert not app.exception
    assert app.session_state["market_symbol"] == "BTC/USDT"  # a symbol that exists on exchanges
    app.sidebar.text_input(key="market_exchange").set_value("kraken").run()
    app.sidebar.selectbox(key="market_timeframe").set_value("4h").run()
    assert calls[-1] == ("ccxt:kraken", "BTC/USDT", "4h")
    assert app.title[0].value == "BTC/USDT · 4h"
