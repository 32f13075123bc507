"""Background jobs: a queue in the jobs table, worked off by child processes, never by the page's thread.

Life of a job: `submit_job` writes a *queued* row and calls `dispatch_jobs`, which (under a file lock, so
two dispatchers never start more than `settings.max_concurrent_jobs`) marks the oldest queued rows
*running* and launches `python -m pinelab_core.training.worker <id>` in its own session. The worker writes
progress, log lines and a heartbeat to the table, ends the row as *succeeded*, *failed* or *cancelled*,
and dispatches the next job. Pages only read the table, so everything survives a reload.

`cancel_job` cancels a queued job at once; a running one gets `cancel_requested`, and its worker stops at
the next progress tick. `reconcile_jobs` is the safety net: a running job whose process is gone (or whose
heartbeat went stale) becomes *failed* with its last log lines, and one that ignored a cancel request for
`cancel_grace_s` has its process group killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, col, func, select

from pinelab_core.config import Settings
from pinelab_core.errors import JobError
from pinelab_core.store import get_engine
from pinelab_core.store.tables import JobLogRow, JobRow

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "JobInfo",
    "cancel_job",
    "dispatch_jobs",
    "finish_job",
    "get_job",
    "job_log_path",
    "job_logs",
    "json_safe",
    "list_jobs",
    "reconcile_jobs",
    "submit_job",
    "update_job",
    "write_log",
]

ACTIVE_STATUSES: tuple[str, ...] = ("queued", "running")
FINAL_STATUSES: tuple[str, ...] = ("succeeded", "failed", "cancelled")
JOB_KINDS: tuple[str, ...] = ("train", "rl", "retrain", "patterns")  # retrain: live.retrain, patterns: the pattern CNN
STALE_AFTER_S = 120.0
CANCEL_GRACE_S = 15.0
CANCEL_MESSAGE = "cancel requested"
WORKER_MODULE = "pinelab_core.training.worker"


@dataclass(frozen=True)
class JobInfo:
    """A job as pages and the CLI see it (decoded from its row)."""

    id: int
    kind: str
    status: str
    progress: float
    stage: str
    params: dict[str, Any]
    result: dict[str, Any]
    error: str
    pid: int | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def from_row(cls, row: JobRow) -> JobInfo:
        return cls(
            id=int(row.id or 0), kind=row.kind, status=row.status, progress=float(row.progress), stage=row.stage,
            params=json.loads(row.params_json or "{}"), result=json.loads(row.result_json or "{}"),
            error=row.error or "", pid=row.pid, cancel_requested=bool(row.cancel_requested),
            created_at=_utc(row.created_at), started_at=_aware(row.started_at),
            finished_at=_aware(row.finished_at), heartbeat_at=_aware(row.heartbeat_at),
        )


def submit_job(settings: Settings, kind: str, params: dict[str, Any], *, dispatch: bool = True) -> int:
    """Queue a job and start it if a slot is free. Returns the job id.

    Raises:
        JobError: unknown kind, or params that are not JSON.
    """
    if kind not in JOB_KINDS:
        raise JobError(f"Unknown job kind {kind!r}. Use one of: {', '.join(JOB_KINDS)}.")
    try:
        params_json = json.dumps(json_safe(params), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JobError(f"Job parameters must be plain JSON values: {exc}") from exc
    with Session(get_engine(settings)) as session:
        row = JobRow(kind=kind, params_json=params_json, stage="queued")
        session.add(row)
        session.commit()
        job_id = int(row.id or 0)
    write_log(settings, job_id, f"queued {kind} job")
    if dispatch:
        dispatch_jobs(settings)
    return job_id


def dispatch_jobs(settings: Settings) -> list[int]:
    """Start queued jobs while fewer than `settings.max_concurrent_jobs` run. Returns the ids started."""
    started: list[int] = []
    with _dispatch_lock(settings):
        reconcile_jobs(settings)
        engine = get_engine(settings)
        with Session(engine) as session:
            running = session.exec(select(func.count()).select_from(JobRow).where(JobRow.status == "running")).one()
            free = max(0, settings.max_concurrent_jobs - int(running))
            queued = session.exec(
                select(JobRow).where(JobRow.status == "queued").order_by(col(JobRow.id)).limit(free)
            ).all()
            now = datetime.now(UTC)
            for row in queued:
                row.status, row.stage, row.started_at, row.heartbeat_at = "running", "starting", now, now
                session.add(row)
            session.commit()
            claimed = [int(row.id or 0) for row in queued]
        for job_id in claimed:
            try:
                pid = _spawn_worker(settings, job_id)
            except OSError as exc:
                finish_job(settings, job_id, "failed", error=f"could not start the worker process: {exc}")
                continue
            update_job(settings, job_id, pid=pid)
            write_log(settings, job_id, f"worker process {pid} started")
            started.append(job_id)
    return started


def cancel_job(settings: Settings, job_id: int) -> JobInfo:
    """Cancel a queued job now, or ask a running one to stop at its next progress tick."""
    with Session(get_engine(settings)) as session:
        row = session.get(JobRow, job_id)
        if row is None:
            raise JobError(f"No job {job_id}. List jobs with `pinelab jobs`.")
        status = row.status
        if status == "running" and not row.cancel_requested:
            row.cancel_requested = True
            session.add(row)
            session.commit()
    if status == "queued":
        finish_job(settings, job_id, "cancelled", error="cancelled before it started")
    elif status == "running":
        write_log(settings, job_id, CANCEL_MESSAGE, level="WARNING")
    return get_job(settings, job_id)


def reconcile_jobs(
    settings: Settings, *, stale_after_s: float = STALE_AFTER_S, cancel_grace_s: float = CANCEL_GRACE_S
) -> list[int]:
    """End running jobs whose worker is gone, silent, or deaf to a cancel request. Returns their ids."""
    now = datetime.now(UTC)
    with Session(get_engine(settings)) as session:
        running = session.exec(select(JobRow).where(JobRow.status == "running")).all()
        snapshot = [(int(r.id or 0), r.pid, _aware(r.heartbeat_at or r.started_at), bool(r.cancel_requested))
                    for r in running]
    ended: list[int] = []
    for job_id, pid, heartbeat, cancel_requested in snapshot:
        alive = pid is not None and _process_alive(pid)
        silent_s = (now - heartbeat).total_seconds() if heartbeat else float("inf")
        if cancel_requested and alive and pid is not None and _cancel_age_s(settings, job_id, now) > cancel_grace_s:
            _kill_group(pid)
            note = f"worker ignored the cancel request for {cancel_grace_s:.0f} s and was killed"
            finish_job(settings, job_id, "cancelled", error=note)
        elif pid is not None and not alive:
            finish_job(settings, job_id, "failed", error=_death_note(settings, job_id, f"worker process {pid} died"))
        elif silent_s > stale_after_s:
            if alive and pid is not None:
                _kill_group(pid)
            finish_job(settings, job_id, "failed",
                    error=_death_note(settings, job_id, f"no heartbeat for {silent_s:.0f} s; worker stopped"))
        else:
            continue
        ended.append(job_id)
    return ended


def get_job(settings: Settings, job_id: int) -> JobInfo:
    with Session(get_engine(settings)) as session:
        row = session.get(JobRow, job_id)
        if row is None:
            raise JobError(f"No job {job_id}. List jobs with `pinelab jobs`.")
        return JobInfo.from_row(row)


def list_jobs(settings: Settings, *, limit: int = 50, statuses: tuple[str, ...] | None = None) -> list[JobInfo]:
    """Newest jobs first."""
    query = select(JobRow).order_by(col(JobRow.id).desc()).limit(limit)
    if statuses:
        query = query.where(col(JobRow.status).in_(statuses))
    with Session(get_engine(settings)) as session:
        return [JobInfo.from_row(row) for row in session.exec(query).all()]


def job_logs(settings: Settings, job_id: int, *, limit: int | None = None) -> pd.DataFrame:
    """The job's log lines and metric points in time order (the last `limit` if given)."""
    query = select(JobLogRow).where(JobLogRow.job_id == job_id).order_by(col(JobLogRow.id).desc())
    if limit:
        query = query.limit(limit)
    with Session(get_engine(settings)) as session:
        rows = session.exec(query).all()
    columns = ["time", "level", "message", "fold", "epoch", "train_loss", "val_loss"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in reversed(rows)], columns=columns)
    return frame


