"""load_ohlcv and the source registry: source strings, date windows, provenance, public exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pinelab_core
from pinelab_core.config import Settings
from pinelab_core.data import list_sources, load_ohlcv, make_source
from pinelab_core.data.network import CcxtSource, YahooSource
from pinelab_core.data.sources import DataSource, DemoSource, FileSource
from pinelab_core.errors import DataValidationError
from tests.conftest import random_walk_ohlcv

FIXTURES = Path(__file__).parent / "fixtures"


def test_demo_load_carries_provenance(settings: Settings) -> None:
    frame = load_ohlcv("DEMO-BTC", "1h", start="2026-10-01", end="2026-10-02", source="demo", settings=settings)
    assert frame.index[0] == pd.Timestamp("2026-10-01", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2026-10-02 23:00", tz="UTC")  # a bare end date is a whole day
    provenance = frame.attrs["provenance"]
    assert provenance == {
        "source": "demo", "symbol": "DEMO-BTC", "timeframe": "1h", "simulated": True, "from_cache": False,
        "cached_at": None, "note": provenance["note"],
    }
    assert provenance["note"].startswith("Simulated market data (offline demo)")


def test_public_api_is_exported_from_the_package() -> None:
    for name in ("load_ohlcv", "read_ohlcv_file", "list_sources", "resample_ohlcv", "validate_ohlcv"):
        assert name in pinelab_core.__all__ and callable(getattr(pinelab_core, name))
    frame = pinelab_core.load_ohlcv("DEMO-EQUITY")
    assert len(frame) > 2_500 and frame.attrs["provenance"]["source"] == "demo"


def test_source_strings_build_the_right_sources(settings: Settings) -> None:
    assert isinstance(make_source("demo", "X", settings), DemoSource)
    assert isinstance(make_source("yahoo", "AAPL", settings), YahooSource)
    ccxt_source = make_source("ccxt:Binance", "BTC/USDT", settings)
    assert isinstance(ccxt_source, CcxtSource) and ccxt_source.name == "ccxt:binance"
    file_source = make_source(f"file:{FIXTURES / 'stooq_spx_d.csv'}", "SPX", settings)
    assert isinstance(file_source, FileSource) and isinstance(file_source, DataSource)


def test_auto_uses_the_file_or_the_default_source(settings: Settings) -> None:
    path = str(FIXTURES / "yahoo_aapl_1d.csv")
    assert isinstance(make_source("auto", path, settings), FileSource)
    assert isinstance(make_source("auto", "AAPL", settings), DemoSource)
    assert isinstance(make_source("auto", "AAPL", settings.with_overrides(default_source="yahoo")), YahooSource)
    frame = load_ohlcv(path, settings=settings)
    assert len(frame) == 10 and frame.attrs["provenance"] | {"note": ""} == frame.attrs["provenance"]


def test_unknown_source_lists_the_valid_ones(settings: Settings) -> None:
    with pytest.raises(DataValidationError, match=r"Unknown data source 'demoo'. Did you mean 'demo'\? Valid sources: "
                                                  r"demo, yahoo, ccxt:<exchange>, file:<path>, auto"):
        make_source("demoo", "X", settings)
    with pytest.raises(DataValidationError, match="needs a path"):
        make_source("file:", "not-a-file", settings)


def test_list_sources_describes_each(settings: Settings) -> None:
    names = [info.name for info in list_sources()]
    assert names == ["demo", "yahoo", "ccxt:<exchange>", "file:<path>", "auto"]
    assert all(info.description and info.example for info in list_sources())


def test_file_source_resamples_to_coarser_and_refuses_finer(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "hourly.csv"
    random_walk_ohlcv(96).to_csv(path)
    daily = load_ohlcv("BTC", "1d", source=f"file:{path}", settings=settings)
    assert len(daily) == 4 and daily.attrs["provenance"]["simulated"] is False
    with pytest.raises(DataValidationError, match="coarser than the 15m asked for"):
        load_ohlcv("BTC", "15m", source=f"file:{path}", settings=settings)


def test_bad_windows_are_refused(settings: Settings) -> None:
    with pytest.raises(DataValidationError, match="is after end"):
        load_ohlcv("DEMO-BTC", "1h", start="2026-02-01", end="2026-01-01", source="demo", settings=settings)
    with pytest.raises(DataValidationError, match="start 'yesterday-ish' is not a date"):
        load_ohlcv("DEMO-BTC", "1h", start="yesterday-ish", source="demo", settings=settings)
    with pytest.raises(DataValidationError, match="Unknown timeframe '7h'"):
        load_ohlcv("DEMO-BTC", "7h", source="demo", settings=settings)
    with pytest.raises(DataValidationError, match="no 1h bars"):
        load_ohlcv(str(FIXTURES / "tradingview_btcusd_15m.csv"), "1h", start="2030-01-01", settings=settings)


def test_timestamps_with_zones_are_taken_as_instants(settings: Settings) -> None:
    start = pd.Timestamp("2026-10-01 02:00", tz="Europe/Berlin")  # 00:00 UTC
    frame = load_ohlcv("DEMO-BTC", "1h", start=start, end="2026-10-01", source="demo", settings=settings)
    assert frame.index[0] == pd.Timestamp("2026-10-01", tz="UTC") and len(frame) == 24
