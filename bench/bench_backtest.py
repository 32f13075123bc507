"""The execution engine against backtesting.py and vectorbt, measured in one run on the same data.

Cases (each in a fresh Python process, so "cold" is a real first call: Numba JIT work included, whatever
each library keeps in its on-disk cache counted as it is on a user's machine):
    single   SMA 10/20 cross, long/short, 0.02% fees, decisions filled at the next open; cold = first call,
             warm = best of 3 later calls. PineLab: run_backtest (full stats, equity frame, trade table).
             vectorbt: Portfolio.from_signals on the same shifted signals + final value. backtesting.py:
             Backtest.run with the same rule (100k bars only: a 1M-bar run takes minutes).
    sweep    1,000 SMA (fast, slow) combinations on 100k bars. PineLab: `sweep` (grid, serial, streamed
             metrics + block moments, deflated Sharpe and PBO). vectorbt: MA.run over the windows, crossed
             signals for every combination, one from_signals over 1,000 columns, total return per column.
Peak memory is the process's max RSS.

    python bench/bench_backtest.py            # writes bench/results/backtest.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results" / "backtest.md"
FEES = 0.0002


def market(bars: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, bars)))
    open_ = np.concatenate([[100.0], close[:-1] * np.exp(rng.normal(0, 0.0005, bars - 1))])
    index = pd.date_range("2000-01-01", periods=bars, freq="min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.0005,
                         "low": np.minimum(open_, close) * 0.9995, "close": close, "volume": 1.0}, index=index)


def sweep_grid() -> dict[str, list[int]]:
    """40 fast x 25 slow windows: 1,000 pairs, every one valid (fast < slow)."""
    return {"fast": list(range(2, 42)), "slow": list(range(50, 300, 10))}


def _timed(call) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def case_single(library: str, bars: int) -> dict[str, float]:
    ohlcv = market(bars)
    if library == "pinelab":
        from pinelab_core.backtest import run_backtest
        from pinelab_core.backtest.strategies import sma_cross

        def call() -> float:
            return run_backtest(ohlcv, sma_cross(ohlcv, 10, 20), fees=FEES).final_equity
    elif library == "vectorbt":
        import vectorbt as vbt

        from pinelab_core.backtest.strategies import sma_cross

        def call() -> float:
            decisions = sma_cross(ohlcv, 10, 20)
            buy = (decisions == 1).shift(1, fill_value=False).to_numpy()
            sell = (decisions == -1).shift(1, fill_value=False).to_numpy()
            none = np.zeros(len(ohlcv), dtype=bool)
            portfolio = vbt.Portfolio.from_signals(ohlcv["close"], entries=buy, exits=none, short_entries=sell,
                                                   short_exits=none, price=ohlcv["open"], fees=FEES,
                                                   init_cash=10_000, freq="1min")
            return float(portfolio.final_value())
    else:
        import warnings

        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
        from backtesting.test import SMA

        class SmaCross(Strategy):
            def init(self) -> None:
                self.fast, self.slow = self.I(SMA, self.data.Close, 10), self.I(SMA, self.data.Close, 20)

            def next(self) -> None:
                if crossover(self.fast, self.slow):
                    self.position.close()
                    self.buy()
                elif crossover(self.slow, self.fast):
                    self.position.close()
                    self.sell()

        frame = ohlcv.rename(columns=str.capitalize)
        frame.index = frame.index.tz_localize(None)

        def call() -> float:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(Backtest(frame, SmaCross, cash=10_000_000, commission=FEES).run()["Equity Final [$]"])
    cold, final = _timed(call)
    warm = min(_timed(call)[0] for _ in range(3 if library != "backtesting" else 1))
    return {"cold": cold, "warm": warm, "final": float(final), "rss_mb": _rss_mb()}


def case_sweep(library: str, bars: int) -> dict[str, float]:
    ohlcv = market(bars)
    grid = sweep_grid()
    if library == "pinelab":
        from pinelab_core.backtest import sweep

        elapsed, found = _timed(lambda: sweep(ohlcv, "sma_cross", grid=grid, executor="serial", fees=FEES))
        return {"cold": elapsed, "trials": found.n_trials, "rss_mb": _rss_mb(), "pbo": found.pbo}
    import vectorbt as vbt

    def call() -> int:
        close = ohlcv["close"]
        windows = sorted(set(grid["fast"]) | set(grid["slow"]))
        averages = vbt.MA.run(close, window=windows).ma.to_numpy()
        column = {w: i for i, w in enumerate(windows)}
        pairs = [(f, s) for f in grid["fast"] for s in grid["slow"] if f < s]
        fast = averages[:, [column[f] for f, _ in pairs]]
        slow = averages[:, [column[s] for _, s in pairs]]
        above, below = fast > slow, fast < slow
        up = np.zeros_like(above)
        down = np.zeros_like(above)
        up[1:], down[1:] = below[:-1] & above[1:], above[:-1] & below[1:]
        buy, sell = np.zeros_like(up), np.zeros_like(up)
        buy[1:], sell[1:] = up[:-1], down[:-1]  # filled at the next open
        none = np.zeros_like(up)
        portfolio = vbt.Portfolio.from_signals(close, entries=buy, exits=none, short_entries=sell, short_exits=none,
                                               price=ohlcv["open"], fees=FEES, init_cash=10_000, freq="1min")
        return len(np.asarray(portfolio.total_return()))

    elapsed, trials = _timed(call)
    return {"cold": elapsed, "trials": trials, "rss_mb": _rss_mb()}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(case: str, library: str, bars: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", case, library, str(bars)]
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("CASE", "LIBRARY", "BARS"))
    parser.add_argument("--skip-1m", action="store_true", help="only 100k bars")
    args = parser.parse_args()
    if args.child:
        case, library, bars = args.child
        result = (case_single if case == "single" else case_sweep)(library, int(bars))
        print(json.dumps(result))
        return
    load = os.getloadavg()
    rows, sweeps = [], []
    for bars in (100_000,) if args.skip_1m else (100_000, 1_000_000):
        libraries = ("pinelab", "vectorbt", "backtesting") if bars <= 100_000 else ("pinelab", "vectorbt")
        measured = {library: _child("single", library, bars) for library in libraries}
        rows.append((bars, measured))
        print(bars, json.dumps(measured), flush=True)
    for library in ("pinelab", "vectorbt"):
        sweeps.append((library, _child("sweep", library, 100_000)))
        print(library, json.dumps(sweeps[-1][1]), flush=True)
    write_report(rows, sweeps, load, os.getloadavg())


def write_report(rows: list, sweeps: list, load_before: tuple, load_after: tuple) -> None:  # type: ignore[type-arg]
    lines = [
        f"SMA 10/20 cross, long/short, 0.02% fees, fills at the next open; one-minute random-walk bars. Each case in a "
        f"fresh process: cold = first call (JIT work included), warm = best of 3. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores shared, Python {platform.python_version()}, measured {time.strftime('%Y-%m-%d')}, "
        f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after.",
        "",
        "| bars | library | cold | warm | warm vs PineLab | peak RSS | final equity |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for bars, measured in rows:
        ours = measured["pinelab"]["warm"]
        for library, m in measured.items():
            lines.append(f"| {bars:,} | {library} | {m['cold']:.3f} s | {m['warm']:.4f} s | "
                         f"{m['warm'] / ours:.1f}x | {m['rss_mb']:.0f} MB | {m['final']:.7g} |")
    ours = dict(sweeps)["pinelab"]
    lines += ["", "1,000-combination SMA sweep on 100,000 bars (cold, fresh process):", "",
              "| library | time | trials | vs PineLab | peak RSS |", "|---|---:|---:|---:|---:|"]
    for library, m in sweeps:
        lines.append(f"| {library} | {m['cold']:.2f} s | {int(m['trials'])} | {m['cold'] / ours['cold']:.1f}x | "
                     f"{m['rss_mb']:.0f} MB |")
    lines += ["", "backtesting.py's final equity differs: it trades whole units of a 10M cash account (the others "
              "trade fractional units of 10k); the parity tests compare like with like."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
