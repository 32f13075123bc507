"""The torch models `lstm` and `cnn`: windows over consecutive bars, trained by the shared `trainer`.

A sequence model reads the trailing `window` rows ending at each bar. Windows are NumPy
`sliding_window_view`s of the feature matrix (no copy, no Python loop per row); the trainer copies only
the rows of each batch. Rows without `window - 1` bars of history get NaN probabilities; see
`Model.context_rows` in `base` for how a caller predicts a test fold with full windows.

Artifact: `net.pt` (the torch `state_dict`, loaded with `weights_only=True`; it holds the input scaler's
training-window mean and std as buffers) and `net.json` (architecture, params, feature names).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.base import FitSummary, Model, ProgressCallback
from pinelab_core.models.inputs import CANDLE_COLUMNS
from pinelab_core.models.schema import check_features, check_training_data, to_matrix

if TYPE_CHECKING:
    from torch import nn

    from pinelab_core.models.networks import InputScaler

__all__ = ["CNNModel", "LSTMModel", "SequenceModel"]

_NET_FILE, _CONFIG_FILE = "net.pt", "net.json"


class SequenceModel(Model):
    """Shared fit/predict/save/load of the torch sequence models; subclasses name the net and its inputs."""

    iterations_param: ClassVar[str | None] = "epochs"
    input_kind: ClassVar[str] = "sequence"
    #: Defaults of the trainer (see `TrainerConfig`) and of the net; any can be overridden by params.
    default_params: ClassVar[dict[str, Any]] = {
        "window": 32, "epochs": 30, "batch_size": 256, "learning_rate": 1e-3, "weight_decay": 1e-4,
        "grad_clip": 1.0, "patience": 5, "mixed_precision": True, "dropout": 0.1,
    }
    net_params: ClassVar[tuple[str, ...]] = ("dropout",)

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        super().__init__(seed=seed, device=device, **{**self.default_params, **params})
        window = self.params["window"]
        if not isinstance(window, int | np.integer) or window < 1:
            raise ValueError(f"window must be a positive number of bars, got {window!r}")
        self.input_columns_: list[str] = []
        self._net: nn.Module | None = None

    @property
    def window(self) -> int:
        return int(self.params["window"])

    @property
    def context_rows(self) -> int:
        return self.window - 1

    def select_inputs(self, columns: list[str]) -> list[str]:
        """The columns of X the net reads (all of them unless a subclass narrows it)."""
        return list(columns)

    @abstractmethod
    def build_net(self, n_inputs: int) -> nn.Module:
        """A freshly initialised torch module reading (batch, window, n_inputs) and returning class logits."""

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        validation: tuple[pd.DataFrame, np.ndarray] | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        """Fit on consecutive bars `X`; a validation frame right after X borrows X's last rows as context."""
        import torch

        from pinelab_core.models.trainer import TrainerConfig, train_classifier

        labels = check_training_data(X, y, self.n_classes_)
        self.feature_names_ = [str(c) for c in X.columns]
        self.input_columns_ = self.select_inputs(self.feature_names_)
        rows = to_matrix(X[self.input_columns_])
        if len(rows) < self.window:
            raise ModelSchemaError(f"{self.kind} needs at least window={self.window} training rows, got {len(rows)}.")
        torch.manual_seed(self.seed)  # the initial weights
        self._net = self.build_net(len(self.input_columns_))
        _input_scaler(self._net).fit(rows)  # statistics of the training rows only, never the validation tail
        train = (self._windows(rows), labels[self.window - 1:])
        config = TrainerConfig.from_params(self.params, seed=self.seed, device=self.device)
        summary = train_classifier(self._net, train, self._validation(X, rows, validation), config, progress)
        self.fitted_device_ = summary.device
        return summary

    def fine_tune(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        new_from: int,
        replay_size: int | None = None,
        epochs: int = 3,
        learning_rate: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitSummary:
        """Keep training the fitted net on new bars plus a replay buffer of older ones (incremental learning).

        `X` holds consecutive bars, old then new: windows ending at rows >= `new_from` are the new examples, and
        `replay_size` windows (default as many) drawn without replacement from the older ones, seeded, are replayed
        beside them so the net does not forget what it knew. Training runs through the shared trainer for
        `epochs` passes at `learning_rate` (default a tenth of the fit's). The input scaler keeps its statistics
        from the original training window, so the inputs mean what they meant when the net learned them.
        """
        from pinelab_core.models.trainer import TrainerConfig, train_classifier

        net = self._require_fitted()
        labels = check_training_data(X, y, self.n_classes_)
        check_features(self.feature_names_, X, model=f"this {self.kind} model")
        rows = to_matrix(X[self.input_columns_])
        first_new = max(int(new_from), self.window - 1)
        if first_new >= len(rows):
            raise ModelSchemaError(f"No new bars to fine-tune {self.kind} on: new_from={new_from} of {len(rows)} rows.")
        ends = np.arange(self.window - 1, len(rows))
        new, old = ends[ends >= first_new], ends[ends < first_new]
        rng = np.random.default_rng(self.seed)
        size = min(len(old), len(new) if replay_size is None else int(replay_size))
        chosen = np.sort(np.concatenate([rng.choice(old, size=size, replace=False), new]))
        windows = _Selected(self._windows(rows), chosen - (self.window - 1))
        rate = float(learning_rate) if learning_rate is not None else float(self.params["learning_rate"]) / 10.0
        config = TrainerConfig.from_params({**self.params, "epochs": int(epochs), "learning_rate": rate,
                                            "patience": int(epochs)}, seed=self.seed, device=self.device)
        summary = train_classifier(net, (windows, labels[chosen]), None, config, progress)
        self.fitted_device_ = summary.device
        return summary

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities per row; the first `context_rows` rows (no full window) are NaN."""
        from pinelab_core.models.trainer import predict_probabilities

        net = self._require_fitted()
        check_features(self.feature_names_, X, model=f"this {self.kind} model")
        out = np.full((len(X), self.n_classes_), np.nan)
        if len(X) >= self.window:
            rows = to_matrix(X[self.input_columns_])
            device = next(net.parameters()).device
            out[self.window - 1:] = predict_probabilities(
                net, self._windows(rows), device=device, mixed_precision=bool(self.params["mixed_precision"])
            )
        return out

    def save(self, directory: Path) -> list[Path]:
        import torch

        net = self._require_fitted()
        directory.mkdir(parents=True, exist_ok=True)
        weights = directory / _NET_FILE
        torch.save({name: t.detach().cpu() for name, t in net.state_dict().items()}, weights)
        config = directory / _CONFIG_FILE
        config.write_text(json.dumps({
            "kind": self.kind, "seed": self.seed, "params": self.params, "feature_names": self.feature_names_,
            "input_columns": self.input_columns_, "fitted_device": self.fitted_device_,
        }, indent=2), encoding="utf-8")
        return [weights, config]

    @classmethod
    def load(cls, directory: Path, *, device: str = "auto") -> SequenceModel:
        import torch

        from pinelab_core.models.device import choose_device

        config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("kind") != cls.kind:
            raise ModelSchemaError(f"{directory} holds a {config.get('kind')!r} model, not {cls.kind!r}.")
        model = cls(seed=int(config["seed"]), device=device, **config["params"])
        model.feature_names_ = list(config["feature_names"])
        model.input_columns_ = list(config["input_columns"])
        model.fitted_device_ = str(config.get("fitted_device", "cpu"))
        net = model.build_net(len(model.input_columns_))
        state = torch.load(directory / _NET_FILE, map_location="cpu", weights_only=True)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelSchemaError(f"{directory / _NET_FILE} does not fit the {cls.kind} architecture: {exc}") from exc
        model._net = net.to(choose_device(device)).eval()
        return model

    def _windows(self, rows: np.ndarray) -> np.ndarray:
        """(n - window + 1, window, n_inputs) view: window i covers rows i .. i + window - 1."""
        return np.lib.stride_tricks.sliding_window_view(rows, self.window, axis=0).transpose(0, 2, 1)

    def _validation(
        self, X: pd.DataFrame, rows: np.ndarray, validation: tuple[pd.DataFrame, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if validation is None:
            return None
        X_val, y_val = validation
        labels = check_training_data(X_val, y_val, self.n_classes_, what="validation")
        check_features(self.feature_names_, X_val, model=f"this {self.kind} model's validation")
        val_rows = to_matrix(X_val[self.input_columns_])
        context = 0
        if isinstance(X.index, pd.DatetimeIndex) and len(X_val) and X_val.index[0] > X.index[-1]:
            # Feature rows (not labels) of the training window complete the first validation windows.
            context = self.window - 1
            val_rows = np.concatenate([rows[len(rows) - context:], val_rows]) if context else val_rows
        if len(val_rows) < self.window:
            return None
        return self._windows(val_rows), labels[self.window - 1 - context:]

    def _require_fitted(self) -> nn.Module:
        if self._net is None:
            raise ModelSchemaError(f"This {self.kind} model is not fitted yet. Call fit (or load a saved one) first.")
        return self._net


class _Selected:
    """Some windows of a `sliding_window_view`, indexable like an array: a batch copies only its own rows."""

    def __init__(self, windows: np.ndarray, positions: np.ndarray) -> None:
        self._windows, self._positions = windows, positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        return self._windows[self._positions[index]]


def _input_scaler(net: nn.Module) -> InputScaler:
    from pinelab_core.models.networks import InputScaler

    scaler = net.get_submodule("scaler")
    if not isinstance(scaler, InputScaler):
        raise TypeError(f"{type(net).__name__}.scaler must be an InputScaler fit on the training rows")
    return scaler


class LSTMModel(SequenceModel):
    """LSTM + multi-head self-attention over a trailing window of feature vectors."""

    kind: ClassVar[str] = "lstm"
    default_params: ClassVar[dict[str, Any]] = {
        **SequenceModel.default_params, "hidden": 64, "layers": 1, "heads": 4,
    }
    net_params: ClassVar[tuple[str, ...]] = ("hidden", "layers", "heads", "dropout")

    def build_net(self, n_inputs: int) -> nn.Module:
        from pinelab_core.models.networks import LSTMAttentionNet

        return LSTMAttentionNet(n_inputs, self.n_classes_, **{k: self.params[k] for k in self.net_params})


class CNNModel(SequenceModel):
    """1-D CNN over windows of normalised candles (`candle_inputs` columns when present, else every column)."""

    kind: ClassVar[str] = "cnn"
    default_params: ClassVar[dict[str, Any]] = {
        **SequenceModel.default_params, "channels": 32, "kernel_size": 5, "layers": 3,
    }
    net_params: ClassVar[tuple[str, ...]] = ("channels", "kernel_size", "layers", "dropout")

    def select_inputs(self, columns: list[str]) -> list[str]:
        if all(name in columns for name in CANDLE_COLUMNS):
            return list(CANDLE_COLUMNS)
        return list(columns)

    def build_net(self, n_inputs: int) -> nn.Module:
        from pinelab_core.models.networks import CandleCNN

        return CandleCNN(n_inputs, self.n_classes_, **{k: self.params[k] for k in self.net_params})
