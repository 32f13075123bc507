"""`pattern_cnn`: the chart-pattern recogniser, a CNN over chart images, trained by the shared `trainer`.

It classifies a window of bars into `PATTERN_CLASSES` ("none" or a pattern that completes at the window's
last bar). To find patterns of any length it looks back over several window lengths (`scales`, in bars)
from every bar, and keeps for that bar the scale whose "none" probability is lowest: the length at which
the bars look most like a completed pattern. Its probabilities at bar t read bars up to t only.

It lives in the registry like every model (`register_model`, `load_version`), under `task = "pattern"`, so
the direction-model lists (Training page, `--models`) do not offer it. Artifact: the same `net.pt` +
`net.json` as the other torch nets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.models.base import FitSummary, ProgressCallback
from pinelab_core.models.nets import SequenceModel
from pinelab_core.patterns.render import render_batch
from pinelab_core.patterns.synthetic import NO_PATTERN, PATTERN_CLASSES, PatternSamples

if TYPE_CHECKING:
    from torch import nn

__all__ = ["PATTERN_INPUTS", "ChartPatternModel"]

#: The OHLCV columns the pattern model reads (its "features" in the manifest).
PATTERN_INPUTS: tuple[str, ...] = ("open", "high", "low", "close")


class ChartPatternModel(SequenceModel):
    """Chart-pattern classifier over multi-scale windows of bars (see the module docstring)."""

    kind: ClassVar[str] = "pattern_cnn"
    task: ClassVar[str] = "pattern"
    input_kind: ClassVar[str] = "ohlcv"
    iterations_param: ClassVar[str | None] = "epochs"
    default_params: ClassVar[dict[str, Any]] = {
        "style": "candlestick", "scales": [30, 60, 120], "window": 120, "channels": 8, "layers": 4,
        "dropout": 0.1, "epochs": 12, "batch_size": 64, "learning_rate": 2e-3, "weight_decay": 1e-4,
        "grad_clip": 1.0, "patience": 3, "mixed_precision": True, "predict_batch": 64,
    }

    def __init__(self, *, seed: int = 0, device: str = "auto", **params: Any) -> None:
        scales = sorted(int(s) for s in params.get("scales", self.default_params["scales"]))
        if not scales or scales[0] < 8:
            raise ValueError(f"scales must be window lengths of at least 8 bars, got {scales}")
        super().__init__(seed=seed, device=device, **{**params, "scales": scales, "window": scales[-1]})
        self.n_classes_ = len(PATTERN_CLASSES)
        self.classes_: tuple[str, ...] = PATTERN_CLASSES

    @property
    def scales(self) -> list[int]:
        return list(self.params["scales"])

    def build_net(self, n_inputs: int) -> nn.Module:
        from pinelab_core.models.networks import PatternCNN

        series = self.params["style"] == "series"
        return PatternCNN(self.n_classes_, dims=1 if series else 2, in_channels=4 if series else 1,
                          channels=int(self.params["channels"]), layers=int(self.params["layers"]),
                          dropout=float(self.params["dropout"]))

    def fit_samples(self, samples: PatternSamples, *, validation: PatternSamples | None = None,
                    progress: ProgressCallback | None = None) -> FitSummary:
        """Fit on labelled windows (e.g. `generate_patterns`); early-stop on `validation` if given."""
        import torch

        from pinelab_core.models.trainer import TrainerConfig, train_classifier

        if len(samples) == 0:
            raise ModelSchemaError("No pattern samples to fit on.")
        self.feature_names_ = list(PATTERN_INPUTS)
        self.input_columns_ = list(PATTERN_INPUTS)
        torch.manual_seed(self.seed)
        self._net = self.build_net(len(PATTERN_INPUTS))
        train = (self._render(samples.windows), samples.labels)
        held = (self._render(validation.windows), validation.labels) if validation is not None else None
        config = TrainerConfig.from_params(self.params, seed=self.seed, device=self.device)
        summary = train_classifier(self._net, train, held, config, progress)
        self.fitted_device_ = summary.device
        return summary

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, validation: tuple[pd.DataFrame, np.ndarray] | None = None,
            progress: ProgressCallback | None = None) -> FitSummary:
        """Fit on a labelled series: `y[t]` is the class of the pattern completing at bar t (every scale)."""
        return self.fit_samples(self._series_samples(X, y),
                                validation=self._series_samples(*validation) if validation else None,
                                progress=progress)

    def predict_windows(self, windows: list[pd.DataFrame]) -> np.ndarray:
        """Class probabilities (n, n_classes) of independent windows, each judged at its last bar."""
        from pinelab_core.models.trainer import predict_probabilities

        net = self._require_fitted()
        if not windows:
            return np.empty((0, self.n_classes_))
        device = next(net.parameters()).device
        inputs = self._render(windows)
        # Always whole batches of the same size (the last one padded with blank inputs): a window's numbers
        # then never depend on how many others were scanned with it, so a bar scanned alone, last, or inside
        # a long history gets identical probabilities (the point-in-time tests check this).
        size = int(self.params["predict_batch"])
        padded = np.concatenate([inputs, np.zeros((-len(inputs) % size, *inputs.shape[1:]), inputs.dtype)])
        probs = predict_probabilities(net, padded, device=device, batch_size=size, mixed_precision=False)
        return probs[:len(inputs)]

    def scan(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and chosen scale (bars; 0 where too little history) at each of `rows` of X.

        Each row's windows end at that row, so its numbers read bars up to it only.
        """
        missing = [c for c in PATTERN_INPUTS if c not in X.columns]
        if missing:
            raise ModelSchemaError(f"The pattern model reads OHLC bars; missing columns {missing}.")
        values = X[list(PATTERN_INPUTS)].to_numpy(np.float64)
        rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.int64)
        probs = np.full((len(rows), self.n_classes_), np.nan)
        chosen = np.zeros(len(rows), dtype=np.int64)
        none = self.classes_.index(NO_PATTERN)
        best_none = np.full(len(rows), np.inf)
        for scale in self.scales:
            usable = np.flatnonzero(rows + 1 >= scale)
            if not len(usable):
                continue
            windows = [values[row + 1 - scale:row + 1] for row in rows[usable]]
            scored = self.predict_windows(windows)  # type: ignore[arg-type]
            better = scored[:, none] < best_none[usable]
            target = usable[better]
            probs[target], chosen[target], best_none[target] = scored[better], scale, scored[better, none]
        return probs, chosen

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities per bar of X (columns in `classes_` order); NaN before the smallest scale fills."""
        return self.scan(X)[0]

    def _render(self, windows: list[pd.DataFrame]) -> np.ndarray:
        return render_batch(windows, style=str(self.params["style"]))

    def _series_samples(self, X: pd.DataFrame, y: np.ndarray) -> PatternSamples:
        labels = np.asarray(y, dtype=np.int64)
        if len(labels) != len(X):
            raise ModelSchemaError(f"X has {len(X)} bars but y has {len(labels)} labels.")
        windows, kept = [], []
        for scale in self.scales:
            for row in range(scale - 1, len(X)):
                windows.append(X.iloc[row + 1 - scale:row + 1])
                kept.append(labels[row])
        return PatternSamples(windows, np.asarray(kept, dtype=np.int64))
