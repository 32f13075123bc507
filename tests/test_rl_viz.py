"""RL figures and tables build from the frames the pages pass them, empty or not."""

from __future__ import annotations

import pandas as pd

from pinelab_core.rl.calls import AgentCall
from pinelab_core.viz.rl import agent_calls_frame, agent_desk_figure, agent_equity_figure, learning_curve_figure


def test_learning_curves_one_colour_per_run_and_an_empty_state() -> None:
    points = pd.DataFrame({"run": ["a", "a", "b"], "timesteps": [1, 2, 1], "episode_reward": [0.1, 0.2, None],
                           "loss": [1.0, 0.5, 0.7]})
    figure = learning_curve_figure(points)
    assert [t.name for t in figure.data] == ["a", "a", "b", "b"]
    assert learning_curve_figure(points.iloc[:0]).layout.annotations[0].text == "no learning-curve points yet"


def test_equity_seeds_solid_baselines_dashed() -> None:
    index = pd.date_range("2024-01-01", periods=3, tz="UTC")
    equity = pd.DataFrame({"seed 0": [1.0, 1.1, 1.2], "buy-and-hold": [1.0, 1.0, 1.05]}, index=index)
    figure = agent_equity_figure(equity)
    assert [t.name for t in figure.data] == ["seed 0", "buy-and-hold"] and figure.data[1].line.dash == "dot"


def test_calls_table_and_desk_figure() -> None:
    when = pd.Timestamp("2024-01-02", tz="UTC")
    call = AgentCall("x@v1", "ppo", "", "S", "1d", when, 1.0, "BUY", 0.7, False, None, "S")
    frame = agent_calls_frame([call])
    assert frame.loc[0, "role"] == "general" and frame.loc[0, "action"] == "BUY"
    history = pd.DataFrame({"equity": [1.0, 1.1], "before_risk": [0.5, 0.8], "target": [0.5, 0.4]},
                           index=pd.date_range("2024-01-01", periods=2, tz="UTC"))
    assert len(agent_desk_figure(history).data) == 3
