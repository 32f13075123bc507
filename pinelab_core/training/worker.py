"""The job worker process: `python -m pinelab_core.training.worker <job_id>`.

It runs one job: heartbeat on a side thread, progress and log lines into the jobs table, a final status,
then dispatches the next queued job. It never runs inside Streamlit; `jobs.dispatch_jobs` launches it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError
from pinelab_core.store import get_engine
from pinelab_core.store.tables import JobLogRow, JobRow
from pinelab_core.training.jobs import dispatch_jobs, finish_job, update_job, write_log

__all__ = ["HEARTBEAT_S", "JobCancelled", "JobReporter", "main", "run_job"]

HEARTBEAT_S = 2.0
JobRunner = Callable[[Settings, dict[str, Any], "JobReporter"], dict[str, Any]]


class JobCancelled(Exception):  # noqa: N818 - control flow, not an error
    """Raised at a progress tick once the job's cancel was requested."""


class JobReporter:
    """What a running job writes: progress (throttled), metric points (batched), log lines, cancel checks."""

    def __init__(self, settings: Settings, job_id: int, *, min_interval_s: float = 0.5) -> None:
        self.settings = settings
        self.job_id = job_id
        self.min_interval_s = min_interval_s
        self.cancel_event = threading.Event()
        self._last_write = 0.0
        self._last_stage = ""
        self._points: list[JobLogRow] = []

    def progress(self, fraction: float, stage: str) -> None:
        """Record progress (written at most every `min_interval_s`, or when the stage changes); honour cancel."""
        self.check_cancel()
        now = time.monotonic()
        if stage != self._last_stage or now - self._last_write >= self.min_interval_s:
            self.flush()
            update_job(self.settings, self.job_id, progress=float(min(max(fraction, 0.0), 1.0)), stage=stage[:200],
                       heartbeat_at=datetime.now(UTC))
            self._last_write, self._last_stage = now, stage

    def metric(self, *, fold: int | None, epoch: int | None, train_loss: float | None,
               val_loss: float | None, message: str = "") -> None:
        """Queue a loss point for the live loss curve; written with the next progress write."""
        self._points.append(JobLogRow(job_id=self.job_id, level="METRIC", message=message, fold=fold, epoch=epoch,
                                      train_loss=train_loss, val_loss=val_loss))

    def log(self, message: str, level: str = "INFO") -> None:
        self.flush()
        write_log(self.settings, self.job_id, message, level=level)

    def flush(self) -> None:
        if not self._points:
            return
        points, self._points = self._points, []
        with Session(get_engine(self.settings)) as session:
            session.add_all(points)
            session.commit()

    def check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()


def _runners() -> dict[str, JobRunner]:
    from pinelab_core.live.retrain import run_retrain_job
    from pinelab_core.patterns.training import run_pattern_job
    from pinelab_core.rl.service import run_rl_job
    from pinelab_core.training.runner import run_train_job

    return {"train": run_train_job, "rl": run_rl_job, "retrain": run_retrain_job, "patterns": run_pattern_job}


def run_job(settings: Settings, job_id: int, runners: dict[str, JobRunner] | None = None,
            *, heartbeat_s: float = HEARTBEAT_S) -> str:
    """Run job `job_id` to a final status (in this process) and return that status."""
    with Session(get_engine(settings)) as session:
        row = session.get(JobRow, job_id)
        if row is None or row.status != "running":
            return row.status if row is not None else "missing"
        kind, params = row.kind, row.params_json
    update_job(settings, job_id, pid=os.getpid(), heartbeat_at=datetime.now(UTC))
    reporter = JobReporter(settings, job_id)
    done = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(settings, job_id, reporter, done, heartbeat_s),
                            daemon=True, name=f"job-{job_id}-heartbeat")
    beat.start()
    status = _execute(settings, job_id, kind, params, reporter, runners or _runners())
    done.set()
    beat.join(timeout=heartbeat_s * 2)
    try:
        dispatch_jobs(settings)
    except PinelabError as exc:  # the next job waits for the next dispatcher; this one is done either way
        write_log(settings, job_id, f"could not dispatch the next job: {exc}", level="WARNING")
    return status


def _execute(settings: Settings, job_id: int, kind: str, params_json: str, reporter: JobReporter,
             runners: dict[str, JobRunner]) -> str:
    try:
        runner = runners[kind]
        reporter.log(f"{kind} job started in process {os.getpid()}")
        result = runner(settings, json.loads(params_json or "{}"), reporter)
        reporter.flush()
        finish_job(settings, job_id, "succeeded", result=result)
        return "succeeded"
    except JobCancelled:
        reporter.flush()
        finish_job(settings, job_id, "cancelled", error="cancelled on request")
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - any failure must end the row, with its story
        headline = f"{type(exc).__name__}: {exc}"
        # A PinelabError's message says what to do; anything else is a bug, and its traceback is the story.
        detail = "" if isinstance(exc, PinelabError) else "\n" + traceback.format_exc(limit=8)
        reporter.flush()
        reporter.log(headline, level="ERROR")
        finish_job(settings, job_id, "failed", error=(headline + detail).strip())
        return "failed"


def _heartbeat(settings: Settings, job_id: int, reporter: JobReporter, done: threading.Event, every_s: float) -> None:
    """Beat while the job runs, and pass a cancel request on to the job's next progress tick.

    A job deaf to the request (stuck inside a library call) is killed by `jobs.reconcile_jobs` after
    `CANCEL_GRACE_S`; the page and every dispatch call it.
    """
    while not done.wait(every_s):
        with Session(get_engine(settings)) as session:
            row = session.get(JobRow, job_id)
            if row is None or row.status != "running":
                return
            row.heartbeat_at = datetime.now(UTC)
            cancel = bool(row.cancel_requested)
            session.add(row)
            session.commit()
        if cancel:
            reporter.cancel_event.set()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m pinelab_core.training.worker <job_id>", file=sys.stderr)
        return 2
    status = run_job(Settings.from_env(), int(args[0]))
    return 0 if status in ("succeeded", "cancelled") else 1


if __name__ == "__main__":  # pragma: no cover - the process entry point
    sys.exit(main())
