"""SHAP-style attributions of the torch sequence nets: integrated gradients over a background of windows.

For each bar, captum's `IntegratedGradients` integrates the gradient of the net's centred logit of the
explained class (logit_c - mean logit = centred log-probability) along the straight path from a
background window to the bar's window (Gauss-Legendre quadrature). Averaged over several background
windows this is the expected-gradients estimator of SHAP values; completeness makes
base (mean score over the background) + sum of contributions == output, up to the quadrature error,
which is measured per bar and driven below `tolerance` by doubling the steps. The path runs in the
space of the net's own standardised inputs (after its `InputScaler`, whose clamp would put kinks on the
path); there the LSTM is smooth and converges to float precision, the CNN's max-pooling to ~1e-5. A
feature's contribution is its attribution summed over the window's time steps. The net runs in float64
for the explanation so float32 rounding does not blur the check.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.errors import ModelSchemaError
from pinelab_core.explain.attribution import Attribution
from pinelab_core.models.base import Model
from pinelab_core.models.schema import to_matrix

__all__ = ["attention_over_window", "explain_sequence", "sequence_net"]

MAX_STEPS = 256


def sequence_net(model: Model) -> Any:
    """The fitted torch module of a PineLab sequence model (`lstm`, `cnn`)."""
    net = getattr(model, "net", None)
    if net is None:
        net = getattr(model, "_net", None)  # SequenceModel keeps it private; no public accessor yet
    if net is None:
        raise ModelSchemaError(f"The {model.kind} model has no fitted net to explain. Load or fit it first.")
    return net


def explain_sequence(model: Model, X: pd.DataFrame, rows: np.ndarray, target: np.ndarray, *,
                     n_background: int = 12, n_steps: int = 32, tolerance: float = 1e-6) -> Attribution:
    """Attributions of a sequence model's centred log-probability of class `target[i]` at `X.iloc[rows[i]]`.

    Args:
        model: a fitted sequence `Model` (its `window`, `input_columns_` and net are used).
        X: consecutive bars, the model's full input frame; rows before each explained bar complete its window
            and the frame's full windows are the background.
        rows: positions in X of the bars to explain (each needs `window - 1` rows of history).
        target: class index to explain per bar.
        n_background: background windows, spread evenly over X.
        n_steps: quadrature steps to start from; doubled (up to 256) until every |gap| <= tolerance.
        tolerance: largest acceptable additivity gap, in score units.
    """
    import torch

    window = int(model.window)  # type: ignore[attr-defined]
    columns = list(model.input_columns_)  # type: ignore[attr-defined]
    rows, target = np.asarray(rows, dtype=int), np.asarray(target, dtype=int)
    if len(rows) and rows.min() < window - 1:
        raise ModelSchemaError(f"The {model.kind} model needs {window - 1} bars of history before a bar to explain it.")
    raw = to_matrix(X[columns], np.float64)
    net, matrix = _scaled_net(sequence_net(model), raw)
    windows = np.lib.stride_tricks.sliding_window_view(matrix, window, axis=0).transpose(0, 2, 1)
    inputs = torch.as_tensor(np.ascontiguousarray(windows[rows - (window - 1)]))
    picks = np.unique(np.linspace(0, len(windows) - 1, min(n_background, len(windows))).round().astype(int))
    background = torch.as_tensor(np.ascontiguousarray(windows[picks]))

    def centred_logits(batch: torch.Tensor) -> torch.Tensor:
        logits = net(batch)
        return logits - logits.mean(dim=-1, keepdim=True)

    with torch.no_grad():
        output = centred_logits(inputs).numpy()[np.arange(len(rows)), target]
        base = centred_logits(background).numpy()[:, target].mean(axis=0)
    values = _integrated_gradients(centred_logits, inputs, background, target, n_steps, tolerance,
                                   output - base)
    return Attribution(tuple(columns), pd.DatetimeIndex(X.index[rows]), target, base, values, output,
                       raw[rows], f"integrated-gradients({len(picks)} baselines)")


def _integrated_gradients(forward: Any, inputs: Any, background: Any, target: np.ndarray, n_steps: int,
                          tolerance: float, expected_total: np.ndarray) -> np.ndarray:
    """Mean IG attribution over the background, summed over time: (n, n_features)."""
    import torch
    from captum.attr import IntegratedGradients

    n, k = inputs.shape[0], background.shape[0]
    repeated = inputs.repeat_interleave(k, dim=0)
    baselines = background.repeat(n, 1, 1)
    targets = torch.as_tensor(np.repeat(target, k))
    explainer = IntegratedGradients(forward)
    steps = n_steps
    while True:
        attributions = explainer.attribute(repeated, baselines=baselines, target=targets, n_steps=steps,
                                           method="gausslegendre", internal_batch_size=max(256, k * steps))
        values = attributions.detach().sum(dim=1).reshape(n, k, -1).mean(dim=1).numpy()
        gap = np.abs(expected_total - values.sum(axis=1))
        if gap.max(initial=0.0) <= tolerance or steps >= MAX_STEPS:
            return values
        steps *= 2


def _scaled_net(net: Any, matrix: np.ndarray) -> tuple[Any, np.ndarray]:
    """A float64 copy of the net without its input scaler, and the inputs already scaled by it.

    Integrating in the scaled space is integrated gradients along another straight path (the scaler is
    monotone per feature), so completeness still holds, while the scaler's clamp and its NaN-to-mean
    step (kinks and holes on the path) no longer slow the quadrature down.
    """
    import torch

    net = copy.deepcopy(net).to("cpu").double().eval()
    scaler = getattr(net, "scaler", None)
    if scaler is None:
        return net, np.where(np.isfinite(matrix), matrix, 0.0)
    with torch.no_grad():
        scaled = scaler(torch.as_tensor(matrix)).numpy()
    net.scaler = torch.nn.Identity()
    return net, scaled


def attention_over_window(model: Model, X: pd.DataFrame, row: int) -> pd.Series:
    """The LSTM's attention from bar `row` of X over the bars of its window, indexed by bar time (sums to 1).

    Raises:
        ModelSchemaError: the model's net has no attention (only `lstm` has).
        DataValidationError: the bar has fewer than `window - 1` bars of history in X.
    """
    import torch

    from pinelab_core.errors import DataValidationError

    net = sequence_net(model)
    if not hasattr(net, "attention_weights"):
        raise ModelSchemaError(f"The {model.kind} model has no attention layer; only lstm models do.")
    window = int(model.window)  # type: ignore[attr-defined]
    first = int(row) + 1 - window
    if first < 0:
        raise DataValidationError(f"The bar needs {window - 1} bars of history before it for the {model.kind} window.")
    values = to_matrix(X[list(model.input_columns_)].iloc[first:row + 1])  # type: ignore[attr-defined]
    device = next(net.parameters()).device
    weights = net.attention_weights(torch.as_tensor(values[None], dtype=torch.float32, device=device))
    return pd.Series(weights[0].float().cpu().numpy().astype(np.float64), index=X.index[first:row + 1],
                     name="attention")
