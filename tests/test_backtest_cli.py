"""`pinelab backtest`: the same numbers as the Python API, JSON contract, errors with hints, stored runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pinelab_core.backtest import backtest_strategy, list_runs
from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.store import get_engine

BASE = ["backtest", "--source", "demo", "--symbol", "DEMO-EQUITY", "--timeframe", "1d"]


def test_json_stats_equal_the_python_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--strategy", "sma_cross", "--param", "fast=10", "--param", "slow=20", "--fees", "0.001",
                 "--option", "stop_loss=0.08", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=Settings.from_env())
    api = backtest_strategy(ohlcv, "sma_cross", {"fast": 10, "slow": 20}, fees=0.001, stop_loss=0.08).result.stats
    assert printed["n_trades"] == int(api["n_trades"]) > 0
    assert set(printed["stats"]) == set(api.index)
    for name, value in api.items():
        assert printed["stats"][name] == (None if pd.isna(value) else pytest.approx(value, rel=1e-12)), name


@pytest.mark.parametrize(("argv", "message"), [
    (["--strategy", "sma_crss"], "Did you mean 'sma_cross'?"),
    (["--strategy", "sma_cross", "--param", "fats=3"], "Did you mean 'fast'?"),
    (["--strategy", "sma_cross", "--option", "stop_los=0.1"], "Did you mean 'stop_loss'?"),
    (["--strategy", "sma_cross", "--fees", "1"], "percent"),
    (["--strategy", "sma_cross", "--param", "fast"], "KEY=VALUE"),
])
def test_errors_go_to_stderr_with_a_non_zero_exit(argv: list[str], message: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, *argv, "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_a_sweep_reports_trials_and_overfitting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--strategy", "breakout", "--sweep", "grid", "--executor", "serial", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_trials"] == len(printed["trials"]) > 5
    assert 0 <= printed["pbo"] <= 1 and 0 <= printed["deflated_sharpe"] <= 1


def test_a_saved_run_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--strategy", "rule:rsi", "--fees", "0.001", "--save", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    runs = list_runs(get_engine(Settings.from_env()))
    assert runs["id"].tolist() == [printed["run_id"]] and runs["strategy"].iloc[0] == "rule:rsi"
