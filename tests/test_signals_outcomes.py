"""Outcome tracking without look-ahead, the source registry, and the whole desk round against a store."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session, func, select

from pinelab_core.signals.desk import run_signal_desk
from pinelab_core.signals.outcomes import (
    evaluate_signals,
    load_outcomes,
    load_weights,
    record_signals,
    resolve_outcomes,
    similar_signals,
)
from pinelab_core.signals.rules import RULES
from pinelab_core.signals.sources import SIGNAL_SOURCES, MarketView, Signal, generate_signals, symbol_key
from pinelab_core.store.tables import AggregatedSignalRow, PredictionRow, SignalOutcomeRow, TradingViewAlertRow
from tests.conftest import random_walk_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

OHLCV = random_walk_ohlcv(400, seed=11)


def _frame(bar: int, direction: int = 1, horizon: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"time": [OHLCV.index[bar]], "direction": [direction], "horizon": [horizon],
                         "strength": [1.0]})


def test_entry_is_the_next_open_and_exit_the_open_after_the_horizon() -> None:
    """The execution engine's fills: decided at t's close -> t+1's open; closed at t+h's close -> t+h+1's open."""
    out = evaluate_signals(_frame(100, direction=-1, horizon=3), OHLCV).iloc[0]
    entry, exit_ = OHLCV["open"].iloc[101], OHLCV["open"].iloc[104]
    assert out["entry_time"] == OHLCV.index[101] and out["exit_time"] == OHLCV.index[104]
    assert out["realised_return"] == pytest.approx(-(exit_ / entry - 1))
    assert out["hit"] == (exit_ < entry) and out["duration_bars"] == 3


def test_a_signal_between_bars_belongs_to_the_bar_in_progress() -> None:
    frame = _frame(100)
    frame["time"] = OHLCV.index[100] + timedelta(minutes=20)
    out = evaluate_signals(frame, OHLCV).iloc[0]
    assert out["entry_time"] == OHLCV.index[101]  # never the bar that was already running


def test_no_look_ahead_the_future_after_the_exit_and_bar_t_close_do_not_matter() -> None:
    base = evaluate_signals(_frame(100), OHLCV).iloc[0]
    changed = OHLCV.copy()
    changed.iloc[105:, :4] *= 3.0  # everything after the exit fill's bar
    changed.iloc[104, 1:4] *= 3.0  # and that bar's high, low and close (the fill is its open)
    changed.iloc[100, changed.columns.get_loc("close")] *= 1.5  # the signal bar's close is not the entry
    changed.iloc[100, changed.columns.get_loc("high")] *= 1.5
    again = evaluate_signals(_frame(100), changed).iloc[0]
    assert again["realised_return"] == pytest.approx(base["realised_return"])
    moved_entry = OHLCV.copy()
    moved_entry.iloc[101, moved_entry.columns.get_loc("open")] *= 1.01
    assert evaluate_signals(_frame(100), moved_entry).iloc[0]["realised_return"] != base["realised_return"]


def test_signals_stay_open_until_their_horizon_exists() -> None:
    out = evaluate_signals(pd.concat([_frame(396), _frame(395)]).reset_index(drop=True), OHLCV)
    assert out["realised_return"].isna().iloc[0] and out["exit_time"].isna().iloc[0]
    assert out["realised_return"].notna().iloc[1]  # closed at 395 + 3 = 398, filled at 399's open, the last bar


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_signals_are_causal(rule: str) -> None:
    full = RULES[rule](OHLCV)
    cut = RULES[rule](OHLCV.iloc[:250])
    pd.testing.assert_frame_equal(full[full.index < OHLCV.index[250]], cut)


def test_every_rule_fires_on_a_random_walk_in_both_directions() -> None:
    view = MarketView.build(random_walk_ohlcv(1500, seed=2), "X", "1h")
    signals = generate_signals(view, ["rsi", "macd", "bollinger", "candlestick"])
    for name in ("rsi", "macd", "bollinger", "candlestick"):
        directions = {s.direction for s in signals if s.source == name}
        assert directions == {-1, 1}, name
    assert all(0 < s.strength <= 1 for s in signals)


