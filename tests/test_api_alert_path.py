"""The insights API never holds up TradingView alerts: while an API answer is being computed, alerts are
accepted and /healthz answers; the computation runs in the API worker (a child process by default)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from test_webhook_concurrency import SECRET, _serve

from pinelab_core.api import Answer
from pinelab_core.api.worker import WORKER_NICENESS, ApiWorker
from pinelab_core.config import Settings
from pinelab_core.webhook import ALERT_PATH, create_app

TOKEN = "alert-path-token-0123456789"


@pytest.fixture(autouse=True)
def _inert_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned worker first re-imports the parent's `__main__`. A page that an AppTest test ran earlier in this
    process stays there as `__main__` and would run in the child (and crash it); `pinelab webhook`'s own main
    module is inert when re-imported, so stand in an empty one, as in production."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


def _alert(n: int) -> bytes:
    return json.dumps({"ticker": "BTCUSDT", "action": "buy", "price": 40000 + n, "order_id": f"o-{n}",
                       "time": "2024-01-01T12:00:00Z", "passphrase": SECRET}).encode()


def test_alerts_are_answered_while_an_api_computation_is_running(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    computations = []

    def slow_answer(query: object, settings: object, known: object) -> Answer:
        computations.append(query)
        started.set()
        release.wait(60)  # an expensive answer, held until the alerts below are through
        return Answer(200, b'{"status": "computed"}', inputs=())

    monkeypatch.setattr("pinelab_core.api.worker.answer_query", slow_answer)
    app = create_app(settings.with_overrides(webhook_secret=SECRET, api_token=TOKEN, api_executor="thread",
                                             webhook_rate_limit=0), enrich=False)
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        api_calls = [pool.submit(client.get, "/api/v1/patterns/DEMO-BTC", headers={"Authorization": f"Bearer {TOKEN}"})
                     for _ in range(3)]
        assert started.wait(30)
        alerts = [client.post(ALERT_PATH, content=_alert(n), headers={"content-type": "application/json"})
                  for n in range(20)]
        health = client.get("/healthz")
        assert not any(call.done() for call in api_calls)  # still computing: the alerts did not wait for it
        release.set()
        replies = [call.result(60) for call in api_calls]
    assert [a.status_code for a in alerts] == [200] * 20 and health.status_code == 200
    assert [r.status_code for r in replies] == [200, 200, 200] and len(computations) == 1  # one burst, one answer


@pytest.fixture
def sidecar(settings: Settings) -> Iterator[str]:
    """A real uvicorn server (the webhook tests' `_serve`) with the API computing in its worker process."""
    with _serve(settings, api_token=TOKEN, api_executor="process", api_timeout_s=120) as url:
        yield url


@pytest.mark.slow
def test_the_worker_process_computes_while_alerts_flow(sidecar: str) -> None:
    """The default executor: a real server, a cold answer computed in the spawned worker process (seconds:
    it imports the models and runs the signal desk) while alerts are posted and answered one after another."""
    finished: dict[str, float] = {}

    def ask() -> httpx.Response:
        reply = httpx.get(f"{sidecar}/api/v1/signals/DEMO-BTC?timeframe=1h", timeout=120,
                          headers={"Authorization": f"Bearer {TOKEN}"})
        finished["api"] = time.monotonic()
        return reply

    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=sidecar, timeout=10) as client:
        pending = pool.submit(ask)
        alerts = []
        while not pending.done() and len(alerts) < 400:
            body = _alert(len(alerts))
            alerts.append(client.post(ALERT_PATH, content=body, headers={"content-type": "application/json"}))
            finished["alert"] = time.monotonic()
        reply = pending.result(120)
    assert reply.status_code == 200 and reply.json()["consensus"]["action"] in {"BUY", "SELL", "HOLD"}
    assert len(alerts) >= 5 and all(a.status_code == 200 for a in alerts)
    assert finished["alert"] <= finished["api"]  # the alerts were answered while the API was computing


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no process priorities on this platform")
def test_the_worker_process_yields_the_cpu_to_the_sidecar(settings: Settings) -> None:
    """A cold computation on a busy machine must take the cores the alert loop leaves idle, not its share."""
    worker = ApiWorker(settings.with_overrides(api_executor="process"))
    try:
        niceness = worker._pool().submit(os.nice, 0).result(120)
    finally:
        worker.close()
    assert niceness >= min(os.nice(0) + WORKER_NICENESS, 19)

