"""Exactly once across writers: racing resolutions, natural unique keys with upserts, the v1 -> v2 migration."""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from pinelab_core.config import Settings
from pinelab_core.signals import outcomes as outcomes_module
from pinelab_core.signals.outcomes import load_outcomes, record_signals, resolve_outcomes
from pinelab_core.signals.sources import MarketView, Signal, generate_signals
from pinelab_core.store import get_engine, schema_version
from pinelab_core.store.engine import SCHEMA_VERSION, dispose_engines
from pinelab_core.store.tables import PredictionRow, SignalOutcomeRow, SourceWeightRow, model_set_key
from tests.conftest import random_walk_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

OHLCV = random_walk_ohlcv(300, seed=5)


def _calls(bars: range, source: str = "rsi", horizon: int = 3) -> list[Signal]:
    return [Signal(source, "X", "1h", OHLCV.index[b], 1 if b % 3 else -1, 1.0, horizon) for b in bars]


def _weights(engine) -> dict[str, tuple[float, int]]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        rows = session.exec(select(SourceWeightRow.source, SourceWeightRow.weight, SourceWeightRow.n_outcomes)).all()
    return {source: (weight, count) for source, weight, count in rows}


def test_two_racing_rounds_resolve_each_outcome_once(engine, second_store: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls = _calls(range(20, 45))  # 25 calls, all resolvable
    record_signals(engine, calls)
    # Both rounds read the open rows before either writes, unless the write lock keeps the second out.
    both_read = threading.Barrier(2)
    judge = outcomes_module.evaluate_signals

    def judge_after_both_read(signals: pd.DataFrame, ohlcv: pd.DataFrame) -> pd.DataFrame:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other round waits for the lock, as it should
            both_read.wait(timeout=2)
        return judge(signals, ohlcv)

    monkeypatch.setattr(outcomes_module, "evaluate_signals", judge_after_both_read)
    with ThreadPoolExecutor(2) as pool:
        resolved = list(pool.map(lambda _: resolve_outcomes(engine, OHLCV, "X", "1h"), range(2)))
    assert sorted(resolved) == [0, 25]
    monkeypatch.setattr(outcomes_module, "evaluate_signals", judge)
    serial = get_engine(second_store)
    record_signals(serial, calls)
    assert resolve_outcomes(serial, OHLCV, "X", "1h") == 25
    assert _weights(engine) == _weights(serial)
    assert _weights(engine)["rsi"][1] == 25


def test_weights_do_not_depend_on_the_order_outcomes_were_resolved_in(engine, second_store: Settings) -> None:  # type: ignore[no-untyped-def]
    early, late = _calls(range(20, 40)), _calls(range(40, 60))
    record_signals(engine, late)
    resolve_outcomes(engine, OHLCV, "X", "1h")
    record_signals(engine, early)  # older calls tracked only later (a source added afterwards)
    resolve_outcomes(engine, OHLCV, "X", "1h")
    serial = get_engine(second_store)
    record_signals(serial, early + late)
    resolve_outcomes(serial, OHLCV, "X", "1h")
    assert _weights(engine) == pytest.approx(_weights(serial))


def test_the_outcome_key_includes_the_horizon(engine) -> None:  # type: ignore[no-untyped-def]
    bar = OHLCV.index[50]
    short, long = Signal("rsi", "X", "1h", bar, 1, 1.0, 3), Signal("rsi", "X", "1h", bar, 1, 1.0, 10)
    assert record_signals(engine, [short, long]) == 2
    assert record_signals(engine, [short, long]) == 0
    resolve_outcomes(engine, OHLCV, "X", "1h")
    stored = load_outcomes(engine).set_index("horizon")
    # each exits at the open after its horizon (the execution engine's fill)
    assert stored.loc[3, "exit_time"] == OHLCV.index[54] and stored.loc[10, "exit_time"] == OHLCV.index[61]


def test_concurrent_recorders_store_each_call_once(engine) -> None:  # type: ignore[no-untyped-def]
    view = MarketView.build(OHLCV, "X", "1h")
    signals = generate_signals(view, ["rsi", "macd", "bollinger"])
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: record_signals(engine, signals), range(4)))
    assert sum(counts) == len(signals)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(SignalOutcomeRow)).scalar_one() == len(signals)


def _prediction(model_versions_json: str, **extra: object) -> PredictionRow:
    return PredictionRow(source="demo", symbol="X", timeframe="1h", bar_time=OHLCV.index[10].to_pydatetime(),
                         horizon=3, signal="BUY", confidence=0.6, model_versions_json=model_versions_json,
                         model_key=model_set_key(model_versions_json), **extra)


