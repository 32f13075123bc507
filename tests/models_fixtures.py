"""Small seeded problems shared by the models tests (not a test module itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FAST_PARAMS: dict[str, dict[str, object]] = {
    "lightgbm": {"n_estimators": 60, "num_threads": 1},
    "xgboost": {"n_estimators": 60, "num_threads": 1},
    "random_forest": {"n_estimators": 30, "n_jobs": 1},
    "lstm": {"epochs": 4, "window": 8, "hidden": 16, "heads": 2, "batch_size": 32, "learning_rate": 1e-2,
             "num_threads": 1},
    "cnn": {"epochs": 4, "window": 8, "channels": 8, "layers": 2, "batch_size": 32, "learning_rate": 1e-2,
            "num_threads": 1},
}


def separable_problem(n: int = 480, n_features: int = 6, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features on an hourly index; the class is the tercile of feature f0 (plus a little noise)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, n_features))
    index = pd.date_range("2023-01-02", periods=n, freq="h", tz="UTC", name="time")
    X = pd.DataFrame(values, index=index, columns=[f"f{i}" for i in range(n_features)])
    score = values[:, 0] + 0.2 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.int64)
    return X, y
