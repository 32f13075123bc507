"""Market context at a bar: the indicators and regime a trader glances at when an alert arrives.

`context_frame` computes everything once per OHLCV frame (TA-Lib, causal); `context_at` reads the
row of the bar an alert belongs to: the last bar that opened at or before the alert's time, so the
context never includes a bar that had not started when the alert fired.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import talib

from pinelab_core.signals.regime import market_regime

__all__ = ["context_at", "context_frame"]


def context_frame(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Per-bar context columns: close, rsi_14, macd_hist, atr_14, bb_position, return_20, volatility_20, regime."""
    close = ohlcv["close"].to_numpy(np.float64)
    high, low = ohlcv["high"].to_numpy(np.float64), ohlcv["low"].to_numpy(np.float64)
    _, _, macd_hist = talib.MACD(close)
    upper, _, lower = talib.BBANDS(close, timeperiod=20)
    width = upper - lower
    log_returns = np.diff(np.log(close), prepend=np.nan)
    frame = pd.DataFrame(
        {
            "close": close,
            "rsi_14": talib.RSI(close, timeperiod=14),
            "macd_hist": macd_hist,
            "atr_14": talib.ATR(high, low, close, timeperiod=14),
            "bb_position": np.divide(close - lower, width, out=np.full_like(close, np.nan), where=width > 0),
            "return_20": talib.ROCR(close, timeperiod=20) - 1.0,
            "volatility_20": pd.Series(log_returns).rolling(20).std().to_numpy(),
        },
        index=ohlcv.index,
    )
    frame["regime"] = market_regime(ohlcv)
    return frame


def context_at(frame: pd.DataFrame, at: datetime | pd.Timestamp) -> dict[str, Any] | None:
    """The context row of the bar in progress at `at`, as plain JSON-ready values; None before the first bar."""
    moment = pd.Timestamp(at)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    position = int(frame.index.searchsorted(moment, side="right")) - 1
    if position < 0:
        return None
    row = frame.iloc[position]
    values: dict[str, Any] = {"bar_time": frame.index[position].isoformat()}
    for name, value in row.items():
        if isinstance(value, float | np.floating):
            values[str(name)] = None if not math.isfinite(float(value)) else round(float(value), 6)
        else:
            values[str(name)] = value
    return values
