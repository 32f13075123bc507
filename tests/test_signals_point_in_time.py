"""Point in time: the consensus, weights and track records shown for bar t use only what was known at t."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session, select

from pinelab_core.config import Settings
from pinelab_core.signals.desk import run_signal_desk, store_consensus
from pinelab_core.signals.outcomes import load_outcomes, outcomes_as_of
from pinelab_core.store import get_engine
from pinelab_core.store.tables import AggregatedSignalRow
from tests.conftest import random_walk_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

OHLCV = random_walk_ohlcv(600, seed=21)
SOURCES = ["rsi", "macd", "bollinger", "candlestick"]
T = 420  # the past bar replayed


def _desk(engine, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    return run_signal_desk(frame, "X", "1h", engine=engine, sources=SOURCES, horizon=5)


def test_the_consensus_for_a_past_bar_ignores_later_history(engine, second_store: Settings) -> None:  # type: ignore[no-untyped-def]
    # A store that has processed the whole history, then is asked about bar T again.
    _desk(engine, OHLCV.iloc[:300])
    _desk(engine, OHLCV)
    replayed = _desk(engine, OHLCV.iloc[: T + 1])
    # A fresh store whose data ends at T.
    fresh = _desk(get_engine(second_store), OHLCV.iloc[: T + 1])
    assert replayed.aggregate.time == fresh.aggregate.time == OHLCV.index[T]
    assert replayed.aggregate == fresh.aggregate
    pd.testing.assert_frame_equal(replayed.performance, fresh.performance)
    pd.testing.assert_frame_equal(replayed.weight_path.reset_index(drop=True), fresh.weight_path.reset_index(drop=True))
    assert {k: (v.count, v.hit_rate) for k, v in replayed.similar.items()} == pytest.approx(
        {k: (v.count, v.hit_rate) for k, v in fresh.similar.items()}, nan_ok=True)
    # The later history did move the weights: the replay is not trivially equal.
    latest = _desk(engine, OHLCV).performance.set_index("source")["weight"]
    assert (latest != replayed.performance.set_index("source")["weight"]).any()


def test_outcomes_resolved_after_the_bar_show_as_open() -> None:
    outcomes = pd.DataFrame({
        "source": ["a", "a", "a"], "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05"], utc=True),
        "exit_time": pd.to_datetime(["2024-01-03", "2024-01-06", "2024-01-07"], utc=True),
        "realised_return": [0.01, -0.02, 0.03], "reward": [0.5, -0.5, 0.7], "duration_bars": [2, 4, 2],
        "hit": [True, False, True]})
    known = outcomes_as_of(outcomes, pd.Timestamp("2024-01-05", tz="UTC"))
    assert len(known) == 3
    assert list(known["realised_return"].notna()) == [True, False, False]
    assert known["hit"].iloc[1] is None and pd.isna(known["exit_time"].iloc[2])
    assert len(outcomes_as_of(outcomes, pd.Timestamp("2024-01-04", tz="UTC"))) == 2  # not yet placed: not shown


def test_a_newer_consensus_is_never_overwritten_by_an_older_one(engine) -> None:  # type: ignore[no-untyped-def]
    desk = _desk(engine, OHLCV.iloc[:400])
    bar = desk.aggregate.time
    late, early = datetime.now(UTC) + timedelta(seconds=5), datetime.now(UTC) - timedelta(seconds=5)
    newer = desk.aggregate.__class__(**{**desk.aggregate.__dict__, "score": 0.9})
    older = desk.aggregate.__class__(**{**desk.aggregate.__dict__, "score": -0.9})
    assert store_consensus(engine, newer, "", inputs_at=late) is True
    assert store_consensus(engine, older, "", inputs_at=early) is False  # a round that read its inputs earlier
    with Session(engine) as session:
        rows = session.exec(select(AggregatedSignalRow).where(AggregatedSignalRow.symbol == "X")).all()
    assert [(pd.to_datetime(r.time, utc=True), r.score) for r in rows] == [(bar, 0.9)]


def test_the_page_track_record_for_bar_t_counts_only_outcomes_known_then(engine) -> None:  # type: ignore[no-untyped-def]
    _desk(engine, OHLCV)
    past = _desk(engine, OHLCV.iloc[: T + 1])
    stored = load_outcomes(engine, symbol="X", timeframe="1h")
    assert (stored["exit_time"] > OHLCV.index[T]).any()  # the store knows later outcomes...
    assert (past.signals["exit_time"].dropna() <= OHLCV.index[T]).all()  # ...the desk for bar T does not show them
    assert (past.signals["time"] <= OHLCV.index[T]).all()
    assert past.performance["resolved"].sum() == int((past.signals["realised_return"].notna()
                                                      & (past.signals["direction"] != 0)).sum())
