"""Issue 14's "done when", end to end on demo data: with `pinelab run` going, a paper account follows the consensus,
the Paper Trading page shows its fills and P&L identical to a backtest of the same decisions, a notification
arrives at a local webhook when the consensus flips, and a drift-triggered retrain produces a challenger whose
shadow record appears in the Registry."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.live import (
    SchedulerOptions,
    add_rule,
    create_account,
    get_account,
    head_to_head,
    learning_frames,
    paper_report,
    run_scheduler,
    shadow_frame,
    watch_market,
)
from pinelab_core.live.scheduler import wait_for
from pinelab_core.models.drift import DriftAlert
from pinelab_core.training.jobs import get_job
from tests.conftest import REPO_ROOT
from tests.test_live_learning import TRAINED_THROUGH, _train
from tests.test_live_notify import Receiver

REPLAY_FROM = pd.Timestamp("2026-10-01", tz="UTC")


@pytest.mark.slow
def test_the_live_loop_on_demo_data(settings: Settings, engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from pinelab_core.live import retrain

    name = _train(settings)  # the champion, trained on bars up to the replay's start
    watch_market(engine, "demo", "DEMO-BTC", "1h")
    create_account(engine, "follow-consensus", source="demo", symbol="DEMO-BTC", timeframe="1h",
                   strategy="consensus", fees=0.001, slippage=0.0005)
    receiver = Receiver()
    add_rule(engine, "btc flips", "consensus_flip", channel="webhook", symbol="DEMO-BTC",
             target=f"{receiver.url}/slack", body_format="slack")
    # The market drifts on the first day of the replay (a real drift check is tested in test_live_learning).
    monkeypatch.setattr(retrain, "version_drift", lambda *_args, **_kwargs: [
        DriftAlert("features", "rsi_14", "14 of 40 features drifted significantly", "warning")])

    def loader(source: str, symbol: str, timeframe: str) -> pd.DataFrame:
        return load_ohlcv(symbol, timeframe, "2026-07-01", source=source, settings=settings)

    options = SchedulerOptions(interval_s=0.0, replay_from=REPLAY_FROM, max_ticks=24)
    try:
        first = run_scheduler(settings, options, loader=loader)
        assert first.failures == [] and first.bars == 24
        events = learning_frames(engine).events
        requested = events[events["kind"] == "retrain_requested"]
        assert len(requested) == 1 and "drift" in requested.iloc[0]["message"]
        job_id = int(requested.iloc[0]["job_id"])  # a background worker process trains the challenger
        assert wait_for(lambda: get_job(settings, job_id).status in ("succeeded", "failed"), 600, 1.0)
        assert get_job(settings, job_id).status == "succeeded", get_job(settings, job_id).error
        # Only the first day drifts: a second retrain would race the restarted replay (its challenger could be
        # registered with too few bars left to resolve a call, and the duel would have nothing to compare).
        monkeypatch.setattr(retrain, "version_drift", lambda *_args, **_kwargs: [])
        second = run_scheduler(settings, options, loader=loader)  # a restart: it resumes at the cursor
        assert second.failures == [] and second.bars == 24
    finally:
        receiver.server.shutdown()

    account = get_account(engine, "follow-consensus")
    report = paper_report(engine, account, loader("demo", "DEMO-BTC", "1h"))
    assert len(report.fills) > 0 and report.reconciliation is not None and report.reconciliation.identical
    assert len(report.equity) == 48  # every replayed bar: it opened on the first one
    flips = [body["text"] for path, body in receiver.posts if path == "/slack"]
    assert flips and all("consensus" in text for text in flips)

    assert "challenger_registered" in set(learning_frames(engine).events["kind"])
    calls = shadow_frame(engine, name)
    assert (calls["role"] == "challenger").sum() >= 10 and (calls["bar_time"] > pd.Timestamp(TRAINED_THROUGH,
                                                                                              tz="UTC")).all()
    duel = head_to_head(engine, name)
    newest = int(calls.loc[calls["role"] == "challenger", "version"].max())
    assert duel.challenger == newest == 2 and duel.champion == 1 and duel.n_bars > 0

    registry = AppTest.from_file(str(REPO_ROOT / "app_pages" / "4_Registry.py"), default_timeout=120).run()
    assert not registry.exception
    assert any(f"v{newest}** (challenger) against **v1** (champion)" in m.value for m in registry.markdown)
    paper = AppTest.from_file(str(REPO_ROOT / "app_pages" / "9_Paper_Trading.py"), default_timeout=120).run()
    assert not paper.exception
    assert any("identical" in s.value for s in paper.success)
    assert {"Realised P&L", "Unrealised P&L", "Kill switch"} <= {m.label for m in paper.metric}
    assert any("no order is sent" in i.value for i in paper.info)
