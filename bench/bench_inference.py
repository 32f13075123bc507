"""Inference cost: PineLab's `predict` / `explain` / `predict_many` against the raw models' own calls.

Three measurements, each beside the peer doing the bare minimum on the same rows:

1. Warm single-symbol `predict` (LightGBM + XGBoost + LSTM loaded; the prediction cache cleared before
   every call so the full path runs: trailing slice, features, three members, pool, calibration,
   quantile forecasts) against the raw calls `Booster.predict` + `inplace_predict` + the LSTM's forward on
   the last row / window, with the feature row already built. Also shown: the same raw calls plus
   `build_features` on the same slice, and a cached answer (the dashboard's refresh path).
2. Local SHAP of a tree ensemble (`explain`, LightGBM + XGBoost) against the libraries' native exact
   contributions (`pred_contrib=True` / `pred_contribs=True`) on the same row, and `shap.TreeExplainer`.
3. 100 symbols through `predict_many` (models loaded, forecasters fit) against the raw calls on the
   same 100 prepared rows.

    python bench/bench_inference.py                      # 1,500 daily bars, 100 symbols, 200 repeats
    python bench/bench_inference.py --repeats 50 --symbols 30   # a quicker run
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.features import build_features
from pinelab_core.models import create_model
from pinelab_core.models.active import load_active, member_inputs
from pinelab_core.models.artifacts import ModelManifest
from pinelab_core.models.ensemble import PROB_COLUMNS
from pinelab_core.models.inference import clear_prediction_cache, predict, predict_many
from pinelab_core.models.registry import register_model
from pinelab_core.training.labels import LabelSpec, make_labels

RESULTS = Path(__file__).parent / "results" / "inference.md"
SYMBOL, TIMEFRAME = "DEMO-EQUITY", "1d"
LABEL = {"kind": "direction", "horizon": 5, "params": {}}
PARAMS = {"lightgbm": {"n_estimators": 200, "num_threads": 1}, "xgboost": {"n_estimators": 200, "num_threads": 1},
          "lstm": {"epochs": 2, "window": 32, "hidden": 32, "heads": 4}}


def register_members(settings: Settings, ohlcv: pd.DataFrame, kinds: tuple[str, ...]) -> None:
    """Fit on the first 70% of bars, keep the rest as out-of-fold rows, register every member active."""
    features = build_features(ohlcv)
    labels = make_labels(ohlcv, LabelSpec.from_dict(LABEL))
    known = np.flatnonzero(labels.notna().to_numpy())
    cut = int(0.7 * len(ohlcv))
    for kind in kinds:
        model = create_model(kind, seed=0, device="cpu", **PARAMS[kind])
        train = known[known < cut]
        model.fit(features.iloc[train[0]:train[-1] + 1], labels.iloc[train[0]:train[-1] + 1].to_numpy())
        test = known[known >= cut]
        probs = model.predict_proba(features.iloc[cut - model.context_rows:test[-1] + 1])[model.context_rows:]
        oof = pd.DataFrame(probs[test - cut], columns=list(PROB_COLUMNS), index=features.index[test])
        oof["y_true"] = labels.iloc[test].astype(int).to_numpy()
        manifest = ModelManifest(name=f"bench-{kind}", kind=kind, feature_names=list(features.columns), label=LABEL,
                                 symbol=SYMBOL, timeframe=TIMEFRAME, source="demo")
        register_model(settings, model, manifest, oof=oof, activate=True)


def timings(call: Callable[[], object], repeats: int, *, before: Callable[[], None] | None = None) -> np.ndarray:
    """Wall times (ms) of `repeats` calls after one warm-up; `before` runs untimed before each call."""
    call()
    out = np.empty(repeats)
    for i in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        out[i] = 1000 * (time.perf_counter() - started)
    return out


def paired(ours: Callable[[], object], peer: Callable[[], object], repeats: int, *,
           before: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`timings` of both, alternating call by call, so load from other processes hits both alike."""
    ours_ms, peer_ms = np.empty(repeats), np.empty(repeats)
    ours()
    peer()
    for i in range(repeats):
        order = [(ours, ours_ms), (peer, peer_ms)] if i % 2 == 0 else [(peer, peer_ms), (ours, ours_ms)]
        for call, out in order:
            if call is ours and before is not None:
                before()  # untimed: e.g. drop the prediction cache so the full path runs
            started = time.perf_counter()
            call()
            out[i] = 1000 * (time.perf_counter() - started)
    return ours_ms, peer_ms


def raw_calls(settings: Settings, ohlcv: pd.DataFrame) -> Callable[[pd.DataFrame], None]:
    """The members' own predict calls on the last row / window of prepared inputs."""
    import torch

    active = load_active(settings, SYMBOL, TIMEFRAME)
    members = {m.kind: m.model for m in active.members}

    def run(inputs: pd.DataFrame) -> None:
        # One torch thread, as `predict` uses for a handful of windows: the peer gets the same best setting.
        torch.set_num_threads(1)
        row = np.ascontiguousarray(inputs.iloc[[-1]].to_numpy(np.float32))
        for kind, model in members.items():
            if kind == "lightgbm":
                model.explainer_model().predict(row, num_threads=1)
            elif kind == "xgboost":
                model.explainer_model().inplace_predict(row)
            else:
                window = np.nan_to_num(inputs.iloc[-model.window:].to_numpy(np.float32))[None]
                with torch.no_grad():
                    torch.softmax(model._net(torch.as_tensor(window)), dim=-1)
    return run


