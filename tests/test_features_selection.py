"""Ranking finds a planted signal, fits on the head only, and the correlation helpers behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import DataValidationError
from pinelab_core.features import clustered_correlation, drop_correlated, forward_direction_label, rank_features


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.Series]:
    """Noise features plus one ('signal') that decides the label's sign; 'echo' is a near-copy of noise_0."""
    rng = np.random.default_rng(0)
    n = 1_200
    index = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="time")
    features = pd.DataFrame(rng.normal(size=(n, 6)), index=index, columns=[f"noise_{i}" for i in range(6)])
    features["signal"] = rng.normal(size=n)
    features["echo"] = features["noise_0"] + rng.normal(scale=0.01, size=n)
    label = pd.Series(np.where(features["signal"] + 0.3 * rng.normal(size=n) > 0, 1.0, -1.0), index=index)
    return features, label


@pytest.mark.parametrize("method", ["mutual_info", "lightgbm", "permutation"])
def test_each_method_ranks_the_planted_signal_first(planted: tuple[pd.DataFrame, pd.Series], method: str) -> None:
    features, label = planted
    ranking = rank_features(features, label, method=method, seed=0)
    assert list(ranking.columns) == ["feature", "score", "rank"]
    assert ranking["feature"].iloc[0] == "signal"
    assert set(ranking["feature"]) == set(features.columns) and list(ranking["rank"]) == list(range(1, 9))


def test_ranking_is_fitted_on_the_head_only(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    features, label = planted
    leaky = features.copy()
    leaky["future_only"] = 0.0
    leaky.iloc[900:, leaky.columns.get_loc("future_only")] = label.iloc[900:].to_numpy()  # informative only late
    ranking = rank_features(leaky, label, method="mutual_info", train_end=800).set_index("feature")
    assert ranking.loc["future_only", "score"] == 0.0  # constant in the head: nothing learned from the tail
    same_end = rank_features(leaky, label, method="lightgbm", train_end=leaky.index[799])
    assert same_end.set_index("feature").loc["future_only", "score"] == 0.0


def test_ranking_validates_its_windows(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    features, label = planted
    with pytest.raises(DataValidationError, match="Unknown ranking method"):
        rank_features(features, label, method="magic")  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="at least 50"):
        rank_features(features, label, train_end=10)
    with pytest.raises(DataValidationError, match="held-out tail"):
        rank_features(features, label, method="permutation", train_fraction=0.99)


def test_forward_direction_label_looks_forward_and_leaves_the_tail_unknown() -> None:
    close = pd.Series([100.0, 101.0, 100.5, 100.5, 102.0])
    label = forward_direction_label(close, horizon=2)
    assert label.tolist()[:3] == [1.0, -1.0, 1.0] and label.iloc[3:].isna().all()
    assert forward_direction_label(close, horizon=1, threshold=0.001).iloc[2] == 0.0
    with pytest.raises(DataValidationError):
        forward_direction_label(close, horizon=0)


def test_drop_correlated_keeps_the_preferred_of_each_near_duplicate(planted: tuple[pd.DataFrame, pd.Series]) -> None:
    features, _ = planted
    assert "echo" not in drop_correlated(features, threshold=0.95).columns
    kept = drop_correlated(features, threshold=0.95, prefer=pd.Series(["echo"]))  # e.g. a ranking's column
    assert "echo" in kept.columns and "noise_0" not in kept.columns and len(kept.columns) == 7
    with pytest.raises(DataValidationError):
        drop_correlated(features, threshold=0.0)


def test_clustered_correlation_puts_related_features_next_to_each_other(
    planted: tuple[pd.DataFrame, pd.Series],
) -> None:
    features, _ = planted
    features = features.assign(constant=1.0)
    corr = clustered_correlation(features)
    order = list(corr.index)
    assert "constant" not in order and corr.shape == (8, 8)
    assert abs(order.index("echo") - order.index("noise_0")) == 1
    np.testing.assert_allclose(np.diag(corr.to_numpy()), 1.0)
