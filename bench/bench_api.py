"""Insights API soak on loopback: requests/s and p99, cold and warm, across 20 symbols, while alerts keep flowing.

The sidecar runs exactly as `pinelab webhook` runs it (uvicorn, one worker, 127.0.0.1, the API's answers
computed in its spawned worker process), in a subprocess, with LightGBM + XGBoost active on daily bars
(trained on DEMO-EQUITY; the other 19 symbols borrow them, as the desk does for a market without models).
A minimal asyncio HTTP/1.1 client beside it (so it does not eat the cores it measures) runs, in order:

1. alerts alone: `--alert-rate` TradingView alerts/s offered for 15 s (open loop), after 5 s of warm-up alerts
   (first commits, the enrichment thread's first loads) that are not counted: the peer for alert latency;
2. cold: the first question of each symbol x endpoint (insights, signals, price-prediction, patterns),
   4 at a time, while the same alerts flow;
3. warm: `--rate` API requests/s offered for `--seconds` (open loop, latency from each request's due time,
   symbols and endpoints drawn at random, seeded) while the same alerts flow; the cache's TTL is the default
   30 s, so answers expire and are re-checked during the run, as in production;
4. the peer for API latency: `/healthz` (no token, no cache, no computation) at the same rate on the same server,
   with the same alerts flowing: the same HTTP traffic without the API's work, so the alerts' p99 beside it
   is the fair peer for "alert intake not slowed";
5. flat out: 32 connections kept busy with warm API requests for 10 s, with the server's CPU per request.

    python bench/bench_api.py                              # 500 req/s for 30 s, alerts at 100/s
    python bench/bench_api.py --rate 200 --seconds 10      # a quicker run

Results go to bench/results/api.md, with the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_webhook import SECRET, alert_body, cpu_seconds, free_port, open_loop, wait_until_listening
from bench_webhook import request_bytes as alert_request

RESULTS = Path(__file__).parent / "results" / "api.md"
HOST = "127.0.0.1"
TOKEN = "bench-api-token-0123456789abcdef"
SYMBOLS = ("DEMO-EQUITY", "DEMO-INDEX", *(f"BENCH-{i:02d}" for i in range(1, 19)))
ENDPOINTS = ("insights", "signals", "price-prediction", "patterns")
Result = tuple[int, float, str]  # status, latency s, X-Pinelab-Cache


# --- the server (in the subprocess) -----------------------------------------------------------------


def settings_for(data_dir: Path) -> object:
    from pinelab_core.config import Settings

    return Settings(data_dir=data_dir, models_dir=data_dir / "models", default_source="demo", webhook_secret=SECRET,
                    webhook_rate_limit=0, api_token=TOKEN, api_rate_limit=0)


def train_models(data_dir: Path) -> None:
    """LightGBM + XGBoost on DEMO-EQUITY 1d, active (small and quick: the bench measures serving, not fitting)."""
    from pinelab_core.data import load_ohlcv
    from pinelab_core.features import build_features, model_feature_names
    from pinelab_core.models import create_model
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model
    from pinelab_core.training.labels import LabelSpec, make_labels

    settings = settings_for(data_dir)
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=settings)
    features = build_features(ohlcv)[model_feature_names()].iloc[300:-10]
    label = {"kind": "direction", "horizon": 5, "params": {}}
    labels = make_labels(ohlcv, LabelSpec.from_dict(label)).loc[features.index].to_numpy()
    for kind in ("lightgbm", "xgboost"):
        model = create_model(kind, seed=0, device="cpu", n_estimators=60, num_threads=1)
        model.fit(features, labels)
        register_model(settings, model, ModelManifest(name=f"bench-{kind}", kind=kind, label=label,  # type: ignore[arg-type]
                                                      feature_names=list(features.columns), symbol="DEMO-EQUITY",
                                                      timeframe="1d", source="demo"), activate=True)


def serve(port: int, data_dir: Path) -> None:
    from pinelab_core.webhook import serve as serve_sidecar

    serve_sidecar(settings_for(data_dir), HOST, port, log_level="warning")  # type: ignore[arg-type]


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--data-dir", str(data_dir)],
                               cwd=Path(__file__).parents[1])
    wait_until_listening(process, port, "the sidecar")
    return process, port


# --- the load client -----------------------------------------------------------------------------


def get_request(path: str, port: int, token: str | None = TOKEN) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}\r\n".encode()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, str]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.decode().partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers.get("x-pinelab-cache", "")


async def paced(port: int, requests: list[bytes], rate: float, connections: int) -> tuple[list[Result], float]:
    """Open loop (`bench_webhook.open_loop`): request i is due at start + i / rate; latency counts from then."""

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> tuple[int, str]:
        return await _exchange(reader, writer, requests[i])

    raw, elapsed = await open_loop(port, len(requests), rate, connections, exchange)
    return [(status, latency, how) for _, (status, how), latency in raw], elapsed


async def closed_loop(port: int, requests: list[bytes], connections: int,
                      seconds: float | None = None) -> tuple[list[Result], float]:
    """`connections` kept busy: each sends its next request as soon as the last is answered."""
    results: list[Result] = []
    cursor = [0]
    started = time.perf_counter()

    async def send() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while cursor[0] < len(requests) and (seconds is None or time.perf_counter() - started < seconds):
                request = requests[cursor[0] % len(requests)]
                cursor[0] += 1
                begun = time.perf_counter()
                status, how = await _exchange(reader, writer, request)
                results.append((status, time.perf_counter() - begun, how))
        finally:
            writer.close()

    await asyncio.gather(*(send() for _ in range(connections)))
    return results, time.perf_counter() - started


def api_paths(n: int, seed: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    return [_path(ENDPOINTS[rng.integers(len(ENDPOINTS))], SYMBOLS[rng.integers(len(SYMBOLS))]) for _ in range(n)]


def _path(endpoint: str, symbol: str) -> str:
    return f"/api/v1/{endpoint}/{symbol}?timeframe=1d&source=demo"


def summarise(results: list[Result], elapsed: float) -> dict[str, float]:
    latencies = np.array([r[1] for r in results]) * 1000
    return {"per_s": len(results) / elapsed, "n": len(results), "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "max": float(latencies.max()),
            "non_200": float(sum(1 for r in results if r[0] != 200)),
            "stale": float(sum(1 for r in results if r[2] == "stale"))}


def with_alerts(port: int, alert_rate: float, seconds: float, first: int, load: object) -> tuple[dict, object]:
    """Run the coroutine `load` while alerts are offered at `alert_rate` for `seconds`; (alert summary, its result)."""

    async def both() -> tuple[tuple[list[Result], float], object]:
        alerts = [alert_request(alert_body(first + i), port) for i in range(int(alert_rate * seconds))]
        return await asyncio.gather(paced(port, alerts, alert_rate, 16), load)  # type: ignore[return-value]

    (alert_results, alert_elapsed), other = asyncio.run(both())
    return summarise(alert_results, alert_elapsed), other


def children_cpu(pid: int) -> float:
    """CPU seconds of `pid`'s child processes (the API worker), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += cpu_seconds(int(stat.parent.name))
    return total


