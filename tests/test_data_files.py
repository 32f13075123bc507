"""read_ohlcv_file: real-world exports load; broken files get a message naming the problem and the line."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.data import read_ohlcv_file
from pinelab_core.errors import DataValidationError
from tests.conftest import random_walk_ohlcv

FIXTURES = Path(__file__).parent / "fixtures"


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _assert_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert (frame.dtypes == np.float64).all()
    assert str(frame.index.tz) == "UTC" and frame.index.name == "time"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


@pytest.mark.parametrize(
    ("name", "rows", "first", "first_close", "volume"),
    [
        ("yahoo_aapl_1d.csv", 10, "2024-01-02", 185.639999, 82488700.0),  # Close, not Adj Close
        ("ccxt_binance_btcusdt_1h.csv", 8, "2024-01-01 00:00", 42475.23, 1271.68108),  # epoch ms
        ("binance_kline_raw_btcusdt_1h.csv", 4, "2024-01-01 00:00", 42475.23, 1271.68108),  # no header
        ("tradingview_btcusd_15m.csv", 6, "2024-01-01 00:00", 42330.5, 112.45),  # epoch s + extra column
        ("metatrader5_eurusd_h1.csv", 5, "2024-01-02 00:00", 1.10420, 1214.0),  # tabs, <TICKVOL> for zero <VOL>
        ("metatrader4_eurusd_h1.csv", 4, "2024-01-02 00:00", 1.10420, 1214.0),  # no header, date + clock
        ("stooq_spx_d.csv", 4, "2024-01-02", 4742.83, 2748450000.0),
        ("stooq_bulk_aapl_us_5m.txt", 3, "2024-01-02 15:35", 186.7, 2917846.0),  # 20240102 + 153500
        ("semicolon_decimal_comma_daily.csv", 3, "2024-01-02", 16769.4, 81234500.0),  # 02.01.2024, 16.769,4
        ("pandas_unnamed_index_4h.csv", 3, "2024-01-01 00:00", 2295.4, 10512.3),
    ],
)
def test_real_world_exports_load(name: str, rows: int, first: str, first_close: float, volume: float) -> None:
    frame = read_ohlcv_file(FIXTURES / name)
    _assert_contract(frame)
    assert len(frame) == rows
    assert frame.index[0] == _utc(first)
    assert frame["close"].iloc[0] == pytest.approx(first_close)
    assert frame["volume"].iloc[0] == pytest.approx(volume)


def test_intraday_exports_keep_their_spacing() -> None:
    tradingview = read_ohlcv_file(FIXTURES / "tradingview_btcusd_15m.csv").index
    assert (tradingview[1:] - tradingview[:-1] == pd.Timedelta(minutes=15)).all()
    exchange = read_ohlcv_file(FIXTURES / "ccxt_binance_btcusdt_1h.csv").index
    assert (exchange[1:] - exchange[:-1] == pd.Timedelta(hours=1)).all()


def test_parquet_round_trip_with_a_datetime_index(tmp_path: Path) -> None:
    original = random_walk_ohlcv(300)
    path = tmp_path / "bars.parquet"
    original.to_parquet(path)
    pd.testing.assert_frame_equal(read_ohlcv_file(path), original, check_freq=False)


def test_parquet_with_a_timestamp_column(tmp_path: Path) -> None:
    original = random_walk_ohlcv(50)
    table = original.reset_index().rename(columns={"time": "Timestamp", "close": "Close"})
    table["Timestamp"] = table["Timestamp"].astype("int64") // 10**6  # epoch ms
    table.to_parquet(tmp_path / "bars.pq")
    frame = read_ohlcv_file(tmp_path / "bars.pq")
    pd.testing.assert_index_equal(frame.index, original.index, exact=False, check_freq=False)


def test_an_uploaded_file_object_loads() -> None:
    upload = io.BytesIO((FIXTURES / "yahoo_aapl_1d.csv").read_bytes())
    upload.name = "AAPL.csv"
    assert len(read_ohlcv_file(upload)) == 10


def test_naive_times_are_utc_unless_a_zone_is_given(tmp_path: Path) -> None:
    path = _write(tmp_path, "Datetime,Open,High,Low,Close,Volume\n2024-01-02 09:30,10,11,9,10.5,100\n")
    assert read_ohlcv_file(path).index[0] == _utc("2024-01-02 09:30")
    assert read_ohlcv_file(path, tz="America/New_York").index[0] == _utc("2024-01-02 14:30")


def test_aware_times_are_converted_to_utc(tmp_path: Path) -> None:
    path = _write(tmp_path, "time,open,high,low,close,volume\n2024-01-02T09:30:00-05:00,10,11,9,10.5,1\n"
                            "2024-01-02T09:45:00-05:00,10,11,9,10.5,1\n")
    assert read_ohlcv_file(path, tz="Asia/Tokyo").index[0] == _utc("2024-01-02 14:30")


def test_day_first_and_us_dates(tmp_path: Path) -> None:
    day_first = _write(tmp_path, "Date,Open,High,Low,Close,Volume\n30/01/2024,1,2,1,2,1\n31/01/2024,1,2,1,2,1\n")
    assert read_ohlcv_file(day_first).index[0] == _utc("2024-01-30")
    us = _write(tmp_path, "Date,Open,High,Low,Close,Volume\n01/30/2024,1,2,1,2,1\n", "us.csv")
    assert read_ohlcv_file(us).index[0] == _utc("2024-01-30")


def test_excel_unicode_text_export_loads(tmp_path: Path) -> None:
    text = "Date\tOpen\tHigh\tLow\tClose\tVolume\r\n2024-01-02\t1.5\t2\t1\t1.75\t10\r\n"
    path = tmp_path / "excel.txt"
    path.write_bytes(text.encode("utf-16"))
    assert read_ohlcv_file(path)["close"].tolist() == [1.75]


def test_missing_volume_is_zero_with_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,2,1,2\n")
    with pytest.warns(UserWarning, match="no volume column"):
        frame = read_ohlcv_file(path)
    assert frame["volume"].tolist() == [0.0]


def test_adj_close_is_used_only_without_close(tmp_path: Path) -> None:
    path = _write(tmp_path, "Date,Open,High,Low,Adj Close,Volume\n2024-01-02,10,12,9,11,5\n")
    with pytest.warns(UserWarning, match="Adj Close"):
        assert read_ohlcv_file(path)["close"].iloc[0] == 11.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("Date,Open,High,Low,Close,Volume\n", "no bars"),
        ("Date,Open,High,Close,Volume\n2024-01-02,1,2,1,5\n", r"lacks the column\(s\) low \(found: Date, Open"),
        ("Open,High,Low,Close,Volume\n1,2,1,2,5\n", "no date/time column"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n2024-01-03,1,2,abc,2,5\n",
         r"column 'low' has non-numeric cells at line 3 \(2024-01-03 00:00 UTC: 'abc'\)"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n2024-01-03,1,2,1,,5\n",
         r"'close' has missing \(NaN\).* at line 3 \(2024-01-03"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n2024-01-03,0,2,0.5,1,5\n",
         r"open prices must be positive.* line 3 \(2024-01-03 00:00 UTC: 0.0\)"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,-5\n", "volume is negative at line 2"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\n2024-01-03,1,2,1,2.5,5\n",
         r"high is below open or close at line 3"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1.5,1.2,5\n", "low is above open or close at line 2"),
        ("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,1,2,5\nnot a day,1,2,1,2,5\n",
         r"not dates at line 3 \(.*'not a day'\)"),
    ],
)
def test_broken_files_name_the_problem_and_the_line(tmp_path: Path, text: str, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataValidationError, match=message):
            read_ohlcv_file(_write(tmp_path, text))


def test_high_below_low_fixture_quotes_the_bar() -> None:
    with pytest.raises(DataValidationError, match=r"broken_high_below_low.csv: high is below low at line 3 "
                                                  r"\(2024-01-03 00:00 UTC: O=101 H=99 L=100.5 C=100.8\)"):
        read_ohlcv_file(FIXTURES / "broken_high_below_low.csv")


def test_messages_stop_after_three_offenders(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-{day:02d},1,2,1,2,x\n" for day in range(1, 9))
    with pytest.raises(DataValidationError, match="and 5 more"):
        read_ohlcv_file(_write(tmp_path, "Date,Open,High,Low,Close,Volume\n" + rows))


def test_missing_file_and_unreadable_parquet(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="does not exist"):
        read_ohlcv_file(tmp_path / "nope.csv")
    with pytest.raises(DataValidationError, match="not a readable Parquet file"):
        read_ohlcv_file(_write(tmp_path, "this is not parquet", "bad.parquet"))
    with pytest.raises(DataValidationError, match="not a time zone"):
        read_ohlcv_file(FIXTURES / "stooq_spx_d.csv", tz="Mars/Olympus")


def test_unsorted_and_duplicate_rows_are_fixed_with_counted_warnings(tmp_path: Path) -> None:
    text = ("Date,Open,High,Low,Close,Volume\n2024-01-03,1,2,1,2,3\n2024-01-02,1,2,1,2,2\n"
            "2024-01-04,1,2,1,2,4\n2024-01-04,1,2,1,2,9\n")
    with pytest.warns(UserWarning) as caught:
        frame = read_ohlcv_file(_write(tmp_path, text))
    messages = [str(w.message) for w in caught]
    assert any("1 row(s) were out of time order" in m for m in messages)
    assert any("1 row(s) repeated an earlier timestamp" in m for m in messages)
    assert frame.index.tolist() == [_utc("2024-01-02"), _utc("2024-01-03"), _utc("2024-01-04")]
    assert frame["volume"].tolist() == [2.0, 3.0, 9.0]  # the last row of a repeated time wins
