"""What the pattern net sees: an OHLCV window drawn as a 128x128 chart image, or as a normalised 1-D series.

Both are scale-free: each window is normalised to its own low and high, so a pattern looks the same on a
$5 stock and on BTC, and on any window length (the window is stretched or squeezed to 128 columns).

- `render_image(window, style="candlestick")`: float32 (128, 128), row 0 at the top (the window's high).
  Candlestick: wick pixels 0.5, body pixels 1.0. Line: the close path, 1.0 where the line passes.
  When the window has more bars than columns, each column merges its bars (first open, highest high,
  lowest low, last close), as a chart at that zoom would.
- `render_series(window)`: float32 (4, 128): open, high, low, close resampled to 128 points, in [0, 1].

Only the window's own bars are read, so an input built for bar t depends on bars up to t and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["IMAGE_SIZE", "RENDER_STYLES", "render_batch", "render_image", "render_series"]

IMAGE_SIZE = 128
RENDER_STYLES: tuple[str, ...] = ("candlestick", "line", "series")
_WICK, _BODY = 0.5, 1.0


def render_image(window: pd.DataFrame | np.ndarray, style: str = "candlestick", size: int = IMAGE_SIZE) -> np.ndarray:
    """The window drawn as a `size` x `size` chart (see the module docstring)."""
    ohlc = _ohlc(window)
    columns = _columns(ohlc, size)
    low, high = float(ohlc[:, 2].min()), float(ohlc[:, 1].max())
    rows = _to_rows(columns, low, high, size)  # (size, 4) pixel rows of open, high, low, close; 0 = top
    grid = np.arange(size)[:, None]  # pixel row, broadcast over columns
    if style == "line":
        close = rows[:, 3]
        previous = np.concatenate([close[:1], close[:-1]])
        top, bottom = np.minimum(previous, close), np.maximum(previous, close)
        return ((grid >= top) & (grid <= bottom)).astype(np.float32)
    if style != "candlestick":
        raise ValueError(f"Unknown chart style {style!r}; use 'candlestick' or 'line'.")
    image = np.where((grid >= rows[:, 1]) & (grid <= rows[:, 2]), _WICK, 0.0)
    body_top, body_bottom = np.minimum(rows[:, 0], rows[:, 3]), np.maximum(rows[:, 0], rows[:, 3])
    image = np.where((grid >= body_top) & (grid <= body_bottom), _BODY, image)
    return image.astype(np.float32)


def render_series(window: pd.DataFrame | np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Open, high, low, close of the window resampled to `size` points and scaled to [0, 1]: (4, size)."""
    ohlc = _ohlc(window)
    low, high = float(ohlc[:, 2].min()), float(ohlc[:, 1].max())
    span = high - low if high > low else 1.0
    scaled = (ohlc - low) / span
    position = np.linspace(0.0, len(ohlc) - 1, size)
    bars = np.arange(len(ohlc))
    return np.stack([np.interp(position, bars, scaled[:, k]) for k in range(4)]).astype(np.float32)


def render_batch(windows: Sequence[pd.DataFrame | np.ndarray], style: str = "candlestick",
                 size: int = IMAGE_SIZE) -> np.ndarray:
    """Inputs of many windows with a channel axis: (n, 1, size, size) images or (n, 4, size) series."""
    if style == "series":
        return np.stack([render_series(w, size) for w in windows]) if windows else np.empty((0, 4, size), np.float32)
    if not windows:
        return np.empty((0, 1, size, size), np.float32)
    return np.stack([render_image(w, style, size) for w in windows])[:, None]


def _ohlc(window: pd.DataFrame | np.ndarray) -> np.ndarray:
    values = window[["open", "high", "low", "close"]].to_numpy(np.float64) if isinstance(window, pd.DataFrame) \
        else np.asarray(window, dtype=np.float64)[:, :4]
    if len(values) < 2 or not np.isfinite(values).all():
        raise ValueError("A chart window needs at least two bars of finite open, high, low and close.")
    # Log prices: a pattern's shape does not depend on the price level, and a 10% move looks the same anywhere.
    return np.log(np.maximum(values, 1e-12))


def _columns(ohlc: np.ndarray, size: int) -> np.ndarray:
    """(size, 4) open/high/low/close per pixel column: bars stretched over columns, or merged into them."""
    n = len(ohlc)
    if n <= size:
        return ohlc[(np.arange(size) * n) // size]
    starts = (np.arange(size) * n) // size
    ends = np.append(starts[1:], n) - 1
    return np.column_stack([ohlc[starts, 0], np.maximum.reduceat(ohlc[:, 1], starts),
                            np.minimum.reduceat(ohlc[:, 2], starts), ohlc[ends, 3]])


def _to_rows(values: np.ndarray, low: float, high: float, size: int) -> np.ndarray:
    span = high - low if high > low else 1.0
    return np.rint((high - values) / span * (size - 1)).astype(np.int64)
