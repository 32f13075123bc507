"""Feature engine throughput on one-minute bars, side by side with raw TA-Lib and the `ta` package.

Two series of `--bars` one-minute bars: the demo FX market (24/5 sessions, weekend gaps, GARCH volatility)
and a plain random walk (no sessions, no gaps).

1. The 13 classic indicator calls behind the stable names (RSI, MACD, Bollinger, ATR, ADX, CCI, Williams %R,
   MFI, Stochastic, OBV, SMA, EMA, ROC): raw TA-Lib, PineLab's feature specs for the same names, and `ta`.
   `ta` is timed on `--ta-bars` rows and scaled linearly to `--bars` (its ADX and CCI loop in Python).
2. The full matrix (every feature) on both series, timed in rounds that alternate with raw TA-Lib so both
   see the same machine load; the ratio is best full build / best TA-Lib run, in wall time and CPU time.
3. Each group on its own and the time of each feature inside one full build (FX series).
4. Peak memory of one full build (tracemalloc: every NumPy/pandas allocation) and the process's peak RSS.
5. The opt-in groups (hmm, garch, anomaly: models refitted walk-forward) on the first `--opt-in-bars` bars of the
   FX series, against raw TA-Lib on the same bars: their cost grows with the number of refits (one per 100 or
   250 bars), so they are measured on fewer bars and left out of the default build.

    python bench/bench_features.py                      # 1M bars, ta on 100k, 5 rounds
    python bench/bench_features.py --opt-in-only        # re-measure section 5 only, replacing it in the results
    python bench/bench_features.py --bars 200000 --repeats 2

The machine may be shared: the report gives the load average before and after, and CPU time beside wall
time. Results go to bench/results/features.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import talib

from pinelab_core.data import load_ohlcv
from pinelab_core.features import FEATURE_GROUPS, build_features
from pinelab_core.features.builder import _release_plan
from pinelab_core.features.registry import OPT_IN_GROUPS, SPECS, select_specs
from pinelab_core.features.spec import Bars
from pinelab_core.features.walkforward import clear_fit_caches

RESULTS = Path(__file__).parent / "results" / "features.md"
STABLE_NAMES = ("rsi_14", "macd", "macd_signal", "macd_hist", "bb_upper_20", "bb_middle_20", "bb_lower_20", "atr_14",
                "adx_14", "cci_14", "willr_14", "mfi_14", "stoch_k", "stoch_d", "obv", "sma_50", "ema_20", "roc_10")


@dataclass
class Timing:
    """Best wall and CPU seconds over the runs of one task."""

    wall: float = float("inf")
    cpu: float = float("inf")

    def run(self, action: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        self.wall = min(self.wall, time.perf_counter() - wall)
        self.cpu = min(self.cpu, time.process_time() - cpu)


def best_time(action: Callable[[], object], repeats: int) -> Timing:
    timing = Timing()
    for _ in range(repeats):
        timing.run(action)
    return timing


def fx_minute_bars(n: int) -> pd.DataFrame:
    """The latest `n` one-minute bars of the demo FX market (24/5 sessions, GARCH volatility, gaps)."""
    weeks = n / (5 * 24 * 60) * 1.1 + 1
    start = pd.Timestamp("2026-10-31", tz="UTC") - pd.Timedelta(weeks=weeks)
    return load_ohlcv("DEMO-FX", "1m", start=start, source="demo").tail(n)


def random_walk_bars(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` continuous one-minute bars of a geometric random walk: no sessions, no gaps, lognormal volume."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.0002, n))
    spread = np.abs(rng.normal(0.0, 0.0005, n)) * close
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.lognormal(10.0, 0.5, n)}, index=index)


def talib_13(bars: pd.DataFrame) -> None:
    h, low, c, v = (np.ascontiguousarray(bars[k].to_numpy()) for k in ("high", "low", "close", "volume"))
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


def full_against_talib(bars: pd.DataFrame, rounds: int) -> tuple[Timing, Timing]:
    """(raw TA-Lib 13, full matrix), timed in alternating rounds so both meet the same load."""
    raw, full = Timing(), Timing()
    for _ in range(rounds):
        raw.run(lambda: talib_13(bars))
        full.run(lambda: build_features(bars))
    return raw, full


def opt_in_against_talib(bars: pd.DataFrame, rounds: int) -> dict[str, Timing]:
    """Raw TA-Lib 13, the default build, the default build plus every opt-in group, and each opt-in group alone,
    on the same bars; fit caches emptied before every build, so each run fits every model."""
    timings = {name: Timing() for name in ("talib", "default", "with opt-in", *OPT_IN_GROUPS)}
    builds = {"default": None, "with opt-in": [*FEATURE_GROUPS, *OPT_IN_GROUPS], **{g: [g] for g in OPT_IN_GROUPS}}
    for _ in range(rounds):
        timings["talib"].run(lambda: talib_13(bars))
        for name, groups in builds.items():
            clear_fit_caches()
            timings[name].run(lambda groups=groups: build_features(bars, groups=groups))
    return timings


OPT_IN_HEADING = "Opt-in groups on the first"


def opt_in_rows(timings: dict[str, Timing], n: int) -> list[str]:
    raw = timings["talib"]
    lines = [f"{OPT_IN_HEADING} {n:,} bars of the DEMO-FX series (every model refitted in every run; "
             "CPU time, the steadier measure on a shared machine):", "",
             "| build | features | wall | CPU | ratio to raw TA-Lib 13 (CPU) | <= 12x |",
             "|---|---:|---:|---:|---:|:---:|",
             f"| raw TA-Lib, 13 classic indicator calls | - | {ms(raw.wall)} | {ms(raw.cpu)} | 1.0x | |"]
    counts = {"default": len(SPECS), "with opt-in": len(select_specs([*FEATURE_GROUPS, *OPT_IN_GROUPS])),
              **{g: len(select_specs([g])) for g in OPT_IN_GROUPS}}
    for name, count in counts.items():
        t = timings[name]
        label = {"default": "default build", "with opt-in": "default build + hmm + garch + anomaly"}.get(
            name, f"`{name}` group alone")
        lines.append(f"| {label} | {count} | {ms(t.wall)} | {ms(t.cpu)} | **{t.cpu / raw.cpu:.1f}x** | "
                     f"{'yes' if t.cpu / raw.cpu <= 12 else 'no'} |")
    return lines


def per_feature_times(bars: pd.DataFrame) -> pd.DataFrame:
    """Seconds per feature inside one full build in matrix order (shared work lands on its first user)."""
    names = tuple(s.name for s in SPECS)
    matrix = np.empty((len(bars), len(names)), order="F")
    matrix.fill(0.0)  # paged in before timing: the matrix's page faults are no single feature's cost
    context, plan = Bars(bars, matrix, {name: k for k, name in enumerate(names)}), _release_plan(names)
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for column, spec in enumerate(SPECS):
            started = time.perf_counter()
            matrix[:, column] = spec.compute(context)
            rows.append((spec.name, spec.group, time.perf_counter() - started))
            context.release(plan[column])
    return pd.DataFrame(rows, columns=["feature", "group", "seconds"])


def peak_memory(bars: pd.DataFrame) -> int:
    tracemalloc.start()
    build_features(bars)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def load_text() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def ratio_rows(series: dict[str, tuple[Timing, Timing]]) -> list[str]:
    lines = ["| series | raw TA-Lib 13 (wall / CPU) | all features (wall / CPU) | ratio wall | ratio CPU | <= 12x |",
             "|---|---:|---:|---:|---:|:---:|"]
    for name, (raw, full) in series.items():
        wall, cpu = full.wall / raw.wall, full.cpu / raw.cpu
        lines.append(f"| {name} | {ms(raw.wall)} / {ms(raw.cpu)} | {ms(full.wall)} / {ms(full.cpu)} | "
                     f"**{wall:.1f}x** | {cpu:.1f}x | {'yes' if wall <= 12 else 'no'} |")
    return lines


def report(args: argparse.Namespace, n: int, timings: dict[str, Timing], series: dict[str, tuple[Timing, Timing]],
           groups: dict[str, float], features: pd.DataFrame, memory: int, loads: tuple[str, str],
           opt_in: dict[str, Timing]) -> str:
    n_features = len(SPECS)
    raw, full = series["DEMO-FX"]
    scale = n / args.ta_bars
    ours, ta_time = timings["pinelab13"].wall, timings["ta"].wall * scale
    lines = [
        "# Feature engine throughput",
        "",
        f"Measured by `python bench/bench_features.py --bars {args.bars} --ta-bars {args.ta_bars} "
        f"--repeats {args.repeats} --opt-in-bars {args.opt_in_bars}` on {platform.machine()}, {os.cpu_count()} "
        "cores, Python "
        f"{platform.python_version()}, pandas {pd.__version__}, TA-Lib {talib.__version__}; {n:,} one-minute bars "
        f"per series; best of {args.repeats} rounds. Load average (1, 5, 15 min) before: {loads[0]}; after: "
        f"{loads[1]} (a shared machine: the CPU-time ratio is the steadier one).",
        "",
        f"All {n_features} features of the default build (the opt-in groups hmm, garch and anomaly are measured "
        "at the end) against the 13 raw TA-Lib calls, on both series (rounds alternate the two):",
        "",
        *ratio_rows(series),
        "",
        "| task (DEMO-FX) | time | per feature/indicator | vs raw TA-Lib (13) |",
        "|---|---:|---:|---:|",
        f"| raw TA-Lib, 13 classic indicator calls | {ms(raw.wall)} | {ms(raw.wall / 13)} | 1.0x |",
        f"| PineLab, the same 13 (18 stable-name columns) | {ms(ours)} | {ms(ours / 13)} | {ours / raw.wall:.1f}x |",
        f"| `ta` package, the same 13 (timed on {args.ta_bars:,} bars, x{scale:g}) | {ms(ta_time)} | "
        f"{ms(ta_time / 13)} | {ta_time / raw.wall:.1f}x |",
        f"| **PineLab, all {n_features} features** | **{ms(full.wall)}** | {ms(full.wall / n_features)} | "
        f"**{full.wall / raw.wall:.1f}x** |",
        f"| PineLab, all {n_features} features, `dtype=\"float32\"` | {ms(timings['full32'].wall)} | "
        f"{ms(timings['full32'].wall / n_features)} | {timings['full32'].wall / raw.wall:.1f}x |",
        f"| PineLab, sum of the {len(groups)} groups built one by one | {ms(sum(groups.values()))} | "
        f"{ms(sum(groups.values()) / n_features)} | {sum(groups.values()) / raw.wall:.1f}x |",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
        *(f"| all features <= 12x raw TA-Lib's 13, {name} | {f.wall / r.wall:.1f}x | "
          f"{'yes' if f.wall / r.wall <= 12 else 'no'} |" for name, (r, f) in series.items()),
        f"| >= 20x faster than `ta` on the shared indicators | {ta_time / ours:.0f}x | "
        f"{'yes' if ta_time / ours >= 20 else 'no'} |",
        f"| peak memory of a full build < 2 GB | {memory / 2**30:.2f} GB traced, "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB process peak RSS | "
        f"{'yes' if memory < 2 * 2**30 else 'no'} |",
        "",
        "Per group (DEMO-FX; each built on its own, so shared inputs such as ATR are recomputed per group):",
        "",
        "| group | features | time | per feature |",
        "|---|---:|---:|---:|",
    ]
    counts = features.groupby("group").size()
    lines += [f"| {g} | {counts[g]} | {ms(t)} | {ms(t / counts[g])} |" for g, t in groups.items()]
    slowest = features.sort_values("seconds", ascending=False).head(12)
    lines += ["", "Slowest features inside one full build (DEMO-FX; a kernel that fills several columns is charged "
              f"to the first; median feature: {ms(features['seconds'].median())}):", "",
              "| feature | group | time |", "|---|---|---:|"]
    lines += [f"| {r.feature} | {r.group} | {ms(r.seconds)} |" for r in slowest.itertuples(index=False)]
    lines += ["", *opt_in_rows(opt_in, args.opt_in_bars)]
    return "\n".join(lines) + "\n"


def replace_opt_in_section(args: argparse.Namespace) -> None:
    """Measure section 5 alone and put it in place of the one in `args.out` (the rest of the file is kept)."""
    fx = fx_minute_bars(args.opt_in_bars)
    build_features(fx.head(5_000), groups=[*FEATURE_GROUPS, *OPT_IN_GROUPS])  # compile, import the fitting libraries
    before = load_text()
    opt_in = opt_in_against_talib(fx, min(args.repeats, 2))
    rows = opt_in_rows(opt_in, args.opt_in_bars)
    rows[0] += (f" Measured alone by `python bench/bench_features.py --opt-in-only --opt-in-bars {args.opt_in_bars}"
                f" --repeats {args.repeats}`; load average before: {before}; after: {load_text()}.")
    previous = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    kept = previous.split(OPT_IN_HEADING)[0].rstrip("\n")
    text = (kept + "\n\n" if kept else "") + "\n".join(rows) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--ta-bars", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--opt-in-bars", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--opt-in-only", action="store_true", help="re-measure the opt-in groups only")
    args = parser.parse_args()
    if args.opt_in_only:
        replace_opt_in_section(args)
        return
    fx, walk = fx_minute_bars(args.bars), random_walk_bars(args.bars)
    n = len(fx)
    build_features(fx.head(5_000))  # load (or compile) the numba kernels before timing anything
    before = load_text()
    series = {"DEMO-FX": full_against_talib(fx, args.repeats), "random walk": full_against_talib(walk, args.repeats)}
    timings = {
        "pinelab13": best_time(lambda: pinelab_13(fx), args.repeats),
        "ta": best_time(lambda: ta_13(fx.tail(args.ta_bars)), 1),
        "full32": best_time(lambda: build_features(fx, dtype="float32"), args.repeats),
    }
    groups = {g: best_time(lambda g=g: build_features(fx, groups=[g]), args.repeats).wall for g in FEATURE_GROUPS}
    features = per_feature_times(fx)
    memory = peak_memory(fx)
    opt_in = opt_in_against_talib(fx.head(args.opt_in_bars), min(args.repeats, 2))
    text = report(args, n, timings, series, groups, features, memory, (before, load_text()), opt_in)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
