"""Notifications reach a local webhook (Slack, Discord, Telegram and plain JSON bodies) and a local SMTP server,
are retried with backoff, deduplicated per rule and event, and every attempt is logged."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.live import Event, add_rule, deliver_pending, delivery_log, inbox, queue_events
from pinelab_core.live.delivery import SmtpConfig


class Receiver:
    """A local HTTP server that records JSON posts and answers with the queued status codes (then 200)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append((self.path, json.loads(body)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


def _flip(key: str = "bar-1") -> Event:
    return Event("consensus_flip", key, "DEMO-BTC 1h: consensus SELL -> BUY", "flipped at 12:00", "DEMO-BTC", "1h",
                 {"action": "BUY", "previous_action": "SELL", "confidence": 0.8, "previous_confidence": 0.2})


@pytest.mark.both_backends
def test_a_consensus_flip_reaches_a_webhook_once_in_each_body_format(engine, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    for body_format in ("json", "slack", "discord"):
        add_rule(engine, f"flip-{body_format}", "consensus_flip", channel="webhook", symbol="DEMO-BTC",
                 target=f"{receiver.url}/hook/{body_format}", body_format=body_format)
    add_rule(engine, "flip-telegram", "consensus_flip", channel="webhook", body_format="telegram",
             target=f"{receiver.url}/botSECRET123/sendMessage?chat_id=42")
    add_rule(engine, "other market", "consensus_flip", channel="inbox", symbol="DEMO-ETH")
    assert queue_events(engine, [_flip()]) == 4
    assert queue_events(engine, [_flip()]) == 0  # the same event again: deduplicated
    assert deliver_pending(engine).delivered == 4
    bodies = dict(receiver.posts)
    assert bodies["/hook/json"]["title"].startswith("DEMO-BTC") and bodies["/hook/json"]["action"] == "BUY"
    assert bodies["/hook/slack"] == {"text": "*DEMO-BTC 1h: consensus SELL -> BUY*\nflipped at 12:00"}
    assert bodies["/hook/discord"]["content"].startswith("**DEMO-BTC")
    assert bodies["/botSECRET123/sendMessage"] == {"chat_id": "42", "text": "DEMO-BTC 1h: consensus SELL -> BUY\n"
                                                                             "flipped at 12:00"}
    log = delivery_log(engine)
    assert len(log) == 4 and log["ok"].all()
    assert not log["target"].str.contains("SECRET123").any()  # the token in the URL is never logged
    assert deliver_pending(engine).delivered == 0 and len(receiver.posts) == 4


def test_failed_deliveries_are_retried_with_backoff_then_given_up(engine, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    add_rule(engine, "flaky", "kill_switch", channel="webhook", target=f"{receiver.url}/flaky")
    queue_events(engine, [Event("kill_switch", "account|a", "Kill switch", "stopped")])
    receiver.statuses = [500, 503]
    now = datetime.now(UTC)
    first = deliver_pending(engine, now=now, backoff_s=60)
    assert (first.delivered, first.retrying) == (0, 1)
    assert deliver_pending(engine, now=now + timedelta(seconds=30), backoff_s=60).retrying == 0  # not due yet
    assert deliver_pending(engine, now=now + timedelta(seconds=61), backoff_s=60).retrying == 1  # 2nd try: 503
    assert deliver_pending(engine, now=now + timedelta(seconds=61 + 119), backoff_s=60).retrying == 0  # 120 s now
    assert deliver_pending(engine, now=now + timedelta(seconds=61 + 121), backoff_s=60).delivered == 1
    log = delivery_log(engine).sort_values("attempt")
    assert log["attempt"].tolist() == [1, 2, 3] and log["status_code"].tolist() == [500, 503, 200]

    add_rule(engine, "dead", "job_failed", channel="webhook", target="http://127.0.0.1:9/nothing-listens")
    queue_events(engine, [Event("job_failed", "job|7", "job 7 failed", "boom")])
    for attempt in range(3):
        deliver_pending(engine, now=now + timedelta(hours=attempt + 1), backoff_s=1, max_attempts=3)
    notes = inbox(engine)
    assert notes.set_index("rule").loc["dead", "status"] == "failed"
    assert notes.set_index("rule").loc["dead", "attempts"] == 3


def test_email_goes_through_a_local_smtp_server(engine) -> None:  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Keep(Message):
        def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
            received.append(message)

    with socket.socket() as probe:  # a free port (aiosmtpd's controller cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=port, security="none", sender="desk@pinelab.test")
        add_rule(engine, "mail me", "drift_alert", channel="email", target="trader@example.com")
        queue_events(engine, [Event("drift_alert", "drift|x", "Drift: btc-1h", "12 of 40 features drifted")])
        assert deliver_pending(engine, smtp=smtp).delivered == 1
    finally:
        controller.stop()
    assert len(received) == 1
    assert received[0]["To"] == "trader@example.com" and received[0]["Subject"] == "[PineLab] Drift: btc-1h"
    assert "12 of 40 features drifted" in received[0].get_payload()


def test_inbox_rules_confidence_thresholds_and_bad_rules(engine) -> None:  # type: ignore[no-untyped-def]
    add_rule(engine, "sure", "confidence_above", threshold=0.7)
    crossing = Event("confidence_above", "b1", "BUY 80%", "", "X", "1h", {"action": "BUY", "confidence": 0.8,
                                                                        "previous_confidence": 0.5})
    staying = Event("confidence_above", "b2", "BUY 85%", "", "X", "1h", {"action": "BUY", "confidence": 0.85,
                                                                         "previous_confidence": 0.8})
    assert queue_events(engine, [crossing, staying]) == 1  # only the crossing, not every bar above 0.7
    assert deliver_pending(engine).delivered == 1
    assert inbox(engine)["title"].tolist() == ["BUY 80%"]
    with pytest.raises(DataValidationError, match="https"):
        add_rule(engine, "bad", "kill_switch", channel="webhook", target="hooks.slack.com")
    with pytest.raises(DataValidationError, match="threshold"):
        add_rule(engine, "bad2", "confidence_above")
