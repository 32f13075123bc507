"""Where sweep trials run: in this process, in local worker processes, or on a Ray cluster.

    serial   one after another, here (tests, small grids, the dashboard)
    process  a local process pool; the OHLCV frame is sent once per worker (the default for the CLI)
    ray      Ray tasks; the OHLCV frame goes into the object store once and every task gets a reference.
             Used when `executor="ray"` or PINELAB_RAY_ADDRESS is set (`pip install pinelab[ray]`).

Each trial is a pure function of (ohlcv, spec), so all three give identical results; results come back in
the order of the specs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from pinelab_core.backtest.trials import TrialOutcome, TrialSpec, evaluate_trial
from pinelab_core.errors import ConfigError, DataValidationError

__all__ = ["EXECUTORS", "map_trials", "resolve_executor"]

EXECUTORS: tuple[str, ...] = ("serial", "process", "ray")
RAY_ADDRESS_ENV = "PINELAB_RAY_ADDRESS"

_WORKER_OHLCV: pd.DataFrame | None = None


def resolve_executor(executor: str | None) -> str:
    """The executor to use: the one asked for, else Ray when PINELAB_RAY_ADDRESS is set, else local processes."""
    if executor is None:
        return "ray" if os.environ.get(RAY_ADDRESS_ENV) else "process"
    if executor not in EXECUTORS:
        raise DataValidationError(f"Unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")
    return executor


def map_trials(ohlcv: pd.DataFrame, specs: Sequence[TrialSpec], *, executor: str | None = "serial",
               workers: int | None = None) -> Iterator[tuple[int, TrialOutcome]]:
    """Evaluate every spec on `ohlcv`; yields (position in `specs`, outcome) in order, as they complete."""
    kind = resolve_executor(executor)
    if not specs:
        return
    if kind == "serial":
        for position, spec in enumerate(specs):
            yield position, evaluate_trial(ohlcv, spec)
    elif kind == "process":
        yield from _process(ohlcv, specs, workers)
    else:
        yield from _ray(ohlcv, specs)


def _init_worker(ohlcv: pd.DataFrame) -> None:
    global _WORKER_OHLCV
    _WORKER_OHLCV = ohlcv


def _evaluate_in_worker(spec: TrialSpec) -> TrialOutcome:
    assert _WORKER_OHLCV is not None  # set by the pool initializer
    return evaluate_trial(_WORKER_OHLCV, spec)


def _process(ohlcv: pd.DataFrame, specs: Sequence[TrialSpec],
             workers: int | None) -> Iterator[tuple[int, TrialOutcome]]:
    count = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    chunk = max(1, len(specs) // (count * 8))
    with ProcessPoolExecutor(max_workers=count, initializer=_init_worker, initargs=(ohlcv,)) as pool:
        yield from enumerate(pool.map(_evaluate_in_worker, specs, chunksize=chunk))


def _ray(ohlcv: pd.DataFrame, specs: Sequence[TrialSpec]) -> Iterator[tuple[int, TrialOutcome]]:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("The Ray executor needs the ray extra: pip install 'pinelab[ray]'.") from exc
    if not ray.is_initialized():
        address = os.environ.get(RAY_ADDRESS_ENV) or None
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    remote = ray.remote(evaluate_trial)
    shared = ray.put(ohlcv)  # one copy in the object store; tasks receive the reference
    futures = [remote.remote(shared, spec) for spec in specs]
    for position, future in enumerate(futures):
        yield position, ray.get(future)
