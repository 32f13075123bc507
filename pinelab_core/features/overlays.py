"""Price overlays a trader draws on a chart: moving averages, Bollinger Bands and anchored VWAP.

Moving averages and bands come from TA-Lib with its default definitions, so the line on the chart is
the same number the feature engine and any TA-Lib user computes. VWAP has no TA-Lib function; it is
a cumulative sum per anchor period (a session, a week, a month), vectorised with pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import talib

from pinelab_core.errors import DataValidationError

__all__ = [
    "OVERLAY_KINDS",
    "VWAP_ANCHORS",
    "Overlay",
    "VwapAnchor",
    "anchored_vwap",
    "bollinger_bands",
    "compute_overlay",
    "ema",
    "sma",
]

OverlayKind = Literal["sma", "ema", "bollinger", "vwap"]
VwapAnchor = Literal["auto", "session", "week", "month"]
VWAP_ANCHORS: tuple[VwapAnchor, ...] = ("auto", "session", "week", "month")

#: The overlays the chart knows, by short name, with a trader-facing description.
OVERLAY_KINDS: dict[str, str] = {
    "sma": "Simple moving average of the close",
    "ema": "Exponential moving average of the close",
    "bollinger": "Bollinger Bands: SMA of the close +/- k standard deviations",
    "vwap": "Volume-weighted average price, reset every session (intraday) or month (daily bars)",
}

# Pandas period codes per VWAP anchor; "session" is one UTC calendar day.
_ANCHOR_PERIODS: dict[str, str] = {"session": "D", "week": "W-SUN", "month": "M"}


@dataclass(frozen=True)
class Overlay:
    """One overlay the trader asked for, e.g. `Overlay("sma", 50)` or `Overlay("bollinger", 20, num_std=2)`.

    Attributes:
        kind: one of `OVERLAY_KINDS` ("sma", "ema", "bollinger", "vwap").
        window: look-back in bars (ignored by VWAP, which resets on its anchor instead).
        num_std: band width in standard deviations (Bollinger only).
        anchor: VWAP reset period: "session" (UTC day), "week", "month", or "auto"
            (session for intraday bars, month for daily and coarser).
    """

    kind: OverlayKind
    window: int = 20
    num_std: float = 2.0
    anchor: VwapAnchor = "auto"

    def __post_init__(self) -> None:
        if self.kind not in OVERLAY_KINDS:
            raise DataValidationError(f"Unknown overlay {self.kind!r}. Use one of: {', '.join(OVERLAY_KINDS)}.")
        if self.kind != "vwap" and self.window < 2:
            raise DataValidationError(f"{self.kind.upper()} window must be at least 2 bars, got {self.window}.")
        if self.kind == "bollinger" and self.num_std <= 0:
            raise DataValidationError(f"Bollinger width must be positive, got {self.num_std} standard deviations.")
        if self.anchor != "auto" and self.anchor not in _ANCHOR_PERIODS:
            raise DataValidationError(f"Unknown VWAP anchor {self.anchor!r}. Use auto, session, week or month.")

    @property
    def label(self) -> str:
        """The legend name, in the trader's spelling: "SMA 50", "BB 20 2.0", "VWAP"."""
        if self.kind == "vwap":
            return "VWAP" if self.anchor == "auto" else f"VWAP ({self.anchor})"
        if self.kind == "bollinger":
            return f"BB {self.window} {self.num_std:g}"
        return f"{self.kind.upper()} {self.window}"


def _close_array(ohlcv: pd.DataFrame) -> np.ndarray:
    if "close" not in ohlcv.columns:
        raise DataValidationError("Overlays need a 'close' column; pass an OHLCV frame from load_ohlcv().")
    return ohlcv["close"].to_numpy(dtype=np.float64)


def sma(ohlcv: pd.DataFrame, window: int = 20) -> pd.Series:
    """Simple moving average of the close (TA-Lib `SMA`); NaN for the first `window - 1` bars."""
    values = talib.SMA(_close_array(ohlcv), timeperiod=window)
    return pd.Series(values, index=ohlcv.index, name=f"sma_{window}")


