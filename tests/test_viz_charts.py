"""The price chart: exact candle aggregation, bounded payloads, overlays, levels and range selector."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.features.overlays import Overlay
from pinelab_core.viz import build_price_chart
from pinelab_core.viz.downsample import aggregate_candles, bars_per_candle, minmax_indices
from tests.conftest import random_walk_ohlcv


@pytest.mark.parametrize(("n", "bars_each"), [(1, 3), (10, 3), (1_000, 7), (1_001, 10), (999, 999), (50, 1)])
def test_aggregated_candles_are_an_exact_ohlc_resample(n: int, bars_each: int) -> None:
    ohlcv = random_walk_ohlcv(n, seed=n)
    merged = aggregate_candles(ohlcv, bars_each)
    bucket = np.arange(n) // bars_each
    groups = ohlcv.groupby(bucket)
    assert len(merged) == -(-n // bars_each)
    np.testing.assert_array_equal(merged["open"].to_numpy(), groups["open"].first().to_numpy())
    np.testing.assert_array_equal(merged["high"].to_numpy(), groups["high"].max().to_numpy())
    np.testing.assert_array_equal(merged["low"].to_numpy(), groups["low"].min().to_numpy())
    np.testing.assert_array_equal(merged["close"].to_numpy(), groups["close"].last().to_numpy())
    np.testing.assert_allclose(merged["volume"].to_numpy(), groups["volume"].sum().to_numpy())
    assert merged.index.equals(ohlcv.index[::bars_each])  # stamped with each run's first bar


def test_bars_per_candle_bounds_the_candle_count() -> None:
    assert bars_per_candle(100, 3_000) == 1
    assert bars_per_candle(1_000_000, 3_000) == 334
    assert -(-1_000_000 // bars_per_candle(1_000_000, 3_000)) <= 3_000
    with pytest.raises(DataValidationError):
        bars_per_candle(10, 0)


def test_minmax_decimation_keeps_every_bucket_extreme_and_gaps() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=1_005)
    values[:30] = np.nan  # an indicator warming up
    keep = minmax_indices(values, 10)
    assert np.all(np.diff(keep) > 0) and len(keep) <= 2 * 101
    for start in range(30, 1_005, 10):
        bucket = values[start : start + 10]
        kept = values[keep[(keep >= start) & (keep < start + 10)]]
        assert np.nanmax(bucket) in kept and np.nanmin(bucket) in kept
    assert np.isnan(values[keep[0]])  # the warm-up stays a gap instead of vanishing
    np.testing.assert_array_equal(minmax_indices(values[:5], 1), np.arange(5))


def _payload(chart_figure) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(chart_figure.to_json())


def _trace_length(trace: dict) -> int:
    x = trace.get("x", [])
    return len(x) if isinstance(x, list) else 0


def test_short_history_is_drawn_in_full_detail() -> None:
    ohlcv = random_walk_ohlcv(500, seed=1, freq="1D")
    chart = build_price_chart(ohlcv, [Overlay("sma", 20)])
    assert not chart.is_downsampled and chart.downsample_note == ""
    candles = chart.figure.data[0]
    assert candles.type == "candlestick" and len(candles.x) == 500
    np.testing.assert_array_equal(np.asarray(candles.high), ohlcv["high"].to_numpy())
    assert chart.figure.data[1].type == "bar"  # the volume panel
    assert candles.xaxis == "x" and chart.figure.data[1].xaxis == "x2"
    assert chart.figure.layout.xaxis2.matches == "x" or chart.figure.layout.xaxis.matches == "x2"


def test_long_history_ships_a_bounded_payload_with_exact_extremes() -> None:
    ohlcv = random_walk_ohlcv(200_000, seed=2, freq="1min")
    overlays = [Overlay("sma", 50), Overlay("ema", 20), Overlay("bollinger", 20), Overlay("vwap")]
    chart = build_price_chart(ohlcv, overlays, max_candles=1_000)
    assert chart.is_downsampled and chart.candles_shown <= 1_000 and chart.bars_total == 200_000
    assert "aggregated from 200,000 bars" in chart.downsample_note
    payload = _payload(chart.figure)
    assert max(_trace_length(trace) for trace in payload["data"]) <= 2 * 1_000
    assert len(chart.figure.to_json()) < 1_500_000  # a full candlestick figure of these bars is ~40 MB
    candles = chart.figure.data[0]
    assert max(candles.high) == ohlcv["high"].max() and min(candles.low) == ohlcv["low"].min()
    assert sum(chart.figure.data[1].y) == pytest.approx(ohlcv["volume"].sum())


def test_overlays_levels_and_range_selector_are_drawn() -> None:
    ohlcv = random_walk_ohlcv(2_000, seed=3, freq="1h")
    chart = build_price_chart(ohlcv, [Overlay("sma", 50), Overlay("bollinger", 20)], title="DEMO · 1h")
    names = [trace.name for trace in chart.figure.data]
    assert "SMA 50" in names and "BB 20 2" in names and "BB 20 2 upper" in names and "BB 20 2 lower" in names
    assert chart.levels and ({"Support", "Resistance"} & set(names))
    labels = [button.label for button in chart.figure.layout.xaxis.rangeselector.buttons]
    assert labels == ["1W", "1M", "3M", "1Y", "All"]
    assert chart.figure.layout.xaxis.rangeslider.visible is False
    assert chart.figure.layout.title.text == "DEMO · 1h"
    daily = build_price_chart(random_walk_ohlcv(400, seed=3, freq="1D"), show_levels=False)
    assert [b.label for b in daily.figure.layout.xaxis.rangeselector.buttons] == ["1M", "6M", "YTD", "1Y", "5Y", "All"]
    assert daily.levels == () and len(daily.figure.data) == 2


def test_times_are_sent_as_short_utc_text() -> None:
    hourly = build_price_chart(random_walk_ohlcv(50, seed=4, freq="1h"), show_levels=False)
    assert hourly.figure.data[0].x[1] == "2022-01-03 01:00"
    daily = build_price_chart(random_walk_ohlcv(50, seed=4, freq="1D"), show_levels=False)
    assert daily.figure.data[0].x[0] == "2022-01-03"
    assert "+00:00" not in daily.figure.to_json()


def test_chart_input_is_validated() -> None:
    with pytest.raises(DataValidationError, match="No bars"):
        build_price_chart(random_walk_ohlcv(10).iloc[:0])
    with pytest.raises(DataValidationError, match="missing"):
        build_price_chart(pd.DataFrame({"close": [1.0]}))


def test_weekend_gaps_are_hidden_only_for_markets_closed_on_weekends() -> None:
    weekdays = random_walk_ohlcv(300, seed=5, freq="1D")
    weekdays = weekdays[weekdays.index.day_of_week < 5]
    closed = build_price_chart(weekdays, show_levels=False).figure.layout.xaxis.rangebreaks
    assert [tuple(rb.bounds) for rb in closed] == [("sat", "mon")]
    always_open = build_price_chart(random_walk_ohlcv(300, seed=5, freq="1h"), show_levels=False)
    assert not always_open.figure.layout.xaxis.rangebreaks
