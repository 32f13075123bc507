"""The scheduler: one copy at a time (a lock in the store), steps recorded once per bar, restarts resume at the
cursor, a crashed holder's lock is taken over, a stop request ends it, one failing step never stops the others."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.live import (
    SchedulerOptions,
    SchedulerRunningError,
    create_account,
    lease_info,
    list_watched,
    request_stop,
    run_scheduler,
    step_log,
    watch_market,
)
from pinelab_core.live.lock import acquire_lease
from tests.conftest import REPO_ROOT, random_walk_ohlcv

FAST = ("desk", "regime", "paper", "notify")


def _market_file(tmp_path: Path) -> str:
    path = tmp_path / "rw.csv"
    random_walk_ohlcv(700, seed=8).to_csv(path)
    return f"file:{path}"


def _options(**changes: object) -> SchedulerOptions:
    replay = random_walk_ohlcv(700, seed=8).index[600]
    return SchedulerOptions(**{"interval_s": 0.0, "replay_from": replay, "steps": FAST, **changes})  # type: ignore[arg-type]


@pytest.mark.both_backends
def test_a_second_scheduler_refuses_while_one_holds_the_lock(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    lease = acquire_lease(engine)
    try:
        with pytest.raises(SchedulerRunningError, match="already runs"):
            run_scheduler(settings, _options(max_ticks=1))
        with pytest.raises(SchedulerRunningError):
            acquire_lease(engine)
    finally:
        lease.release()
    assert run_scheduler(settings, _options(max_ticks=1)).ticks == 1
    assert lease_info(engine) is None  # released on exit


def test_restarts_resume_at_the_cursor_and_never_rerun_a_finished_step(settings: Settings, engine,  # type: ignore[no-untyped-def]
                                                                        tmp_path: Path) -> None:
    source = _market_file(tmp_path)
    watch_market(engine, source, "RW", "1h")
    create_account(engine, "rw", source=source, symbol="RW", timeframe="1h", strategy="consensus")
    run_scheduler(settings, _options(max_ticks=3))
    first = step_log(engine)
    assert sorted(first["bar_time"].unique()) == list(random_walk_ohlcv(700, seed=8).index[600:603])
    assert (first["status"] != "failed").all()
    run_scheduler(settings, _options(max_ticks=2))  # a restart: the next bars, not the same ones again
    second = step_log(engine)
    assert sorted(second["bar_time"].unique()) == list(random_walk_ohlcv(700, seed=8).index[600:605])
    assert len(second) == 5 * len(FAST) and not second.duplicated(["bar_time", "step"]).any()
    same = second.merge(first, on=["bar_time", "step"], suffixes=("", "_before"))
    assert (same["started_at"] == same["started_at_before"]).all()  # finished steps were not run again
    assert list_watched(engine)[0].last_bar_time == random_walk_ohlcv(700, seed=8).index[604]


def test_a_failing_step_is_recorded_the_others_run_and_it_is_retried(settings: Settings, engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.live import steps

    watch_market(engine, _market_file(tmp_path), "RW", "1h")

    def broken(_context: object) -> str:
        raise RuntimeError("regime service down")

    monkeypatch.setitem(steps._BAR_STEPS, "regime", broken)
    summary = run_scheduler(settings, _options(max_ticks=1))
    log = step_log(engine).set_index("step")
    assert log.loc["regime", "status"] == "failed" and "regime service down" in log.loc["regime", "detail"]
    assert log.loc["desk", "status"] == "ok" and len(summary.failures) == 1
    monkeypatch.undo()
    from pinelab_core.live.steps import BarContext, run_bar_steps

    bars = random_walk_ohlcv(700, seed=8)
    context = BarContext(settings, engine, list_watched(engine)[0].data_source, "RW", "1h", 5, bars.iloc[:601], {})
    assert run_bar_steps(context, FAST) == []  # only the failed step runs again, and now passes
    log = step_log(engine).set_index("step")
    assert len(log) == len(FAST) and log.loc["regime", "status"] == "ok" and (log["status"] != "failed").all()


def test_a_stop_request_ends_a_running_scheduler(settings: Settings, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    watch_market(engine, _market_file(tmp_path), "RW", "1h")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(run_scheduler(settings, _options(interval_s=0.3))))
    thread.start()
    deadline = time.monotonic() + 60
    while lease_info(engine) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request_stop(engine)
    thread.join(timeout=60)
    assert not thread.is_alive() and result[0].stopped_because == "stop requested"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_killed_scheduler_process_is_replaced_and_resumes(settings: Settings, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = _market_file(tmp_path)
    watch_market(engine, source, "RW", "1h")
    replay = str(random_walk_ohlcv(700, seed=8).index[600])
    command = [sys.executable, "-m", "pinelab_core", "run", "--interval", "0.5", "--replay-from", replay,
               "--steps", ",".join(FAST)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        assert _wait(lambda: len(step_log(engine)) >= 2 * len(FAST), 120), "the scheduler processed no bar"
        second = subprocess.run(command + ["--max-ticks", "1"], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 2 and "already runs" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # a crash: no release, the lease stays in the store
        first.wait(timeout=30)
    cursor = list_watched(engine)[0].last_bar_time
    assert lease_info(engine) is not None and not lease_info(engine).alive  # type: ignore[union-attr]
    third = subprocess.run(command + ["--max-ticks", "2"], env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=180)
    assert third.returncode == 0, third.stderr
    log = step_log(engine)
    assert not log.duplicated(["bar_time", "step"]).any()
    assert list_watched(engine)[0].last_bar_time == cursor + pd.Timedelta(hours=2)


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_live_markets_catch_up_and_only_the_newest_bar_is_called_live(settings: Settings, engine,  # type: ignore[no-untyped-def]
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.live import scheduler

    seen: list[tuple[pd.Timestamp, bool]] = []
    monkeypatch.setattr(scheduler, "run_bar_steps", lambda context, _steps: seen.append((context.at, context.latest))
                        or [])
    bars, known = random_walk_ohlcv(700, seed=8), {"bars": 650}
    watch_market(engine, "test", "RW", "1h")
    options = SchedulerOptions(interval_s=0.0, max_ticks=1, steps=FAST)
    run_scheduler(settings, options, loader=lambda *_: bars.iloc[:known["bars"]])  # starts at the newest bar
    known["bars"] = 654  # the scheduler was down for four bars
    run_scheduler(settings, options, loader=lambda *_: bars.iloc[:known["bars"]])
    assert seen == [(bars.index[649], True), (bars.index[650], False), (bars.index[651], False),
                    (bars.index[652], False), (bars.index[653], True)]


@pytest.mark.slow
def test_the_dashboard_starts_and_stops_a_detached_scheduler(settings: Settings, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.live import start_scheduler

    watch_market(engine, _market_file(tmp_path), "RW", "1h")
    pid = start_scheduler(settings, interval_s=0.5, replay_from=str(random_walk_ohlcv(700, seed=8).index[600]))
    try:
        assert _wait(lambda: (info := lease_info(engine)) is not None and info.pid == pid and info.alive, 120)
        assert _wait(lambda: len(step_log(engine)) > 0, 120)
        assert request_stop(engine)
        assert _wait(lambda: lease_info(engine) is None, 60)  # it stopped and gave the lock back
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