def ema(ohlcv: pd.DataFrame, window: int = 20) -> pd.Series:
    """Exponential moving average of the close (TA-Lib `EMA`, seeded with the first SMA)."""
    values = talib.EMA(_close_array(ohlcv), timeperiod=window)
    return pd.Series(values, index=ohlcv.index, name=f"ema_{window}")


def bollinger_bands(ohlcv: pd.DataFrame, window: int = 20, num_std: float = 2.0) -> pd.DataFrame:
    """Bollinger Bands of the close (TA-Lib `BBANDS`, simple MA, population standard deviation).

    Returns:
        A frame with columns `bb_upper_<w>`, `bb_middle_<w>`, `bb_lower_<w>` on the input index.
    """
    upper, middle, lower = talib.BBANDS(
        _close_array(ohlcv), timeperiod=window, nbdevup=num_std, nbdevdn=num_std, matype=talib.MA_Type.SMA
    )
    return pd.DataFrame(
        {f"bb_upper_{window}": upper, f"bb_middle_{window}": middle, f"bb_lower_{window}": lower},
        index=ohlcv.index,
    )


def anchored_vwap(ohlcv: pd.DataFrame, anchor: VwapAnchor = "auto") -> pd.Series:
    """Volume-weighted average of the typical price (H+L+C)/3, restarting at every anchor period.

    Only bars up to t enter the value at t, so the line is causal. A period whose volume so far is zero
    has no VWAP yet (NaN) rather than a division by zero.

    Args:
        ohlcv: OHLCV frame with a tz-aware DatetimeIndex.
        anchor: "session" (UTC day), "week", "month", or "auto": session for intraday bars, month otherwise
            (a daily VWAP anchored per day would just be each bar's typical price).
    """
    missing = {"high", "low", "close", "volume"} - set(ohlcv.columns)
    if missing:
        raise DataValidationError(f"VWAP needs columns {sorted(missing)}; pass an OHLCV frame from load_ohlcv().")
    if not isinstance(ohlcv.index, pd.DatetimeIndex):
        raise DataValidationError("VWAP needs a DatetimeIndex to know where sessions start.")
    resolved = _resolve_anchor(ohlcv.index) if anchor == "auto" else anchor
    typical = (ohlcv["high"] + ohlcv["low"] + ohlcv["close"]) / 3.0
    index = ohlcv.index.tz_convert("UTC") if ohlcv.index.tz is not None else ohlcv.index
    periods = index.tz_localize(None).to_period(_ANCHOR_PERIODS[resolved])
    # Group keys as plain integers: grouping by a Period index is several times slower on 1M bars.
    keys = pd.Series(periods.asi8, index=ohlcv.index)
    traded_value = (typical * ohlcv["volume"]).groupby(keys).cumsum()
    traded_volume = ohlcv["volume"].groupby(keys).cumsum()
    vwap = traded_value / traded_volume.where(traded_volume > 0)
    return vwap.rename("vwap")


def _resolve_anchor(index: pd.DatetimeIndex) -> str:
    if len(index) < 2:
        return "session"
    typical_step = pd.Series(index).diff().median()
    return "session" if typical_step < pd.Timedelta(days=1) else "month"


def compute_overlay(ohlcv: pd.DataFrame, overlay: Overlay) -> pd.DataFrame:
    """The line(s) of one overlay on the input index, with feature-style column names (`sma_50`, `vwap`).

    Bollinger gives three columns (upper, middle, lower); every other overlay gives one.
    """
    if overlay.kind == "sma":
        frame = sma(ohlcv, overlay.window).to_frame()
    elif overlay.kind == "ema":
        frame = ema(ohlcv, overlay.window).to_frame()
    elif overlay.kind == "bollinger":
        frame = bollinger_bands(ohlcv, overlay.window, overlay.num_std)
    else:
        frame = anchored_vwap(ohlcv, overlay.anchor).to_frame()
    return frame
