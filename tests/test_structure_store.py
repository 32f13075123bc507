"""The `market_regime` table and the signal desk's regimes: stored once per bar, read back as computed, each
source's record split by regime, and consensus weights learned per regime that ignore later history."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from pinelab_core.config import Settings
from pinelab_core.signals.desk import run_signal_desk
from pinelab_core.store import get_engine
from pinelab_core.store.tables import MarketRegimeRow
from pinelab_core.structure import (
    UNKNOWN,
    load_regimes,
    regime_at,
    regime_history,
    regime_track_record,
    store_regimes,
)
from pinelab_core.structure.regimes import PROBABILITY_COLUMNS
from tests.structure_helpers import regime_switching_ohlcv

pytestmark = pytest.mark.both_backends  # run on SQLite and on a real PostgreSQL

SOURCES = ["rsi", "macd", "bollinger"]
T = 1_150  # the past bar replayed


@cache
def _market() -> pd.DataFrame:
    return regime_switching_ohlcv(1_300, seed=11)[0]


def _rows(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(MarketRegimeRow.__table__)).scalar_one())


def test_stored_regimes_read_back_as_computed_and_a_rewrite_adds_no_row(engine) -> None:  # type: ignore[no-untyped-def]
    history = regime_history(_market())
    known = history[history["regime"] != UNKNOWN]
    assert 0 < len(known) < len(history)  # the warm-up bars have no regime and are not stored
    assert store_regimes(engine, history, symbol="X", timeframe="1h", data_source="demo") == len(known)
    # A page refresh stores the same bars again: nothing is written; a bar computed differently is updated.
    assert store_regimes(engine, history.iloc[-300:], symbol="X", timeframe="1h", data_source="demo") == 0
    changed = history.iloc[-300:].copy()
    changed.iloc[-1, changed.columns.get_loc("probability")] = 0.5
    assert store_regimes(engine, changed, symbol="X", timeframe="1h", data_source="demo") == 1
    assert load_regimes(engine, symbol="X", timeframe="1h", data_source="demo")["probability"].iloc[-1] == 0.5
    assert store_regimes(engine, history, symbol="X", timeframe="1h", data_source="demo") == 1  # back again
    assert _rows(engine) == len(known)
    loaded = load_regimes(engine, symbol="X", timeframe="1h", data_source="demo")
    assert loaded.index.equals(known.index)
    assert list(loaded["regime"]) == list(known["regime"])
    np.testing.assert_allclose(loaded["probability"], known["probability"])
    np.testing.assert_allclose(loaded[list(PROBABILITY_COLUMNS)], known[list(PROBABILITY_COLUMNS)])
    assert load_regimes(engine, symbol="X", timeframe="1h", data_source="yahoo").empty  # kept per data source
    recent = load_regimes(engine, symbol="X", timeframe="1h", data_source="demo", start=known.index[-10])
    assert len(recent) == 10


def test_a_track_record_splits_calls_by_the_regime_of_their_bar_and_stores_it(engine) -> None:  # type: ignore[no-untyped-def]
    bars = _market().copy()
    bars.attrs["provenance"] = {"source": "demo"}  # what load_ohlcv sets: regimes are kept per data source
    calls = pd.DataFrame({"bar_time": bars.index[[100, 900, 1_000, 1_200]],
                          "realised_return": [0.01, -0.02, 0.03, np.nan], "hit": [True, False, True, None]})
    split = regime_track_record(bars, calls, time_column="bar_time", engine=engine, symbol="X", timeframe="1h")
    assert split.current == regime_at(bars)
    assert split.by_regime["calls"].sum() == 3  # the unresolved call is left out
    full = regime_history(bars)
    assert "unknown" in set(split.by_regime["market_regime"])  # bar 100: before the first fit
    assert (split.regimes["regime"] == full["regime"].loc[split.regimes.index]).all()
    assert _rows(engine) == int((split.regimes["regime"] != UNKNOWN).sum())
    assert len(load_regimes(engine, symbol="X", timeframe="1h", data_source="demo")) == _rows(engine)


def _desk(engine, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    return run_signal_desk(frame, "X", "1h", engine=engine, sources=SOURCES, horizon=5, regime_weights=True)


@pytest.mark.slow
def test_regime_weights_for_a_past_bar_ignore_later_history(engine, second_store: Settings) -> None:  # type: ignore[no-untyped-def]
    bars = _market()
    _desk(engine, bars)
    replayed = _desk(engine, bars.iloc[: T + 1])
    fresh = _desk(get_engine(second_store), bars.iloc[: T + 1])
    assert replayed.weights_regime == fresh.weights_regime == regime_at(bars.iloc[: T + 1]).regime
    assert replayed.aggregate == fresh.aggregate
    pd.testing.assert_frame_equal(replayed.regime.by_regime, fresh.regime.by_regime)
    assert set(replayed.regime.by_regime.columns) >= {"source", "market_regime", "calls", "hit_rate"}
    plain = run_signal_desk(bars.iloc[: T + 1], "X", "1h", engine=get_engine(second_store), sources=SOURCES,
                            horizon=5)
    assert plain.regime is None and plain.weights_regime is None


def test_the_structure_api_is_exported_from_the_package() -> None:
    import pinelab_core

    names = [n for n, module in pinelab_core._EXPORTS.items() if module == "pinelab_core.structure"]
    assert {"regime_history", "regime_track_record", "store_regimes", "load_regimes", "market_structure"} <= set(names)
    for name in names:
        assert name in pinelab_core.__all__ and getattr(pinelab_core, name) is not None
