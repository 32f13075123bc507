"""The sidecar never leaks a secret, never echoes a stranger's body, and keeps its audit bounded."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from pinelab_core.config import Settings
from pinelab_core.errors import StoreError
from pinelab_core.signals.alerts import webhook_activity
from pinelab_core.store import get_engine, make_engine
from pinelab_core.store.tables import WebhookRefusalRow, WebhookRequestRow
from pinelab_core.webhook import ALERT_PATH, create_app
from pinelab_core.webhook.enrich import AlertEnricher
from pinelab_core.webhook.security import sign_body
from pinelab_core.webhook.writer import prune_webhook_audit
from tests.conftest import random_walk_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

SECRET = "tr0ub4dor-and-3"
HMAC_SECRET = "signing-key-42"
ALERT = {"ticker": "BTCUSDT", "action": "buy", "price": 43000.5, "order_id": "Long", "time": "2024-01-01T12:00:00Z"}


@contextmanager
def _client(settings: Settings, **overrides: object) -> Iterator[TestClient]:
    values: dict[str, object] = {"webhook_secret": SECRET, "webhook_rate_limit": 0, **overrides}
    with TestClient(create_app(settings.with_overrides(**values), enrich=False)) as client:
        yield client


def _stored_text(settings: Settings) -> str:
    """Every reason the store keeps about requests, in one string."""
    with Session(get_engine(settings)) as session:
        reasons = [r.reason for r in session.exec(select(WebhookRequestRow))]
        reasons += [r.reason for r in session.exec(select(WebhookRefusalRow))]
    return "\n".join(reasons)


def test_hmac_only_refuses_unsigned_alerts(settings: Settings) -> None:
    body = json.dumps(ALERT).encode()
    with _client(settings, webhook_secret="", webhook_hmac_secret=HMAC_SECRET) as client:
        unsigned = client.post(ALERT_PATH, content=body, headers={"content-type": "application/json"})
        signed = client.post(ALERT_PATH, content=body, headers={"x-pinelab-signature": sign_body(body, HMAC_SECRET)})
    assert (unsigned.status_code, signed.status_code) == (401, 200)
    assert "signed requests only" in unsigned.json()["reason"]


def test_a_signed_timestamp_must_be_fresh(settings: Settings) -> None:
    body = json.dumps(ALERT).encode()
    now, stale = str(int(time.time())), str(int(time.time()) - 3600)

    def post(client: TestClient, stamp: str, signed_stamp: str) -> int:
        headers = {"x-pinelab-timestamp": stamp, "x-pinelab-signature": sign_body(body, HMAC_SECRET, signed_stamp)}
        return client.post(ALERT_PATH, content=body, headers=headers).status_code

    with _client(settings, webhook_hmac_secret=HMAC_SECRET) as client:
        assert post(client, now, now) == 200
        assert post(client, stale, stale) == 401  # a replay an hour later
        assert post(client, now, stale) == 401  # a fresh stamp pasted onto an old signature


def test_a_strangers_malformed_body_is_never_echoed_or_stored(settings: Settings) -> None:
    junk = "HELLO THERE passphrase=guess-" + SECRET[:5]
    with _client(settings) as client:
        reply = client.post(ALERT_PATH, content=junk, headers={"content-type": "text/plain"})
        leaked = client.post(ALERT_PATH, content=f"BYU BTCUSDT passphrase={SECRET}",
                             headers={"content-type": "text/plain"})
    assert reply.status_code == 400 and "HELLO" not in reply.text and "guess" not in reply.text
    assert leaked.status_code == 400 and "BYU" in leaked.json()["reason"]  # the owner is told what was wrong...
    assert SECRET not in leaked.text  # ...with the secret masked
    stored = _stored_text(settings)
    assert "HELLO" not in stored and SECRET not in stored and "guess" not in stored


def test_refusals_are_counted_not_stored_one_row_each(settings: Settings) -> None:
    with _client(settings) as client:
        for n in range(40):
            client.post(ALERT_PATH, content=json.dumps({**ALERT, "passphrase": f"wrong-{n}"}),
                        headers={"content-type": "application/json"})
    with Session(get_engine(settings)) as session:
        assert session.exec(select(func.count()).select_from(WebhookRequestRow)).one() == 0
        rows = session.exec(select(WebhookRefusalRow)).all()
    assert [(r.outcome, r.count) for r in rows] == [("unauthorized", 40)]
    assert webhook_activity(get_engine(settings)).by_outcome == {"unauthorized": 40}


def test_old_audit_rows_are_pruned(settings: Settings) -> None:
    engine = get_engine(settings)
    old, recent = datetime.now(UTC) - timedelta(days=40), datetime.now(UTC) - timedelta(days=2)
    with Session(engine) as session:
        for when in (old, recent):
            session.add(WebhookRequestRow(received_at=when, status_code=200, outcome="accepted"))
            session.add(WebhookRefusalRow(period_start=when.replace(minute=0, second=0, microsecond=0),
                                          outcome="unauthorized", status_code=401, reason="r", count=3, last_at=when))
        session.commit()
    with engine.begin() as connection:
        assert prune_webhook_audit(connection, 30) == 2
    with _client(settings, webhook_audit_days=1):  # the sidecar prunes when it starts
        pass
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(WebhookRequestRow)).one() == 0
        assert session.exec(select(func.count()).select_from(WebhookRefusalRow)).one() == 0


def test_secrets_are_masked_in_logs_and_settings_repr(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    configured = settings.with_overrides(webhook_secret=SECRET, webhook_hmac_secret=HMAC_SECRET,
                                         database_url="postgresql://desk:hunter22@db.example/pinelab")
    shown = repr(configured)
    assert SECRET not in shown and HMAC_SECRET not in shown and "hunter22" not in shown and "***" in shown
    with _client(settings, webhook_hmac_secret=HMAC_SECRET), caplog.at_level(logging.ERROR):
        logging.getLogger("pinelab_core.webhook.writer").error("failed for %s with %s", SECRET, HMAC_SECRET)
    assert caplog.messages and SECRET not in caplog.text and HMAC_SECRET not in caplog.text


def test_store_errors_never_show_a_database_password() -> None:
    with pytest.raises(StoreError) as caught:
        make_engine("postgresql://desk:hunter22@127.0.0.1:1/pinelab?connect_timeout=1")
    assert "hunter22" not in str(caught.value) and "desk:***@" in str(caught.value)


def test_the_enrichment_cache_is_bounded(settings: Settings) -> None:
    ohlcv = random_walk_ohlcv(200)
    loads: list[str] = []

    def loader(ticker: str, timeframe: str) -> pd.DataFrame:
        loads.append(ticker)
        return ohlcv

    enricher = AlertEnricher(get_engine(settings), settings, loader=loader, max_markets=2)
    for ticker in ("A", "B", "C", "A"):
        enricher._market(ticker, "1h")
    assert len(enricher._cache) == 2 and loads == ["A", "B", "C", "A"]  # A was evicted by C, loaded again
