#!/usr/bin/env bash
# Cold and warm cost of the README's test command: a fresh clone in a fresh virtual environment.
#
#   bench/bench_install.sh [results-file]     (default bench/results/install.md)
#   WARM=0 bench/bench_install.sh              (the cold run only)
#
# Cold: pip install -c constraints.txt -e ".[dev]" into a new venv, then the first `python -m pytest`
# (no bytecode, no Numba cache, no Hypothesis database). Warm: the same suite run again right after.
# Each run's slowest tests are kept, so the difference between the two says where a cold run goes.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/bench/results/install.md}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/pinelab"
cd "$work/pinelab"
python -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
export PINELAB_REQUIRE_BROWSER=1
seconds() { python -c "import time; print(f'{time.time():.1f}')"; }
t0=$(seconds)
pip install -q -c constraints.txt -e ".[dev]"
t1=$(seconds)
failed() { sed -n '/= FAILURES =/,/= slowest/p' "$1" | head -150; tail -5 "$1"; exit 1; }  # what failed, and why
python -m pytest -q -p no:cacheprovider --durations=15 > "$work/cold.log" 2>&1 || failed "$work/cold.log"
t2=$(seconds)
if [ "${WARM:-1}" = 1 ]; then
  python -m pytest -q -p no:cacheprovider --durations=15 > "$work/warm.log" 2>&1 || failed "$work/warm.log"
else
  echo "not run (WARM=0)" > "$work/warm.log"
fi
t3=$(seconds)
python - "$t0" "$t1" "$t2" "$t3" "$work/cold.log" "$work/warm.log" "$out" <<'PY'
import os, re, sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
cold, warm, out = sys.argv[5], sys.argv[6], sys.argv[7]
def summary(path):
    text = open(path).read()
    slowest = re.findall(r"^(\d+\.\d+)s (\w+)\s+(\S+)$", text, flags=re.M)
    return (text.strip().splitlines() or [""])[-1], slowest[:8]
(cold_line, cold_slow), (warm_line, warm_slow) = summary(cold), summary(warm)
load = os.getloadavg()
lines = [
    "# Install and test run, cold and warm", "",
    f"`bench/bench_install.sh` on {os.cpu_count()} cores (load average {load[0]:.1f} at the end): a fresh clone,",
    "a new venv, `pip install -c constraints.txt -e \".[dev]\"`, then `python -m pytest` twice.", "",
    "| step | seconds |", "| --- | ---: |",
    f"| pip install (cold) | {t1 - t0:.0f} |",
    f"| test suite, first run (cold: no bytecode, no Numba cache) | {t2 - t1:.0f} |",
    f"| test suite, second run (warm) | {'not run' if 'not run' in warm_line else f'{t3 - t2:.0f}'} |",
    f"| install + first run | {t2 - t0:.0f} |", "",
    f"Cold run: {cold_line}", f"Warm run: {warm_line}", "",
    "Slowest tests, cold:", "", *[f"- {s}s {phase} `{name}`" for s, phase, name in cold_slow], "",
    "Slowest tests, warm:", "", *[f"- {s}s {phase} `{name}`" for s, phase, name in warm_slow], "",
]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
