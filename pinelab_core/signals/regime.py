"""Market regime labels (trend x volatility), causal: the label at bar t uses bars <= t only.

Regimes let a trader ask "how did this source's BUYs do the last times the market looked like
this?" (see `outcomes.similar_signals`). Four labels plus "unknown" during the warm-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib

__all__ = ["REGIMES", "market_regime"]

REGIMES: tuple[str, ...] = ("up_calm", "up_volatile", "down_calm", "down_volatile", "unknown")


def market_regime(ohlcv: pd.DataFrame, *, trend_period: int = 50, vol_period: int = 14,
                  vol_lookback: int = 100) -> pd.Series:
    """One regime label per bar.

    Trend is "up" when the close is above its `trend_period` SMA, else "down". Volatility is
    "volatile" when ATR/close is above its own rolling median over `vol_lookback` bars (a
    trailing window, so no bar peeks at later ones), else "calm".
    """
    close = ohlcv["close"].to_numpy(dtype=np.float64)
    sma = talib.SMA(close, timeperiod=trend_period)
    atr_pct = talib.ATR(ohlcv["high"].to_numpy(np.float64), ohlcv["low"].to_numpy(np.float64), close,
                        timeperiod=vol_period) / close
    baseline = pd.Series(atr_pct, index=ohlcv.index).rolling(vol_lookback, min_periods=vol_lookback // 2).median()
    trend = np.where(close > sma, "up", "down")
    volatility = np.where(atr_pct > baseline.to_numpy(), "volatile", "calm")
    labels = np.char.add(np.char.add(trend.astype(str), "_"), volatility.astype(str)).astype(object)
    warm = np.isnan(sma) | np.isnan(atr_pct) | np.isnan(baseline.to_numpy())
    labels[warm] = "unknown"
    return pd.Series(labels, index=ohlcv.index, name="regime", dtype=object)
