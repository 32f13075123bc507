"""The Signals page under Streamlit's AppTest: consensus, feed with filters, webhook status from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.signals.feed import filter_feed, signal_feed
from pinelab_core.store import get_engine
from pinelab_core.structure import REGIME_NAMES
from pinelab_core.webhook import ALERT_PATH, create_app
from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "app_pages" / "7_Signals.py"


def _send_alerts(tmp_path: Path) -> None:
    """Post alerts through the real sidecar into the database the page will read (PINELAB_DATA_DIR)."""
    settings = Settings.from_env(secrets_path=tmp_path / "none.toml").with_overrides(webhook_rate_limit=0,
                                                                                   webhook_insecure=True)
    with TestClient(create_app(settings, enrich=False)) as client:
        client.post(ALERT_PATH, content="BUY BTCUSDT @ 43000", headers={"content-type": "text/plain"})
        client.post(ALERT_PATH, content=json.dumps({"ticker": "ETHUSD", "action": "sell", "price": 2300}))
        client.post(ALERT_PATH, content="{broken", headers={"content-type": "application/json"})


def test_feed_merges_alerts_and_tracked_calls_and_filters(tmp_path: Path) -> None:
    _send_alerts(tmp_path)
    feed = signal_feed(get_engine(Settings.from_env(secrets_path=tmp_path / "none.toml")))
    assert list(feed["symbol"]) == ["ETHUSD", "BTCUSDT"] and set(feed["source"]) == {"tradingview"}
    assert list(filter_feed(feed, actions=["BUY"])["symbol"]) == ["BTCUSDT"]
    assert filter_feed(feed, symbols=["ETHUSD"], actions=["BUY"]).empty


@pytest.mark.slow
def test_page_shows_consensus_feed_and_webhook_status(tmp_path: Path) -> None:
    _send_alerts(tmp_path)
    app = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Consensus"] in {"BUY", "SELL", "HOLD"}
    assert metrics["Market regime"] in {*REGIME_NAMES, "unknown"}
    assert metrics["Requests"] == "3" and metrics["Accepted"] == "2" and metrics["Last alert"] != "none yet"
    assert [t.label for t in app.tabs] == ["Chart", "Live feed", "Weights & track record", "Webhook"]
    assert any('"passphrase"' not in c.value and "{{ticker}}" in c.value for c in app.code)
    feed = app.dataframe[0].value
    assert {"BTCUSDT", "ETHUSD"} <= set(feed["symbol"])
    consensus = app.dataframe[1].value  # the consensus per market, this round's market included
    assert list(consensus["symbol"]) == ["DEMO-EQUITY"] and consensus["action"].iloc[0] == metrics["Consensus"]
    # each source's record split by the HMM regime of its calls' bars
    assert any({"source", "market_regime", "calls", "hit_rate"} <= set(d.value.columns) for d in app.dataframe)
    app.toggle(key="signals_regime_weights").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    regime = {m.label: m.value for m in app.metric}["Market regime"]
    assert any(c.value == f"Weights learned from the calls placed in a {regime} market (the regime now)."
               for c in app.caption)
