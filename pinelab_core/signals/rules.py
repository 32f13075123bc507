"""Rule signals from TA-Lib: RSI, MACD and Bollinger crossovers, and candlestick patterns.

Each rule returns a frame indexed like the OHLCV with `direction` (+1 buy, -1 sell) and
`strength` in (0, 1], only on the bars where the rule fired. A crossover at bar t is known at
t's close and uses bars <= t, so every rule is causal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

__all__ = ["CANDLE_PATTERNS", "RULES", "bollinger_reentry", "candlestick_patterns", "macd_cross", "rsi_reversal"]

#: The TA-Lib pattern functions read as directional: +100/+200 bullish, -100/-200 bearish.
CANDLE_PATTERNS: tuple[str, ...] = (
    "CDLENGULFING", "CDLHAMMER", "CDLSHOOTINGSTAR", "CDLMORNINGSTAR", "CDLEVENINGSTAR", "CDLPIERCING",
    "CDLDARKCLOUDCOVER", "CDL3WHITESOLDIERS", "CDL3BLACKCROWS", "CDLHARAMI", "CDLINVERTEDHAMMER",
    "CDLHANGINGMAN",
)


def _arrays(ohlcv: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(ohlcv[c].to_numpy(np.float64) for c in ("open", "high", "low", "close"))


def _fired(ohlcv: pd.DataFrame, direction: np.ndarray, strength: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"direction": direction.astype(np.int64), "strength": np.clip(strength, 0.05, 1.0)},
                         index=ohlcv.index)
    return frame[frame["direction"] != 0]


def _crossed_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    b_now = np.broadcast_to(b, a.shape)
    b_prev = np.concatenate([[np.nan], b_now[:-1]])
    a_prev = np.concatenate([[np.nan], a[:-1]])
    with np.errstate(invalid="ignore"):
        return (a_prev <= b_prev) & (a > b_now)


def rsi_reversal(
    ohlcv: pd.DataFrame, period: int = 14, oversold: float = 30.0, overbought: float = 70.0
) -> pd.DataFrame:
    """BUY when RSI climbs back above `oversold`, SELL when it falls back below `overbought`.

    Strength grows with how deep the excursion went over the last five bars.
    """
    close = ohlcv["close"].to_numpy(np.float64)
    rsi = talib.RSI(close, timeperiod=period)
    up, down = _crossed_above(rsi, oversold), _crossed_above(-rsi, -overbought)
    depth_low = oversold - talib.MIN(rsi, timeperiod=5)
    depth_high = talib.MAX(rsi, timeperiod=5) - overbought
    direction = np.where(up, 1, np.where(down, -1, 0))
    strength = np.where(up, 0.5 + depth_low / 20.0, 0.5 + depth_high / 20.0)
    return _fired(ohlcv, direction, np.nan_to_num(strength, nan=0.5))


def macd_cross(ohlcv: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """BUY when MACD crosses above its signal line, SELL when below; stronger the further from zero, in ATRs."""
    _, high, low, close = _arrays(ohlcv)
    macd, macd_signal, _ = talib.MACD(close, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    atr = talib.ATR(high, low, close, timeperiod=14)
    up, down = _crossed_above(macd, macd_signal), _crossed_above(macd_signal, macd)
    direction = np.where(up, 1, np.where(down, -1, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        # A bullish cross far below zero (or bearish far above) turns a deeper move: stronger.
        stretch = np.nan_to_num(-np.sign(direction) * macd / atr, nan=0.0)
    return _fired(ohlcv, direction, 0.5 + 0.5 * np.clip(stretch, 0.0, 1.0))


def bollinger_reentry(ohlcv: pd.DataFrame, period: int = 20, width: float = 2.0) -> pd.DataFrame:
    """Mean reversion: BUY when the close re-enters above the lower band, SELL when back below the upper."""
    _, high, low, close = _arrays(ohlcv)
    upper, _, lower = talib.BBANDS(close, timeperiod=period, nbdevup=width, nbdevdn=width)
    up, down = _crossed_above(close, lower), _crossed_above(-close, -upper)
    atr = talib.ATR(high, low, close, timeperiod=14)
    previous = np.concatenate([[np.nan], close[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        excursion = np.where(up, np.concatenate([[np.nan], lower[:-1]]) - previous,
                             previous - np.concatenate([[np.nan], upper[:-1]])) / atr
    direction = np.where(up, 1, np.where(down, -1, 0))
    return _fired(ohlcv, direction, 0.5 + 0.5 * np.clip(np.nan_to_num(excursion, nan=0.0), 0.0, 1.0))


def candlestick_patterns(ohlcv: pd.DataFrame, patterns: tuple[str, ...] = CANDLE_PATTERNS) -> pd.DataFrame:
    """The net vote of TA-Lib's candlestick patterns at each bar (bullish minus bearish)."""
    open_, high, low, close = _arrays(ohlcv)
    votes = np.zeros(len(ohlcv))
    for name in patterns:
        votes += getattr(talib, name)(open_, high, low, close) / 100.0
    return _fired(ohlcv, np.sign(votes), np.abs(votes) / 2.0)


RULES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "rsi": rsi_reversal,
    "macd": macd_cross,
    "bollinger": bollinger_reentry,
    "candlestick": candlestick_patterns,
}
