"""The one torch training loop every PineLab net trains through.

It owns what every net needs and none should re-implement: device placement, mixed precision on CUDA
(bfloat16 autocast where the GPU supports it, else float16 with a `GradScaler`), pinned host memory with
non-blocking copies on CUDA, AdamW, gradient clipping, class-weighted cross-entropy, early stopping on the
validation loss with the best weights restored, a progress callback per epoch, and deterministic seeding.

Inputs are any arrays that support integer-array indexing and return float32 batches (a NumPy array, or a
`sliding_window_view` of one: only the rows of a batch are copied, so windows are never materialised).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from pinelab_core.models.base import FitSummary, ProgressCallback, TrainingProgress
from pinelab_core.models.device import choose_device, configure_cpu_threads
from pinelab_core.models.schema import balanced_class_weights

__all__ = ["TrainerConfig", "predict_probabilities", "train_classifier"]


@dataclass(frozen=True)
class TrainerConfig:
    """How a net trains. The defaults suit a few thousand bars and a few dozen features."""

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    patience: int = 5  # epochs without a better validation loss before stopping
    mixed_precision: bool = True  # only ever used on CUDA; CPU always trains in float32
    device: str = "auto"
    seed: int = 0
    num_threads: int | None = None  # CPU threads; None = physical cores

    @classmethod
    def from_params(cls, params: dict[str, Any], *, seed: int, device: str) -> TrainerConfig:
        """Pick this config's fields out of a model's params (unknown keys belong to the net)."""
        known = {name: params[name] for name in cls.__dataclass_fields__ if name in params}
        known.update(seed=seed, device=device)
        return cls(**known)


@dataclass(frozen=True)
class _Precision:
    dtype: torch.dtype | None  # None = full float32
    scaler: torch.amp.GradScaler


def train_classifier(
    net: nn.Module,
    train: tuple[Any, np.ndarray],
    validation: tuple[Any, np.ndarray] | None,
    config: TrainerConfig,
    progress: ProgressCallback | None = None,
) -> FitSummary:
    """Train `net` (inputs -> class logits) with class-weighted cross-entropy.

    Args:
        net: the torch module; it is moved to the chosen device and left there with the best weights.
        train: (inputs, integer labels); inputs index like an array of shape (n, ...).
        validation: optional (inputs, labels) for early stopping; without it every epoch runs.
        config: epochs, batch size, optimiser and device settings.
        progress: called once per epoch with the epoch's losses.

    Returns:
        Losses of the kept (best) epoch, the epoch number, the device and the per-epoch history.
    """
    device = choose_device(config.device)
    if device.type == "cpu":
        configure_cpu_threads(config.num_threads)
    torch.manual_seed(config.seed)  # dropout masks; the net's initial weights were seeded by its builder
    rng = np.random.default_rng(config.seed)
    x_train, y_train = train
    n_classes = _n_classes(net)
    weight = torch.as_tensor(balanced_class_weights(y_train, n_classes), dtype=torch.float32, device=device)
    net.to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    precision = _precision(device, config.mixed_precision)
    history: list[TrainingProgress] = []
    best: tuple[float, int, float, dict[str, torch.Tensor]] | None = None  # (val loss, epoch, train loss, weights)
    stale = 0
    with _deterministic(device):
        for epoch in range(1, config.epochs + 1):
            order = rng.permutation(len(y_train))
            train_loss = _train_epoch(net, x_train, y_train, order, optimizer, weight, precision, config, device)
            val_loss = _evaluate(net, *validation, weight, precision, config, device) if validation else None
            tick = TrainingProgress(epoch, config.epochs, train_loss, val_loss, f"epoch {epoch}/{config.epochs}")
            history.append(tick)
            if progress is not None:
                progress(tick)
            if val_loss is None:
                continue
            if best is None or val_loss < best[0]:
                best, stale = (val_loss, epoch, train_loss, _copy_weights(net)), 0
            else:
                stale += 1
                if stale >= config.patience:
                    break
    if best is not None:
        net.load_state_dict(best[3])
        return FitSummary(best[2], best[0], best[1], str(device), history)
    last = history[-1] if history else TrainingProgress(0, config.epochs)
    return FitSummary(last.train_loss, None, last.step, str(device), history)


@torch.no_grad()
def predict_probabilities(
    net: nn.Module, inputs: Any, *, device: torch.device, batch_size: int = 1024, mixed_precision: bool = True
) -> np.ndarray:
    """Softmax probabilities of `net` for every input row, in order, as float64 (n, n_classes)."""
    net.eval()
    precision = _precision(device, mixed_precision)
    chunks: list[torch.Tensor] = []
    for start in range(0, len(inputs), batch_size):
        batch = _to_device(inputs[start:start + batch_size], device)
        with _autocast(device, precision):
            logits = net(batch)
        chunks.append(torch.softmax(logits.float(), dim=-1))
    if not chunks:
        return np.empty((0, _n_classes(net)))
    return torch.cat(chunks).cpu().numpy().astype(np.float64)  # one device-to-host copy at the end


def _train_epoch(
    net: nn.Module, inputs: Any, labels: np.ndarray, order: np.ndarray, optimizer: torch.optim.Optimizer,
    weight: torch.Tensor, precision: _Precision, config: TrainerConfig, device: torch.device,
) -> float:
    net.train()
    # Sums stay on the device: a float() per batch would make the host wait for the GPU on every step.
    total, weight_sum = torch.zeros((), device=device), torch.zeros((), device=device)
    for batch_x, batch_y in _batches(inputs, labels, order, config.batch_size, device):
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, precision):
            logits = net(batch_x)
        # The loss is computed in float32 whatever the autocast dtype: cross-entropy needs the range.
        loss_sum = functional.cross_entropy(logits.float(), batch_y, weight=weight, reduction="sum")
        batch_weight = weight[batch_y].sum()
        precision.scaler.scale(loss_sum / batch_weight).backward()
        precision.scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        precision.scaler.step(optimizer)
        precision.scaler.update()
        total += loss_sum.detach()
        weight_sum += batch_weight.detach()
    return _ratio(total, weight_sum)


@torch.no_grad()
def _evaluate(
    net: nn.Module, inputs: Any, labels: np.ndarray, weight: torch.Tensor, precision: _Precision,
    config: TrainerConfig, device: torch.device,
) -> float:
    net.eval()
    total, weight_sum = torch.zeros((), device=device), torch.zeros((), device=device)
    order = np.arange(len(labels))
    for batch_x, batch_y in _batches(inputs, labels, order, max(config.batch_size, 1024), device):
        with _autocast(device, precision):
            logits = net(batch_x)
        total += functional.cross_entropy(logits.float(), batch_y, weight=weight, reduction="sum")
        weight_sum += weight[batch_y].sum()
    return _ratio(total, weight_sum)


def _ratio(total: torch.Tensor, weight_sum: torch.Tensor) -> float:
    """Weighted mean loss of an epoch, read from the device once."""
    denominator = float(weight_sum)
    return float(total) / denominator if denominator else math.nan


def _batches(
    inputs: Any, labels: np.ndarray, order: np.ndarray, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        batch_y = torch.from_numpy(np.ascontiguousarray(labels[index], dtype=np.int64))
        yield _to_device(inputs[index], device), _move(batch_y, device)


def _to_device(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    batch = np.ascontiguousarray(rows, dtype=np.float32)
    if not batch.flags.writeable:  # a read-only frame or view: torch tensors must own writable memory
        batch = batch.copy()
    return _move(torch.from_numpy(batch), device)


def _move(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cuda":
        # Page-locked host memory lets the copy overlap with the previous batch's kernels.
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _precision(device: torch.device, mixed_precision: bool) -> _Precision:
    dtype: torch.dtype | None = None
    if device.type == "cuda" and mixed_precision:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # Only float16 needs loss scaling (its exponent range is narrow); bfloat16 and float32 do not.
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    return _Precision(dtype, scaler)


def _autocast(device: torch.device, precision: _Precision) -> contextlib.AbstractContextManager[Any]:
    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=precision.dtype)


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels on CPU (CUDA's deterministic LSTM needs process-wide cuBLAS settings)."""
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def _copy_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in net.state_dict().items()}


def _n_classes(net: nn.Module) -> int:
    """The net's `n_classes` attribute, else the width of its last linear layer."""
    declared = getattr(net, "n_classes", None)
    if declared:
        return int(declared)
    linears = [module for module in net.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(net).__name__} declares no n_classes and has no nn.Linear output layer")
    return int(linears[-1].out_features)
