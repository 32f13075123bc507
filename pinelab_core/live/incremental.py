"""Incremental learning for the nets: fine-tune on the bars since training, with a replay buffer of older ones,
and measure it against a full retrain on the same data.

`fine_tune_version` loads a registered net, builds its inputs and labels on the bars up to now with its manifest's
recipe, and:

1. for the report, holds out the newest labelled bars (purged by the label horizon): a copy of the net fine-tuned
   on the new bars before them, and a fresh net of the same kind and parameters trained from scratch on all bars
   before them (the same shared trainer, the manifest's refit epochs), are both scored on the held-out bars;
2. fine-tunes the net on every new bar (the challenger it returns), with a manifest that says what it came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.models.nets import SequenceModel

__all__ = ["FineTuneResult", "IncrementalReport", "fine_tune_version"]


@dataclass(frozen=True)
class IncrementalReport:
    """Fine-tuning against a full retrain, scored on the same held-out newest bars."""

    new_rows: int
    replay_rows: int
    holdout_rows: int
    fine_tune_seconds: float
    full_retrain_seconds: float
    fine_tune_log_loss: float
    full_retrain_log_loss: float
    fine_tune_accuracy: float
    full_retrain_accuracy: float
    parent_log_loss: float  # the version as it was, on the same bars


@dataclass(frozen=True)
class FineTuneResult:
    model: Any
    manifest: Any
    report: IncrementalReport


def fine_tune_version(settings: Settings, name: str, version: int, ohlcv: pd.DataFrame, *, epochs: int = 3,
                      replay_ratio: float = 1.0, holdout_fraction: float = 0.2) -> FineTuneResult:
    """Fine-tune `name@version` (an lstm or cnn) on the labelled bars of `ohlcv` after its training range.

    Raises:
        DataValidationError: not a net, or no new labelled bar since the version was trained.
    """
    from pinelab_core.features import data_fingerprint
    from pinelab_core.live.challenger import version_inputs
    from pinelab_core.models.registry import load_version
    from pinelab_core.training.labels import LabelSpec, make_labels
    from pinelab_core.training.walk_forward import labelled_sample

    loaded = load_version(settings, name, version, device=settings.device)
    manifest = loaded.manifest
    _net(loaded.model, f"{name}@v{version}")
    spec = LabelSpec.from_dict(manifest.label)
    sample = labelled_sample(version_inputs(manifest, ohlcv, settings), make_labels(ohlcv, spec))
    through = pd.Timestamp(manifest.trained_through) if manifest.trained_through else None
    if through is None:
        raise DataValidationError(f"{name}@v{version}'s manifest does not say which bars it learned from.")
    through = through.tz_localize("UTC") if through.tzinfo is None else through
    new_from = int(np.searchsorted(sample.X.index.as_unit("ns"), through.as_unit("ns"), side="right"))
    n_new = len(sample.y) - new_from
    if n_new < 2:
        raise DataValidationError(f"No new labelled bars since {name}@v{version} was trained (through {through}).")
    replay = int(round(replay_ratio * n_new))
    report = _compare(settings, name, version, sample, new_from, spec.horizon, epochs, replay, holdout_fraction)
    model = _net(load_version(settings, name, version, device=settings.device).model, f"{name}@v{version}")
    model.fine_tune(sample.X, sample.y, new_from=new_from, replay_size=replay, epochs=epochs)
    options = {**manifest.options, "fine_tuned_from": version, "fine_tune": {
        "new_rows": n_new, "replay_rows": min(replay, new_from), "epochs": epochs}}
    fresh = replace(manifest, version=0, checksum="", files={}, created_at="", job_id=None,
                    data_fingerprint=data_fingerprint(ohlcv), trained_through=sample.X.index[-1].isoformat(),
                    options=options, metrics={"holdout_log_loss": report.fine_tune_log_loss,
                                              "holdout_accuracy": report.fine_tune_accuracy},
                    fold_metrics=[], feature_importance={})
    return FineTuneResult(model, fresh, report)


def _compare(settings: Settings, name: str, version: int, sample: Any, new_from: int, horizon: int, epochs: int,
             replay: int, holdout_fraction: float) -> IncrementalReport:
    """Fine-tuned copy vs a from-scratch net, both fitted on the bars before the held-out newest ones."""
    from pinelab_core.models import model_class
    from pinelab_core.models.registry import load_version

    n = len(sample.y)
    holdout = max(1, int((n - new_from) * holdout_fraction))
    fit_end = n - holdout - horizon  # purge: no fitted label may look into the held-out bars
    if fit_end <= new_from:
        raise DataValidationError("Too few new bars to compare fine-tuning with a full retrain; wait for more.")
    X_fit, y_fit = sample.X.iloc[:fit_end], sample.y[:fit_end]
    loaded = load_version(settings, name, version, device=settings.device)
    net = _net(loaded.model, f"{name}@v{version}")
    parent = _score(net, sample, n - holdout)
    started = time.perf_counter()
    net.fine_tune(X_fit, y_fit, new_from=new_from, replay_size=replay, epochs=epochs)
    tuned_seconds = time.perf_counter() - started
    tuned = _score(net, sample, n - holdout)
    options = loaded.manifest.options or {}
    params = {**(options.get("model_params") or {}), **(options.get("refit_params") or {})}
    scratch = model_class(loaded.manifest.kind)(seed=loaded.manifest.seed, device=settings.device, **params)
    started = time.perf_counter()
    scratch.fit(X_fit, y_fit)
    full_seconds = time.perf_counter() - started
    full = _score(scratch, sample, n - holdout)
    return IncrementalReport(new_rows=n - new_from, replay_rows=min(replay, new_from), holdout_rows=holdout,
                             fine_tune_seconds=round(tuned_seconds, 3), full_retrain_seconds=round(full_seconds, 3),
                             fine_tune_log_loss=tuned[0], full_retrain_log_loss=full[0], fine_tune_accuracy=tuned[1],
                             full_retrain_accuracy=full[1], parent_log_loss=parent[0])


def _net(model: Any, ref: str) -> SequenceModel:
    if not isinstance(model, SequenceModel):
        raise DataValidationError(f"{ref} is a {model.kind} model; only the nets (lstm, cnn) can be fine-tuned.")
    return model


def _score(model: Any, sample: Any, first: int) -> tuple[float, float]:
    """Log loss and accuracy of `model` on the rows from `first` on (its window context taken from before)."""
    start = max(0, first - model.context_rows)
    probabilities = np.asarray(model.predict_proba(sample.X.iloc[start:]), dtype=float)[first - start:]
    truth = sample.y[first:]
    picked = np.clip(probabilities[np.arange(len(truth)), truth], 1e-15, 1.0)
    return float(-np.mean(np.log(picked))), float(np.mean(probabilities.argmax(axis=1) == truth))
