"""Where the API's computations run: never on the sidecar's event loop, and by default not even in its process.

With `api_executor = "process"` (the default) answers are computed in `api_workers` child processes
(spawned, not forked: the parent has threads), so a computation never holds the interpreter lock the
alert path needs; models and frames stay loaded in the child between calls. The children run at a lower
scheduling priority (`WORKER_NICENESS`): on a busy machine a cold computation takes the cores the sidecar
leaves idle instead of slowing alert intake. `"thread"` runs them on a
thread pool of the sidecar itself (tests, or a machine where a second process is too much memory).
A child that dies is replaced; the request that saw it gets a 503. The pool starts with the first
question, so a sidecar nobody asks never spends a process on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from pinelab_core.api.compute import Answer, Inputs, Query, answer_query
from pinelab_core.config import Settings
from pinelab_core.errors import StoreError

__all__ = ["WORKER_NICENESS", "ApiWorker"]

log = logging.getLogger(__name__)
WORKER_NICENESS = 10  # added to the sidecar's niceness in each worker process (Unix); higher = yields sooner


def _lower_priority() -> None:
    """Worker process initialiser: yield the CPU to the sidecar's event loop (and so to TradingView alerts)."""
    # No nice() (Windows) or not permitted: run at the sidecar's priority.
    with contextlib.suppress(AttributeError, OSError):
        os.nice(WORKER_NICENESS)


class ApiWorker:
    """A pool computing `answer_query` off the event loop. `await run(query, known)` -> Answer or None."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kind = settings.api_executor
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, query: Query, known: Inputs | None) -> Answer | None:
        """Compute on the pool. Raises `StoreError` (answer 503) when the worker process died meanwhile."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), answer_query, query, self.settings, known)
        except BrokenProcessPool as exc:
            log.error("The API worker process died (%s); starting a new one", exc)
            self._replace()
            raise StoreError("The worker computing this answer stopped; ask again.") from exc

    def _pool(self) -> Executor:
        with self._lock:
            if self._executor is None:
                workers = self.settings.api_workers
                if self.kind == "thread":
                    self._executor = ThreadPoolExecutor(workers, thread_name_prefix="pinelab-api")
                else:
                    self._executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                         initializer=_lower_priority)
            return self._executor

    def _replace(self) -> None:
        with self._lock:
            broken, self._executor = self._executor, None
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)
