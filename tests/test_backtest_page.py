"""The Backtest page under Streamlit's AppTest: the numbers of the API, trades, Monte Carlo, sweep, walk-forward,
the promotion checklist and stored runs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pinelab_core.backtest import backtest_strategy
from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "app_pages" / "8_Backtest.py"


def _page() -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=180).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_page_shows_what_the_api_computes() -> None:
    app = _page()
    ohlcv = load_ohlcv("DEMO-EQUITY", "1d", source="demo", settings=Settings.from_env())
    stats = backtest_strategy(ohlcv, "sma_cross", {"fast": 10, "slow": 20}, fees=0.001).result.stats
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Total return"] == f"{stats['total_return']:.1%}"
    assert metrics["Sharpe"] == f"{stats['sharpe']:.2f}" and metrics["Trades"] == str(int(stats["n_trades"]))
    assert [t.label for t in app.tabs] == ["Equity", "Trades", "Stats", "Monte Carlo", "Sweep", "Walk-forward",
                                           "Promotion", "Stored runs"]
    trades = app.dataframe[0].value
    assert len(trades) >= stats["n_trades"] and {"entry_time", "exit_time", "pnl", "costs", "reason"} <= set(trades)
    checklist = app.dataframe[3].value
    assert checklist["check"].tolist()[0] == "Backtest Sharpe" and set(checklist["passed"]) <= {"pass", "fail"}


@pytest.mark.slow
def test_sweep_walk_forward_and_stored_runs() -> None:
    app = _page()
    app.selectbox(key="bt_strategy").set_value("breakout").run()
    app.button(key="bt_run_sweep").click().run()
    assert not app.exception, [e.value for e in app.exception]
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Trials"]) > 5 and "Prob. of overfitting" in metrics
    app.button(key="bt_run_wfo").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Degradation (IS -> OOS Sharpe)" in {m.label for m in app.metric}
    app.button(key="bt_save").click().run()
    app.button(key="bt_save").click().run()
    assert not app.exception, [e.value for e in app.exception]
    compare = app.multiselect(key="bt_compare")
    assert len(compare.options) == 2
    compare.set_value([int(o) for o in compare.options]).run()
    assert not app.exception, [e.value for e in app.exception]
    side_by_side = app.dataframe[-1].value
    assert side_by_side.shape[1] == 2 and "sharpe" in side_by_side.index


def test_a_signal_source_strategy_runs_on_the_page() -> None:
    app = _page()
    app.selectbox(key="bt_strategy").set_value("rule:rsi").run()
    assert not app.exception, [e.value for e in app.exception]
    assert "Trades" in {m.label for m in app.metric}
