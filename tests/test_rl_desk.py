"""Active agents in the product: their calls (point in time), signal sources, the multi-agent desk with its risk
manager, and the supervised ensemble left untouched by them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.rl.calls import agent_calls, agent_history, clear_agent_cache
from pinelab_core.rl.desk import ROLE_FEATURES, RiskManager, run_agent_desk
from pinelab_core.training.runner import TrainRequest

TINY = {"timesteps": 512, "n_steps": 128, "batch_size": 64, "n_epochs": 2, "n_envs": 2, "net_arch": [16, 16],
        "window": 4, "episode_bars": 64, "eval_seeds": 3, "eval_folds": 1}
TRAINED_THROUGH = "2025-06-30"


def _train(settings: Settings, role: str = "", kind: str = "ppo") -> str:
    from pinelab_core.rl.service import train_agents

    params = {**TINY, **({"role": role, "features": list(ROLE_FEATURES[role])} if role else {})}
    request = TrainRequest(symbols=["DEMO-EQUITY"], models=[kind], start="2023-01-01", end=TRAINED_THROUGH,
                           activate=True, model_params={kind: params})
    (version,) = train_agents(settings, request)
    return version.ref


@pytest.fixture
def market(settings: Settings) -> pd.DataFrame:
    clear_agent_cache()
    return load_ohlcv("DEMO-EQUITY", "1d", start="2023-01-01", source="demo", settings=settings)


def test_agent_calls_are_point_in_time_and_flag_in_sample_bars(settings: Settings, market: pd.DataFrame) -> None:
    ref = _train(settings)
    (call,) = agent_calls(settings, "DEMO-EQUITY", "1d", market)
    assert call.agent == ref and call.action in ("BUY", "SELL", "FLAT") and 0 < call.confidence <= 1
    assert not call.in_sample and call.trained_through == pd.Timestamp(TRAINED_THROUGH, tz="UTC") - pd.Timedelta(0)
    assert agent_calls(settings, "DEMO-EQUITY", "1d", market, latest=False)[0].in_sample
    from pinelab_core.rl.results import list_agents

    (version,) = list_agents(settings)
    full = agent_history(settings, version, market)
    cut = agent_history(settings, version, market.iloc[:-120])
    pd.testing.assert_frame_equal(full.iloc[:-120], cut)  # data ending at t gives the same calls up to t
    live = full[~full["in_sample"]]
    assert live["target"].notna().all() and full.loc[full["in_sample"], "target"].isna().all()


def test_each_active_agent_role_is_a_signal_source(settings: Settings, market: pd.DataFrame) -> None:
    import pinelab_core.rl.sources  # noqa: F401 - registers the agent sources
    from pinelab_core.signals import SIGNAL_SOURCES, MarketView, generate_signals

    assert {"agent", "agent:trend", "agent:mean_reversion"} <= set(SIGNAL_SOURCES)
    view = MarketView.build(market, "DEMO-EQUITY", "1d", horizon=5, settings=settings)
    assert generate_signals(view, ["agent"]) == []  # no agent active yet
    _train(settings)
    signals = generate_signals(view, ["agent", "agent:trend"])
    assert signals and {s.source for s in signals} == {"agent"}
    assert min(s.time for s in signals) > pd.Timestamp(TRAINED_THROUGH, tz="UTC")  # only out-of-sample calls
    gaps = np.diff([market.index.get_loc(s.time) for s in signals])
    assert (gaps <= 5).all() and all(0 < s.strength <= 1 and s.direction in (-1, 0, 1) for s in signals)


def test_risk_manager_caps_then_cuts_on_drawdown() -> None:
    risk = RiskManager(max_exposure=0.5, soft_drawdown=0.1, hard_drawdown=0.2, cooloff_bars=3)
    assert risk.apply(0.8, 0.0, 99) == (0.5, "capped at 50%")
    assert risk.apply(-0.3, 0.12, 99)[0] == pytest.approx(-0.15)
    assert risk.apply(0.8, 0.25, 0)[0] == 0.0 and risk.apply(0.8, 0.05, 2)[0] == 0.0  # cool-off
    assert risk.apply(0.4, 0.05, 3) == (0.4, "")
    with pytest.raises(Exception, match="soft < hard"):
        RiskManager(soft_drawdown=0.3, hard_drawdown=0.2)


def test_the_desk_fuses_trend_and_mean_reversion_agents_with_the_risk_manager_last(
        settings: Settings, market: pd.DataFrame) -> None:
    from pinelab_core.errors import DataValidationError

    with pytest.raises(DataValidationError, match="Train an agent per desk role"):
        run_agent_desk(market, "DEMO-EQUITY", "1d", settings=settings)
    _train(settings, "trend")
    _train(settings, "mean_reversion")
    risk = RiskManager(max_exposure=0.3)
    desk = run_agent_desk(market, "DEMO-EQUITY", "1d", settings=settings, risk=risk)
    assert set(desk.members["source"]) == {"agent", "agent:trend", "agent:mean_reversion"}
    assert (desk.history["target"].abs() <= 0.3 + 1e-12).all()
    assert (desk.history["before_risk"].abs() > 0.3).any(), "the cap binds somewhere"
    assert desk.history.index[0] > pd.Timestamp(TRAINED_THROUGH, tz="UTC")
    assert desk.result is not None and desk.result.final_equity == pytest.approx(desk.history["equity"].iloc[-1])
    assert -1.0 <= desk.score <= 1.0 and abs(desk.target) <= 0.3


def test_agents_stay_out_of_the_supervised_ensemble(settings: Settings, market: pd.DataFrame) -> None:
    from pinelab_core.models.active import clear_model_cache, load_active
    from pinelab_core.models.inference import predict
    from pinelab_core.training.runner import train_and_register

    train_and_register(settings, TrainRequest(symbols=["DEMO-EQUITY"], start="2024-03-01", models=["lightgbm"],
                                              horizon=3, groups=["momentum"], activate=True,
                                              model_params={"lightgbm": {"n_estimators": 15}}))
    _train(settings)
    assert _train(settings).endswith("@v2")  # the active version with the highest number is an agent
    clear_model_cache()
    active = load_active(settings, "DEMO-EQUITY", "1d")
    assert [m.kind for m in active.members] == ["lightgbm"]
    prediction = predict("DEMO-EQUITY", "1d", "demo", settings, ohlcv=market, log=False, forecasts=False)
    assert list(prediction.models) == [active.members[0].key]


def test_every_process_counts_the_agent_sources_without_importing_rl() -> None:
    """The Signals page, the API worker and the CLI each build the consensus in their own process: the agent
    sources must be registered by the signals package itself, not by whoever happened to import the rl one."""
    import subprocess
    import sys

    code = ("import sys; from pinelab_core.signals import SIGNAL_SOURCES; "
            "print(sorted(n for n in SIGNAL_SOURCES if n.startswith('agent')), 'pinelab_core.rl' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split("\n")[0] == "['agent', 'agent:mean_reversion', 'agent:trend'] False"