def test_record_and_resolve_once_weights_move_once(engine) -> None:  # type: ignore[no-untyped-def]
    signals = [Signal("rsi", "X", "1h", OHLCV.index[b], 1, 1.0, 3, "up_calm", float(OHLCV["close"].iloc[b]))
               for b in (50, 60, 398)]
    assert record_signals(engine, signals) == 3
    assert record_signals(engine, signals) == 0  # one row per source, market and bar
    assert resolve_outcomes(engine, OHLCV, "X", "1h") == 2  # bar 398 + 3 is not in the data yet
    first = load_weights(engine, ["rsi"], symbol="X", timeframe="1h")["rsi"]
    assert resolve_outcomes(engine, OHLCV, "X", "1h") == 0
    assert load_weights(engine, ["rsi"], symbol="X", timeframe="1h")["rsi"] == first != 1.0
    assert load_weights(engine, ["rsi"], symbol="Y", timeframe="1h")["rsi"] == 1.0  # weights are per market
    outcomes = load_outcomes(engine, symbol="X")
    assert outcomes["realised_return"].notna().sum() == 2 and outcomes["reward"].notna().sum() == 2


def test_similar_signals_use_only_what_was_known_then(engine) -> None:  # type: ignore[no-untyped-def]
    bars = (20, 40, 60, 80, 200)
    record_signals(engine, [Signal("macd", "X", "1h", OHLCV.index[b], 1, 1.0, 5, "up_calm") for b in bars])
    record_signals(engine, [Signal("macd", "X", "1h", OHLCV.index[30], 1, 1.0, 5, "down_calm")])
    resolve_outcomes(engine, OHLCV, "X", "1h")
    outcomes = load_outcomes(engine)
    probe = Signal("macd", "X", "1h", OHLCV.index[82], 1, 1.0, 5, "up_calm")
    similar = similar_signals(outcomes, probe)
    assert similar.count == 3  # bar 80 ends at 85, after the probe; bar 200 is the future; 30 is another regime
    expected = outcomes[outcomes["time"].isin(OHLCV.index[[20, 40, 60]])]["realised_return"]
    assert similar.mean_return == pytest.approx(expected.mean())


def test_alerts_and_predictions_become_signals_at_the_right_bar(engine) -> None:  # type: ignore[no-untyped-def]
    hourly = OHLCV
    received = hourly.index[300] + timedelta(minutes=59, seconds=30)
    with Session(engine) as session:
        session.add(TradingViewAlertRow(dedupe_key="k1", received_at=received.to_pydatetime(), ticker="BTCUSDT",
                                        action="SELL", market_position="short"))
        session.add(TradingViewAlertRow(dedupe_key="k2", received_at=received.to_pydatetime(), ticker="ETHUSDT",
                                        action="BUY"))
        session.add(TradingViewAlertRow(dedupe_key="k3", received_at=(hourly.index[-1] + timedelta(hours=2))
                                        .to_pydatetime(), ticker="BTCUSDT", action="BUY"))
        session.add(PredictionRow(symbol="BTC/USDT", timeframe="1h", bar_time=hourly.index[310].to_pydatetime(),
                                  horizon=4, signal="BUY", confidence=0.7))
        session.commit()
    view = MarketView.build(hourly, "BTC/USDT", "1h", engine=engine)
    tradingview = generate_signals(view, ["tradingview"])
    assert [(s.time, s.direction) for s in tradingview] == [(hourly.index[300], -1)]  # other ticker, future skipped
    ensemble = generate_signals(view, ["ensemble"])
    assert [(s.time, s.direction, s.strength, s.horizon) for s in ensemble] == [(hourly.index[310], 1, 0.7, 4)]
    assert symbol_key("BINANCE:BTCUSDT") == symbol_key("btc/usdt") == "BTCUSDT"