def summary(name: str, ours: np.ndarray, peer_name: str, peer: np.ndarray, target: str) -> str:
    p50, p99 = np.percentile(ours, 50), np.percentile(ours, 99)
    q50, q99 = np.percentile(peer, 50), np.percentile(peer, 99)
    return (f"| {name} | {p50:.2f} | {p99:.2f} | {peer_name} | {q50:.2f} | {q99:.2f} | {p50 / q50:.1f}x | "
            f"{p99 / q99:.1f}x | {target} |")


def bench_predict(root: Path, ohlcv: pd.DataFrame, repeats: int) -> list[str]:
    settings = Settings(data_dir=root / "three", models_dir=root / "three" / "models")
    register_members(settings, ohlcv, ("lightgbm", "xgboost", "lstm"))
    active = load_active(settings, SYMBOL, TIMEFRAME)
    sliced = ohlcv.iloc[-active.slice_bars:]
    inputs = member_inputs(active, sliced)[f"bench-lightgbm/v{1}"]
    raw = raw_calls(settings, ohlcv)

    def ours() -> None:
        predict(SYMBOL, TIMEFRAME, "demo", settings, ohlcv=ohlcv, log=False)

    fresh, peer = paired(ours, lambda: raw(inputs), repeats, before=clear_prediction_cache)
    fresh_again, peer_features = paired(ours, lambda: raw(build_features(sliced)), repeats,
                                        before=clear_prediction_cache)
    cached = timings(ours, repeats)
    return [summary("predict, 2 trees + LSTM (full path)", fresh, "raw predict calls", peer, "p99 < 50 ms"),
            summary("predict, 2 trees + LSTM (full path)", fresh_again, "build_features + raw calls", peer_features,
                    ""),
            summary("predict, cached answer (same bar)", cached, "raw predict calls", peer, "")]


def bench_shap(root: Path, ohlcv: pd.DataFrame, repeats: int) -> list[str]:
    import shap

    from pinelab_core.explain import explain

    settings = Settings(data_dir=root / "trees", models_dir=root / "trees" / "models")
    register_members(settings, ohlcv, ("lightgbm", "xgboost"))
    active = load_active(settings, SYMBOL, TIMEFRAME)
    inputs = member_inputs(active, ohlcv.iloc[-active.slice_bars:])["bench-lightgbm/v1"]
    row = np.ascontiguousarray(inputs.iloc[[-1]].to_numpy(np.float32))
    boosters = {m.kind: m.model.explainer_model() for m in active.members}

    def native() -> None:
        import xgboost as xgb

        boosters["lightgbm"].predict(row, pred_contrib=True, num_threads=1)
        boosters["xgboost"].predict(xgb.DMatrix(row), pred_contribs=True)

    explainers = [shap.TreeExplainer(b) for b in boosters.values()]

    def ours_call() -> None:
        explain(SYMBOL, TIMEFRAME, "demo", settings=settings, ohlcv=ohlcv)

    ours, peer = paired(ours_call, native, repeats)
    ours_again, tree_explainer = paired(ours_call, lambda: [e.shap_values(row) for e in explainers],
                                        max(5, repeats // 10))
    return [summary("explain, local SHAP of LightGBM + XGBoost", ours, "native pred_contrib(s)", peer, "p99 < 200 ms"),
            summary("explain, local SHAP of LightGBM + XGBoost", ours_again, "shap.TreeExplainer", tree_explainer,
                    "")]


def bench_watchlist(root: Path, n_symbols: int) -> list[str]:
    settings = Settings(data_dir=root / "three", models_dir=root / "three" / "models")
    symbols = [f"DEMO-{i:03d}" for i in range(n_symbols)]
    frames = {s: load_ohlcv(s, TIMEFRAME, source="demo", settings=settings) for s in symbols}
    active = load_active(settings, SYMBOL, TIMEFRAME)
    raw = raw_calls(settings, frames[symbols[0]])
    prepared = {s: member_inputs(active, f.iloc[-active.slice_bars:])["bench-lightgbm/v1"] for s, f in frames.items()}

    def ours() -> None:
        for symbol, frame in frames.items():
            predict(symbol, TIMEFRAME, "demo", settings, ohlcv=frame, log=False)

    started = time.perf_counter()
    ours()  # cold: fits each symbol's quantile forecaster once
    cold = 1000 * (time.perf_counter() - started)
    def peer_call() -> None:
        for inputs in prepared.values():
            raw(inputs)

    warm, peer = paired(ours, peer_call, 3, before=clear_prediction_cache)
    via_loader, peer_again = paired(lambda: predict_many(symbols, TIMEFRAME, "demo", settings, log=False),
                                    peer_call, 3, before=clear_prediction_cache)
    return [summary(f"{n_symbols} symbols, frames given (warm)", warm, "raw calls x symbols", peer, "< 5 s"),
            summary(f"{n_symbols} symbols, predict_many loading demo bars", via_loader, "raw calls x symbols",
                    peer_again, ""),
            f"| {n_symbols} symbols, first pass (fits {n_symbols} forecasters) | {cold:.0f} | {cold:.0f} | | | | | | |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--symbols", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ohlcv = load_ohlcv(SYMBOL, TIMEFRAME, source="demo", settings=Settings(data_dir=root / "data"))
        rows = bench_predict(root, ohlcv, args.repeats)
        rows += bench_shap(root, ohlcv, args.repeats)
        rows += bench_watchlist(root, args.symbols)
    header = [
        "# Inference benchmark", "",
        f"{platform.processor() or platform.machine()}, {platform.python_version()}; {SYMBOL} {TIMEFRAME} demo bars "
        f"({len(ohlcv)}), {args.repeats} repeats, {args.symbols} symbols. Times in ms; ratio = PineLab / peer.", "",
        "| PineLab | p50 | p99 | peer | p50 | p99 | ratio p50 | ratio p99 | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    text = "\n".join(header + rows) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
