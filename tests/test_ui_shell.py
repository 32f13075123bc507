"""The shared UI layer without a browser: page discovery, selection defaults, uploads, errors, provenance."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pinelab_core.config import Settings
from pinelab_core.errors import DataFetchError, DataValidationError, PinelabError
from pinelab_core.types import Timeframe
from pinelab_core.ui import page_title, provenance_note, save_upload, what_to_do
from pinelab_core.ui.navigation import DEFAULT_ICON, PAGE_ICONS, page_specs
from pinelab_core.ui.selection import (
    EXCHANGE_KEY,
    FILE_KEY,
    SOURCE_KEY,
    SYMBOL_KEY,
    TIMEFRAME_KEY,
    _date_bounds,
    default_state,
)
from tests.conftest import random_walk_ohlcv


def test_page_titles_come_from_the_file_name() -> None:
    assert page_title(Path("app_pages/1_Charts.py")) == "Charts"
    assert page_title(Path("app_pages/12_Model_Registry.py")) == "Model Registry"
    assert page_title(Path("app_pages/Notes.py")) == "Notes"


def test_pages_are_ordered_by_their_number_not_alphabetically(tmp_path: Path) -> None:
    for name in ("10_Signals.py", "2_Features.py", "1_Charts.py", "3_My_Page.py", "_helpers.py"):
        (tmp_path / name).write_text("import streamlit as st\n")
    pages = page_specs(tmp_path)
    assert [page.title for page in pages] == ["Charts", "Features", "My Page", "Signals"]
    assert pages[0].icon == PAGE_ICONS["Charts"] and pages[2].icon == DEFAULT_ICON
    assert pages[0].default and not pages[1].default
    assert pages[2].url_path == "my-page"


def test_default_selection_follows_the_default_source_setting() -> None:
    demo = default_state(Settings())
    assert (demo[SOURCE_KEY], demo[SYMBOL_KEY], demo[TIMEFRAME_KEY]) == ("demo", "DEMO-EQUITY", Timeframe.D1.value)
    kraken = default_state(Settings(default_source="ccxt:kraken"))
    assert (kraken[SOURCE_KEY], kraken[EXCHANGE_KEY], kraken[SYMBOL_KEY]) == ("ccxt", "kraken", "BTC/USDT")
    upload = default_state(Settings(default_source="file:/tmp/x.csv"))
    assert (upload[SOURCE_KEY], upload[FILE_KEY]) == ("file", "/tmp/x.csv")
    assert default_state(Settings(default_source="nonsense"))[SOURCE_KEY] == "demo"


def test_date_range_bounds_include_the_whole_last_day() -> None:
    assert _date_bounds(()) == (None, None)
    start, end = _date_bounds((date(2024, 1, 2), date(2024, 1, 5)))
    assert start == pd.Timestamp("2024-01-02", tz="UTC")
    assert end == pd.Timestamp("2024-01-05 23:59:59", tz="UTC")
    assert _date_bounds((date(2024, 1, 2),)) == (pd.Timestamp("2024-01-02", tz="UTC"), None)


def test_uploads_are_saved_under_the_data_dir_with_a_safe_name(settings: Settings) -> None:
    path = save_upload("../../etc/my prices (1).csv", b"a,b\n", settings)
    assert path.parent == settings.data_dir / "uploads"
    assert path.name == "my_prices_1_.csv" and path.read_bytes() == b"a,b\n"
    assert save_upload("..hidden", b"x", settings).name == "hidden"


def test_errors_carry_their_advice() -> None:
    assert what_to_do(DataValidationError("bad file")) == "Fix the input."
    assert what_to_do(DataFetchError("down")).startswith("Retry later")
    assert what_to_do(PinelabError("generic")) == ""


def test_provenance_notes_for_simulated_cached_and_live_data() -> None:
    frame = random_walk_ohlcv(5)
    assert provenance_note(frame) is None
    frame.attrs["provenance"] = {"simulated": True, "note": "Simulated market data (offline demo)."}
    assert provenance_note(frame) == ("info", "Simulated market data (offline demo).")
    frame.attrs["provenance"] = {"simulated": False, "from_cache": True, "note": "Cached data from 2024-05-01."}
    assert provenance_note(frame) == ("warning", "Cached data from 2024-05-01.")
    frame.attrs["provenance"] = {"simulated": False, "from_cache": False, "note": ""}
    assert provenance_note(frame) is None


@pytest.mark.parametrize("source", ["demo", "yahoo", "ccxt", "file"])
def test_the_sidebar_offers_every_registered_source(source: str) -> None:
    from pinelab_core.ui.sidebar import _source_kinds

    assert source in _source_kinds() and "auto" not in _source_kinds()


def test_cached_settings_and_engine_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        import streamlit as st
        from sqlalchemy import inspect

        from pinelab_core.ui import app_engine, app_settings

        st.write(str(app_settings().data_dir))
        st.write(", ".join(sorted(inspect(app_engine()).get_table_names())))

    monkeypatch.setenv("PINELAB_DATA_DIR", str(tmp_path / "desk_a"))
    first = AppTest.from_function(page, default_timeout=60).run()
    assert not first.exception
    assert first.markdown[0].value == str(tmp_path / "desk_a")
    assert "price_bar" in first.markdown[1].value
    assert (tmp_path / "desk_a" / "pinelab.db").is_file()
    monkeypatch.setenv("PINELAB_DATA_DIR", str(tmp_path / "desk_b"))
    second = AppTest.from_function(page, default_timeout=60).run()
    assert second.markdown[0].value == str(tmp_path / "desk_b")


def test_no_legacy_pages_folder_beside_the_entry_script() -> None:
    """A `pages/` folder turns on Streamlit's legacy multipage mode for the whole server process: a first
    request for `/Predictions` then runs that page without app.py, and every page loses the app shell
    (navigation shows an extra "app" entry, no market sidebar, narrow layout) until the server restarts.
    The browser tests load that URL on a fresh server; this guard names the cause."""
    root = Path(__file__).resolve().parents[1]
    assert (root / "app_pages").is_dir()
    assert not (root / "pages").exists(), "rename pages/ (Streamlit's legacy multipage folder) to app_pages/"
