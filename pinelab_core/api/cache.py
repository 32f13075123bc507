"""The answers cache: one computation per query and bar, however many callers ask at once.

A cached answer is served as is for `ttl_s`. Then the next caller starts a re-check in the worker, which
recomputes only if the answer's inputs changed (a newer closed bar, other active models), and until that
re-check is done (at most another `ttl_s`) callers keep getting the previous answer, marked `stale`: a
refresh never makes anyone wait. A query nobody has asked before is computed once while every caller of it
waits on the same computation, up to `timeout_s` (then 503 with Retry-After; the computation carries on and
fills the cache). At most `max_pending` distinct computations wait at once; past that, 503 busy.

Everything here runs on the event loop and never blocks: it only looks up dicts and awaits the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic

from pinelab_core.api.compute import Answer, Inputs, Query, error_body
from pinelab_core.errors import PinelabError

__all__ = ["AnswerCache", "Busy"]

log = logging.getLogger(__name__)
Compute = Callable[[Query, Inputs | None], Awaitable[Answer | None]]
_NOT_KEPT = {500, 503}  # a bug or something down: ask again next time rather than repeat it


class Busy(Exception):
    """The answer is not ready within the request's wait (or too many are being computed): retry shortly."""


@dataclass
class _Entry:
    answer: Answer
    fresh_until: float
    stale_until: float


class AnswerCache:
    """TTL cache with single flight and stale-while-revalidate (see the module docstring)."""

    def __init__(self, compute: Compute, *, ttl_s: float, timeout_s: float, max_entries: int = 4096,
                 max_pending: int = 64) -> None:
        self.compute = compute
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.max_entries = max_entries
        self.max_pending = max_pending
        self._entries: OrderedDict[Query, _Entry] = OrderedDict()
        self._flights: dict[Query, asyncio.Task[Answer]] = {}
        self.counts = {"hit": 0, "stale": 0, "miss": 0, "computed": 0, "busy": 0}

    def stats(self) -> dict[str, int]:
        return {**self.counts, "entries": len(self._entries), "computing": len(self._flights)}

    async def get(self, query: Query) -> tuple[Answer, str]:
        """(answer, how it was served: hit | stale | miss). Raises `Busy`."""
        now = monotonic()
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            if now < entry.fresh_until:
                self.counts["hit"] += 1
                return entry.answer, "hit"
            if now < entry.stale_until:
                with contextlib.suppress(Busy):  # too many re-checks queued: this one waits for the next caller
                    self._flight(query, entry)
                self.counts["stale"] += 1
                return entry.answer, "stale"
        try:
            task = self._flight(query, entry)
        except Busy:
            self.counts["busy"] += 1
            raise
        self.counts["miss"] += 1
        try:
            answer = await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        except TimeoutError:
            self.counts["busy"] += 1
            raise Busy(f"Still computing after {self.timeout_s:g} s; ask again shortly (it will be ready).") from None
        return answer, "miss"

    def _flight(self, query: Query, entry: _Entry | None) -> asyncio.Task[Answer]:
        task = self._flights.get(query)
        if task is not None:
            return task
        if len(self._flights) >= self.max_pending:
            raise Busy(f"{len(self._flights)} answers are being computed; ask again shortly.")
        task = asyncio.get_running_loop().create_task(self._refresh(query, entry))
        self._flights[query] = task
        task.add_done_callback(lambda _: self._flights.pop(query, None))
        return task

    async def _refresh(self, query: Query, previous: _Entry | None) -> Answer:
        try:
            result = await self.compute(query, previous.answer.inputs if previous else None)
        except PinelabError as exc:  # the worker could not run it (a dead worker process): retry
            return Answer(503, error_body("unavailable", str(exc)))
        except Exception:  # never leave callers hanging on a failed computation
            log.exception("API computation of %s failed", query)
            return Answer(500, error_body("internal", "Unexpected error; it was logged."))
        self.counts["computed"] += result is not None
        answer = result if result is not None else previous.answer  # type: ignore[union-attr]
        if answer.status not in _NOT_KEPT:
            now = monotonic()
            self._entries[query] = _Entry(answer, now + self.ttl_s, now + 2 * self.ttl_s)
            self._entries.move_to_end(query)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return answer
