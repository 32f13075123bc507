"""Chart-pattern model quality and cost: train, score held out and on the hand-labelled set, scan demo markets.

Trains the pattern CNN with the given config into a throwaway store, then reports: training CPU and wall
seconds, held-out synthetic accuracy / macro F1 / per-class precision and recall, the hand-labelled fixture's
scores, and per demo market the detections on the last `--scan` bars with the event study (10-bar hold,
10 bp per side). The peer for the scores is chance (1 / number of classes) and, for the labelled set, the
majority class ("none"); the peer for the event study is random entry, inside the study itself.

    python bench/bench_patterns.py                          # the documented run (minutes on a CPU)
    python bench/bench_patterns.py --per-class 40 --epochs 2 --scan 300     # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.patterns import PATTERN_CLASSES, PatternTrainConfig, analyse_patterns, train_pattern_model

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pattern_windows_labelled.csv"
MARKETS = (("DEMO-EQUITY", "1d"), ("DEMO-BTC", "1h"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--style", default="candlestick")
    parser.add_argument("--scan", type=int, default=2000, help="bars scanned per demo market")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    root = Path(tempfile.mkdtemp(prefix="bench-patterns-"))
    settings = Settings(data_dir=root / "data", models_dir=root / "models", database_url=f"sqlite:///{root}/p.db")
    config = PatternTrainConfig(per_class=args.per_class, epochs=args.epochs, channels=args.channels,
                                style=args.style, labelled_path=str(FIXTURE))
    wall, cpu = time.perf_counter(), time.process_time()
    result = train_pattern_model(settings, config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"trained {result.info.ref} on {result.info.device}: {wall:.0f} s wall, {cpu:.0f} s CPU, "
          f"{sum(f.stat().st_size for f in result.info.path.iterdir()) / 1e3:.0f} kB on disk")
    held = result.held_out
    print(f"held-out synthetic ({held.n_windows} windows): accuracy {held.accuracy:.3f} (chance "
          f"{1 / len(PATTERN_CLASSES):.3f}), macro F1 {held.macro_f1:.3f}")
    print(held.per_class.round(3).to_string())
    labelled = result.labelled
    if labelled is not None:
        majority = float(labelled.per_class["support"].max() / labelled.n_windows)
        print(f"\nhand-labelled ({labelled.n_windows} windows): accuracy {labelled.accuracy:.3f} (always 'none': "
              f"{majority:.3f}), macro F1 {labelled.macro_f1:.3f}")
        present = labelled.per_class["support"] > 0
        print(labelled.per_class[present].round(3).to_string())
        print(labelled.confusion.loc[present, labelled.confusion.sum(axis=0) > 0].to_string())
    for symbol, timeframe in MARKETS:
        ohlcv = load_ohlcv(symbol, timeframe, source="demo", settings=settings)
        started = time.perf_counter()
        report = analyse_patterns(ohlcv, settings, last=args.scan, threshold=args.threshold)
        seconds = time.perf_counter() - started
        print(f"\n{symbol} {timeframe}: scanned {args.scan} bars in {seconds:.1f} s "
              f"({seconds / args.scan * 1e3:.1f} ms per bar, 3 window lengths); {len(report.events)} detections "
              f"({len(report.events) / args.scan:.3f} per bar)")
        print(report.study.round(4).to_string())
        print("significant after Bonferroni:", list(report.study.index[report.study["significant"].astype(bool)])
              or "none", "| p < 0.05 uncorrected:", int(np.sum(report.study["p_value"] < 0.05)))
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
