"""The Paper Trading and Learning pages with data in the store (the pages' empty states run in test_pages)."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.live import RiskLimits, advance_account, create_account, take_alerts
from pinelab_core.live.intake import AlertIn
from pinelab_core.live.learning import record_event, record_regime
from tests.conftest import REPO_ROOT

PAGES = REPO_ROOT / "app_pages"


def test_the_paper_trading_page_shows_an_account_reconciled_with_its_backtest(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    bars = load_ohlcv("DEMO-BTC", "1h", "2026-10-01", source="demo", settings=settings)
    account = create_account(engine, "desk", source="demo", symbol="DEMO-BTC", timeframe="1h", strategy="alerts",
                             start=bars.index[0], risk=RiskLimits(max_drawdown=0.5), fees=0.001)
    take_alerts(engine, account, [AlertIn(f"a{i}", bars.index[10 * i] + pd.Timedelta(minutes=5),
                                          ("buy", "sell", "flat")[i % 3]) for i in range(60)], bars.index)
    advance_account(engine, account, bars)
    app = AppTest.from_file(str(PAGES / "9_Paper_Trading.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("no order is sent" in info.value for info in app.info)
    assert any("identical" in success.value for success in app.success)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Kill switch"] == "armed" and "Realised P&L" in metrics and "Unrealised P&L" in metrics
    assert app.get("plotly_chart"), "the equity chart is missing"


def test_the_learning_page_shows_events_regimes_and_performance(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    bars = load_ohlcv("DEMO-BTC", "1h", "2026-07-01", source="demo", settings=settings)
    for cut in range(len(bars) - 30, len(bars)):
        record_regime(engine, "demo", "DEMO-BTC", "1h", bars.iloc[:cut])
    record_event(engine, "drift_alert", "drift|x", model="m", version=1, message="9 of 20 features drifted")
    record_event(engine, "fine_tuned", "challenger|m|v2", model="m", version=2, message="fine-tuned",
                 detail={"comparison": {"new_rows": 480, "fine_tune_log_loss": 1.11, "full_retrain_log_loss": 1.12}})
    app = AppTest.from_file(str(PAGES / "10_Learning.py"), default_timeout=120).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.label for t in app.tabs] == ["Learning events", "Market regime", "Model performance"]
    assert len(app.dataframe) >= 3  # events, fine-tune comparisons, regime counts
