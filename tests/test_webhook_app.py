"""The sidecar end to end through FastAPI's TestClient: every status, duplicates, audit, secrets never stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError
from pinelab_core.signals.alerts import list_alerts, webhook_activity
from pinelab_core.store import get_engine
from pinelab_core.store.tables import TradingViewAlertRow, WebhookRefusalRow, WebhookRequestRow
from pinelab_core.webhook import ALERT_PATH, check_binding, create_app
from pinelab_core.webhook.enrich import AlertEnricher
from pinelab_core.webhook.security import TokenBucketLimiter, sign_body
from tests.conftest import random_walk_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

SECRET = "correct-horse-battery"
ALERT = {"ticker": "BTCUSDT", "exchange": "BINANCE", "interval": "60", "time": "2024-01-01T12:00:00Z",
         "action": "buy", "price": 43000.5, "contracts": 0.5, "order_id": "Long", "market_position": "long"}




@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., object]]:
    @contextmanager
    def factory(**overrides: object) -> Iterator[TestClient]:
        values: dict[str, object] = {"webhook_secret": SECRET, "webhook_rate_limit": 0}
        values.update(overrides)
        app = create_app(settings.with_overrides(**values), enrich=False)
        with TestClient(app, client=("203.0.113.9", 5000)) as client:
            yield client

    yield factory


def _post(client: TestClient, body: object, **headers: str) -> object:
    if isinstance(body, dict):
        headers = {"content-type": "application/json", **headers}
        return client.post(ALERT_PATH, content=json.dumps(body), headers=headers)
    return client.post(ALERT_PATH, content=body, headers={"content-type": "text/plain", **headers})


def _outcomes(settings: Settings) -> list[tuple[int, str]]:
    """Accepted requests in order, then the refusals (counted, not stored one row each), expanded."""
    with Session(get_engine(settings)) as session:
        rows = session.exec(select(WebhookRequestRow).order_by(WebhookRequestRow.id)).all()
        refused = session.exec(select(WebhookRefusalRow).order_by(WebhookRefusalRow.status_code)).all()
    return [(r.status_code, r.outcome) for r in rows] + [(r.status_code, r.outcome) for r in refused for _ in
                                                         range(r.count)]


def test_json_text_plain_and_sentence_are_accepted_and_stored(make_client, settings: Settings) -> None:
    with make_client() as client:
        json_reply = _post(client, {**ALERT, "passphrase": SECRET})
        text_reply = _post(client, json.dumps({**ALERT, "order_id": "Long 2", "secret": SECRET}))
        sentence = _post(client, f"sell 2 ETHUSD at 2300.5 passphrase={SECRET}")
    assert [r.status_code for r in (json_reply, text_reply, sentence)] == [200, 200, 200]
    assert json_reply.json()["duplicate"] is False and sentence.json()["action"] == "SELL"
    alerts = list_alerts(get_engine(settings), limit=10)
    assert list(alerts["ticker"]) == ["ETHUSD", "BTCUSDT", "BTCUSDT"]  # newest first
    first = alerts.iloc[-1]
    assert (first["price"], first["order_id"], first["market_position"]) == (43000.5, "Long", "long")
    assert first["bar_time"] == pd.Timestamp("2024-01-01T12:00:00Z")


def test_the_same_alert_twice_is_stored_once(make_client, settings: Settings) -> None:
    with make_client() as client:
        first = _post(client, {**ALERT, "passphrase": SECRET})
        again = _post(client, {**ALERT, "passphrase": SECRET})
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    with Session(get_engine(settings)) as session:
        assert len(session.exec(select(TradingViewAlertRow)).all()) == 1
    assert _outcomes(settings) == [(200, "accepted"), (200, "duplicate")]


@pytest.mark.parametrize(
    ("body", "status", "outcome"),
    [
        ({**ALERT}, 401, "unauthorized"),
        ({**ALERT, "passphrase": "wrong"}, 401, "unauthorized"),
        ({**ALERT, "passphrase": "pässwörd"}, 401, "unauthorized"),  # non-ASCII must not crash compare_digest
        ("BUY BTCUSDT @ 43000", 401, "unauthorized"),
        ("{broken json", 400, "malformed"),
        ("", 400, "malformed"),
        ("what a lovely day", 400, "malformed"),
        ({**ALERT, "action": "moon", "passphrase": SECRET}, 422, "invalid"),
        ({**ALERT, "price": -5, "passphrase": SECRET}, 422, "invalid"),
        ({**ALERT, "contracts": 1e12, "passphrase": SECRET}, 422, "invalid"),
        (f"BUY BTCUSDT @ zero passphrase={SECRET}", 422, "invalid"),
    ],
)
def test_refusals_get_their_status_and_an_audit_row(make_client, settings: Settings, body: object, status: int,
                                                    outcome: str) -> None:
    with make_client() as client:
        reply = _post(client, body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"] == outcome and reply.json()["reason"]
    assert _outcomes(settings) == [(status, outcome)]


def test_a_wrong_passphrase_is_checked_before_the_fields(make_client) -> None:
    with make_client() as client:  # an outsider learns nothing about which fields are valid
        assert _post(client, {"ticker": "BTCUSDT", "action": "moon", "passphrase": "guess"}).status_code == 401


def test_bodies_over_64_kib_are_refused_before_parsing(make_client, settings: Settings) -> None:
    big = json.dumps({**ALERT, "passphrase": SECRET, "comment": "x" * 70_000})
    with make_client() as client:
        declared = _post(client, big)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the cap applies while streaming
            for _ in range(20):
                yield b"x" * 4096

        streamed = client.post(ALERT_PATH, content=chunks(), headers={"content-type": "text/plain"})
    assert declared.status_code == streamed.status_code == 413
    assert _outcomes(settings) == [(413, "too_large"), (413, "too_large")]


def test_only_failed_authentication_is_rate_limited(make_client, settings: Settings) -> None:
    # TradingView sends everyone's alerts from four addresses: a stranger guessing must not starve ours.
    with make_client(webhook_rate_limit=2) as client:
        guesses = [_post(client, {**ALERT, "order_id": str(i), "passphrase": "guess"}) for i in range(5)]
        ours = [_post(client, {**ALERT, "order_id": str(i), "passphrase": SECRET}) for i in range(10)]
    codes = [r.status_code for r in guesses]
    assert codes[:2] == [401, 401] and set(codes[2:]) == {429}
    limited = guesses[-1]
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"] == "rate_limited"
    assert [r.status_code for r in ours] == [200] * 10  # same address, right secret: never limited
    assert _outcomes(settings).count((429, "rate_limited")) == 3


def test_token_bucket_refills_at_the_configured_rate() -> None:
    limiter = TokenBucketLimiter(rate=5)
    assert all(limiter.acquire("a", now=100.0) == 0 for _ in range(5))
    assert limiter.acquire("a", now=100.0) > 0 and limiter.acquire("b", now=100.0) == 0  # per client
    assert limiter.acquire("a", now=100.3) == 0  # 0.3 s at 5/s refilled more than one token
    assert TokenBucketLimiter(rate=0).acquire("a") == 0  # 0 = off


def test_allowlist_and_forwarded_for(make_client, settings: Settings) -> None:
    tradingview = "52.89.214.238"
    with make_client(webhook_ip_allowlist=(tradingview,)) as client:
        direct = _post(client, {**ALERT, "passphrase": SECRET})
        spoofed = _post(client, {**ALERT, "passphrase": SECRET}, **{"x-forwarded-for": tradingview})
    assert direct.status_code == spoofed.status_code == 403  # forwarded-for is ignored unless trusted
    with make_client(webhook_ip_allowlist=(tradingview,), webhook_trust_forwarded=True) as client:
        proxied = _post(client, {**ALERT, "passphrase": SECRET}, **{"x-forwarded-for": f"10.0.0.1, {tradingview}"})
        forged_left = _post(client, {**ALERT, "passphrase": SECRET}, **{"x-forwarded-for": f"{tradingview}, 10.0.0.1"})
    assert proxied.status_code == 200 and forged_left.status_code == 403
    assert (403, "forbidden") in _outcomes(settings)


def test_allowlist_setting_tradingview_means_the_published_addresses() -> None:
    settings = Settings.from_env({"PINELAB_WEBHOOK_IP_ALLOWLIST": "tradingview"}, secrets_path=Path("/nonexistent"))
    assert settings.webhook_ip_allowlist == ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


def test_hmac_signature_authenticates_signed_senders(make_client) -> None:
    body = json.dumps(ALERT).encode()  # no passphrase: the signature is the credential
    with make_client(webhook_hmac_secret="sign-me") as client:
        good = client.post(ALERT_PATH, content=body, headers={"content-type": "application/json",
                                                               "x-pinelab-signature": sign_body(body, "sign-me")})
        bad = client.post(ALERT_PATH, content=body, headers={"content-type": "application/json",
                                                              "x-pinelab-signature": sign_body(body, "nope")})
        tampered = client.post(ALERT_PATH, content=body.replace(b"43000.5", b"1.0"),
                               headers={"content-type": "application/json",
                                        "x-pinelab-signature": sign_body(body, "sign-me")})
    assert (good.status_code, bad.status_code, tampered.status_code) == (200, 401, 401)
    with make_client() as client:  # signed, but this sidecar has no HMAC secret: refused, not ignored
        unconfigured = client.post(ALERT_PATH, content=body, headers={"x-pinelab-signature": sign_body(body, "x")})
    assert unconfigured.status_code == 401


def test_the_passphrase_is_never_stored(make_client, settings: Settings) -> None:
    with make_client() as client:
        _post(client, {**ALERT, "passphrase": SECRET, "comment": f"oops I pasted {SECRET} here"})
        _post(client, f"BUY ETHUSD @ 2000 passphrase={SECRET}")
        _post(client, {**ALERT, "passphrase": SECRET + "x"})  # a wrong guess is not stored either
        _post(client, {**ALERT, "passphrase": "guess-" + SECRET})
    database = settings.data_dir / "pinelab.db"
    stored = b"".join(p.read_bytes() for p in database.parent.glob("pinelab.db*"))
    assert SECRET.encode() not in stored
    with Session(get_engine(settings)) as session:
        payloads = [r.payload for r in session.exec(select(TradingViewAlertRow))]
    assert len(payloads) == 2 and all(SECRET not in p and "passphrase" not in p for p in payloads)


def test_fastapi_errors_keep_the_json_shape_and_stay_4xx(make_client) -> None:
    with make_client() as client:
        assert client.get(ALERT_PATH).status_code == 405
        missing = client.get("/nope")
        health = client.get("/healthz")
        schema = client.get("/openapi.json").json()
    assert missing.status_code == 404 and missing.json()["ok"] is False
    assert health.status_code == 200 and health.json()["database"] == "ok"
    content = schema["paths"][ALERT_PATH]["post"]["requestBody"]["content"]
    assert {"application/json", "text/plain"} <= set(content)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_refuses_to_listen_publicly_without_a_secret(host: str) -> None:
    with pytest.raises(ConfigError, match="without a secret"):
        check_binding(Settings(), host, 8787)
    check_binding(Settings(webhook_secret="s"), host, 8787)  # with a secret it may


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_a_secret_unless_insecure(host: str) -> None:
    # A tunnel or reverse proxy forwards the public internet to 127.0.0.1 just the same.
    with pytest.raises(ConfigError, match="PINELAB_WEBHOOK_SECRET"):
        check_binding(Settings(), host, 8787)
    check_binding(Settings(webhook_insecure=True), host, 8787)
    check_binding(Settings(webhook_hmac_secret="h"), host, 8787)


def test_the_app_refuses_to_run_without_a_secret(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="--insecure"):
        create_app(settings)


def test_cli_insecure_is_loopback_only_and_warns(capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    assert main(["webhook", "--port", "8787"]) == 2
    assert "no secret" in capsys.readouterr().err
    assert main(["webhook", "--insecure", "--host", "0.0.0.0", "--port", "8787"]) == 2
    assert "without a secret" in capsys.readouterr().err


def test_cli_refuses_public_bind_without_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    assert main(["webhook", "--host", "0.0.0.0", "--port", "8787"]) == 2
    assert "without a secret" in capsys.readouterr().err


def test_cli_lists_alerts_newest_first_as_json(make_client, settings: Settings,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    with make_client() as client:
        _post(client, {**ALERT, "passphrase": SECRET})
        _post(client, f"sell 2 ETHUSD at 2300.5 passphrase={SECRET}")
    assert main(["alerts", "--limit", "5", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["ticker"] for a in listed] == ["ETHUSD", "BTCUSDT"]
    assert listed[1]["order_id"] == "Long" and listed[1]["status"] == "accepted" and listed[0]["price"] == 2300.5
    assert main(["alerts"]) == 0
    table = capsys.readouterr().out
    assert "2024-01-01 12:00:00" in table and "ETHUSD" in table and "NaT" not in table and "nan" not in table


def test_activity_counts_accepted_and_rejected_with_reasons(make_client, settings: Settings) -> None:
    with make_client() as client:
        _post(client, {**ALERT, "passphrase": SECRET})
        _post(client, {**ALERT, "passphrase": "bad"})
        _post(client, {**ALERT, "passphrase": "bad"})
        _post(client, "{oops")
    activity = webhook_activity(get_engine(settings))
    assert activity.by_outcome == {"accepted": 1, "unauthorized": 2, "malformed": 1}
    assert activity.rejections.iloc[0]["count"] == 2 and activity.last_alert["ticker"] == "BTCUSDT"


def test_enrichment_adds_market_context_after_the_answer(settings: Settings) -> None:
    ohlcv = random_walk_ohlcv(500, freq="1h")
    ohlcv.index = ohlcv.index + (pd.Timestamp.now(tz="UTC").floor("h") - ohlcv.index[-1])
    engine = get_engine(settings)
    app = create_app(settings.with_overrides(webhook_rate_limit=0, webhook_insecure=True), engine=engine, enrich=False)
    with TestClient(app) as client:
        alert_id = _post(client, {**ALERT, "time": None}).json()["id"]
    enricher = AlertEnricher(engine, settings, loader=lambda ticker, timeframe: ohlcv)
    assert enricher.enrich([alert_id]) == 1
    row = list_alerts(engine, limit=1).iloc[0]
    assert row["status"] == "enriched"
    market = row["enrichment"]["market"]
    assert market["bar_time"] == ohlcv.index[-1].isoformat() and 0 <= market["rsi_14"] <= 100
    assert row["enrichment"]["timeframe"] == "1h" and "stale" not in row["enrichment"]
    assert "model" not in row["enrichment"]  # no model is active: no opinion, and torch is not imported for it


def test_enrichment_says_when_the_data_ends_before_the_alert(settings: Settings) -> None:
    old = random_walk_ohlcv(300, freq="1h")  # ends in 2022
    engine = get_engine(settings)
    with TestClient(create_app(settings.with_overrides(webhook_insecure=True), engine=engine, enrich=False)) as client:
        alert_id = _post(client, {**ALERT, "time": None}).json()["id"]
    AlertEnricher(engine, settings, loader=lambda ticker, timeframe: old).enrich([alert_id])
    enrichment = list_alerts(engine, limit=1).iloc[0]["enrichment"]
    assert enrichment["stale"] is True and "bars before the alert" in enrichment["note"]


def test_an_acknowledged_alert_is_already_committed(make_client, settings: Settings) -> None:
    with make_client() as client:
        reply = _post(client, {**ALERT, "passphrase": SECRET})
        with Session(get_engine(settings)) as session:  # another connection, while the server is still up
            assert session.get(TradingViewAlertRow, reply.json()["id"]) is not None


def test_copies_inside_one_batch_collapse_to_one_row(settings: Settings) -> None:
    from pinelab_core.signals.alerts import alert_row_values
    from pinelab_core.signals.tradingview import decode_alert_body, validate_alert
    from pinelab_core.webhook.writer import AlertWriter, AuditEntry, WriteJob

    raw = decode_alert_body(json.dumps(ALERT).encode())
    values = alert_row_values(validate_alert(raw), raw, pd.Timestamp("2024-01-01T12:00:30Z").to_pydatetime())
    job = WriteJob(AuditEntry("127.0.0.1", 200, "accepted"), values)
    first, second = AlertWriter(get_engine(settings)).write([job, job])
    assert (first.duplicate, second.duplicate) == (False, True) and first.alert_id == second.alert_id


def test_a_broken_store_answers_503_not_a_silent_200(make_client, settings: Settings) -> None:
    with make_client() as client:
        with get_engine(settings).begin() as connection:
            connection.exec_driver_sql("DROP TABLE tradingview_alert")
        accepted = _post(client, {**ALERT, "passphrase": SECRET})
        refused = _post(client, {**ALERT, "passphrase": "nope"})  # a refusal still gets its own status
    assert accepted.status_code == 503 and accepted.json()["error"] == "store_unavailable"
    assert refused.status_code == 401


def test_the_running_sidecar_enriches_after_answering(settings: Settings) -> None:
    import time

    engine = get_engine(settings)
    insecure = settings.with_overrides(default_source="demo", webhook_insecure=True)
    with TestClient(create_app(insecure, engine=engine, enrich=True)) as client:
        reply = _post(client, "BUY DEMO-BTC @ 100 tf=60")
        assert reply.status_code == 200
        assert list_alerts(engine, limit=1).iloc[0]["status"] in {"accepted", "enriched"}  # the answer did not wait
        deadline = time.monotonic() + 60
        while list_alerts(engine, limit=1).iloc[0]["status"] == "accepted" and time.monotonic() < deadline:
            time.sleep(0.1)
    row = list_alerts(engine, limit=1).iloc[0]
    assert row["status"] == "enriched", row["enrichment"]
    assert row["enrichment"]["data_source"] == "demo" and row["enrichment"]["simulated"] is True
    assert row["enrichment"]["market"]["regime"] in {"up_calm", "up_volatile", "down_calm", "down_volatile", "unknown"}
