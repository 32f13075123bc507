"""The torch modules behind the `lstm` and `cnn` models. Training lives in `trainer`, wrapping in `nets`.

Both read a batch of trailing windows, shape (batch, window, n_inputs), and return class logits. Each
starts with an `InputScaler` whose mean and standard deviation are fit on the training rows only and kept
as buffers, so they travel inside the `state_dict` with the weights.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["CandleCNN", "InputScaler", "LSTMAttentionNet", "PatternCNN"]


class InputScaler(nn.Module):
    """Standardise each input column with training-window statistics; missing values become the mean (0)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_inputs: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))

    def fit(self, rows: np.ndarray) -> None:
        """Fit on the training rows (n, n_inputs); NaN-aware, constant columns get std 1."""
        finite = np.where(np.isfinite(rows), rows, np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(finite, axis=0) if len(finite) else np.zeros(rows.shape[1])
            std = np.nanstd(finite, axis=0) if len(finite) else np.ones(rows.shape[1])
        mean = np.nan_to_num(mean, nan=0.0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = (x - self.mean) / self.std
        # Clamp so a wild outlier cannot overflow float16 under autocast.
        return torch.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0).clamp_(-20.0, 20.0)


class LSTMAttentionNet(nn.Module):
    """LSTM over the window, multi-head self-attention over its outputs, classifier on the last bar."""

    def __init__(
        self, n_inputs: int, n_classes: int = 3, *, hidden: int = 64, layers: int = 1, heads: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.n_classes = n_classes
        self.scaler = InputScaler(n_inputs)
        self.lstm = nn.LSTM(n_inputs, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.GELU(),
                                  nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.lstm(self.scaler(x))
        attended, _ = self.attention(sequence, sequence, sequence, need_weights=False)
        # Residual + norm keeps the LSTM's own summary available when attention adds little.
        mixed = self.norm(sequence + attended)
        return self.head(mixed[:, -1])

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """How much the last bar (whose output is classified) attends to each bar of its window: (batch, window).

        Averaged over heads; each row sums to 1. Read in eval mode so attention dropout does not blank weights.
        """
        was_training = self.training
        self.eval()
        sequence, _ = self.lstm(self.scaler(x))
        _, weights = self.attention(sequence, sequence, sequence, need_weights=True, average_attn_weights=True)
        self.train(was_training)
        return weights[:, -1]


class CandleCNN(nn.Module):
    """1-D convolutions over the window of normalised candles, pooled (mean, max, last bar), then a classifier."""

    def __init__(
        self, n_inputs: int, n_classes: int = 3, *, channels: int = 32, kernel_size: int = 5, layers: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.scaler = InputScaler(n_inputs)
        blocks: list[nn.Module] = []
        width = n_inputs
        for layer in range(layers):
            out = channels * (2 if layer == layers - 1 and layers > 1 else 1)
            # Causal-looking padding is not needed: the whole window is in the past of its last bar.
            blocks += [nn.Conv1d(width, out, kernel_size, padding=kernel_size // 2), nn.GELU(), nn.Dropout(dropout)]
            width = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(3 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(self.scaler(x).transpose(1, 2))  # (batch, channels, window)
        # Average and peak response over the window, plus the response at the latest bar, which matters most.
        pooled = torch.cat([maps.mean(dim=-1), maps.amax(dim=-1), maps[..., -1]], dim=-1)
        return self.head(pooled)


class PatternCNN(nn.Module):
    """Strided convolutions over a chart image (batch, 1, H, W) or a series (batch, 4, L), pooled, classified.

    Inputs are already scale-free (each window normalised to its own range by `patterns.render`), so no
    `InputScaler`: the net sees pixels and [0, 1] prices as drawn.
    """

    def __init__(self, n_classes: int, *, dims: int = 2, in_channels: int = 1, channels: int = 8, layers: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 (series) or 2 (image), got {dims}")
        self.n_classes = n_classes
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv1d, nn.BatchNorm1d)
        blocks: list[nn.Module] = []
        width = in_channels
        for layer in range(layers):
            out = channels * 2 ** min(layer, 2)
            kernel = 5 if layer == 0 else 3
            blocks += [conv(width, out, kernel, stride=2, padding=kernel // 2), norm(out), nn.GELU()]
            width = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.features(x).flatten(2)  # (batch, channels, positions)
        # Mean and peak response: where a shape sits in the window matters less than whether it is there.
        return self.head(torch.cat([maps.mean(dim=-1), maps.amax(dim=-1)], dim=-1))
