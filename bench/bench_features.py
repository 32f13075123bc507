"""Feature engine throughput on one-minute bars, side by side with raw TA-Lib and the `ta` package.

1. The 13 classic indicator calls behind the stable names (RSI, MACD, Bollinger, ATR, ADX, CCI, Williams %R,
   MFI, Stochastic, OBV, SMA, EMA, ROC): raw TA-Lib, PineLab's feature specs for the same names, and `ta`.
   `ta` is timed on `--ta-bars` rows and scaled linearly to `--bars` (its ADX and CCI loop in Python).
2. The full matrix (every feature), each group on its own, and the time of each feature inside one
   full build (shared intermediates are charged to the first feature that needs them).
3. Peak memory of one full build (tracemalloc: every NumPy/pandas allocation) and the process's peak RSS.

    python bench/bench_features.py                      # 1M bars, ta on 100k, best of 3
    python bench/bench_features.py --bars 200000 --repeats 1

Times are the best of `--repeats` runs; the machine may be shared, so treat them as noisy.
Results go to bench/results/features.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import talib

from pinelab_core.data import load_ohlcv
from pinelab_core.features import FEATURE_GROUPS, build_features
from pinelab_core.features.registry import SPECS
from pinelab_core.features.spec import Bars

RESULTS = Path(__file__).parent / "results" / "features.md"
STABLE_NAMES = ("rsi_14", "macd", "macd_signal", "macd_hist", "bb_upper_20", "bb_middle_20", "bb_lower_20", "atr_14",
                "adx_14", "cci_14", "willr_14", "mfi_14", "stoch_k", "stoch_d", "obv", "sma_50", "ema_20", "roc_10")


def best_time(action: Callable[[], object], repeats: int) -> float:
    """Best wall time of `action` over `repeats` runs (the first run also warms caches and numba)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def minute_bars(n: int) -> pd.DataFrame:
    """The latest `n` one-minute bars of the demo FX market (24/5 sessions, GARCH volatility, gaps)."""
    weeks = n / (5 * 24 * 60) * 1.1 + 1
    start = pd.Timestamp("2026-10-31", tz="UTC") - pd.Timedelta(weeks=weeks)
    return load_ohlcv("DEMO-FX", "1m", start=start, source="demo").tail(n)


def talib_13(bars: pd.DataFrame) -> None:
    o, h, low, c, v = (np.ascontiguousarray(bars[k].to_numpy()) for k in ("open", "high", "low", "close", "volume"))
    del o
    talib.RSI(c, 14), talib.MACD(c), talib.BBANDS(c, 20), talib.ATR(h, low, c, 14), talib.ADX(h, low, c, 14)
    talib.CCI(h, low, c, 14), talib.WILLR(h, low, c, 14), talib.MFI(h, low, c, v, 14), talib.STOCH(h, low, c)
    talib.OBV(c, v), talib.SMA(c, 50), talib.EMA(c, 20), talib.ROC(c, 10)


def pinelab_13(bars: pd.DataFrame) -> None:
    """The stable-name columns through PineLab's own spec functions (validation and memo included)."""
    context = Bars(bars)
    for spec in SPECS:
        if spec.name in STABLE_NAMES:
            spec.compute(context)


def ta_13(bars: pd.DataFrame) -> None:
    import ta

    h, low, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
    ta.momentum.RSIIndicator(c, 14).rsi()
    macd = ta.trend.MACD(c)
    macd.macd(), macd.macd_signal(), macd.macd_diff()
    bands = ta.volatility.BollingerBands(c, 20, 2)
    bands.bollinger_hband(), bands.bollinger_mavg(), bands.bollinger_lband()
    ta.volatility.AverageTrueRange(h, low, c, 14).average_true_range()
    ta.trend.ADXIndicator(h, low, c, 14).adx()
    ta.trend.CCIIndicator(h, low, c, 14).cci()
    ta.momentum.WilliamsRIndicator(h, low, c, 14).williams_r()
    ta.volume.MFIIndicator(h, low, c, v, 14).money_flow_index()
    stoch = ta.momentum.StochasticOscillator(h, low, c, 5, 3)
    stoch.stoch(), stoch.stoch_signal()
    ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume()
    ta.trend.SMAIndicator(c, 50).sma_indicator()
    ta.trend.EMAIndicator(c, 20).ema_indicator()
    ta.momentum.ROCIndicator(c, 10).roc()


