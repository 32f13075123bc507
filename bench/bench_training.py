"""Walk-forward cost: PineLab's `walk_forward` against a hand loop over scikit-learn's `TimeSeriesSplit`.

Both do the same learning work on the same rows: five expanding folds with the last h training rows purged
(`TimeSeriesSplit(gap=h)` is exactly PineLab's purge), a purged 20 % validation tail for early stopping,
LightGBM with the identical parameter dict and balanced class weights, test-fold predictions, and a final
refit on all rows. PineLab adds what the hand loop skips: labels, train/validation/test scoring per fold,
the majority baseline, the implied strategy against buy-and-hold, importance and progress callbacks.
The ratio is PineLab's time over the hand loop's: the price of the honest report.

    python bench/bench_training.py                        # 20k rows x 50 features, 100 rounds
    python bench/bench_training.py --rows 100000 --features 100
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.utils.class_weight import compute_class_weight

from pinelab_core.models import create_model
from pinelab_core.training import LabelSpec, make_labels, walk_forward

RESULTS = Path(__file__).parent / "results" / "training.md"
HORIZON, FOLDS, VALIDATION = 5, 5, 0.2


def market(rows: int, features: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded random-walk OHLCV frame and a feature frame with a weak lagged signal in its first column."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, features))
    returns = 0.002 * np.concatenate([[0.0], values[:-1, 0]]) + rng.normal(0, 0.01, rows)
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    index = pd.date_range("2010-01-01", periods=rows, freq="h", tz="UTC", name="time")
    ohlcv = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                          "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1e6}, index=index)
    return ohlcv, pd.DataFrame(values, index=index, columns=[f"feature_{i}" for i in range(features)])


def fold_sizes(ohlcv: pd.DataFrame, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Labelled rows, their labels, the first training size and the test size shared by both runs."""
    labels = make_labels(ohlcv, LabelSpec("direction", HORIZON))
    keep = labels.notna().to_numpy() & np.isfinite(X.to_numpy()).all(axis=1)
    data, y = X.to_numpy()[keep], labels.to_numpy()[keep].astype(int)
    test_size = (len(y) - len(y) // 2) // FOLDS
    return data, y, len(y) - FOLDS * test_size, test_size


def hand_loop(ohlcv: pd.DataFrame, X: pd.DataFrame, params: dict[str, Any], rounds: int, stop: int) -> float:
    """The same folds and fits written directly against scikit-learn and LightGBM; returns OOS balanced accuracy."""
    data, y, first_train, test_size = fold_sizes(ohlcv, X)
    n = len(y)
    splitter = TimeSeriesSplit(n_splits=FOLDS, test_size=test_size, gap=HORIZON)
    truth, predicted = [], []
    for train, test in splitter.split(data):
        booster = _fit(data, y, train, int(round(VALIDATION * first_train)), params, rounds, stop)
        truth.append(y[test])
        predicted.append(np.asarray(booster.predict(data[test])).argmax(axis=1))
    _fit(data, y, np.arange(n), int(round(VALIDATION * first_train)), params, rounds, stop)
    return float(balanced_accuracy_score(np.concatenate(truth), np.concatenate(predicted)))


def _fit(data: np.ndarray, y: np.ndarray, train: np.ndarray, val_size: int, params: dict[str, Any], rounds: int,
         stop: int) -> lgb.Booster:
    validation, head = train[-val_size:], train[:-val_size]
    fit = head[head + HORIZON < validation[0]]
    weights = compute_class_weight("balanced", classes=np.arange(3), y=y[fit])
    dtrain = lgb.Dataset(data[fit], label=y[fit], weight=weights[y[fit]], params={"verbosity": -1})
    dval = lgb.Dataset(data[validation], label=y[validation], weight=weights[y[validation]], reference=dtrain)
    return lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=[dval],
                     callbacks=[lgb.early_stopping(stop, verbose=False)])


def paired_best(ours: Callable[[], Any], peer: Callable[[], Any], repeats: int) -> tuple[float, float, Any, Any]:
    """Best wall time of each over alternating runs, so load from other processes hits both alike."""
    best, results = [float("inf"), float("inf")], [None, None]
    for repeat in range(repeats):
        for which in ((0, 1) if repeat % 2 == 0 else (1, 0)):
            started = time.perf_counter()
            results[which] = (ours, peer)[which]()
            best[which] = min(best[which], time.perf_counter() - started)
    return best[0], best[1], results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads for both (1 on a shared machine)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ohlcv, X = market(args.rows, args.features)
    model_params = {"n_estimators": args.rounds, "early_stopping_rounds": 20, "num_threads": args.threads}
    booster_params = create_model("lightgbm", seed=0, **model_params).booster_params()  # type: ignore[attr-defined]
    _, _, train_size, test_size = fold_sizes(ohlcv, X)
    ours_s, peer_s, report, peer_score = paired_best(
        lambda: walk_forward(ohlcv, "lightgbm", HORIZON, features=X, train_size=train_size, test_size=test_size,
                             validation_fraction=VALIDATION, model_params=model_params),
        lambda: hand_loop(ohlcv, X, booster_params, args.rounds, 20),
        args.repeats,
    )
    table = "\n".join([
        f"Walk-forward, {args.rows:,} rows x {args.features} features, {FOLDS} folds + final refit, LightGBM "
        f"{args.rounds} rounds (early stopping 20), {args.threads} thread(s); best of {args.repeats}, "
        f"Python {platform.python_version()}, {platform.machine()}.",
        "",
        "| run | seconds | ratio to hand loop | OOS balanced accuracy |",
        "|---|---:|---:|---:|",
        f"| PineLab `walk_forward` (full report) | {ours_s:.2f} | {ours_s / peer_s:.2f} | "
        f"{report.metrics['balanced_accuracy']:.4f} |",
        f"| hand loop: sklearn `TimeSeriesSplit(gap=h)` + `lightgbm.train` | {peer_s:.2f} | 1.00 | {peer_score:.4f} |",
    ])
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(f"# Training benchmark\n\n{table}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
