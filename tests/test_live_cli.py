"""`pinelab paper`, `pinelab run`, `pinelab watch`, `pinelab notify` and `pinelab learn` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.cli import main
from pinelab_core.data import load_ohlcv


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_paper_replay_prints_the_fills_and_both_equities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bars = load_ohlcv("DEMO-BTC", "1h", "2026-09-01", source="demo")
    rng = np.random.default_rng(0)
    times = bars.index[np.sort(rng.choice(len(bars) - 1, 400))] + pd.Timedelta(minutes=13)
    table = pd.DataFrame({"id": [f"a{i}" for i in range(400)], "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "action": rng.choice(["buy", "sell", "flat"], 400), "size": rng.choice([0.5, np.nan], 400)})
    table = pd.concat([table, table.iloc[[3, 50, 70]]])  # three re-sent alerts
    path = tmp_path / "alerts.csv"
    table.to_csv(path, index=False)
    result = _json(capsys, "paper", "replay", "--source", "demo", "--symbol", "DEMO-BTC", "--timeframe", "1h",
                   "--start", "2026-09-01", "--alerts", str(path), "--fees", "0.001")
    assert isinstance(result, dict)
    assert result["n_alerts"] == 403 and result["n_duplicates"] == 3 and result["n_fills"] > 50
    assert result["final_equity"] == result["backtest_final_equity"] and result["identical"] is True


def test_paper_replay_names_a_broken_alerts_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.csv"
    path.write_text("id,time,action\na,2026-10-01T00:00:00Z,hold\n")
    assert main(["paper", "replay", "--source", "demo", "--symbol", "DEMO-BTC", "--timeframe", "1h",
                 "--alerts", str(path)]) == 2
    error = capsys.readouterr().err
    assert "line 2" in error and "buy, sell or flat" in error


def test_watch_create_run_show_notify_learn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    market = ["--source", "demo", "--symbol", "DEMO-ETH", "--timeframe", "1h"]
    assert main(["watch", "add", *market]) == 0
    assert main(["paper", "create", "eth", *market, "--strategy", "source:rsi", "--fees", "0.001",
                 "--max-drawdown", "0.3", "--start", "2026-10-20"]) == 0
    assert main(["notify", "add", "kills", "--event", "kill_switch"]) == 0
    capsys.readouterr()
    assert main(["run", "--interval", "0", "--replay-from", "2026-10-20", "--max-ticks", "3",
                 "--steps", "desk,paper,notify"]) == 0
    assert "3 tick(s), 3 bar(s), 0 failure(s)" in capsys.readouterr().out
    shown = _json(capsys, "paper", "show", "eth")
    assert isinstance(shown, dict) and shown["reconciliation"]["identical"] is True
    assert shown["account"]["strategy"] == "source:rsi" and shown["account"]["status"] == "active"
    steps = _json(capsys, "run", "--status")
    assert isinstance(steps, dict) and steps["lease"] is None and len(steps["steps"]) == 9
    assert _json(capsys, "notify", "list")[0]["event"] == "kill_switch"  # type: ignore[index]
    assert _json(capsys, "learn", "events") == []
    assert main(["paper", "stop", "eth"]) == 0 and "stopped" in capsys.readouterr().out
