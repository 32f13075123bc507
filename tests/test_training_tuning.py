"""Nested walk-forward tuning: choices come from the history before the first test fold, never from test folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pinelab_core.errors import ConfigError
from pinelab_core.training.tuning import tune
from tests.training_helpers import LogisticModel, planted_market

SPACE = {"C": [1e-5, 1e-3, 1.0]}


def test_tuning_picks_by_inner_score_and_reports_the_outer_run() -> None:
    ohlcv, features = planted_market(900, seed=3)
    result = tune(ohlcv, LogisticModel, SPACE, n_trials=3, horizon=1, features=features)
    assert len(result.trials) == 3 and set(result.trials["C"]) == set(SPACE["C"])
    assert result.best_params == {"C": result.trials.loc[result.trials["score"].idxmax(), "C"]}
    assert result.best_params["C"] != 1e-5  # heavy shrinkage hides the planted signal
    assert result.tuning_end < result.report.oos.index[0]
    assert result.report.model is not None and result.report.model.params == result.best_params
    assert result.report.options["tuning"]["best_params"] == result.best_params


def test_tuning_never_reads_past_the_first_test_fold() -> None:
    ohlcv, features = planted_market(900, seed=4)
    first = tune(ohlcv, LogisticModel, SPACE, n_trials=3, horizon=1, features=features)
    cut = ohlcv.index.get_loc(first.tuning_end) + 1
    # scramble everything from the first test bar on: the trial scores must not move
    rng = np.random.default_rng(0)
    scrambled = features.copy()
    scrambled.iloc[cut:] = rng.normal(size=(len(features) - cut, features.shape[1]))
    shocked = ohlcv.copy()
    shocked.iloc[cut:, :4] *= 3.0
    second = tune(shocked, LogisticModel, SPACE, n_trials=3, horizon=1, features=scrambled)
    pd.testing.assert_frame_equal(first.trials, second.trials)


def test_loss_metrics_are_minimised_and_bad_spaces_refused() -> None:
    ohlcv, features = planted_market(700, seed=5)
    result = tune(ohlcv, LogisticModel, SPACE, n_trials=3, horizon=1, features=features, metric="log_loss")
    assert result.best_params == {"C": result.trials.loc[result.trials["score"].idxmin(), "C"]}
    with pytest.raises(ConfigError, match="No search space"):
        tune(ohlcv, LogisticModel, None, features=features)
    with pytest.raises(ConfigError, match="at least 1"):
        tune(ohlcv, LogisticModel, SPACE, n_trials=0, features=features)


def test_cli_tune_option_records_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from pinelab_core.cli import main
    from pinelab_core.config import Settings
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import get_version

    args = ["train", "--source", "demo", "--symbol", "DEMO-EQUITY", "--start", "2023-06-01", "--models",
            "random_forest", "--groups", "momentum", "--param", "n_estimators=10", "--tune", "2", "--json"]
    assert main(args) == 0
    (trained,) = json.loads(capsys.readouterr().out)
    info = get_version(Settings.from_env(), trained["name"], trained["version"])
    tuning = ModelManifest.read(info.path).options["tuning"]
    assert tuning["n_trials"] == 2 and set(tuning["best_params"]) <= {"max_depth", "min_samples_leaf", "max_features"}
