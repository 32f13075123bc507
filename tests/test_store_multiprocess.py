"""Many processes, one store: two dashboard tabs, the CLI, training workers and the webhook sidecar at once.

Afterwards nothing is duplicated, nothing acknowledged is lost, and the learned weights equal a serial run's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from pinelab_core.config import Settings
from pinelab_core.signals.desk import run_signal_desk
from pinelab_core.store import get_engine
from pinelab_core.store.tables import (
    AggregatedSignalRow,
    JobLogRow,
    PredictionRow,
    SignalOutcomeRow,
    SourceWeightRow,
    TradingViewAlertRow,
)
from pinelab_core.training.jobs import submit_job
from tests.conftest import REPO_ROOT
from tests.multiwriter import LOG_LINES, MARKET, ROUND_ENDS, SOURCES

pytestmark = [pytest.mark.both_backends, pytest.mark.slow]

SECRET = "multi-writer-secret"
ALERTS = 200


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _sidecar(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = _spawn({**env, "PINELAB_WEBHOOK_SECRET": SECRET, "PINELAB_WEBHOOK_ENRICH": "0",
                      "PINELAB_WEBHOOK_RATE_LIMIT": "0"}, "-m", "pinelab_core", "webhook", "--port", str(port))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("the sidecar did not start")


def _send_alerts(url: str) -> dict[int, int]:
    acknowledged = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in [*range(ALERTS), *range(0, ALERTS, 10)]:  # 10% sent twice
            body = json.dumps({"ticker": "ETHUSDT", "action": "buy", "price": 2000 + n, "order_id": f"o-{n}",
                               "time": "2024-01-01T00:00:00Z", "passphrase": SECRET})
            reply = client.post("/webhook/tradingview", content=body, headers={"content-type": "application/json"})
            if reply.status_code == 200:
                acknowledged.setdefault(n, reply.json()["id"])
                assert acknowledged[n] == reply.json()["id"]
    return acknowledged


def _state(settings: Settings) -> dict[str, object]:
    with Session(get_engine(settings)) as session:
        weights = {(r.data_source, r.symbol, r.timeframe, r.source): (round(r.weight, 12), r.n_outcomes)
                   for r in session.exec(select(SourceWeightRow)).scalars()}
        calls = session.execute(select(SignalOutcomeRow.source, SignalOutcomeRow.symbol, SignalOutcomeRow.time,
                                       SignalOutcomeRow.horizon, SignalOutcomeRow.reward)).all()
        consensus = session.execute(select(AggregatedSignalRow.symbol, AggregatedSignalRow.time)).all()
    return {"weights": weights, "calls": sorted(calls, key=str), "consensus_keys": len(set(consensus)),
            "consensus_rows": len(consensus)}


def test_many_writers_leave_no_duplicates_lose_nothing_and_match_a_serial_run(settings: Settings,
                                                                            second_store: Settings) -> None:
    get_engine(settings)  # one schema before the crowd arrives
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PINELAB_DATA_DIR": str(settings.data_dir),
           "PINELAB_DEFAULT_SOURCE": "demo"}
    if settings.database_url:
        env["PINELAB_DATABASE_URL"] = settings.database_url
    jobs = [submit_job(settings, "train", {}, dispatch=False) for _ in range(2)]
    sidecar, url = _sidecar(env)
    try:
        writers = [_spawn(env, "-m", "tests.multiwriter", "dashboard") for _ in range(2)]
        writers += [_spawn(env, "-m", "tests.multiwriter", "training", str(job), str(n)) for n, job in enumerate(jobs)]
        writers += [_spawn(env, "-m", "pinelab_core", "signals", "--symbol", "DEMO-EQUITY", "--source", "demo",
                           "--sources", "rsi,macd", "--json") for _ in range(2)]
        with ThreadPoolExecutor(1) as pool:
            acknowledged = pool.submit(_send_alerts, url).result()
        for writer in writers:
            _, err = writer.communicate(timeout=300)
            assert writer.returncode == 0, err.decode()[-2000:]
    finally:
        sidecar.terminate()
        sidecar.wait(30)

    engine = get_engine(settings)
    with Session(engine) as session:
        stored = dict(session.execute(select(TradingViewAlertRow.order_id, TradingViewAlertRow.id)).all())
        logs = session.execute(select(func.count()).select_from(JobLogRow).where(JobLogRow.job_id.in_(jobs))).scalar()
        predictions = session.execute(select(func.count()).select_from(PredictionRow)).scalar()
    assert len(acknowledged) == ALERTS and stored == {f"o-{n}": i for n, i in acknowledged.items()}
    assert logs == 2 * (LOG_LINES + 1)  # + the "queued" line each
    assert predictions == len(ROUND_ENDS)  # both tabs logged every bar's prediction; each stored once

    serial = get_engine(second_store)
    for end in ROUND_ENDS:  # the same rounds, one tab, nobody else
        run_signal_desk(MARKET.iloc[:end], "X", "1h", engine=serial, sources=SOURCES, horizon=5)
    crowd, alone = _state(settings), _state(second_store)
    assert crowd["consensus_rows"] == crowd["consensus_keys"]  # one consensus per market and bar
    on_x = {key: value for key, value in crowd["weights"].items() if key[1] == "X"}  # type: ignore[union-attr]
    assert on_x == alone["weights"] and on_x
    assert [c for c in crowd["calls"] if c[1] == "X"] == alone["calls"]  # type: ignore[union-attr]
