"""RL agents: creation by name, the device rule, save/load without unpickling, the registry, the background job,
walk-forward evaluation against baselines, and agents kept out of the supervised ensemble."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError, DataValidationError, ModelSchemaError
from pinelab_core.models import create_model
from pinelab_core.rl.agents import AgentModel, PPOAgent, agent_device
from pinelab_core.rl.evaluation import evaluate_agent, evaluation_folds, interquartile_mean
from tests.conftest import random_walk_ohlcv

TINY = {"timesteps": 512, "n_steps": 128, "batch_size": 64, "n_epochs": 2, "n_envs": 2, "net_arch": [16, 16],
        "window": 4, "episode_bars": 64}
QUICK_JOB = {"symbols": ["DEMO-EQUITY"], "models": ["ppo"], "start": "2023-01-01", "end": "2025-12-31",
             "model_params": {"ppo": {**TINY, "eval_seeds": 3, "eval_folds": 1}}}


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return random_walk_ohlcv(900, seed=4, freq="1D")


@pytest.fixture(scope="module")
def trained(market: pd.DataFrame) -> AgentModel:
    agent = create_model("ppo", seed=3, **TINY)
    assert isinstance(agent, PPOAgent)
    agent.learn(market, bars=(0, 699))
    return agent


def test_agents_are_created_by_name_and_refuse_what_they_cannot_do() -> None:
    assert create_model("a2c").kind == "a2c" and create_model("dqn").params["activation"] == "relu"
    with pytest.raises(ConfigError, match="did you mean 'timesteps'"):
        create_model("ppo", timestep=10)
    with pytest.raises(ConfigError, match="discrete"):
        create_model("dqn", action_mode="continuous")
    with pytest.raises(ConfigError, match="learn"):
        create_model("ppo").fit(pd.DataFrame({"x": [1.0]}), np.array([1]))
    with pytest.raises(ModelSchemaError, match="not learned"):
        create_model("ppo").act(random_walk_ohlcv(300))


def test_device_rule_keeps_small_mlp_policies_on_the_cpu_and_says_why() -> None:
    device, reason = agent_device("auto")
    assert device == "cpu" and "MLP" in reason
    assert agent_device("cpu") == ("cpu", "requested: cpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            agent_device("cuda")


def test_training_reports_progress_and_is_reproducible(market: pd.DataFrame, trained: AgentModel) -> None:
    ticks = []
    again = create_model("ppo", seed=3, **TINY)
    again.learn(market, bars=(0, 699), progress=ticks.append)
    assert ticks and ticks[-1].timesteps == 512 and ticks[-1].loss is not None
    assert any(t.episode_reward is not None for t in ticks)
    first, second = trained.act(market, start=700), again.act(market, start=700)
    pd.testing.assert_series_equal(first.targets, second.targets)
    assert first.targets.iloc[700:].notna().all() and first.targets.iloc[:700].isna().all()
    assert trained.training_summary["timesteps_per_second"] > 0 and trained.fitted_device_ == "cpu"


def test_save_and_load_without_unpickling_gives_the_same_agent(
        trained: AgentModel, market: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = trained.save(tmp_path / "agent")
    assert {p.name for p in files} == {"agent.zip", "agent.json", "normalization.json"}
    import cloudpickle

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an agent load must not unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(cloudpickle, "loads", refuse)
    loaded = PPOAgent.load(tmp_path / "agent")
    before = loaded.scaler.mean.copy()
    pd.testing.assert_series_equal(loaded.act(market, start=700).targets, trained.act(market, start=700).targets)
    np.testing.assert_array_equal(loaded.scaler.mean, before)  # frozen statistics: trading never updates them
    with pytest.raises(ModelSchemaError, match="ppo"):
        create_model("a2c").load(tmp_path / "agent")


def test_predict_proba_puts_the_agents_call_on_its_side(trained: AgentModel, market: pd.DataFrame) -> None:
    probs = trained.predict_proba(market.iloc[600:])
    known = ~np.isnan(probs).any(axis=1)
    assert known.sum() > 200  # after the features' warm-up
    np.testing.assert_allclose(probs[known].sum(axis=1), 1.0)
    targets = trained.act(market.iloc[600:]).targets.to_numpy()
    np.testing.assert_array_equal(probs[known].argmax(axis=1), np.sign(targets[known]) + 1)


def test_interquartile_mean_and_fold_layout() -> None:
    assert interquartile_mean([1.0, 2.0, 3.0]) == 2.0
    assert interquartile_mean([0.0, 1.0, 2.0, 100.0]) == 1.5  # the middle half only
    assert evaluation_folds(100, 999, 3, 0.3) == [(730, 819), (820, 909), (910, 999)]
    with pytest.raises(DataValidationError, match="20\\+ bars"):
        evaluation_folds(0, 100, 3, 0.3)


def test_walk_forward_evaluation_over_seeds_against_the_baselines(market: pd.DataFrame) -> None:
    ensemble = pd.Series(np.where(np.arange(len(market)) % 2, 1.0, -1.0), index=market.index)
    evaluation = evaluate_agent(market, "ppo", seeds=(0, 1, 2), n_folds=2, test_fraction=0.3, params=TINY,
                                ensemble_positions=ensemble)
    assert list(evaluation.per_seed["seed"]) == [0, 1, 2]
    assert set(evaluation.baselines.index) == {"buy_and_hold", "random", "ensemble"}
    assert len(evaluation.folds) == 6 and (evaluation.folds["train_end"] < evaluation.folds["test_start"]).all()
    metrics = evaluation.metrics()
    assert metrics["sharpe_min"] <= metrics["sharpe_iqm"] <= metrics["sharpe_max"]
    assert {"buy_and_hold_sharpe", "random_sharpe", "ensemble_sharpe"} <= set(metrics)
    assert {"seed 0", "seed 1", "seed 2", "buy-and-hold", "supervised ensemble"} <= set(evaluation.equity.columns)
    # the buy-and-hold baseline is the backtester's, on exactly the out-of-sample bars
    from pinelab_core.backtest import run_backtest

    start = evaluation.folds["test_start"].min()
    hold = run_backtest(market.loc[start:], pd.Series(1.0, index=market.loc[start:].index), fees=0.0005)
    assert metrics["buy_and_hold_total_return"] == pytest.approx(hold.stats["total_return"], rel=1e-12)


def test_rl_job_trains_registers_and_records_learning_curves(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    from pinelab_core.models.registry import load_version
    from pinelab_core.rl.results import agent_learning_curve, agent_results
    from pinelab_core.store import get_engine
    from pinelab_core.store.tables import AgentProgressRow
    from pinelab_core.training import jobs
    from pinelab_core.training.jobs import get_job, job_logs, submit_job
    from pinelab_core.training.worker import run_job

    monkeypatch.setattr(jobs, "_spawn_worker", lambda s, job_id: __import__("os").getpid())
    job_id = submit_job(settings, "rl", QUICK_JOB)
    assert run_job(settings, job_id) == "succeeded", get_job(settings, job_id).error
    (version,) = get_job(settings, job_id).result["versions"]
    assert version["ref"] == "demo-equity-1d-rl-ppo@v1"
    curve = agent_learning_curve(settings, job_id)
    assert len(curve) >= 8 and curve["run"].str.contains("seed 2").any() and curve["loss"].notna().any()
    with Session(get_engine(settings)) as session:
        assert session.exec(select(AgentProgressRow)).first() is not None
    assert job_logs(settings, job_id)["message"].str.contains("Sharpe IQM").any()
    results = agent_results(settings, "demo-equity-1d-rl-ppo")
    assert "weights-only" in results.options["loading"] and results.device == "cpu"
    assert set(results.baselines.index) >= {"buy_and_hold", "random"} and len(results.folds) == 3
    folder = load_version(settings, "demo-equity-1d-rl-ppo").info.path
    (folder / "normalization.json").write_text('{"mean": [0]}')
    with pytest.raises(ModelSchemaError, match="normalization.json"):
        load_version(settings, "demo-equity-1d-rl-ppo")


def test_cancelling_an_rl_job_stops_it(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinelab_core.training import jobs
    from pinelab_core.training.jobs import cancel_job, get_job, submit_job
    from pinelab_core.training.worker import run_job

    monkeypatch.setattr(jobs, "_spawn_worker", lambda s, job_id: __import__("os").getpid())
    long_job = {**QUICK_JOB, "model_params": {"ppo": {**TINY, "timesteps": 10_000_000}}}
    job_id = submit_job(settings, "rl", long_job)
    timer = threading.Timer(4.0, cancel_job, args=(settings, job_id))
    timer.start()
    try:
        status = run_job(settings, job_id, heartbeat_s=0.1)
    finally:
        timer.cancel()
    assert status == "cancelled" and get_job(settings, job_id).progress < 0.5


@pytest.mark.parametrize("kind, extra", [("a2c", {"action_mode": "continuous"}), ("dqn", {"learning_starts": 100})])
def test_a2c_and_dqn_learn_trade_and_reload(kind: str, extra: dict, market: pd.DataFrame, tmp_path: Path) -> None:
    from pinelab_core.models import model_class

    params = {k: v for k, v in TINY.items() if k not in ("n_steps", "batch_size", "n_epochs")}
    agent = create_model(kind, seed=1, **params, **extra)
    agent.learn(market, bars=(0, 699))
    rollout = agent.act(market, start=700)
    traded = rollout.targets.iloc[700:]
    assert traded.between(-1, 1).all() and rollout.confidence.iloc[700:].between(0, 1).all()
    agent.save(tmp_path / kind)
    again = model_class(kind).load(tmp_path / kind).act(market, start=700)
    pd.testing.assert_series_equal(again.targets, rollout.targets)
