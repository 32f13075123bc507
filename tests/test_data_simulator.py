"""The demo market: deterministic, on a real calendar, and statistically market-like."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data.simulator import ANCHOR_END, MAX_BARS, demo_profile, simulate_ohlcv
from pinelab_core.data.validation import validate_ohlcv
from pinelab_core.errors import DataValidationError


def _returns(frame: pd.DataFrame) -> pd.Series:
    return np.log(frame["close"]).diff().dropna()


@pytest.fixture(scope="module")
def btc_hourly() -> pd.DataFrame:
    return simulate_ohlcv("DEMO-BTC", "1h")


def test_same_symbol_gives_the_same_series_every_call() -> None:
    first = simulate_ohlcv("DEMO-EQUITY", "1d")
    again = simulate_ohlcv("DEMO-EQUITY", "1d")
    pd.testing.assert_frame_equal(first, again)


def test_seed_is_stable_across_processes() -> None:
    # A salted hash() would change this number between interpreter runs; the BLAKE2 seed never does.
    frame = simulate_ohlcv("DEMO-EQUITY", "1d")
    assert frame["close"].iloc[-1] == pytest.approx(182.5)
    assert frame.index[-1] == pd.Timestamp("2026-10-30", tz="UTC")
    assert frame["close"].iloc[0] == pytest.approx(simulate_ohlcv("demo-equity ", "1d")["close"].iloc[0])


def test_different_symbols_differ() -> None:
    a = _returns(simulate_ohlcv("AAA", "1d"))
    b = _returns(simulate_ohlcv("BBB", "1d"))
    assert len(a) == len(b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1


def test_a_longer_history_extends_a_shorter_one_exactly() -> None:
    short = simulate_ohlcv("DEMO-BTC", "1h", start="2026-10-01")
    long = simulate_ohlcv("DEMO-BTC", "1h", start="2025-01-01")
    pd.testing.assert_frame_equal(long.loc[short.index], short)


def test_end_slices_without_changing_the_bars() -> None:
    full = simulate_ohlcv("DEMO-EQUITY", "1d")
    early = simulate_ohlcv("DEMO-EQUITY", "1d", start="2020-01-01", end="2020-06-30")
    assert early.index[-1] <= pd.Timestamp("2020-06-30", tz="UTC")
    pd.testing.assert_frame_equal(full.loc[early.index], early)


def test_frames_meet_the_ohlcv_contract(btc_hourly: pd.DataFrame) -> None:
    for frame in (btc_hourly, simulate_ohlcv("DEMO-EQUITY", "1d"), simulate_ohlcv("DEMO-FX", "1m")):
        assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
        assert (frame.dtypes == np.float64).all()
        assert str(frame.index.tz) == "UTC" and frame.index.name == "time"
        assert frame.index.is_monotonic_increasing and frame.index.is_unique
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame[["open", "high", "low", "close"]] > 0).all().all() and (frame["volume"] > 0).all()
        pd.testing.assert_frame_equal(validate_ohlcv(frame), frame)


def test_calendars_match_the_market() -> None:
    equity = simulate_ohlcv("DEMO-EQUITY", "1d")
    assert (equity.index.day_of_week < 5).all()
    assert len(equity) == pytest.approx(10 * 261, rel=0.01)  # ~10 years of weekdays
    btc = simulate_ohlcv("DEMO-BTC", "1h", start="2026-10-24", end="2026-10-25 23:00")
    assert len(btc) == 48  # a whole weekend, 24/7
    fx = simulate_ohlcv("DEMO-FX", "1m")
    assert len(fx.index[(fx.index.day_of_week == 5)]) == 0
    assert fx.index[-1] == pd.Timestamp("2026-10-30 21:59", tz="UTC")  # Friday 22:00 UTC close
    assert pd.Timestamp("2026-10-25 22:00", tz="UTC") in fx.index  # Sunday 22:00 UTC open
    intraday = simulate_ohlcv("AAPL", "1h", start="2026-10-26", end="2026-10-26")
    assert [t.strftime("%H:%M") for t in intraday.index] == [f"{h}:30" for h in range(14, 21)]


def test_returns_are_fat_tailed_and_volatility_clusters(btc_hourly: pd.DataFrame) -> None:
    for frame in (btc_hourly, simulate_ohlcv("DEMO-EQUITY", "1d")):
        returns = _returns(frame)
        assert returns.kurt() > 3.0  # excess kurtosis: a normal distribution has 0
        assert returns.abs().autocorr(lag=1) > abs(returns.autocorr(lag=1)) + 0.05


def test_volume_moves_with_absolute_returns(btc_hourly: pd.DataFrame) -> None:
    returns = _returns(btc_hourly)
    assert np.corrcoef(returns.abs(), btc_hourly["volume"].iloc[1:])[0, 1] > 0.2


def test_volume_has_intraday_and_weekly_seasonality(btc_hourly: pd.DataFrame) -> None:
    by_hour = btc_hourly["volume"].groupby(btc_hourly.index.hour).median()
    assert by_hour.loc[14:16].mean() > 1.3 * by_hour.loc[2:4].mean()  # US afternoon vs Asian night
    by_day = btc_hourly["volume"].groupby(btc_hourly.index.day_of_week).median()
    assert by_day.loc[5:6].mean() < 0.85 * by_day.loc[0:4].mean()  # quieter weekends


def test_equity_intraday_volume_is_u_shaped() -> None:
    bars = simulate_ohlcv("DEMO-EQUITY", "30m")
    by_time = bars["volume"].groupby(bars.index.strftime("%H:%M")).median()
    midday = by_time.loc["17:00":"18:00"].mean()
    assert by_time["14:30"] > 1.5 * midday and by_time["20:30"] > 1.5 * midday


def test_equity_sessions_open_with_gaps() -> None:
    frame = simulate_ohlcv("DEMO-EQUITY", "1d")
    gaps = (frame["open"] / frame["close"].shift(1)).iloc[1:]
    assert (gaps != 1.0).mean() > 0.99
    crypto = simulate_ohlcv("DEMO-BTC", "1h", start="2026-01-01")
    assert np.allclose(crypto["open"].iloc[1:].to_numpy(), crypto["close"].iloc[:-1].to_numpy())


def test_regimes_make_trends_of_both_signs() -> None:
    yearly = simulate_ohlcv("DEMO-EQUITY", "1d")["close"].resample("YE").last().pct_change().dropna()
    assert (yearly > 0.05).any() and (yearly < -0.05).any()


def test_coarser_timeframes_aggregate_the_same_market() -> None:
    hourly = simulate_ohlcv("DEMO-BTC", "1h", start="2026-09-01")
    daily = simulate_ohlcv("DEMO-BTC", "1d", start="2026-09-01")
    day = pd.Timestamp("2026-09-15", tz="UTC")
    bars = hourly.loc[day: day + pd.Timedelta(hours=23)]
    assert daily.loc[day, "open"] == bars["open"].iloc[0] and daily.loc[day, "close"] == bars["close"].iloc[-1]
    assert daily.loc[day, "high"] == bars["high"].max()
    assert daily.loc[day, "volume"] == pytest.approx(bars["volume"].sum())


def test_named_and_guessed_profiles() -> None:
    assert demo_profile("DEMO-FX").kind == "fx" and demo_profile("EUR/USD").kind == "fx"
    assert demo_profile("ETH/USDT").kind == "crypto" and demo_profile("MSFT").kind == "equity"
    assert 0.6 <= simulate_ohlcv("GBPJPY", "1d")["close"].iloc[-1] <= 1.6


def test_a_million_bars_on_demand() -> None:
    frame = simulate_ohlcv("DEMO-BTC", "1m", start="2024-10-01")
    assert len(frame) > 1_000_000
    assert frame.index.is_monotonic_increasing


def test_windows_outside_the_demo_market_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"ends at 2026-10-30 \(Friday\)"):
        simulate_ohlcv("DEMO-BTC", "1h", start="2027-01-01")
    with pytest.raises(DataValidationError, match=f"{MAX_BARS:,}"):
        simulate_ohlcv("DEMO-BTC", "1m", start="1990-01-01")
    with pytest.raises(DataValidationError, match="no 1d bars"):
        simulate_ohlcv("DEMO-EQUITY", "1d", start="2026-10-24", end="2026-10-25")  # a weekend
    assert pd.Timestamp("2026-10-31", tz="UTC") == ANCHOR_END