def write_log(settings: Settings, job_id: int, message: str, *, level: str = "INFO", **metric: Any) -> None:
    """Append one log line (and optional fold/epoch/train_loss/val_loss) to a job."""
    with Session(get_engine(settings)) as session:
        session.add(JobLogRow(job_id=job_id, level=level, message=message, **metric))
        session.commit()


def job_log_path(settings: Settings, job_id: int) -> Path:
    """Where the worker's own stdout/stderr go (tracebacks of crashes that never reached the table)."""
    return settings.data_dir / "jobs" / f"job-{job_id}.log"


def update_job(settings: Settings, job_id: int, **values: Any) -> None:
    with Session(get_engine(settings)) as session:
        row = session.get(JobRow, job_id)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
        session.commit()


def finish_job(settings: Settings, job_id: int, status: str, *, error: str = "", result: dict | None = None) -> bool:
    """End an active job with a final status. Returns False (and changes nothing) if it had already ended."""
    with Session(get_engine(settings)) as session:
        row = session.get(JobRow, job_id)
        if row is None or row.status not in ACTIVE_STATUSES:
            return False
        row.status, row.stage, row.finished_at = status, status, datetime.now(UTC)
        if error:
            row.error = error
        if result is not None:
            row.result_json = json.dumps(json_safe(result), allow_nan=False)
        if status == "succeeded":
            row.progress = 1.0
        session.add(row)
        session.commit()
    first_line = error.splitlines()[0] if error else ""
    write_log(settings, job_id, status + (f": {first_line}" if first_line else ""),
              level="INFO" if status == "succeeded" else "ERROR")
    return True


