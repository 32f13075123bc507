"""Training and Registry pages under AppTest: launch -> job, monitor, cancel, results, registry actions."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.models.registry import list_versions
from pinelab_core.store import get_engine
from pinelab_core.store.tables import JobRow
from pinelab_core.training import jobs
from pinelab_core.training.jobs import finish_job, get_job, list_jobs
from pinelab_core.training.runner import TrainRequest, train_and_register
from tests.conftest import REPO_ROOT

TRAINING = REPO_ROOT / "app_pages" / "3_Training.py"
REGISTRY = REPO_ROOT / "app_pages" / "4_Registry.py"
TIMEOUT_S = 180


def _run(page, **state: object) -> AppTest:  # type: ignore[no-untyped-def]
    app = AppTest.from_file(str(page), default_timeout=TIMEOUT_S)
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


@pytest.fixture
def trained_job() -> int:
    """A finished training job with two registered versions, as a worker would have left it."""
    settings = Settings.from_env()
    request = TrainRequest(symbols=["DEMO-EQUITY"], start="2024-03-01", models=["lightgbm", "random_forest"],
                           horizon=3, groups=["momentum"],
                           model_params={"lightgbm": {"n_estimators": 15}, "random_forest": {"n_estimators": 20}})
    trained = train_and_register(settings, request)
    with Session(get_engine(settings)) as session:
        row = JobRow(kind="train", status="running", params_json="{}")
        session.add(row)
        session.commit()
        job_id = int(row.id or 0)
    finish_job(settings, job_id, "succeeded", result={"versions": [t.to_dict() for t in trained]})
    return job_id


def test_training_page_without_jobs_offers_the_form() -> None:
    app = _run(TRAINING)
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Training · DEMO-EQUITY")
    assert any("No training jobs yet" in info.value for info in app.info)


def test_launch_queues_a_job_then_monitor_and_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_spawn_worker", lambda settings, job_id: os.getpid())
    app = _run(TRAINING)
    app.multiselect(key="training_models").set_value(["lightgbm", "xgboost"])
    app.text_input(key="training_extra_symbols").set_value("DEMO-BTC")
    app.selectbox(key="training_label").set_value("triple_barrier")
    app.number_input(key="training_pt").set_value(2.0)
    app.checkbox(key="training_sentiment").check()
    app.button[0].click()  # the form's submit button
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    settings = Settings.from_env()
    (job,) = list_jobs(settings)
    assert job.status == "running" and job.params["models"] == ["lightgbm", "xgboost"]
    assert job.params["symbols"] == ["DEMO-EQUITY", "DEMO-BTC"] and job.params["source"] == "demo"
    assert job.params["label"] == "triple_barrier"
    assert job.params["label_params"] == {"profit_take": 2.0, "stop_loss": 1.0}
    assert job.params["sentiment"] is True and job.params["include_price_levels"] is False
    assert app.get("progress"), "a running job shows a progress bar"
    app.button(key="training_cancel").click().run()
    assert get_job(settings, job.id).cancel_requested


def test_finished_job_shows_results_beside_the_baselines(trained_job: int) -> None:
    app = _run(TRAINING, training_job_pick=trained_job)
    assert not app.exception, [e.value for e in app.exception]
    subheaders = [s.value for s in app.subheader]
    assert any("lightgbm@v1" in s for s in subheaders) and any("random_forest@v1" in s for s in subheaders)
    labels = [m.label for m in app.metric]
    assert "Balanced accuracy" in labels and "Sharpe" in labels
    # loss curve + per version: folds, confusion, calibration, importance, equity
    assert len(app.get("plotly_chart")) == 1 + 2 * 5


def test_failed_job_shows_its_story() -> None:
    settings = Settings.from_env()
    with Session(get_engine(settings)) as session:
        row = JobRow(kind="train", status="running", params_json="{}")
        session.add(row)
        session.commit()
        job_id = int(row.id or 0)
    finish_job(settings, job_id, "failed", error="worker process 4242 died\nlast log lines:\n  fold 2 of 5")
    app = _run(TRAINING)
    assert any("failed" in e.value for e in app.error)
    assert "fold 2 of 5" in app.code[0].value


def test_registry_compares_activates_and_deletes_after_confirmation(trained_job: int) -> None:
    settings = Settings.from_env()
    app = _run(REGISTRY)
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.dataframe[0].value) == 2
    assert len(app.get("plotly_chart")) == 2  # equity and importance side by side
    target = str(app.selectbox(key="registry_target").value)
    name, version = target.rsplit("@v", 1)[0], int(target.rsplit("@v", 1)[1])
    app.button(key="registry_activate").click().run()
    assert any("is now active" in s.value for s in app.success)
    assert [v.status for v in list_versions(settings, name=name)] == ["active"]
    app.button(key="registry_delete").click().run()
    assert any("cannot be undone" in w.value for w in app.warning)
    assert len(list_versions(settings)) == 2  # nothing deleted before the confirmation
    app.button(key="registry_delete_yes").click().run()
    assert not app.exception, [e.value for e in app.exception]
    remaining = list_versions(settings)
    assert len(remaining) == 1 and (remaining[0].name, remaining[0].version) != (name, version)


def test_registry_page_when_empty() -> None:
    app = _run(REGISTRY)
    assert any("No models registered yet" in info.value for info in app.info)
