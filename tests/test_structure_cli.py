"""`pinelab structure`: the Market structure page's numbers in the terminal and as JSON."""

from __future__ import annotations

import json

import pytest

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.structure import market_structure


def test_structure_json_is_what_the_page_computes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["structure", "--source", "demo", "--symbol", "DEMO-EQUITY", "--bars", "300", "--alerts", "3",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    view = market_structure(load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=Settings.from_env()), bars=300)
    assert payload["regime"]["regime"] == view.current.regime and payload["bars"] == 300
    assert payload["regime"]["probability"] == pytest.approx(view.current.probability)
    assert payload["volatility"]["next_bar"] == pytest.approx(view.volatility.next_bar)
    assert [c["period_bars"] for c in payload["cycles"]] == pytest.approx(list(view.cycles["period_bars"]))
    assert payload["unusual_bars"] == len(view.alerts) and len(payload["alerts"]) == min(3, len(view.alerts))
    times = [a["time"] for a in payload["alerts"]]
    assert times == sorted(times, reverse=True), "newest first"


def test_structure_text_and_a_too_short_history(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["structure", "--source", "demo", "--symbol", "DEMO-BTC", "--timeframe", "1h", "--bars", "400"]) == 0
    out = capsys.readouterr().out
    assert "regime now:" in out and "next-bar volatility" in out and "dominant cycles" in out
    assert main(["structure", "--source", "demo", "--symbol", "DEMO-EQUITY", "--start", "2026-06-01"]) == 2
    assert "at least 300 bars" in capsys.readouterr().err