def _death_note(settings: Settings, job_id: int, headline: str, lines: int = 10) -> str:
    """The headline, then the job's last log lines and the tail of the worker's stderr file."""
    logs = job_logs(settings, job_id, limit=lines)
    parts = [headline, "last log lines:"] + [f"  {r.time:%H:%M:%S} {r.level} {r.message}" for r in logs.itertuples()]
    path = job_log_path(settings, job_id)
    if path.is_file():
        tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
        if tail:
            parts += ["worker output:"] + [f"  {line}" for line in tail]
    return "\n".join(parts)


def _cancel_age_s(settings: Settings, job_id: int, now: datetime) -> float:
    with Session(get_engine(settings)) as session:
        row = session.exec(
            select(JobLogRow).where(JobLogRow.job_id == job_id, JobLogRow.message == CANCEL_MESSAGE)
            .order_by(col(JobLogRow.id))
        ).first()
    return (now - _utc(row.time)).total_seconds() if row is not None else 0.0


def _spawn_worker(settings: Settings, job_id: int) -> int:
    """Launch the worker in its own session (its own process group), with this process's settings."""
    log_path = job_log_path(settings, job_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_settings_env(settings)}
    with log_path.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", WORKER_MODULE, str(job_id)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
    return int(process.pid)


def _settings_env(settings: Settings) -> dict[str, str]:
    """The settings a worker must share with its launcher (the same database and folders)."""
    return {
        "PINELAB_DATA_DIR": str(settings.data_dir.resolve()),
        "PINELAB_MODELS_DIR": str(settings.models_dir.resolve()),
        "PINELAB_DATABASE_URL": settings.resolved_database_url if settings.database_url else
        f"sqlite:///{(settings.data_dir.resolve() / 'pinelab.db').as_posix()}",
        "PINELAB_DEVICE": settings.device,
        "PINELAB_MAX_CONCURRENT_JOBS": str(settings.max_concurrent_jobs),
        "PINELAB_DEFAULT_SOURCE": settings.default_source,
    }


def _process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) counts as dead and is reaped if it is ours."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _kill_group(pid: int) -> None:
    """Kill the worker's whole process group (it leads its own session), then reap it if it is ours.

    Only a process whose command line is a PineLab worker is killed: a pid the system has since reused for
    another program is left alone.
    """
    if WORKER_MODULE not in _command_line(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def _command_line(pid: int) -> str:
    """The process's command line ('' if it is gone or unreadable); /proc on Linux, `ps` elsewhere."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode("utf-8", errors="replace")
        return ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,  # noqa: S603,S607
                              timeout=5, check=False).stdout
    return ""


@contextlib.contextmanager
def _dispatch_lock(settings: Settings) -> Iterator[None]:
    """One dispatcher at a time on this machine, so the running count and the claims agree."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "jobs.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def json_safe(value: Any) -> Any:
    """Plain JSON values: timestamps to ISO text, numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