def test_the_desk_round_is_idempotent_and_stores_one_consensus_per_bar(engine) -> None:  # type: ignore[no-untyped-def]
    first = run_signal_desk(OHLCV, "X", "1h", engine=engine)
    second = run_signal_desk(OHLCV, "X", "1h", engine=engine)
    assert second.aggregate == first.aggregate
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(AggregatedSignalRow)).one() == 1
        tracked = session.exec(select(func.count()).select_from(SignalOutcomeRow)).one()
    assert tracked == len(first.signals) == len(second.signals)
    assert set(first.performance["source"]) == set(SIGNAL_SOURCES)
    resolved = first.performance.set_index("source")["resolved"]
    assert resolved["rsi"] > 0 and resolved["tradingview"] == 0
    assert np.isfinite(first.aggregate.volatility)
    simulated = OHLCV.copy()
    simulated.attrs["provenance"] = {"source": "demo", "simulated": True}
    run_signal_desk(simulated, "X", "1h", engine=engine)  # same name, simulated bars: kept apart
    with Session(engine) as session:
        origins = sorted(r.data_source for r in session.exec(select(AggregatedSignalRow)))
    assert origins == ["", "demo"]


def test_cli_signals_prints_the_consensus_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    assert main(["signals", "--symbol", "DEMO-EQUITY", "--source", "demo", "--horizon", "3",
                 "--sources", "rsi,macd", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["aggregate"]["action"] in {"BUY", "SELL", "HOLD"} and -1 <= out["aggregate"]["score"] <= 1
    assert {row["source"] for row in out["performance"]} == {"rsi", "macd"}
    assert main(["signals", "--symbol", "DEMO-EQUITY", "--sources", "astrology"]) == 2
    assert "Unknown signal source" in capsys.readouterr().err


def test_calls_judged_on_simulated_bars_never_touch_the_real_market(engine) -> None:  # type: ignore[no-untyped-def]
    simulated, real = random_walk_ohlcv(400, seed=1), random_walk_ohlcv(400, seed=2)
    calls = [Signal("rsi", "BTC/USDT", "1h", OHLCV.index[b], 1, 1.0, 3) for b in (50, 90, 130)]
    assert record_signals(engine, calls, data_source="demo") == 3
    assert record_signals(engine, calls, data_source="ccxt:binance") == 3  # same market name, its own rows
    resolve_outcomes(engine, simulated, "BTC/USDT", "1h", data_source="demo")
    assert load_weights(engine, ["rsi"], symbol="BTC/USDT", timeframe="1h", data_source="ccxt:binance") == {"rsi": 1.0}
    resolve_outcomes(engine, real, "BTC/USDT", "1h", data_source="ccxt:binance")
    demo = load_outcomes(engine, data_source="demo")["realised_return"]
    live = load_outcomes(engine, data_source="ccxt:binance")["realised_return"]
    expected = evaluate_signals(_frame(50), real).iloc[0]["realised_return"]
    assert live.iloc[0] == pytest.approx(expected) and demo.iloc[0] != pytest.approx(expected)


def test_a_call_earns_what_the_execution_engine_pays_for_the_same_position() -> None:
    """One money path: the track record of a call is the backtest of holding it for its horizon."""
    from pinelab_core.backtest import run_backtest

    out = evaluate_signals(_frame(100, direction=-1, horizon=3), OHLCV).iloc[0]
    positions = pd.Series(0.0, index=OHLCV.index)
    positions.iloc[100:103] = -1.0  # decided at bars 100..102, flat again at 103's close
    trade = run_backtest(OHLCV, positions).trades.iloc[0]
    assert (trade["entry_time"], trade["exit_time"]) == (out["entry_time"], out["exit_time"])
    assert trade["return"] == pytest.approx(out["realised_return"], rel=1e-9)
