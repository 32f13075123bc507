"""`pinelab features`: build and save, the catalog, the audit, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pinelab_core.cli import main
from pinelab_core.features import feature_catalog


def test_builds_saves_and_reports_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "features.parquet"
    code = main(["features", "--source", "demo", "--symbol", "DEMO-EQUITY", "--groups", "trend,momentum",
                 "--start", "2023-01-01", "--out", str(out), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    expected = list(feature_catalog("trend,momentum")["name"])
    assert payload["features"] == expected and payload["columns"] == len(expected)
    saved = pd.read_parquet(out)
    assert list(saved.columns) == expected and len(saved) == payload["rows"] > 200


def test_csv_output_and_human_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.csv"
    assert main(["features", "--symbol", "DEMO-EQUITY", "--groups", "regime", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 features x" in text and str(out) in text
    assert pd.read_csv(out, index_col="time").shape[1] == 4


def test_catalog_needs_no_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--catalog", "--groups", "patterns", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} >= {"cdl_doji", "cdl_engulfing", "cdl_morning_star"}
    assert set(rows[0]) == {"name", "group", "parameters", "lookback", "history", "start_dependent", "scale_free",
                            "description"}
    assert all(row["scale_free"] is True and row["start_dependent"] is False for row in rows)


def test_audit_passes_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["features", "--symbol", "DEMO-EQUITY", "--groups", "volatility", "--audit", "--cuts", "3", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["failed"] == [] and payload["passed"] == payload["features"]


def test_bad_group_and_bad_output_fail_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "--groups", "trnd"]) == 2
    assert "did you mean 'trend'" in capsys.readouterr().err
    assert main(["features", "--out", str(tmp_path / "f.xlsx")]) == 2
    assert ".parquet or .csv" in capsys.readouterr().err
