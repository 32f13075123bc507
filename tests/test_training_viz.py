"""Training figures draw what the report holds (counts, curves, folds), in the shared theme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.training.walk_forward import walk_forward
from pinelab_core.viz.training import (
    calibration_figure,
    confusion_figure,
    equity_comparison_figure,
    equity_figure,
    fold_scores_figure,
    importance_comparison_figure,
    importance_figure,
    loss_curve_figure,
)
from tests.training_helpers import LogisticModel, planted_market


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    ohlcv, features = planted_market(600, seed=8)
    return walk_forward(ohlcv, LogisticModel, horizon=1, features=features)


def test_confusion_matrix_counts_every_oos_row(report) -> None:  # type: ignore[no-untyped-def]
    heatmap = confusion_figure(report.oos).data[0]
    shares = np.asarray(heatmap.z)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    counts = [int(cell.split("<br>")[0]) for row in heatmap.text for cell in row]
    assert sum(counts) == len(report.oos)


def test_fold_calibration_importance_and_equity_figures(report) -> None:  # type: ignore[no-untyped-def]
    folds = fold_scores_figure(report.folds)
    assert [trace.name for trace in folds.data] == ["train", "val", "test"]
    assert len(folds.data[2].y) == len(report.folds)
    calibration = calibration_figure(report.oos)
    assert [trace.name for trace in calibration.data] == ["perfectly calibrated", "DOWN", "SIDEWAYS", "UP"]
    importance = importance_figure(report.feature_importance, top=2)
    assert len(importance.data[0].y) == 2 and importance.data[0].y[-1] == "signal"  # biggest bar on top
    equity = equity_figure(report.equity)
    assert [trace.name for trace in equity.data] == ["implied strategy", "buy-and-hold", "strategy drawdown"]
    assert equity.data[0].y[-1] == pytest.approx(report.equity["strategy"].iloc[-1])
    assert importance_figure(None).layout.annotations  # says why there is nothing to show


def test_loss_curves_split_runs_and_folds() -> None:
    points = pd.DataFrame({
        "fold": [1, 1, 2, 2, 1],
        "step": [1, 2, 1, 2, 1],
        "train_loss": [1.0, 0.9, 1.0, 0.8, 1.1],
        "val_loss": [1.05, 1.0, 1.1, 1.0, np.nan],
        "stage": ["A lightgbm: fold 1 of 2"] * 4 + ["B cnn: fold 1 of 2"],
    })
    figure = loss_curve_figure(points)
    names = [(trace.name, trace.line.dash, trace.showlegend is not False) for trace in figure.data]
    # one legend entry per fold (its validation line is toggled with it): a 5-fold run's legend stays short
    assert names == [("A lightgbm fold 1", None, True), ("A lightgbm fold 1", "dash", False),
                     ("A lightgbm fold 2", None, True), ("A lightgbm fold 2", "dash", False),
                     ("B cnn fold 1", None, True)]
    assert loss_curve_figure(points.iloc[:0]).layout.annotations


def test_comparison_figures(report) -> None:  # type: ignore[no-untyped-def]
    curves = {"a@v1": report.equity["strategy"], "b@v2": report.equity["buy_and_hold"]}
    assert [t.name for t in equity_comparison_figure(curves).data] == ["a@v1", "b@v2"]
    bars = importance_comparison_figure({"a@v1": report.feature_importance,
                                         "b@v2": pd.Series({"signal": 0.2, "other": 0.8})}, top=2)
    assert [t.name for t in bars.data] == ["a@v1", "b@v2"] and len(bars.data[0].x) == 2
