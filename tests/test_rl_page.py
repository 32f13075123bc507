"""The Training page's RL section under AppTest: launch an agent job, watch its learning curves, read its
out-of-sample results against the baselines, activate it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.store import get_engine
from pinelab_core.store.tables import AgentProgressRow, JobRow
from pinelab_core.training import jobs
from pinelab_core.training.jobs import finish_job, list_jobs
from tests.conftest import REPO_ROOT

TRAINING = REPO_ROOT / "app_pages" / "3_Training.py"
TINY = {"timesteps": 512, "n_steps": 128, "batch_size": 64, "n_epochs": 2, "n_envs": 2, "net_arch": [16, 16],
        "window": 4, "episode_bars": 64, "eval_seeds": 3, "eval_folds": 1}


def _run(**state: object) -> AppTest:
    app = AppTest.from_file(str(TRAINING), default_timeout=180)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def _job(settings: Settings, status: str = "running") -> int:
    with Session(get_engine(settings)) as session:
        row = JobRow(kind="rl", status=status, params_json='{"models": ["ppo"], "symbols": ["DEMO-EQUITY"]}',
                     pid=os.getpid(), started_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC))
        session.add(row)
        session.commit()
        return int(row.id or 0)


def test_launch_an_agent_job_from_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_spawn_worker", lambda settings, job_id: os.getpid())
    app = _run()
    app.selectbox(key="rl_kind").set_value("a2c")
    app.selectbox(key="rl_role").set_value("trend")
    app.number_input(key="rl_timesteps").set_value(20_000)
    next(b for b in app.button if b.label == "Launch agent training").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    (job,) = list_jobs(Settings.from_env())
    assert job.kind == "rl" and job.params["models"] == ["a2c"]
    params = job.params["model_params"]["a2c"]
    assert params["timesteps"] == 20_000 and params["role"] == "trend" and "adx_14" in params["features"]
    assert app.get("progress"), "the running job shows its progress"


def test_a_running_agent_job_shows_live_learning_curves() -> None:
    settings = Settings.from_env()
    job_id = _job(settings)
    with Session(get_engine(settings)) as session:
        session.add_all([AgentProgressRow(job_id=job_id, run="ppo seed 0, fold 1 of 3", timesteps=t, total=4000,
                                          episode_reward=0.01 * t / 1000, loss=1.0 / t) for t in (1000, 2000, 3000)])
        session.commit()
    app = _run(training_job_pick=job_id)
    assert not app.exception, [e.value for e in app.exception]
    (chart,) = app.get("plotly_chart")
    assert "Learning curves" in chart.proto.spec
    assert app.button(key="training_cancel")


def test_a_finished_agent_job_shows_results_against_baselines_and_activates(settings: Settings) -> None:
    from pinelab_core.models.registry import get_version
    from pinelab_core.rl.service import train_agents
    from pinelab_core.training.runner import TrainRequest

    job_id = _job(settings)
    request = TrainRequest(symbols=["DEMO-EQUITY"], models=["ppo"], start="2023-01-01", model_params={"ppo": TINY})
    trained = train_agents(settings, request, job_id=job_id)
    finish_job(settings, job_id, "succeeded", result={"versions": [t.to_dict() for t in trained]})
    app = _run(training_job_pick=job_id)
    assert not app.exception, [e.value for e in app.exception]
    assert any("demo-equity-1d-rl-ppo@v1" in s.value for s in app.subheader)
    labels = [m.label for m in app.metric]
    assert "Sharpe (IQM of seeds)" in labels and "Seed spread" in labels
    assert len(app.get("plotly_chart")) == 2  # learning curves + out-of-sample equity vs baselines
    app.button(key="rl_activate_demo-equity-1d-rl-ppo@v1").click().run()
    assert get_version(settings, "demo-equity-1d-rl-ppo", 1).status == "active"
