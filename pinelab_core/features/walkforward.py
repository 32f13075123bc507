"""Walk-forward refits for the fitted-model features (HMM regimes, GARCH volatility, isolation forest).

A fitted model's value at bar t must use bars <= t only (causal) and a bounded stretch of them (a finite
`history`, so inference on a trailing slice reproduces the values training saw). Both follow from how the
refit schedule is anchored:

- Refit bars are chosen by the clock, never by counting bars from the start of the frame: a period lasts
  `every` bar spacings (the median gap between the trailing `window` bars), periods are anchored at the Unix
  epoch, and the first bar of each period is a refit bar. A frame that starts later has the same refit bars.
- Each fit sees the `window` bars before its refit bar (a rolling window, never an expanding one, which would
  depend on where the frame starts) and serves the bars from its refit bar up to the next refit bar.

So the value at bar t depends on the bars from (last refit bar <= t) - window - warm-up to t: at most
warm-up + window + the bars of one period (`every` on regular bars, fewer where sessions leave gaps).
Fits are pure functions of their window; `FitCache` keeps them by the exact bytes of that window, so the
page, the chart shading and the live loop looking at one market fit each window once per process.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

__all__ = [
    "FitCache", "Segment", "clear_fit_caches", "quiet_single_thread", "refit_positions", "segments",
    "walk_forward_lookback",
]

T = TypeVar("T")
_CACHES: list[FitCache] = []


@dataclass(frozen=True)
class Segment:
    """One fit's reach: it is fitted on bars [fit_start, refit) and serves bars [refit, end)."""

    fit_start: int
    refit: int
    end: int


def refit_positions(index: pd.DatetimeIndex, every: int, window: int) -> np.ndarray:
    """Bar positions that start a new period of `every` bar spacings (epoch-anchored): the refit bars.

    The spacing at bar t is the median gap of the `window` gaps ending at t, so the schedule needs no
    knowledge of the timeframe and is the same for any frame holding those bars. Integer nanoseconds
    throughout: the same bars give the same schedule on every machine.
    """
    times = pd.DatetimeIndex(index).as_unit("ns").asi8
    if len(times) <= window:
        return np.empty(0, dtype=np.int64)
    gaps = np.diff(times).astype(np.float64)
    spacing = pd.Series(gaps).rolling(window).median().to_numpy()  # spacing[i]: gaps ending at bar i + 1
    period = np.rint(every * spacing)
    valid = np.isfinite(period) & (period > 0)
    bars = np.arange(1, len(times))[valid]
    length = period[valid].astype(np.int64)
    new_period = times[bars] // length != times[bars - 1] // length
    return bars[new_period]


def segments(index: pd.DatetimeIndex, *, window: int, every: int, warmup: int = 0) -> list[Segment]:
    """The fits of a walk-forward run over `index`: each needs `warmup` bars before its `window` fit bars.

    Refit bars without that much history in the frame are skipped (the bars they would serve stay NaN).
    """
    refits = [int(r) for r in refit_positions(index, every, window) if r - window - warmup >= 0]
    ends = [*refits[1:], len(index)]
    return [Segment(r - window, r, end) for r, end in zip(refits, ends[: len(refits)], strict=True)]


def walk_forward_lookback(*, window: int, every: int, warmup: int = 0) -> int:
    """Rows left NaN at the start of a walk-forward feature: by then the first fit serves on regular bars.

    Two periods cover the wait for the first epoch-anchored period start after the window is full.
    """
    return warmup + window + 2 * every


class FitCache:
    """Fitted models by the exact bytes of their inputs (and the fitting parameters), least recently used first
    out. A fit is a pure function of its inputs, so a hit returns exactly what a refit would."""

    def __init__(self, size: int = 4_096) -> None:
        self._size = size
        self._fits: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()  # dashboard sessions run in threads of one process
        _CACHES.append(self)

    def get(self, params: tuple[Hashable, ...], inputs: np.ndarray, fit: Callable[[], T]) -> T:
        data = np.ascontiguousarray(inputs)
        key = (*params, data.shape, hashlib.blake2b(data.tobytes(), digest_size=20).digest())
        with self._lock:
            if key in self._fits:
                self._fits.move_to_end(key)
                return self._fits[key]  # type: ignore[no-any-return]
        value = fit()
        with self._lock:
            self._fits[key] = value
            while len(self._fits) > self._size:
                self._fits.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._fits.clear()

    def __len__(self) -> int:
        return len(self._fits)


def clear_fit_caches() -> None:
    """Forget every cached fit (tests use it to show that values never depend on what was fitted before)."""
    for cache in _CACHES:
        cache.clear()


@contextmanager
def quiet_single_thread() -> Iterator[None]:
    """One BLAS/OpenMP thread and no convergence chatter while a small model fits.

    Small fits (a 500-bar HMM, a 750-bar GARCH) spend their time in thread start-up when BLAS and OpenMP
    spread them over busy cores: measured 30x slower on a loaded 2-core machine. Warnings about
    non-convergence are expected on some windows and judged by the caller (it checks the fitted values).
    """
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
