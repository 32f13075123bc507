"""`pinelab train --models ppo --timesteps N --json` and `pinelab predict` with agents beside the ensemble."""

from __future__ import annotations

import json

import pytest

from pinelab_core.cli import main
from pinelab_core.rl.calls import clear_agent_cache

TINY = ["--param", "ppo.n_steps=128", "--param", "ppo.batch_size=64", "--param", "ppo.n_epochs=2",
        "--param", "ppo.n_envs=2", "--param", "ppo.net_arch=[16,16]", "--param", "ppo.window=4",
        "--param", "ppo.episode_bars=64"]
MARKET = ["--source", "demo", "--symbol", "DEMO-EQUITY", "--timeframe", "1d"]


def test_train_an_agent_from_the_command_line_then_see_its_call(capsys: pytest.CaptureFixture[str]) -> None:
    clear_agent_cache()
    code = main(["train", *MARKET, "--start", "2023-01-01", "--end", "2025-06-30", "--models", "ppo",
                 "--timesteps", "512", "--eval-folds", "1", "--activate", "--json", *TINY])
    assert code == 0
    (trained,) = json.loads(capsys.readouterr().out)
    assert trained["ref"] == "demo-equity-1d-rl-ppo@v1" and trained["status"] == "active"
    metrics = trained["metrics"]
    assert metrics["sharpe_min"] <= metrics["sharpe_iqm"] <= metrics["sharpe_max"]
    assert "buy_and_hold_sharpe" in metrics and "random_sharpe" in metrics
    # no classifier is active: predict still answers with the agent's call
    assert main(["predict", *MARKET, "--start", "2023-01-01", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    (call,) = payload["agents"]
    assert payload["signal"] is None and call["agent"] == "demo-equity-1d-rl-ppo@v1"
    assert call["action"] in ("BUY", "SELL", "FLAT") and not call["in_sample"]
    assert main(["predict", *MARKET, "--start", "2023-01-01"]) == 0
    assert "agent demo-equity-1d-rl-ppo@v1" in capsys.readouterr().out


def test_background_training_queues_an_rl_job(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.config import Settings
    from pinelab_core.training import jobs
    from pinelab_core.training.jobs import list_jobs

    monkeypatch.setattr(jobs, "_spawn_worker", lambda settings, job_id: __import__("os").getpid())
    assert main(["train", *MARKET, "--models", "lightgbm,ppo", "--timesteps", "1000", "--background", "--json"]) == 0
    ids = json.loads(capsys.readouterr().out)["job_ids"]
    kinds = {job.id: job for job in list_jobs(Settings.from_env())}
    assert [kinds[i].kind for i in ids] == ["train", "rl"]
    agent_job = kinds[ids[1]].params
    assert agent_job["models"] == ["ppo"] and agent_job["model_params"]["ppo"]["timesteps"] == 1000