def run(rate: float, seconds: float, alert_rate: float) -> dict[str, dict[str, float]]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    train_models(data_dir)
    process, port = start_server(data_dir)
    rows: dict[str, dict[str, float]] = {}
    try:
        with_alerts(port, alert_rate, 5, 3 * 10**5, asyncio.sleep(0))  # warm-up (first commits, enrichment): not kept
        rows["alerts alone"] = with_alerts(port, alert_rate, 15, 0, asyncio.sleep(0))[0]
        cold_paths = [_path(e, s) for s in SYMBOLS for e in ENDPOINTS]
        cold_load = closed_loop(port, [get_request(p, port) for p in cold_paths], 4)
        rows["alerts during cold"], (cold, cold_elapsed) = with_alerts(port, alert_rate, 60, 10**5, cold_load)
        rows["API cold"] = summarise(cold, cold_elapsed)
        warm_requests = [get_request(p, port) for p in api_paths(int(rate * seconds))]
        cpu_before, worker_before = cpu_seconds(process.pid), children_cpu(process.pid)
        rows["alerts during warm"], (warm, warm_elapsed) = with_alerts(port, alert_rate, seconds, 2 * 10**5,
                                                                       paced(port, warm_requests, rate, 64))
        rows["API warm"] = summarise(warm, warm_elapsed)
        rows["API warm"]["server_cpu_ms"] = (cpu_seconds(process.pid) - cpu_before) / len(warm) * 1000
        rows["API warm"]["worker_cpu_s"] = children_cpu(process.pid) - worker_before
        health = [get_request("/healthz", port, None)] * int(rate * seconds)
        rows["alerts during /healthz"], (peer, peer_elapsed) = with_alerts(port, alert_rate, seconds, 4 * 10**5,
                                                                           paced(port, health, rate, 64))
        rows["/healthz (peer)"] = summarise(peer, peer_elapsed)
        cpu_before = cpu_seconds(process.pid)
        flat, flat_elapsed = asyncio.run(closed_loop(port, warm_requests, 32, seconds=10))
        rows["API flat out"] = summarise(flat, flat_elapsed)
        rows["API flat out"]["server_cpu_ms"] = (cpu_seconds(process.pid) - cpu_before) / len(flat) * 1000
    finally:
        process.terminate()
        process.wait(30)
    return rows


