"""Round trips through the engine's fill model: what one position held from a decision to another earns.

For code that judges calls one at a time (signal outcome tracking): the same fill prices and fees as
`run_backtest`, without building a whole account. A call decided at bar i's close enters at bar i+1's
open; its exit decided at bar j's close fills at bar j+1's open.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest.execution import ExecutionModel
from pinelab_core.backtest.kernel import held_returns
from pinelab_core.backtest.result import market_arrays
from pinelab_core.backtest.run import check_market
from pinelab_core.errors import DataValidationError

__all__ = ["round_trip_returns"]


def round_trip_returns(
    ohlcv: pd.DataFrame,
    decided_at: np.ndarray | pd.Index,
    exit_decided_at: np.ndarray | pd.Index,
    direction: np.ndarray,
    *,
    fees: float = 0.0,
    slippage: float = 0.0,
    **options: Any,
) -> np.ndarray:
    """Net return (fraction of the entry notional) of each position, NaN while its exit fill is in the future.

    Args:
        ohlcv: the market's bars.
        decided_at: bar positions (ints) or bar times at whose close each position is decided.
        exit_decided_at: bar positions or times at whose close each position is closed.
        direction: +1 long, -1 short, 0 no position (earns 0).
        fees: commission per side, fraction of traded notional.
        slippage: adverse slippage per fill, fraction of the price.
        **options: half_spread=, slippage_atr= (other `ExecutionModel` fields do not apply to one round trip).

    Returns:
        One float per position: direction x (exit fill - entry fill) / entry fill - fees on both legs.
    """
    check_market(ohlcv)
    model = ExecutionModel.from_options(fees=fees, slippage=slippage, **options)
    entry, exit_ = _positions(ohlcv, decided_at), _positions(ohlcv, exit_decided_at)
    sides = np.sign(np.asarray(direction, dtype=np.float64))
    if not len(entry) == len(exit_) == len(sides):
        raise DataValidationError("decided_at, exit_decided_at and direction must have the same length.")
    atr = market_arrays(ohlcv, model).atr
    return held_returns(ohlcv["open"].to_numpy(np.float64), entry, exit_, sides, atr, model.pack())


def _positions(ohlcv: pd.DataFrame, values: np.ndarray | pd.Index) -> np.ndarray:
    if isinstance(values, pd.DatetimeIndex) or (len(values) and isinstance(values[0], pd.Timestamp)):
        times = pd.DatetimeIndex(values)
        found = ohlcv.index.get_indexer(times)
        if (found < 0).any():
            raise DataValidationError("Every decision time must be a bar of the OHLCV frame.")
        return found.astype(np.int64)
    return np.asarray(values, dtype=np.int64)
