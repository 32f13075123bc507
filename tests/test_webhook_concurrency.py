"""Thousands of alerts from parallel clients against a real uvicorn server: each acknowledged alert stored once."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlmodel import Session, func, select

from pinelab_core.config import Settings
from pinelab_core.store import get_engine
from pinelab_core.store.tables import TradingViewAlertRow, WebhookRequestRow
from pinelab_core.webhook import ALERT_PATH, create_app

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

SECRET = "load-test-secret"
CLIENTS = 8
ALERTS_PER_CLIENT = 300  # 2,400 distinct alerts
RESENDS_PER_CLIENT = 60  # each client also resends alerts another client is sending at the same time


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serve(settings: Settings, **overrides: object) -> Iterator[str]:
    port = _free_port()
    app = create_app(settings.with_overrides(webhook_secret=SECRET, webhook_rate_limit=0, **overrides), enrich=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(20)


@pytest.fixture
def server_url(settings: Settings) -> Iterator[str]:
    with _serve(settings) as url:
        yield url


@pytest.fixture
def patient_server_url(settings: Settings) -> Iterator[str]:
    """A sidecar that waits long for a busy store: for tests about exactly-once, not latency (a busy CI box)."""
    with _serve(settings, webhook_store_wait_s=30) as url:
        yield url


def _alert(n: int) -> bytes:
    return json.dumps({"ticker": "BTCUSDT", "action": "buy" if n % 2 else "sell", "price": 40000 + n,
                       "order_id": f"order-{n}", "time": "2024-01-01T12:00:00Z", "passphrase": SECRET}).encode()


def _client_run(url: str, client_number: int) -> list[tuple[int, int, bool]]:
    """(alert number, stored id, duplicate) for every acknowledged alert this client sent."""
    mine = range(client_number * ALERTS_PER_CLIENT, (client_number + 1) * ALERTS_PER_CLIENT)
    neighbour = (client_number + 1) % CLIENTS * ALERTS_PER_CLIENT
    numbers = [*mine, *range(neighbour, neighbour + RESENDS_PER_CLIENT)]
    acknowledged = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in numbers:
            reply = client.post(ALERT_PATH, content=_alert(n), headers={"content-type": "application/json"})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            acknowledged.append((n, body["id"], body["duplicate"]))
    return acknowledged


@pytest.mark.slow
def test_parallel_clients_lose_nothing_and_store_each_alert_once(patient_server_url: str,
                                                                 settings: Settings) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        replies = [r for batch in pool.map(lambda c: _client_run(patient_server_url, c), range(CLIENTS))
                   for r in batch]
    ids_by_alert: dict[int, set[int]] = {}
    for n, stored_id, _ in replies:
        ids_by_alert.setdefault(n, set()).add(stored_id)
    assert len(ids_by_alert) == CLIENTS * ALERTS_PER_CLIENT
    assert all(len(ids) == 1 for ids in ids_by_alert.values())  # every copy points at the same row
    assert sum(not duplicate for _, _, duplicate in replies) == CLIENTS * ALERTS_PER_CLIENT
    with Session(get_engine(settings)) as session:
        stored = dict(session.exec(select(TradingViewAlertRow.id, TradingViewAlertRow.order_id)).all())
        audited = session.exec(select(func.count()).select_from(WebhookRequestRow)).one()
    assert len(stored) == CLIENTS * ALERTS_PER_CLIENT
    assert all(stored[next(iter(ids))] == f"order-{n}" for n, ids in ids_by_alert.items())
    assert audited == len(replies)


def _cli_sidecar(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "pinelab_core", "webhook", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}{ALERT_PATH}"
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    pytest.fail("pinelab webhook did not start")


@pytest.mark.slow
def test_pinelab_webhook_trusts_forwarded_for_only_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # uvicorn on its own rewrites the client from X-Forwarded-For when the peer is 127.0.0.1; the sidecar must not.
    tradingview = {"x-forwarded-for": "52.89.214.238"}
    env = {**os.environ, "PINELAB_DATA_DIR": str(tmp_path), "PINELAB_WEBHOOK_IP_ALLOWLIST": "tradingview",
           "PINELAB_WEBHOOK_ENRICH": "0", "PINELAB_WEBHOOK_SECRET": SECRET}
    for trust, expected in (("0", 403), ("1", 200)):
        process, url = _cli_sidecar({**env, "PINELAB_WEBHOOK_TRUST_FORWARDED": trust})
        try:
            reply = httpx.post(url, content=f"BUY BTCUSDT @ 43000 passphrase={SECRET}", headers=tradingview, timeout=30)
        finally:
            process.terminate()
            process.wait(30)
        assert reply.status_code == expected, (trust, reply.text)


LOCK_SECONDS = 5.0


def _hold_write_lock(settings: Settings, seconds: float) -> subprocess.Popen[str]:
    """Another process takes the store's write lock for `seconds` (returns once it holds it)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(float(sys.argv[2])); "
                "c.execute('COMMIT')")
        target = url.split("///", 1)[1]
    else:  # the alert table locked against writes, as a long migration or a manual session would
        code = ("import psycopg, sys, time; c = psycopg.connect(sys.argv[1]); "
                "c.execute('LOCK TABLE tradingview_alert IN EXCLUSIVE MODE'); print('locked', flush=True); "
                "time.sleep(float(sys.argv[2])); c.commit()")
        target = url.replace("postgresql+psycopg://", "postgresql://")
    holder = subprocess.Popen([sys.executable, "-c", code, target, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.slow
def test_a_locked_store_gets_503s_never_a_hang_and_healthz_keeps_answering(server_url: str,
                                                                            settings: Settings) -> None:
    get_engine(settings)  # schema in place before another process locks it
    stop = threading.Event()
    health: list[tuple[float, str]] = []

    def poll_health() -> None:
        with httpx.Client(base_url=server_url, timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                body = client.get("/healthz").json()
                health.append((time.perf_counter() - started, body["database"]))
                time.sleep(0.05)

    def send(client_number: int) -> list[tuple[int, int, int | None]]:
        replies = []
        with httpx.Client(base_url=server_url, timeout=30) as client:
            for n in range(client_number * 1000, client_number * 1000 + 60):
                reply = client.post(ALERT_PATH, content=_alert(n), headers={"content-type": "application/json"})
                replies.append((n, reply.status_code, reply.json().get("id")))
                time.sleep(0.1)
        return replies

    poller = threading.Thread(target=poll_health)
    poller.start()
    with ThreadPoolExecutor(6) as pool:
        sending = [pool.submit(send, c) for c in range(6)]
        time.sleep(1.5)
        holder = _hold_write_lock(settings, LOCK_SECONDS)
        replies = [r for future in sending for r in future.result()]
    holder.wait(30)
    stop.set()
    poller.join(30)
    with Session(get_engine(settings)) as session:
        stored = dict(session.exec(select(TradingViewAlertRow.order_id, TradingViewAlertRow.id)).all())
    acknowledged = {n: alert_id for n, status, alert_id in replies if status == 200}
    refused = {n for n, status, _ in replies if status != 200}
    assert {status for _, status, _ in replies} == {200, 503}  # the fault bit, and the sidecar recovered
    assert all(status in (200, 503) for _, status, _ in replies)
    assert all(stored.get(f"order-{n}") == alert_id for n, alert_id in acknowledged.items())  # each 200: stored once
    assert len(stored) == len(acknowledged)  # a 503 was never written
    assert not refused & set(acknowledged)
    latencies = sorted(seconds for seconds, _ in health)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    locked = sum(state == "locked" for _, state in health)
    print(f"healthz p99 {p99 * 1000:.1f} ms over {len(latencies)} polls ({locked} said locked, slowest "
          f"{latencies[-1] * 1000:.0f} ms); {len(refused)} alerts got 503")
    # It kept answering while the store was locked, without waiting for the lock: a health check that waited
    # (it used to stall 2.85 s of 3) answers "locked" a couple of times per lock, not every 50 ms. Counted, not
    # timed against one slowest reply: on a loaded CI machine one reply can take a second for reasons of its own.
    assert locked >= 10, (locked, len(health))
    assert p99 < LOCK_SECONDS / 5
