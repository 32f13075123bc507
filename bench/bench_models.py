"""Model training cost: PineLab's `Model` wrappers against the raw library calls doing the same work.

Gradient boosting: LightGBM and XGBoost fit (with early stopping on a validation set) and predict through
`create_model(...)` versus `lightgbm.train` / `xgboost.train` called directly with the identical parameter
dict (taken from the model's `booster_params()`), the same balanced sample weights and the same data frame.
The wrapper adds input validation, the float32 matrix conversion, progress callbacks and keeping only the
trees up to the best round; the target is at most 10 % overhead.

Torch nets: one epoch of the `lstm` and `cnn` through the shared trainer versus a minimal hand-written
loop over the same net, windows and batches (AdamW, cross-entropy, no early stopping or progress).
The device is whatever `choose_device("auto")` finds; on a CPU-only machine the table says so. Timings are
process CPU seconds on a CPU (robust to other load on a shared machine) and wall seconds on a GPU.

    python bench/bench_models.py                                  # 100k rows x 100 features
    python bench/bench_models.py --rows 20000 --features 50       # a quicker run
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
import torch
import xgboost as xgb
from sklearn.utils.class_weight import compute_class_weight

from pinelab_core.models import create_model
from pinelab_core.models.device import choose_device, cpu_threads, device_summary
from pinelab_core.models.gbdt import BoostedTreesModel

RESULTS = Path(__file__).parent / "results" / "models.md"
# On a CPU, the process's CPU time measures the work itself; wall time on a shared machine measures the
# neighbours too. On a GPU the host mostly waits, so wall time (after a synchronise) is the honest clock.
GPU = torch.cuda.is_available()
CLOCK = time.perf_counter if GPU else time.process_time
CLOCK_NAME = "wall s" if GPU else "CPU s"


def synthetic_features(rows: int, features: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A seeded feature frame with a weak, learnable 3-class signal (not market data; the shape of it)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, features))
    score = values[:, :5] @ np.array([0.6, -0.4, 0.3, 0.2, -0.2]) + rng.normal(size=rows)
    y = np.digitize(score, np.quantile(score, [0.3, 0.7])).astype(np.int64)
    index = pd.date_range("2015-01-01", periods=rows, freq="h", tz="UTC", name="time")
    return pd.DataFrame(values, index=index, columns=[f"feature_{i}" for i in range(features)]), y


def paired_best(ours: Callable[[], Any], peer: Callable[[], Any], repeats: int, *, warm_up: bool = False
                ) -> tuple[float, float]:
    """Best wall time of each over `repeats` alternating runs, so load from other processes hits both alike."""
    if warm_up:  # first-call kernel and allocator setup is nobody's per-epoch cost
        ours()
        peer()
    best = [float("inf"), float("inf")]
    for repeat in range(repeats):
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for which in order:
            started = CLOCK()
            (ours, peer)[which]()
            best[which] = min(best[which], CLOCK() - started)
    return best[0], best[1]


def raw_lightgbm(params: dict[str, Any], rounds: int, stop: int, train: tuple, valid: tuple) -> np.ndarray:
    (X, y), (X_val, y_val) = train, valid
    class_weight = compute_class_weight("balanced", classes=np.arange(3), y=y)
    dtrain = lgb.Dataset(X, label=y, weight=class_weight[y], params={"verbosity": -1})
    dvalid = lgb.Dataset(X_val, label=y_val, weight=class_weight[y_val], reference=dtrain)
    booster = lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=[dtrain, dvalid],
                        valid_names=["train", "validation"], callbacks=[lgb.early_stopping(stop, verbose=False)])
    return booster.predict(X_val, num_iteration=booster.best_iteration)


def raw_xgboost(params: dict[str, Any], rounds: int, stop: int, train: tuple, valid: tuple) -> np.ndarray:
    (X, y), (X_val, y_val) = train, valid
    class_weight = compute_class_weight("balanced", classes=np.arange(3), y=y)
    dtrain = xgb.QuantileDMatrix(X, label=y, weight=class_weight[y], nthread=params["nthread"])
    dvalid = xgb.QuantileDMatrix(X_val, label=y_val, weight=class_weight[y_val], ref=dtrain)
    booster = xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dtrain, "train"), (dvalid, "validation")],
                        early_stopping_rounds=stop, verbose_eval=False)
    return booster.inplace_predict(X_val, iteration_range=(0, booster.best_iteration + 1))


def bench_boosting(X: pd.DataFrame, y: np.ndarray, rounds: int, repeats: int, threads: int) -> list[dict[str, Any]]:
    split = int(len(X) * 0.8)
    train, valid = (X.iloc[:split], y[:split]), (X.iloc[split:], y[split:])
    rows = []
    for kind, raw in (("lightgbm", raw_lightgbm), ("xgboost", raw_xgboost)):
        options = {"n_estimators": rounds, "early_stopping_rounds": 20, "learning_rate": 0.1, "num_threads": threads}

        def ours(kind: str = kind, options: dict[str, Any] = options) -> np.ndarray:
            model = create_model(kind, seed=0, **options)
            model.fit(*train, validation=valid)
            return model.predict_proba(valid[0])

        template = create_model(kind, seed=0, **options)
        assert isinstance(template, BoostedTreesModel)
        params = template.booster_params()  # type: ignore[attr-defined]
        agreement = float(np.abs(ours() - raw(params, rounds, 20, train, valid)).max())
        pinelab, peer = paired_best(ours, lambda raw=raw, params=params: raw(params, rounds, 20, train, valid), repeats)
        rows.append({"what": f"{kind} fit + predict ({params.get('device', 'cpu')})", "pinelab_s": pinelab,
                     "peer": f"{kind}.train", "peer_s": peer, "note": f"max abs prob. diff {agreement:.1e}"})
    return rows


def raw_epoch(net: torch.nn.Module, windows: np.ndarray, y: np.ndarray, batch: int, device: torch.device) -> None:
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    order = np.random.default_rng(0).permutation(len(y))
    net.train()
    for start in range(0, len(order), batch):
        index = order[start:start + batch]
        xb = torch.from_numpy(np.ascontiguousarray(windows[index], dtype=np.float32)).to(device)
        yb = torch.from_numpy(y[index]).to(device)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        optimizer.step()


def bench_nets(X: pd.DataFrame, y: np.ndarray, window: int, repeats: int, threads: int) -> list[dict[str, Any]]:
    from pinelab_core.models.networks import CandleCNN, LSTMAttentionNet
    from pinelab_core.models.trainer import TrainerConfig, train_classifier

    device = choose_device("auto")
    rows_matrix = X.to_numpy(dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(rows_matrix, window, axis=0).transpose(0, 2, 1)
    labels = y[window - 1:]
    results = []
    config = TrainerConfig(epochs=1, batch_size=256, device=str(device), num_threads=threads)
    torch.set_num_threads(threads)  # the peer loop uses the same thread count as the trainer
    for kind, build in (("lstm", lambda: LSTMAttentionNet(X.shape[1])), ("cnn", lambda: CandleCNN(X.shape[1]))):

        def ours(build: Callable[[], torch.nn.Module] = build) -> None:
            train_classifier(build(), (windows, labels), None, config)
            _sync(device)

        def peer(build: Callable[[], torch.nn.Module] = build) -> None:
            raw_epoch(build().to(device), windows, labels, 256, device)
            _sync(device)

        seconds, peer_seconds = paired_best(ours, peer, repeats, warm_up=True)
        results.append({"what": f"{kind} epoch, {len(labels):,} windows x {window} bars x {X.shape[1]} inputs "
                                f"({device.type})",
                        "pinelab_s": seconds, "peer": "plain torch loop",
                        "peer_s": peer_seconds,
                        "note": f"{len(labels) / seconds:,.0f} windows/s"})
    return results


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    summary = device_summary("auto")
    lines = [
        "# Models benchmark", "",
        f"`python bench/bench_models.py --rows {args.rows} --features {args.features} --rounds {args.rounds} "
        f"--net-rows {args.net_rows} --threads {args.threads}`  ",
        f"Machine: {platform.machine()}, {summary.describe()}; Python {platform.python_version()}, "
        f"LightGBM {lgb.__version__}, XGBoost {xgb.__version__}, torch {torch.__version__}. "
        f"Best of {args.repeats} alternating runs each, timed in {CLOCK_NAME.split()[0]} seconds "
        "(process CPU time on a CPU: the machine is shared).", "",
        f"| what | PineLab ({CLOCK_NAME}) | peer | peer ({CLOCK_NAME}) | overhead | note |",
        "| --- | ---: | --- | ---: | ---: | --- |",
    ]
    for row in rows:
        overhead = (row["pinelab_s"] / row["peer_s"] - 1.0) * 100
        lines.append(f"| {row['what']} | {row['pinelab_s']:.2f} | {row['peer']} | {row['peer_s']:.2f} | "
                     f"{overhead:+.1f} % | {row.get('note', '')} |")
    if summary.device == "cpu":
        lines += ["", "No GPU on this machine: the GPU rows (XGBoost `device=\"cuda\"`, nets with bf16 autocast) "
                  "were not measured here."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds (early stopping may end sooner)")
    parser.add_argument("--net-rows", type=int, default=20_000, help="rows for the torch epoch timings")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=cpu_threads(), help="CPU threads for every library")
    args = parser.parse_args()
    X, y = synthetic_features(args.rows, args.features)
    rows = bench_boosting(X, y, args.rounds, args.repeats, args.threads)
    rows += bench_nets(X.iloc[: args.net_rows, :32], y[: args.net_rows], args.window, args.repeats, args.threads)
    table = render(rows, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
