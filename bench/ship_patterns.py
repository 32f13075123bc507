"""Train the pattern model that ships with PineLab (`pinelab_core/patterns/pretrained/`) and report its scores.

The `pinelab patterns train` defaults (300 windows per class, up to 12 epochs, seed 0, candlestick images),
scored on the held-out synthetic windows and the hand-labelled fixture, trained into a throwaway store, then
exported with its manifest and checksums. Run it again after a change to the model or the generator:

    python bench/ship_patterns.py                 # minutes on a CPU, seconds on a GPU
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from pinelab_core.config import Settings
from pinelab_core.patterns import PatternTrainConfig, train_pattern_model
from pinelab_core.patterns.pretrained import PRETRAINED_DIR, export_pattern_model

REPO = Path(__file__).resolve().parents[1]
#: Relative to the repository root (the script runs there), so the shipped manifest names no machine's folders.
FIXTURE = Path("tests") / "fixtures" / "pattern_windows_labelled.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu keeps the shipped weights reproducible on any machine")
    parser.add_argument("--out", type=Path, default=PRETRAINED_DIR.resolve())
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    os.chdir(REPO)
    with tempfile.TemporaryDirectory() as root:
        settings = Settings(data_dir=Path(root) / "data", models_dir=Path(root) / "models")
        config = PatternTrainConfig(device=args.device, labelled_path=str(FIXTURE))
        start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        result = train_pattern_model(settings, config)
        wall, cpu = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
        export_pattern_model(settings, args.out)
    held = result.held_out
    print(f"trained {result.info.ref} on {result.info.device}: {wall:.0f} s wall, {cpu:.0f} s CPU")
    print(f"held-out synthetic ({held.n_windows} windows): accuracy {held.accuracy:.3f}, macro F1 {held.macro_f1:.3f}")
    if result.labelled is not None:
        print(f"hand-labelled ({result.labelled.n_windows} windows): accuracy {result.labelled.accuracy:.3f}")
    print(held.per_class.round(3).to_string())
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print(f"exported to {args.out}: {sizes}")


if __name__ == "__main__":
    main()