def per_feature_times(bars: pd.DataFrame) -> pd.DataFrame:
    """Seconds per feature inside one full build in matrix order (shared work lands on its first user in a group)."""
    context, group = Bars(bars), SPECS[0].group
    rows = []
    for spec in SPECS:
        if spec.group != group:  # as build_features does: one memo per group
            context, group = Bars(bars), spec.group
        started = time.perf_counter()
        spec.compute(context)
        rows.append((spec.name, spec.group, time.perf_counter() - started))
    return pd.DataFrame(rows, columns=["feature", "group", "seconds"])


def peak_memory(bars: pd.DataFrame) -> int:
    tracemalloc.start()
    build_features(bars)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def report(args: argparse.Namespace, n: int, timings: dict[str, float], groups: dict[str, float],
           features: pd.DataFrame, memory: int) -> str:
    n_features = len(SPECS)
    scale = n / args.ta_bars
    full, raw, ours, ta_time = timings["full"], timings["talib"], timings["pinelab13"], timings["ta"] * scale
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# Feature engine throughput",
        "",
        f"Measured by `python bench/bench_features.py --bars {args.bars} --ta-bars {args.ta_bars} "
        f"--repeats {args.repeats}` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pandas {pd.__version__}, TA-Lib {talib.__version__}; {n:,} one-minute "
        f"DEMO-FX bars; best of {args.repeats}. Load average at the end: {load} (a shared machine: noisy).",
        "",
        "| task | time | per feature/indicator | vs raw TA-Lib (13) |",
        "|---|---:|---:|---:|",
        f"| raw TA-Lib, 13 classic indicator calls | {ms(raw)} | {ms(raw / 13)} | 1.0x |",
        f"| PineLab, the same 13 (18 stable-name columns) | {ms(ours)} | {ms(ours / 13)} | {ours / raw:.1f}x |",
        f"| `ta` package, the same 13 (timed on {args.ta_bars:,} bars, x{scale:g}) | {ms(ta_time)} | "
        f"{ms(ta_time / 13)} | {ta_time / raw:.1f}x |",
        f"| **PineLab, all {n_features} features** | **{ms(full)}** | {ms(full / n_features)} | "
        f"**{full / raw:.1f}x** |",
        f"| PineLab, all {n_features} features, `dtype=\"float32\"` | {ms(timings['full32'])} | "
        f"{ms(timings['full32'] / n_features)} | {timings['full32'] / raw:.1f}x |",
        f"| PineLab, sum of the {len(groups)} groups built one by one | {ms(sum(groups.values()))} | "
        f"{ms(sum(groups.values()) / n_features)} | {sum(groups.values()) / raw:.1f}x |",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
        f"| all features <= ~12x raw TA-Lib's 13 | {full / raw:.1f}x | {'yes' if full / raw <= 12 else 'no'} |",
        f"| >= 20x faster than `ta` on the shared indicators | {ta_time / ours:.0f}x | "
        f"{'yes' if ta_time / ours >= 20 else 'no'} |",
        f"| peak memory of a full build < 2 GB | {memory / 2**30:.2f} GB traced, "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB process peak RSS | "
        f"{'yes' if memory < 2 * 2**30 else 'no'} |",
        "",
        "Per group (each built on its own, so shared inputs such as ATR are recomputed per group):",
        "",
        "| group | features | time | per feature |",
        "|---|---:|---:|---:|",
    ]
    counts = features.groupby("group").size()
    lines += [f"| {g} | {counts[g]} | {ms(t)} | {ms(t / counts[g])} |" for g, t in groups.items()]
    slowest = features.sort_values("seconds", ascending=False).head(12)
    lines += ["", f"Slowest features inside one full build (median feature: {ms(features['seconds'].median())}):",
              "", "| feature | group | time |", "|---|---|---:|"]
    lines += [f"| {r.feature} | {r.group} | {ms(r.seconds)} |" for r in slowest.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--ta-bars", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    bars = minute_bars(args.bars)
    n = len(bars)
    build_features(bars.head(5_000))  # compile the numba kernels before timing anything
    timings = {
        "talib": best_time(lambda: talib_13(bars), args.repeats),
        "pinelab13": best_time(lambda: pinelab_13(bars), args.repeats),
        "ta": best_time(lambda: ta_13(bars.tail(args.ta_bars)), 1),
        "full": best_time(lambda: build_features(bars), args.repeats),
        "full32": best_time(lambda: build_features(bars, dtype="float32"), args.repeats),
    }
    groups = {g: best_time(lambda g=g: build_features(bars, groups=[g]), args.repeats) for g in FEATURE_GROUPS}
    features = per_feature_times(bars)
    memory = peak_memory(bars)
    text = report(args, n, timings, groups, features, memory)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
