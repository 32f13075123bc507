"""Webhook throughput on loopback: PineLab's sidecar vs a naive FastAPI + commit-per-request endpoint.

Each server runs in its own subprocess (uvicorn, 127.0.0.1 only, one worker). A load client beside
it keeps `--connections` keep-alive connections busy with distinct TradingView alerts (plus 5%
re-sends of earlier ones, as a retrying sender would) until `--alerts` are sent, measuring each
request's latency. Afterwards the database is read back: every alert acknowledged with 200 must be
stored exactly once (zero loss).

The peer is what a first webhook usually looks like: a sync FastAPI handler with a pydantic body,
one sqlite3 INSERT and COMMIT per request (WAL, same pragmas), served by the same uvicorn. PineLab
does more per request (passphrase check, rate limiter, audit row, dedupe key, secret scrubbing)
and commits in groups.

    python bench/bench_webhook.py                          # 20,000 alerts each, 32 connections
    python bench/bench_webhook.py --alerts 5000 --connections 16

The load client is a minimal asyncio HTTP/1.1 client, so that on a 2-core machine the client
does not eat the CPU the server is being measured on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "webhook.md"
SECRET = "bench-secret"
HOST = "127.0.0.1"
PATH = "/webhook/tradingview"


# --- servers (run in the subprocess) ------------------------------------------------------------


def serve_pinelab(port: int, data_dir: Path, enrich: bool = True) -> None:
    import uvicorn

    from pinelab_core.config import Settings
    from pinelab_core.webhook import create_app

    settings = Settings(data_dir=data_dir, webhook_secret=SECRET, webhook_rate_limit=0, default_source="demo",
                        webhook_enrich=enrich)
    uvicorn.run(create_app(settings), host=HOST, port=port, log_level="warning", access_log=False)


def serve_naive(port: int, data_dir: Path) -> None:
    import uvicorn
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    database = data_dir / "naive.db"
    setup = sqlite3.connect(database)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS alert (id INTEGER PRIMARY KEY, ticker TEXT, action TEXT, price REAL, "
                  "order_id TEXT, time TEXT, UNIQUE(ticker, action, price, order_id, time))")
    setup.commit()
    setup.close()

    class Alert(BaseModel):
        ticker: str
        action: str
        price: float
        order_id: str
        time: str
        passphrase: str

    app = FastAPI()

    def receive(alert: Alert) -> dict[str, object]:
        if alert.passphrase != SECRET:
            raise HTTPException(401)
        connection = sqlite3.connect(database, timeout=30)
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO alert (ticker, action, price, order_id, time) VALUES (?, ?, ?, ?, ?)",
                (alert.ticker, alert.action, alert.price, alert.order_id, alert.time))
            connection.commit()
            duplicate = cursor.rowcount == 0
            row_id = cursor.lastrowid if not duplicate else connection.execute(
                "SELECT id FROM alert WHERE ticker = ? AND action = ? AND price = ? AND order_id = ? AND time = ?",
                (alert.ticker, alert.action, alert.price, alert.order_id, alert.time)).fetchone()[0]
        finally:
            connection.close()
        return {"ok": True, "id": row_id, "duplicate": duplicate}

    # The class is local, so FastAPI cannot resolve the postponed annotation by name: hand it the class.
    receive.__annotations__["alert"] = Alert
    app.post(PATH)(receive)

    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


# --- the load client ----------------------------------------------------------------------------


def alert_body(n: int) -> bytes:
    return json.dumps({"ticker": "BTCUSDT", "action": "buy" if n % 2 else "sell", "price": 40000.0 + n,
                       "order_id": f"bench-{n}", "time": "2024-01-01T12:00:00Z", "passphrase": SECRET}).encode()


def request_bytes(body: bytes, port: int) -> bytes:
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")), 0)
    return status, await reader.readexactly(length)


async def _connection(port: int, plan: list[int], cursor: list[int], results: list[tuple[int, int, float, bytes]],
                      payloads: dict[int, bytes]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while cursor[0] < len(plan):
            n = plan[cursor[0]]
            cursor[0] += 1
            started = time.perf_counter()
            writer.write(payloads[n])
            status, body = await _read_response(reader)
            results.append((n, status, time.perf_counter() - started, body))
    finally:
        writer.close()


async def run_load(port: int, plan: list[int], connections: int) -> tuple[list[tuple[int, int, float, bytes]], float]:
    payloads = {n: request_bytes(alert_body(n), port) for n in set(plan)}
    results: list[tuple[int, int, float, bytes]] = []
    cursor = [0]
    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, plan, cursor, results, payloads) for _ in range(connections)))
    return results, time.perf_counter() - started


def load_plan(alerts: int, seed: int = 5) -> list[int]:
    """Distinct alerts with 5% re-sends of earlier ones mixed in (a sender retrying)."""
    rng = np.random.default_rng(seed)
    plan: list[int] = []
    for n in range(alerts):
        plan.append(n)
        if n > 10 and rng.random() < 0.05:
            plan.append(int(rng.integers(0, n)))
    return plan


# --- orchestration ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(kind: str, data_dir: Path, enrich: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--data-dir",
                                str(data_dir), *([] if enrich else ["--no-enrich"])], cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {process.returncode}") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{kind} server did not start within 60 s")


def stored_ids(kind: str, data_dir: Path) -> dict[int, str]:
    database, table = (data_dir / "pinelab.db", "tradingview_alert") if kind == "pinelab" else (
        data_dir / "naive.db", "alert")
    with sqlite3.connect(database) as connection:
        return dict(connection.execute(f"SELECT id, order_id FROM {table}").fetchall())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc), independent of how busy the machine is."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_one(kind: str, alerts: int, connections: int, enrich: bool = True) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-webhook-{kind}-"))
    process, port = start_server(kind, data_dir, enrich)
    try:
        asyncio.run(run_load(port, list(range(-300, 0)), connections))  # warm-up ("bench--N"), not counted
        plan = load_plan(alerts)
        cpu_before = cpu_seconds(process.pid)
        results, elapsed = asyncio.run(run_load(port, plan, connections))
        time.sleep(1.0)  # let enrichment catch up, so its CPU is counted too
        server_cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(30)
    latencies = np.array([r[2] for r in results]) * 1000
    acknowledged: dict[int, set[int]] = {}
    for n, status, _, body in results:
        if status == 200:
            acknowledged.setdefault(n, set()).add(int(json.loads(body)["id"]))
    stored = stored_ids(kind, data_dir)
    lost = sum(1 for n, ids in acknowledged.items() if len(ids) != 1 or stored.get(next(iter(ids))) != f"bench-{n}")
    stored_bench = sum(1 for order in stored.values() if not order.startswith("bench--"))
    return {
        "requests": len(results), "non_200": sum(1 for r in results if r[1] != 200),
        "alerts_per_s": len(results) / elapsed, "p50": float(np.percentile(latencies, 50)),
        "p95": float(np.percentile(latencies, 95)), "p99": float(np.percentile(latencies, 99)),
        "max": float(latencies.max()), "acknowledged": len(acknowledged), "lost": lost,
        "extra_rows": stored_bench - len(acknowledged), "cpu_ms": server_cpu / len(results) * 1000,
    }


def report(rows: dict[str, dict[str, float]], alerts: int, connections: int, enrich: bool, load: float) -> str:
    pine, naive = rows["pinelab"], rows["naive"]
    met = pine["alerts_per_s"] >= 1000 and pine["p99"] < 100 and pine["lost"] == 0 and pine["non_200"] == 0
    lines = [
        f"# Webhook throughput on loopback ({alerts:,} distinct alerts + ~5% re-sends, {connections} connections)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average before the run {load:.1f} (other work shares these cores). "
        "One uvicorn worker each; client in-process beside it.",
        "",
        "| server | alerts/s | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/alert | non-200 | acknowledged | lost "
        "| rows beyond acked |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pine_name = "PineLab sidecar (group commit" + (", enrichment on)" if enrich else ", enrichment off)")
    for name, row in ((pine_name, pine), ("naive FastAPI, commit per request", naive)):
        lines.append(f"| {name} | {row['alerts_per_s']:,.0f} | {row['p50']:.1f} | {row['p95']:.1f} | {row['p99']:.1f} "
                     f"| {row['max']:.1f} | {row['cpu_ms']:.2f} | {row['non_200']:.0f} | {row['acknowledged']:,.0f} "
                     f"| {row['lost']:.0f} | {row['extra_rows']:.0f} |")
    lines += ["", f"Ratio PineLab / naive: throughput x{pine['alerts_per_s'] / naive['alerts_per_s']:.2f}, "
              f"p99 latency x{pine['p99'] / naive['p99']:.2f}, "
              f"server CPU per alert x{pine['cpu_ms'] / naive['cpu_ms']:.2f} "
              "(lower is better for the last two). Server CPU per alert does not depend on how busy the machine is; "
              "its inverse is the rate one free core could sustain.",
              "", "Targets: >= 1,000 alerts/s sustained, p99 < 100 ms, zero loss. "
              f"PineLab: {'met' if met else 'NOT met'}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-enrich", action="store_true", help="run PineLab without enrichment after the answer")
    parser.add_argument("--serve", choices=["pinelab", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        if args.serve == "pinelab":
            serve_pinelab(args.port, args.data_dir, enrich=not args.no_enrich)
        else:
            serve_naive(args.port, args.data_dir)
        return
    load = os.getloadavg()[0]
    rows = {kind: bench_one(kind, args.alerts, args.connections, not args.no_enrich) for kind in ("pinelab", "naive")}
    text = report(rows, args.alerts, args.connections, not args.no_enrich, load)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
