"""Job lifecycle: queue limit, success, cancellation, a killed worker, a worker deaf to cancel, a silent one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from pinelab_core.config import Settings
from pinelab_core.errors import JobError
from pinelab_core.store import get_engine
from pinelab_core.store.tables import JobRow
from pinelab_core.training import jobs
from pinelab_core.training.jobs import (
    cancel_job,
    dispatch_jobs,
    get_job,
    job_logs,
    list_jobs,
    reconcile_jobs,
    submit_job,
    write_log,
)
from pinelab_core.training.worker import JobReporter, run_job

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL


@pytest.fixture
def no_spawn(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Dispatch without real processes: each claimed job "runs" as this (live) test process."""
    spawned: list[int] = []

    def fake_spawn(settings: Settings, job_id: int) -> int:
        spawned.append(job_id)
        return os.getpid()

    monkeypatch.setattr(jobs, "_spawn_worker", fake_spawn)
    return spawned


def _statuses(settings: Settings, ids: list[int]) -> list[str]:
    return [get_job(settings, job_id).status for job_id in ids]


def _quick(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    reporter.metric(fold=1, epoch=1, train_loss=0.9, val_loss=1.0)
    reporter.progress(0.5, "halfway")
    return {"answer": params["x"] * 2, "ratio": float("inf")}


def _slow(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    for step in range(400):
        reporter.progress(step / 400, f"step {step}")
        time.sleep(0.02)
    return {}


def test_queue_runs_one_job_at_a_time_by_default(settings: Settings, no_spawn: list[int]) -> None:
    ids = [submit_job(settings, "train", {"x": i}) for i in range(3)]
    assert _statuses(settings, ids) == ["running", "queued", "queued"]
    assert no_spawn == [ids[0]]
    # the worker finishing job 1 dispatches job 2, and so on
    assert run_job(settings, ids[0], {"train": _quick}) == "succeeded"
    assert _statuses(settings, ids) == ["succeeded", "running", "queued"]
    assert run_job(settings, ids[1], {"train": _quick}) == "succeeded"
    assert run_job(settings, ids[2], {"train": _quick}) == "succeeded"
    assert no_spawn == ids
    first = get_job(settings, ids[0])
    assert first.result == {"answer": 0, "ratio": None} and first.progress == 1.0
    logs = job_logs(settings, ids[0])
    assert (logs["level"] == "METRIC").sum() == 1 and logs["message"].str.contains("succeeded").any()


def test_queue_limit_is_configurable(settings: Settings, no_spawn: list[int]) -> None:
    wider = settings.with_overrides(max_concurrent_jobs=2)
    ids = [submit_job(wider, "train", {"x": i}) for i in range(3)]
    assert _statuses(wider, ids) == ["running", "running", "queued"]
    assert dispatch_jobs(wider) == []  # nothing free: a second dispatcher starts nothing
    assert [j.id for j in list_jobs(wider, statuses=("queued",))] == [ids[2]]


def test_failure_is_recorded_with_its_message(settings: Settings, no_spawn: list[int]) -> None:
    def broken(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
        reporter.log("loading data")
        raise ValueError("no bars in range")

    job_id = submit_job(settings, "train", {})
    assert run_job(settings, job_id, {"train": broken}) == "failed"
    job = get_job(settings, job_id)
    assert "ValueError: no bars in range" in job.error


def test_cancel_a_running_job_stops_it_at_the_next_tick(settings: Settings, no_spawn: list[int]) -> None:
    job_id = submit_job(settings, "train", {})
    timer = threading.Timer(0.3, cancel_job, args=(settings, job_id))
    timer.start()
    try:
        status = run_job(settings, job_id, {"train": _slow}, heartbeat_s=0.05)
    finally:
        timer.cancel()
    assert status == "cancelled"
    job = get_job(settings, job_id)
    assert job.status == "cancelled" and job.cancel_requested and job.progress < 1.0


def test_cancel_a_queued_job_and_unknown_jobs(settings: Settings, no_spawn: list[int]) -> None:
    first, second = submit_job(settings, "train", {}), submit_job(settings, "train", {})
    assert cancel_job(settings, second).status == "cancelled"
    assert get_job(settings, first).status == "running"
    with pytest.raises(JobError, match="No job 999"):
        cancel_job(settings, 999)
    with pytest.raises(JobError, match="Unknown job kind"):
        submit_job(settings, "mine_bitcoin", {})


def _sleeper() -> subprocess.Popen:
    """A stand-in worker: sleeps, in its own session, with the worker module on its command line."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", jobs.WORKER_MODULE],
                            start_new_session=True)


def _running_job(settings: Settings, pid: int | None, heartbeat: datetime | None = None) -> int:
    now = datetime.now(UTC)
    with Session(get_engine(settings)) as session:
        row = JobRow(kind="train", status="running", pid=pid, started_at=now, heartbeat_at=heartbeat or now)
        session.add(row)
        session.commit()
        job_id = int(row.id or 0)
    write_log(settings, job_id, "fold 3 of 5: fitting")
    return job_id


def test_killed_worker_is_marked_failed_with_its_last_log_lines(settings: Settings) -> None:
    process = _sleeper()
    job_id = _running_job(settings, process.pid)
    assert reconcile_jobs(settings) == []  # alive and beating: left alone
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert reconcile_jobs(settings) == [job_id]
    job = get_job(settings, job_id)
    assert job.status == "failed"
    assert f"worker process {process.pid} died" in job.error and "fold 3 of 5: fitting" in job.error


def test_worker_deaf_to_cancel_is_killed_after_the_grace_period(settings: Settings) -> None:
    process = _sleeper()
    job_id = _running_job(settings, process.pid)
    cancel_job(settings, job_id)
    assert reconcile_jobs(settings, cancel_grace_s=60) == []  # still within its grace period
    assert reconcile_jobs(settings, cancel_grace_s=0) == [job_id]
    process.wait(timeout=10)  # returns at once: the group was killed (and reaped by reconcile)
    assert not jobs._process_alive(process.pid)
    assert get_job(settings, job_id).status == "cancelled"


def test_a_reused_pid_is_never_killed(settings: Settings) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        job_id = _running_job(settings, stranger.pid, heartbeat=datetime.now(UTC) - timedelta(minutes=10))
        assert reconcile_jobs(settings, stale_after_s=60) == [job_id]  # the job is failed ...
        assert stranger.poll() is None  # ... but the unrelated process lives on
    finally:
        stranger.kill()
        stranger.wait()


def test_silent_worker_is_failed_when_its_heartbeat_goes_stale(settings: Settings) -> None:
    job_id = _running_job(settings, None, heartbeat=datetime.now(UTC) - timedelta(minutes=10))
    assert reconcile_jobs(settings, stale_after_s=60) == [job_id]
    assert "no heartbeat" in get_job(settings, job_id).error


def test_real_worker_process_killed_mid_run(settings: Settings) -> None:
    job_id = submit_job(settings, "train", {"symbols": ["DEMO-EQUITY"], "models": ["lightgbm"]})
    job = get_job(settings, job_id)
    assert job.status == "running" and job.pid is not None
    os.killpg(job.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while get_job(settings, job_id).status == "running" and time.monotonic() < deadline:
        reconcile_jobs(settings)
        time.sleep(0.1)
    job = get_job(settings, job_id)
    assert job.status == "failed" and f"worker process {job.pid} started" in job.error


@pytest.mark.slow
def test_real_worker_trains_and_registers(settings: Settings) -> None:
    from pinelab_core.models.registry import list_versions

    params = {"symbols": ["DEMO-EQUITY"], "models": ["lightgbm"], "start": "2023-06-01", "horizon": 3,
              "model_params": {"lightgbm": {"n_estimators": 15}}, "groups": ["trend", "momentum"]}
    job_id = submit_job(settings, "train", params)
    deadline = time.monotonic() + 240
    while get_job(settings, job_id).is_active and time.monotonic() < deadline:
        time.sleep(0.25)
    job = get_job(settings, job_id)
    assert job.status == "succeeded", job.error
    (version,) = job.result["versions"]
    assert version["ref"] == "demo-equity-1d-direction-h3-lightgbm@v1"
    [info] = list_versions(settings)
    assert info.job_id == job_id and info.metrics["balanced_accuracy"] == version["metrics"]["balanced_accuracy"]
    logs = job_logs(settings, job_id)
    assert (logs["level"] == "METRIC").any() and logs["message"].str.contains("registered").any()


@pytest.mark.slow
def test_real_worker_stops_on_cancel(settings: Settings) -> None:
    params = {"symbols": ["DEMO-EQUITY"], "models": ["lightgbm"], "groups": ["momentum"],
              "model_params": {"lightgbm": {"n_estimators": 100_000, "early_stopping_rounds": 0, "num_threads": 1}}}
    job_id = submit_job(settings, "train", params)
    deadline = time.monotonic() + 120
    while get_job(settings, job_id).progress == 0 and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until the worker is inside the first fold's boosting
    assert get_job(settings, job_id).status == "running"
    cancel_job(settings, job_id)
    while get_job(settings, job_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    job = get_job(settings, job_id)
    assert job.status == "cancelled" and job.error == "cancelled on request"  # stopped itself, not killed
    while jobs._process_alive(int(job.pid or 0)) and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker exits after dispatching the (empty) queue
    assert not jobs._process_alive(int(job.pid or 0))
