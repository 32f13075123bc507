"""`pinelab train`, `pinelab models`, `pinelab jobs`: the same numbers as the job path, JSON on stdout."""

from __future__ import annotations

import json

import pytest

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.training.runner import TrainRequest, train_and_register

ARGS = ["--source", "demo", "--symbol", "DEMO-EQUITY", "--timeframe", "1d", "--start", "2024-03-01",
        "--models", "lightgbm", "--horizon", "3", "--groups", "momentum", "--param", "n_estimators=15"]


def test_train_registers_and_matches_the_job_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *ARGS, "--activate", "--json"]) == 0
    (trained,) = json.loads(capsys.readouterr().out)
    assert trained["ref"] == "demo-equity-1d-direction-h3-lightgbm@v1" and trained["status"] == "active"
    # the Training page's job runs train_and_register with the same request: same numbers
    request = TrainRequest(symbols=["DEMO-EQUITY"], start="2024-03-01", models=["lightgbm"], horizon=3,
                           groups=["momentum"], model_params={"lightgbm": {"n_estimators": 15}}, device="auto")
    (again,) = train_and_register(Settings.from_env(), request)
    assert again.version == 2
    assert json.loads(json.dumps(again.to_dict()["metrics"])) == trained["metrics"]

    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["ref"] for row in listed] == ["demo-equity-1d-direction-h3-lightgbm@v2",
                                              "demo-equity-1d-direction-h3-lightgbm@v1"]
    assert main(["models"]) == 0
    assert "balanced" not in capsys.readouterr().err


def test_train_text_output_names_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *ARGS]) == 0
    out = capsys.readouterr().out
    assert "majority baseline" in out and "buy-and-hold, same bars" in out


def test_background_train_queues_a_job(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.training import jobs

    monkeypatch.setattr(jobs, "_spawn_worker", lambda settings, job_id: __import__("os").getpid())
    assert main(["train", *ARGS, "--background", "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    assert main(["jobs", "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert job["id"] == job_id and job["status"] == "running"
    assert job["params"]["model_params"] == {"lightgbm": {"n_estimators": 15}}
    assert main(["jobs", "--cancel", str(job_id)]) == 0
    assert "cancel requested" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "lightgmb"], "Did you mean 'lightgbm'"),
        (["--param", "oops"], "KEY=VALUE"),
        (["--param", "lstm.window=8"], "not in --models"),
    ],
)
def test_bad_training_input_exits_2_with_a_hint(extra: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *ARGS, *extra]) == 2
    assert message in capsys.readouterr().err


def test_models_on_an_empty_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    assert "no models registered yet" in capsys.readouterr().out


def test_label_params_reach_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import get_version

    assert main(["train", *ARGS, "--label", "triple_barrier", "--label-param", "profit_take=2",
                 "--label-param", "stop_loss=0.5", "--json"]) == 0
    (trained,) = json.loads(capsys.readouterr().out)
    info = get_version(Settings.from_env(), trained["name"], trained["version"])
    label = ModelManifest.read(info.path).label
    assert label["kind"] == "triple_barrier" and label["params"]["profit_take"] == 2.0
    assert label["params"]["stop_loss"] == 0.5 and label["classes"] == ["DOWN", "SIDEWAYS", "UP"]
    assert main(["train", *ARGS, "--label-param", "k"]) == 2
    assert "KEY=NUMBER" in capsys.readouterr().err