def test_a_prediction_is_stored_once_per_market_bar_and_model_set(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.add(_prediction('{"versions": ["a/v1"]}'))
        session.add(_prediction('{"versions": ["a/v2"]}'))  # another model set: its own row
        session.commit()
    with pytest.raises(IntegrityError), Session(engine) as session:
        session.add(_prediction('{"versions": ["a/v1"]}'))
        session.commit()


def test_the_ensemble_source_ignores_in_sample_predictions(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        session.add(_prediction('{"versions": ["a/v1"]}', in_sample=True))
        session.add(PredictionRow(source="demo", symbol="X", timeframe="1h", bar_time=OHLCV.index[20].to_pydatetime(),
                                  horizon=3, signal="SELL", confidence=0.7, model_key="k"))
        session.commit()
    calls = generate_signals(MarketView.build(OHLCV, "X", "1h", engine=engine), ["ensemble"])
    assert [(c.time, c.direction) for c in calls] == [(OHLCV.index[20], -1)]


_V1_TABLES = {
    "prediction": "CREATE TABLE prediction (id {serial}, created_at TIMESTAMP, source VARCHAR, symbol VARCHAR(64), "
                  "timeframe VARCHAR(8), bar_time TIMESTAMP, horizon INTEGER, signal VARCHAR(8), confidence FLOAT, "
                  "probabilities_json TEXT, members_json TEXT, model_versions_json TEXT, input_fingerprint VARCHAR, "
                  "close_at_bar FLOAT, realised_return FLOAT, outcome VARCHAR, hit BOOLEAN, resolved_at TIMESTAMP)",
    "aggregated_signal": "CREATE TABLE aggregated_signal (id {serial}, data_source VARCHAR(64), symbol VARCHAR(64), "
                         "timeframe VARCHAR, time TIMESTAMP, score FLOAT, confidence FLOAT, position_size FLOAT, "
                         "action VARCHAR(8), contributions_json TEXT, created_at TIMESTAMP)",
    "signal_outcome": "CREATE TABLE signal_outcome (id {serial}, source VARCHAR(64), data_source VARCHAR(64), "
                      "symbol VARCHAR(64), timeframe VARCHAR, direction INTEGER, strength FLOAT, time TIMESTAMP, "
                      "horizon INTEGER, regime VARCHAR, entry_price FLOAT, ref_id INTEGER, realised_return FLOAT, "
                      "hit BOOLEAN, duration_bars INTEGER, exit_time TIMESTAMP, reward FLOAT, resolved_at TIMESTAMP, "
                      "UNIQUE (source, data_source, symbol, timeframe, time))",
}


def test_a_version_1_store_migrates_folding_the_copies(settings: Settings) -> None:
    engine = get_engine(settings)
    serial = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    versions = json.dumps({"versions": ["a/v1"]})
    with engine.begin() as connection:
        for table, ddl in _V1_TABLES.items():
            connection.execute(text(f"DROP TABLE {table}"))
            connection.execute(text(ddl.format(serial=serial)))
        for _ in range(2):  # what check-then-insert left behind
            connection.execute(text("INSERT INTO prediction (source, symbol, timeframe, bar_time, horizon, signal, "
                                    "confidence, model_versions_json) VALUES ('demo', 'X', '1h', '2024-01-01 00:00:00',"
                                    " 3, 'BUY', 0.6, :versions)"), {"versions": versions})
        for score in (0.1, 0.2):
            connection.execute(text("INSERT INTO aggregated_signal (data_source, symbol, timeframe, time, score, "
                                    "confidence, position_size, action, contributions_json, created_at) VALUES "
                                    "('', 'X', '1h', '2024-01-01 00:00:00', :score, 0.5, 0.1, 'BUY', '{}', "
                                    "'2024-01-01 00:00:00')"), {"score": score})
        connection.execute(text("INSERT INTO signal_outcome (source, data_source, symbol, timeframe, direction, "
                                "strength, time, horizon, regime) VALUES ('rsi', '', 'X', '1h', 1, 1.0, "
                                "'2024-01-01 00:00:00.000000', 3, '')"))
        connection.execute(text("UPDATE schema_version SET version = 1"))
    dispose_engines(settings.resolved_database_url)
    migrated = get_engine(settings)
    assert schema_version(migrated) == SCHEMA_VERSION
    with migrated.begin() as connection:
        assert connection.execute(text("SELECT COUNT(*), MIN(model_key) FROM prediction")).one() == (
            1, model_set_key(versions))
        assert connection.execute(text("SELECT score FROM aggregated_signal")).scalars().all() == [0.2]  # the newest
    bar = pd.Timestamp("2024-01-01", tz="UTC")
    assert record_signals(migrated, [Signal("rsi", "X", "1h", bar, 1, 1.0, 5)]) == 1  # another horizon: new
    assert record_signals(migrated, [Signal("rsi", "X", "1h", bar, 1, 1.0, 3)]) == 0  # the same call


def test_db_check_reports_backend_schema_and_row_counts(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from pinelab_core.cli import main

    record_signals(get_engine(settings), _calls(range(20, 23)))
    assert main(["db", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == get_engine(settings).dialect.name and report["ok"] is True
    assert report["schema_version"] == report["code_schema_version"] == SCHEMA_VERSION
    assert report["row_counts"]["signal_outcome"] == 3 and report["row_counts"]["tradingview_alert"] == 0
    if settings.database_url:
        assert report["url"].startswith("postgresql+psycopg://")
    else:
        assert report["settings"]["journal_mode"] == "wal"
    assert main(["db", "check"]) == 0
    assert "schema version" in capsys.readouterr().out
