"""Fitting times of the market-structure models: the HMM regimes and GARCH / GJR-GARCH volatility, on 10 years of
daily bars and 2 years of hourly bars, beside the default feature build of the same bars (the peer, timed in the
same run so both meet the same machine load).

For each series: one fit (the HMM with 2, 3 and 4 states and the BIC choice; GARCH(1,1)-t; GJR-GARCH-t) on the
window the features use, and the whole walk-forward run (every refit of the series, as `build_features(...,
groups=["hmm"])` does it), with the fit cache emptied before every timing. Best of `--repeats` runs; wall and
CPU time; the load average before and after.

    python bench/bench_structure.py                 # writes bench/results/structure.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pinelab_core.data import load_ohlcv
from pinelab_core.features import build_features
from pinelab_core.features.anomaly import forest_scores, robust_zscores
from pinelab_core.features.garch import GARCH_WINDOW, fit_garch, garch_path
from pinelab_core.features.hmm_regime import HMM_WINDOW, VOL_BARS, fit_hmm, hmm_inputs, hmm_regime_path
from pinelab_core.features.spec import Bars
from pinelab_core.features.walkforward import clear_fit_caches

RESULTS = Path(__file__).parent / "results" / "structure.md"


def best(action: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds of `repeats` runs, each with every fit cache emptied first."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        clear_fit_caches()
        started, cpu_started = time.perf_counter(), time.process_time()
        action()
        wall, cpu = min(wall, time.perf_counter() - started), min(cpu, time.process_time() - cpu_started)
    return wall, cpu


def series() -> dict[str, pd.DataFrame]:
    end = pd.Timestamp("2026-10-31", tz="UTC")
    return {
        "DEMO-EQUITY 1d, 10 years": load_ohlcv("DEMO-EQUITY", "1d", start=end - pd.DateOffset(years=10),
                                                source="demo"),
        "DEMO-BTC 1h, 2 years (24/7)": load_ohlcv("DEMO-BTC", "1h", start=end - pd.DateOffset(years=2),
                                                   source="demo"),
        "DEMO-EQUITY 1h, 2 years (sessions)": load_ohlcv("DEMO-EQUITY", "1h", start=end - pd.DateOffset(years=2),
                                                          source="demo"),
    }


def measure(bars: pd.DataFrame, repeats: int) -> dict[str, object]:
    close, index = bars["close"].to_numpy(), bars.index
    window = hmm_inputs(close[-(HMM_WINDOW + VOL_BARS) :])[VOL_BARS:]
    returns = np.ascontiguousarray(np.diff(np.log(close[-(GARCH_WINDOW + 1) :])))
    path = hmm_regime_path(close, index)
    garch_fits = len(garch_path(close, index).fits)
    z = robust_zscores(Bars(bars)).T
    return {
        "bars": len(bars), "hmm_fits": len(path.fits), "garch_fits": garch_fits,
        "states": pd.Series([f.n_states for f in path.fits]).value_counts().sort_index().to_dict(),
        "hmm_one": best(lambda: fit_hmm(window), repeats),
        "garch_one": best(lambda: fit_garch(returns, "garch"), repeats),
        "gjr_one": best(lambda: fit_garch(returns, "gjr"), repeats),
        "hmm_all": best(lambda: hmm_regime_path(close, index), repeats),
        "garch_all": best(lambda: (garch_path(close, index, "garch"), garch_path(close, index, "gjr")), repeats),
        "forest_all": best(lambda: forest_scores(z, index), repeats),
        "default_build": best(lambda: build_features(bars), repeats),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def load_text() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def report(results: dict[str, dict[str, object]], args: argparse.Namespace, loads: tuple[str, str]) -> str:
    lines = [
        "# Market-structure model fitting times",
        "",
        f"Measured by `python bench/bench_structure.py --repeats {args.repeats}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; best of {args.repeats} runs, fit caches "
        f"emptied before each; one BLAS/OpenMP thread per fit (`walkforward.quiet_single_thread`). Load average "
        f"(1, 5, 15 min) before: {loads[0]}; after: {loads[1]} (a shared machine: compare CPU times).",
        "",
        "One fit on the window the features use (HMM: 500 bars, 2, 3 and 4 states fitted and the BIC choice kept; "
        "GARCH: 750 bars, Student-t errors), wall / CPU:",
        "",
        "| series | bars | HMM (3 fits + BIC) | GARCH(1,1) | GJR-GARCH |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r['bars']:,} | {ms(r['hmm_one'][0])} / {ms(r['hmm_one'][1])} | "
                     f"{ms(r['garch_one'][0])} / {ms(r['garch_one'][1])} | {ms(r['gjr_one'][0])} / "
                     f"{ms(r['gjr_one'][1])} |")
    lines += [
        "",
        "The whole walk-forward run over the series (every refit: the HMM every 100 bar spacings, GARCH and the "
        "isolation forest every 250), against the default feature build of the same bars (the peer), CPU time:",
        "",
        "| series | HMM fits (states chosen) | HMM run | GARCH fits | GARCH + GJR run | isolation forest run | "
        "default build (peer) | HMM / peer | GARCH + GJR / peer |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        peer = r["default_build"][1]
        states = ", ".join(f"{k}: {v}" for k, v in r["states"].items())
        lines.append(f"| {name} | {r['hmm_fits']} ({states}) | {ms(r['hmm_all'][1])} | {r['garch_fits']} | "
                     f"{ms(r['garch_all'][1])} | {ms(r['forest_all'][1])} | {ms(peer)} | "
                     f"{r['hmm_all'][1] / peer:.1f}x | {r['garch_all'][1] / peer:.1f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    markets = series()
    build_features(next(iter(markets.values())).tail(2_000), groups=["hmm", "garch", "anomaly"])  # compile, import
    before = load_text()
    results = {name: measure(bars, args.repeats) for name, bars in markets.items()}
    text = report(results, args, (before, load_text()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
