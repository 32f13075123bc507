"""Data-layer throughput, each next to a plain peer.

1. Simulator: PineLab's demo market (regimes, GARCH, Student-t, jumps, seasonality, calendar) vs a
   plain NumPy Gaussian random walk of the same length (the floor: what bars cost with no market model).
2. Cache read: the SQLite price cache (`read_bars`) vs `pd.read_parquet` of the same bars.
3. Cache write: the chunked `INSERT ... ON CONFLICT DO UPDATE` upsert vs `DataFrame.to_parquet`.
4. CSV import: `read_ohlcv_file` (spelling detection, date parsing, validation) vs a bare `pd.read_csv`.

    python bench/bench_data.py                          # 1M simulated bars, 200k cached bars
    python bench/bench_data.py --bars 200000 --cache-bars 50000 --repeats 2

Times are the best of `--repeats` runs. Results go to bench/results/data.md.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pinelab_core.data import read_ohlcv_file, simulate_ohlcv
from pinelab_core.data.cache import CacheKey, read_bars, upsert_bars
from pinelab_core.store import make_engine

RESULTS = Path(__file__).parent / "results" / "data.md"


def best_time(action: Callable[[], object], repeats: int) -> float:
    """Best wall time of `action` over `repeats` runs (the first run also warms caches and JIT)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def gaussian_walk(n: int, seed: int = 0) -> pd.DataFrame:
    """The peer: a geometric Gaussian random walk with consistent OHLC, on a plain minute grid."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0, 5e-4, n)) * close
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + wick,
                         "low": np.minimum(open_, close) - wick, "close": close,
                         "volume": rng.lognormal(8, 0.5, n)}, index=index)


def simulator_start(bars: int) -> pd.Timestamp:
    """A DEMO-BTC 1m start giving about `bars` bars (24/7 market: one bar a minute)."""
    return pd.Timestamp("2026-10-31", tz="UTC") - pd.Timedelta(minutes=bars)


def run(bars: int, cache_bars: int, repeats: int) -> list[tuple[str, str, float, str, float]]:
    """Rows of (what, PineLab label, PineLab seconds, peer label, peer seconds)."""
    start = simulator_start(bars)
    simulate_ohlcv("DEMO-BTC", "1m", start=simulator_start(1_000))  # load the compiled kernels once
    n_sim = len(simulate_ohlcv("DEMO-BTC", "1m", start=start))
    rows = [(f"simulate {n_sim:,} bars", "simulate_ohlcv (DEMO-BTC 1m)",
             best_time(lambda: simulate_ohlcv("DEMO-BTC", "1m", start=start), repeats),
             "NumPy Gaussian walk", best_time(lambda: gaussian_walk(n_sim), repeats))]

    frame = simulate_ohlcv("DEMO-BTC", "1m", start=simulator_start(cache_bars))
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        key = CacheKey("ccxt:binance", "BTC/USDT", "1m")
        parquet = Path(folder) / "bars.parquet"
        csv = Path(folder) / "bars.csv"
        rows.append((f"write {len(frame):,} bars", "SQLite upsert (chunked ON CONFLICT)",
                     best_time(lambda: upsert_bars(engine, key, frame), repeats),
                     "DataFrame.to_parquet", best_time(lambda: frame.to_parquet(parquet), repeats)))
        rows.append((f"read {len(frame):,} cached bars", "read_bars (SQLite cache)",
                     best_time(lambda: read_bars(engine, key), repeats),
                     "pd.read_parquet", best_time(lambda: pd.read_parquet(parquet), repeats)))
        frame.to_csv(csv)
        rows.append((f"import {len(frame):,}-bar CSV", "read_ohlcv_file (detect + validate)",
                     best_time(lambda: read_ohlcv_file(csv), repeats),
                     "pd.read_csv (no checks)", best_time(lambda: pd.read_csv(csv), repeats)))
        engine.dispose()
    return rows


def markdown(rows: list[tuple[str, str, float, str, float]], args: argparse.Namespace) -> str:
    lines = [
        "# Data layer throughput",
        "",
        f"Measured by `python bench/bench_data.py --bars {args.bars} --cache-bars {args.cache_bars} "
        f"--repeats {args.repeats}` on {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, pandas {pd.__version__} (best of {args.repeats}).",
        "",
        "| task | PineLab | time | bars/s | peer | time | bars/s | PineLab / peer time |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for what, ours, ours_s, peer, peer_s in rows:
        n = int(what.split()[1].replace(",", "").split("-")[0])
        lines.append(f"| {what} | {ours} | {ours_s * 1000:,.0f} ms | {n / ours_s:,.0f} | {peer} | "
                     f"{peer_s * 1000:,.0f} ms | {n / peer_s:,.0f} | {ours_s / peer_s:.1f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000, help="simulated bars (default 1,000,000)")
    parser.add_argument("--cache-bars", type=int, default=200_000, help="bars written/read (default 200,000)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table = markdown(run(args.bars, args.cache_bars, args.repeats), args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
