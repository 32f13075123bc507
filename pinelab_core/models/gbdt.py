"""Gradient-boosted trees: `lightgbm` and `xgboost`, class-weighted, early-stopped, deterministic with a seed.

Both weigh rows with balanced class weights (the validation loss too, so it is the same balanced
log loss the nets report), stop early on the validation set they are given, and keep only the trees up to
the best iteration, so a fitted model, its saved artifact and its SHAP explanation all use the same trees.

Artifacts: LightGBM's text model file `model.txt` or XGBoost's `model.ubj` (universal binary JSON), plus
`gbdt.json` with our params, seed and feature names. `explainer_model()` returns the native booster that
`shap.TreeExplainer` reads.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.base import FitSummary, Model, ProgressCallback, TrainingProgress
from pinelab_core.models.schema import balanced_class_weights, check_features, check_training_data, to_matrix

__all__ = ["BoostedTreesModel", "LightGBMModel", "XGBoostModel"]

_CONFIG_FILE = "gbdt.json"
#: Params that steer our wrapper rather than being passed to the library.
_WRAPPER_PARAMS = frozenset({"n_estimators", "early_stopping_rounds", "progress_every", "num_threads"})


class BoostedTreesModel(Model):
    """What LightGBM and XGBoost share: validation, weights, progress, the artifact's JSON half."""

    iterations_param: ClassVar[str | None] = "n_estimators"
    default_params: ClassVar[dict[str, Any]] = {}
    model_file: ClassVar[str] = ""
    #: The float type the library bins and splits on; handing it anything else changes the model.
    input_dtype: ClassVar[type] = np.float32

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        super().__init__(seed=seed, device=device, **{**self.default_params, **params})
        self.best_iteration_: int | None = None
        self._booster: Any = None

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        validation: tuple[pd.DataFrame, np.ndarray] | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        """Boost on `X`, `y` with balanced class weights; stop early on `validation` when given."""
        labels = check_training_data(X, y, self.n_classes_)
        self.feature_names_ = [str(c) for c in X.columns]
        class_weight = balanced_class_weights(labels, self.n_classes_)
        train = (to_matrix(X, self.input_dtype), labels, class_weight[labels])
        val = None
        if validation is not None:
            X_val, y_val = validation
            val_labels = check_training_data(X_val, y_val, self.n_classes_, what="validation")
            check_features(self.feature_names_, X_val, model=f"this {self.kind} model's validation")
            val = (to_matrix(X_val, self.input_dtype), val_labels, class_weight[val_labels])
        history: list[TrainingProgress] = []

        def report(tick: TrainingProgress) -> None:
            history.append(tick)
            if progress is not None:
                progress(tick)

        train_loss, val_loss = self._train(train, val, report)
        return FitSummary(train_loss, val_loss, self.best_iteration_, self.fitted_device_, history)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self._booster is None:
            raise ModelSchemaError(f"This {self.kind} model is not fitted yet. Call fit (or load a saved one) first.")
        check_features(self.feature_names_, X, model=f"this {self.kind} model")
        if X.empty:
            return np.empty((0, self.n_classes_))
        return self._predict(to_matrix(X, self.input_dtype)).astype(np.float64).reshape(len(X), self.n_classes_)

    def feature_importance(self) -> pd.Series | None:
        """Total gain per feature (the loss reduction its splits bought), highest first."""
        if self._booster is None:
            return None
        gains = pd.Series(self._gains(), index=self.feature_names_, name="gain", dtype=np.float64)
        return gains.sort_values(ascending=False)

    def explainer_model(self) -> Any:
        """The native booster, for `shap.TreeExplainer` (multiclass: one output per class)."""
        return self._booster

    def save(self, directory: Path) -> list[Path]:
        if self._booster is None:
            raise ModelSchemaError(f"This {self.kind} model is not fitted yet; nothing to save.")
        directory.mkdir(parents=True, exist_ok=True)
        model_path = directory / self.model_file
        self._save_booster(model_path)
        config = directory / _CONFIG_FILE
        config.write_text(json.dumps({
            "kind": self.kind, "seed": self.seed, "params": self.params, "feature_names": self.feature_names_,
            "best_iteration": self.best_iteration_, "fitted_device": self.fitted_device_,
        }, indent=2), encoding="utf-8")
        return [model_path, config]

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> BoostedTreesModel:
        config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("kind") != cls.kind:
            raise ModelSchemaError(f"{directory} holds a {config.get('kind')!r} model, not {cls.kind!r}.")
        model = cls(seed=int(config["seed"]), device=device, **config["params"])
        model.feature_names_ = list(config["feature_names"])
        model.best_iteration_ = config.get("best_iteration")
        model.fitted_device_ = str(config.get("fitted_device", "cpu"))
        model._booster = model._load_booster(directory / cls.model_file)
        return model

    def _threads(self) -> int:
        from pinelab_core.models.device import cpu_threads

        # A fixed thread count is part of determinism for LightGBM; None means the physical cores.
        threads = self.params.get("num_threads")
        return int(threads) if threads else cpu_threads()

    def _library_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if k not in _WRAPPER_PARAMS}

    def _progress_every(self) -> int:
        return max(1, int(self.params.get("progress_every", 10)))

    @abstractmethod
    def _train(
        self, train: tuple[np.ndarray, np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        report: ProgressCallback,
    ) -> tuple[float | None, float | None]:
        """Fit; set best_iteration_ and fitted_device_; return the (train, validation) loss at the best round."""

    @abstractmethod
    def _predict(self, matrix: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _gains(self) -> np.ndarray: ...

    @abstractmethod
    def _save_booster(self, path: Path) -> None: ...

    @abstractmethod
    def _load_booster(self, path: Path) -> Any: ...


class LightGBMModel(BoostedTreesModel):
    """LightGBM multiclass trees, row-wise and deterministic (fixed seed and thread count)."""

    kind: ClassVar[str] = "lightgbm"
    model_file: ClassVar[str] = "model.txt"
    input_dtype: ClassVar[type] = np.float64  # LightGBM bins doubles: float32 inputs would move its thresholds
    default_params: ClassVar[dict[str, Any]] = {
        "n_estimators": 500, "early_stopping_rounds": 50, "learning_rate": 0.05, "num_leaves": 31,
        "min_data_in_leaf": 20, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
        "lambda_l2": 1.0,
    }

    def booster_params(self) -> dict[str, Any]:
        """The exact parameter dict handed to `lightgbm.train`."""
        return {
            **self._library_params(), "objective": "multiclass", "num_class": self.n_classes_,
            "metric": "multi_logloss", "seed": self.seed, "deterministic": True, "force_row_wise": True,
            "num_threads": self._threads(), "verbosity": -1,
        }

    def _train(self, train, val, report):  # type: ignore[no-untyped-def]
        import lightgbm as lgb

        params = self.booster_params()
        dtrain = lgb.Dataset(train[0], label=train[1], weight=train[2], params={"verbosity": -1})
        valid_sets, names = [dtrain], ["train"]
        if val is not None:
            valid_sets.append(lgb.Dataset(val[0], label=val[1], weight=val[2], reference=dtrain))
            names.append("validation")
        record: dict[str, dict[str, list[float]]] = {}
        callbacks = [lgb.record_evaluation(record), self._progress_callback(report)]
        if val is not None and self.params.get("early_stopping_rounds"):
            callbacks.append(lgb.early_stopping(int(self.params["early_stopping_rounds"]), verbose=False))
        booster = lgb.train(params, dtrain, num_boost_round=int(self.params["n_estimators"]),
                            valid_sets=valid_sets, valid_names=names, callbacks=callbacks)
        rounds = len(record["train"]["multi_logloss"])
        best = booster.best_iteration if val is not None and booster.best_iteration > 0 else rounds
        if best < booster.current_iteration():
            # Keep only the trees up to the best round: predictions, artifact and SHAP then agree.
            booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self._booster, self.best_iteration_, self.fitted_device_ = booster, best, "cpu"
        return _losses_at(record, "multi_logloss", best)

    def _progress_callback(self, report: ProgressCallback) -> Any:
        every, total = self._progress_every(), int(self.params["n_estimators"])

        def callback(env: Any) -> None:
            step = env.iteration + 1
            if step % every and step != env.end_iteration:
                return
            losses = {name: value for name, _, value, _ in env.evaluation_result_list}
            report(TrainingProgress(step, total, losses.get("train"), losses.get("validation"),
                                    f"round {step}/{total}"))

        callback.order = 25  # type: ignore[attr-defined]  # after record_evaluation (20), before early stopping (30)
        return callback

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        return self._booster.predict(matrix, num_threads=self._threads())

    def _gains(self) -> np.ndarray:
        return self._booster.feature_importance(importance_type="gain")

    def _save_booster(self, path: Path) -> None:
        self._booster.save_model(str(path))

    def _load_booster(self, path: Path) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(path))


class XGBoostModel(BoostedTreesModel):
    """XGBoost `hist` trees, trained on the GPU (`device="cuda"`) when one is present and the device setting allows.

    Predictions run on the CPU: inputs are NumPy arrays on the host (see `_load_booster`).
    """

    kind: ClassVar[str] = "xgboost"
    model_file: ClassVar[str] = "model.ubj"
    default_params: ClassVar[dict[str, Any]] = {
        "n_estimators": 500, "early_stopping_rounds": 50, "learning_rate": 0.05, "max_depth": 6,
        "min_child_weight": 1.0, "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0,
    }

    def booster_params(self) -> dict[str, Any]:
        """The exact parameter dict handed to `xgboost.train`."""
        from pinelab_core.models.device import xgboost_device

        return {
            **self._library_params(), "objective": "multi:softprob", "num_class": self.n_classes_,
            "eval_metric": "mlogloss", "tree_method": "hist", "device": xgboost_device(self.device),
            "seed": self.seed, "nthread": self._threads(), "verbosity": 0,
        }

    def _train(self, train, val, report):  # type: ignore[no-untyped-def]
        import xgboost as xgb

        params = self.booster_params()
        dtrain = xgb.QuantileDMatrix(train[0], label=train[1], weight=train[2], nthread=params["nthread"])
        evals = [(dtrain, "train")]
        if val is not None:
            evals.append((xgb.QuantileDMatrix(val[0], label=val[1], weight=val[2], ref=dtrain), "validation"))
        record: dict[str, dict[str, list[float]]] = {}
        stopping = int(self.params["early_stopping_rounds"]) if val is not None else None
        booster = xgb.train(params, dtrain, num_boost_round=int(self.params["n_estimators"]), evals=evals,
                            evals_result=record, early_stopping_rounds=stopping or None, verbose_eval=False,
                            callbacks=[_xgboost_progress(report, self._progress_every(),
                                                         int(self.params["n_estimators"]))])
        rounds = len(record["train"]["mlogloss"])
        best = booster.best_iteration + 1 if stopping else rounds
        if best < booster.num_boosted_rounds():
            booster = booster[:best]  # keep the trees up to the best round (see the module docstring)
        booster.set_param({"device": "cpu"})  # predict where the inputs live (see _load_booster)
        self._booster, self.best_iteration_, self.fitted_device_ = booster, best, params["device"]
        return _losses_at(record, "mlogloss", best)

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        return self._booster.inplace_predict(matrix)

    def _gains(self) -> np.ndarray:
        scores = self._booster.get_score(importance_type="total_gain")
        return np.array([scores.get(f"f{i}", 0.0) for i in range(len(self.feature_names_))])

    def _save_booster(self, path: Path) -> None:
        self._booster.save_model(str(path))

    def _load_booster(self, path: Path) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(path))
        # Prediction inputs are host NumPy arrays: traversing trees on the CPU beats copying them to a GPU for
        # the sizes PineLab predicts, and avoids XGBoost's device-mismatch fallback. Training uses the GPU.
        booster.set_param({"device": "cpu", "nthread": self._threads()})
        return booster


def _xgboost_progress(report: ProgressCallback, every: int, total: int) -> Any:
    import xgboost as xgb

    class _Progress(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            step = epoch + 1
            if step % every == 0 or step == total:
                train = evals_log.get("train", {}).get("mlogloss", [None])[-1]
                val = evals_log.get("validation", {}).get("mlogloss", [None])[-1]
                report(TrainingProgress(step, total, train, val, f"round {step}/{total}"))
            return False  # never stop training from here; early stopping is XGBoost's own callback

    return _Progress()


def _losses_at(record: dict[str, dict[str, list[float]]], metric: str, best: int) -> tuple[float | None, float | None]:
    def at(name: str) -> float | None:
        values = record.get(name, {}).get(metric, [])
        return float(values[best - 1]) if 0 < best <= len(values) else None

    return at("train"), at("validation")