def report(rows: dict[str, dict[str, float]], rate: float, seconds: float, alert_rate: float,
           loads: tuple[float, float]) -> str:
    warm, alone, during = rows["API warm"], rows["alerts alone"], rows["alerts during warm"]
    beside_peer = rows["alerts during /healthz"]
    met_warm = warm["p99"] < 20 and warm["per_s"] >= 0.98 * rate and warm["non_200"] == 0
    slowed, slowed_vs_peer = during["p99"] / alone["p99"], during["p99"] / beside_peer["p99"]
    not_slowed = slowed_vs_peer <= 1.5 and sum(r["non_200"] for k, r in rows.items() if k.startswith("alerts")) == 0
    lines = [
        "# Insights API soak: requests/s and p99, cold and warm, 20 symbols, alerts flowing",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{loads[0]:.1f} before, {loads[1]:.1f} after (other work shares these cores). One uvicorn worker, the API's "
        "worker process beside it, the load client on the same machine. 20 symbols x (insights, signals, "
        f"price-prediction, patterns) on daily demo bars; alerts at {alert_rate:,.0f}/s offered in every phase.",
        "",
        "| phase | requests | achieved /s | p50 ms | p99 ms | max ms | non-200 | served stale |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']:,.0f} | {r['per_s']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} "
                     f"| {r['non_200']:.0f} | {r['stale']:.0f} |")
    lines += [
        "",
        f"Warm, {rate:,.0f} requests/s offered for {seconds:g} s (open loop): p99 {warm['p99']:.1f} ms, "
        f"x{warm['p99'] / rows['/healthz (peer)']['p99']:.2f} the p99 of /healthz at the same rate on the same server "
        f"with the same alerts (the cheapest endpoint: no token, no cache). Server CPU {warm['server_cpu_ms']:.2f} ms "
        "per API request, alerts included "
        f"(event loop process); the worker process used {warm['worker_cpu_s']:.1f} s of CPU re-checking expired "
        f"answers. Flat out (32 connections): {rows['API flat out']['per_s']:,.0f} requests/s, "
        f"{rows['API flat out']['server_cpu_ms']:.2f} ms CPU per request.",
        "",
        f"Alert intake: p99 {alone['p99']:.1f} ms alone, {rows['alerts during cold']['p99']:.1f} ms while the worker "
        f"computed the cold answers, {during['p99']:.1f} ms under the warm API load (x{slowed:.2f} of alone, "
        f"x{slowed_vs_peer:.2f} of the {beside_peer['p99']:.1f} ms beside /healthz at the same request rate); "
        f"non-200 alerts: {sum(r['non_200'] for k, r in rows.items() if k.startswith('alerts')):.0f}.",
        "",
        f"Targets: warm p99 < 20 ms at {rate:,.0f} requests/s across 20 symbols: {'met' if met_warm else 'NOT met'}; "
        f"alert intake not slowed (p99 under the API load within x1.5 of beside /healthz at the same rate, no "
        f"alert refused): {'met' if not_slowed else 'NOT met'} (x{slowed_vs_peer:.2f}).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500.0, help="API requests/s offered in the warm phase")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the warm phase")
    parser.add_argument("--alert-rate", type=float, default=100.0, help="alerts/s offered in every phase")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.data_dir)
        return
    before = os.getloadavg()[0]
    rows = run(args.rate, args.seconds, args.alert_rate)
    text = report(rows, args.rate, args.seconds, args.alert_rate, (before, os.getloadavg()[0]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
