"""Model-specific input columns built from the OHLCV frame: the normalised candles the `cnn` reads.

Raw prices are not comparable across time or symbols, so each candle is expressed relative to the
previous close (log ratios) and volume as a z-score of log volume over a trailing window. Every value at
bar t uses bars <= t only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.types import OHLCV_COLUMNS

__all__ = ["CANDLE_COLUMNS", "candle_inputs"]

#: The columns `candle_inputs` builds, in the order the `cnn` model reads them.
CANDLE_COLUMNS: tuple[str, ...] = ("candle_open", "candle_high", "candle_low", "candle_close", "candle_volume")


def candle_inputs(ohlcv: pd.DataFrame, *, volume_window: int = 50) -> pd.DataFrame:
    """Normalised candles for the 1-D CNN, on the OHLCV frame's index.

    Args:
        ohlcv: an OHLCV frame (open, high, low, close, volume; positive prices).
        volume_window: trailing bars of the log-volume z-score.

    Returns:
        Float64 frame with `CANDLE_COLUMNS`: open/high/low/close as log(price / previous close), volume as
        (log1p(volume) - trailing mean) / trailing std. The first bar (no previous close) and the first
        `volume_window - 1` volume values are NaN; a flat-volume window gives 0.

    Raises:
        DataValidationError: columns are missing, prices are not positive, or the window is below 2.
    """
    missing = [c for c in OHLCV_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise DataValidationError(f"candle_inputs needs OHLCV columns; missing {', '.join(missing)}.")
    if volume_window < 2:
        raise DataValidationError(f"volume_window must be at least 2 bars, got {volume_window}.")
    prices = ohlcv[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    if (prices <= 0).any():
        raise DataValidationError("candle_inputs needs positive prices; found zero or negative values.")
    previous_close = np.concatenate([[np.nan], prices[:-1, 3]])
    log_ratios = np.log(prices) - np.log(previous_close)[:, None]
    log_volume = pd.Series(np.log1p(ohlcv["volume"].to_numpy(dtype=np.float64).clip(min=0)), index=ohlcv.index)
    rolling = log_volume.rolling(volume_window, min_periods=volume_window)
    mean, std = rolling.mean(), rolling.std(ddof=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        volume_z = np.where(std > 1e-12, (log_volume - mean) / std, np.where(std.notna(), 0.0, np.nan))
    frame = pd.DataFrame(log_ratios, index=ohlcv.index, columns=list(CANDLE_COLUMNS[:4]))
    frame[CANDLE_COLUMNS[4]] = volume_z
    return frame
