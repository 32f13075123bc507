"""`pinelab sources` and `pinelab fetch` through cli.main: JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pinelab_core.cli import main
from pinelab_core.data import load_ohlcv, read_ohlcv_file

FIXTURES = Path(__file__).parent / "fixtures"


def test_sources_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "--json"]) == 0
    names = [entry["name"] for entry in json.loads(capsys.readouterr().out)]
    assert names[:2] == ["demo", "yahoo"] and "ccxt:<exchange>" in names


def test_sources_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources"]) == 0
    assert "Seeded offline market simulator" in capsys.readouterr().out


def test_fetch_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fetch", "--source", "demo", "--symbol", "DEMO-BTC", "--timeframe", "4h",
                 "--start", "2026-10-01", "--end", "2026-10-10", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"] == 60 and payload["out"] is None
    assert pd.Timestamp(payload["first"]) == pd.Timestamp("2026-10-01", tz="UTC")
    assert pd.Timestamp(payload["last"]) == pd.Timestamp("2026-10-10 20:00", tz="UTC")
    assert payload["provenance"]["simulated"] is True and payload["provenance"]["timeframe"] == "4h"


def test_fetch_uses_the_default_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--symbol", "DEMO-EQUITY"]) == 0
    out = capsys.readouterr().out
    assert "1d bars of DEMO-EQUITY from demo" in out and "Simulated market data" in out


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_fetch_writes_a_file_that_reads_back(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / f"fx{suffix}"
    assert main(["fetch", "--source", "demo", "--symbol", "DEMO-FX", "--timeframe", "15m",
                 "--start", "2026-10-26", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(out)
    original = load_ohlcv("DEMO-FX", "15m", start="2026-10-26", source="demo")
    pd.testing.assert_frame_equal(read_ohlcv_file(out), original, check_freq=False, check_exact=False, rtol=1e-12)


def test_broken_csv_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "broken_high_below_low.csv"
    assert main(["fetch", "--source", f"file:{path}", "--symbol", "X"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pinelab fetch: error: broken_high_below_low.csv: high is below low")
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "demoo"], "Did you mean 'demo'"),
    (["--source", "demo", "--out", "bars.xlsx"], "must end in .parquet or .csv"),
    (["--source", "demo", "--timeframe", "2h"], "Unknown timeframe '2h'"),
    (["--source", "ccxt:nosuchexchange"], "ccxt does not know the exchange"),
])
def test_bad_arguments_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--symbol", "X", *args]) == 2
    assert message in capsys.readouterr().err
