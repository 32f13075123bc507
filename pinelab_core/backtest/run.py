"""`run_backtest`: the front door of the execution engine (see execution.py for the rules it applies).

One symbol: `positions` is a Series (or array) of target positions in [-1, 1] on the OHLCV index, NaN meaning
"no new decision, keep the last one"; or a function `positions(ohlcv) -> Series`. Several symbols: `ohlcv` is a
dict of frames and `positions` a frame of weights (one column per symbol, cash is 1 - sum |w|); a row with a
number in it is a rebalancing decision, an all-NaN row is none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from pinelab_core.backtest.execution import ExecutionModel
from pinelab_core.backtest.kernel import ST_TRADED, run_single
from pinelab_core.backtest.portfolio_kernel import run_weights
from pinelab_core.backtest.result import BacktestResult, build_result, market_arrays
from pinelab_core.errors import DataValidationError
from pinelab_core.types import OHLCV_COLUMNS

__all__ = ["PositionsLike", "align_positions", "check_market", "run_backtest"]

PositionsLike: TypeAlias = pd.Series | pd.DataFrame | np.ndarray | Callable[[pd.DataFrame], pd.Series]


def run_backtest(
    ohlcv: pd.DataFrame | Mapping[str, pd.DataFrame],
    positions: PositionsLike,
    *,
    fees: float = 0.0,
    slippage: float = 0.0,
    init_cash: float = 10_000.0,
    execution: ExecutionModel | None = None,
    **options: Any,
) -> BacktestResult:
    """Turn target positions into equity, trades and statistics, filling each decision at the next open.

    Args:
        ohlcv: one OHLCV frame, or {symbol: frame} for a portfolio (the frames must share their index).
        positions: target position per bar in [-1, 1] (NaN = keep the last decision), a function of the
            OHLCV frame returning that, or for a portfolio a frame of weights with one column per symbol.
        fees: commission per side, fraction of traded notional (0.001 = 0.1%).
        slippage: adverse slippage per fill, fraction of the price.
        init_cash: starting cash.
        execution: a ready `ExecutionModel`; `fees`, `slippage`, `init_cash` and `options` override its fields.
        **options: any other `ExecutionModel` field: fixed_fee, half_spread, slippage_atr, stop_loss,
            take_profit, trailing_stop, fraction, vol_target, vol_lookback, max_leverage, kelly_cap,
            kelly_min_trades, min_order, lot_size, allow_short, rebalance_every.

    Returns:
        A `BacktestResult` (`.stats`, `.equity`, `.trades`).

    Raises:
        DataValidationError: bad frame, misaligned positions, or an unknown or invalid option.
    """
    model = _execution(execution, fees=fees, slippage=slippage, init_cash=init_cash, **options)
    if isinstance(ohlcv, Mapping):
        return _run_portfolio(ohlcv, positions, model)
    check_market(ohlcv)
    targets = align_positions(ohlcv, positions)
    arrays = market_arrays(ohlcv, model)
    equity, cash, units, records, state = run_single(arrays.open, arrays.high, arrays.low, arrays.close, arrays.atr,
                                                     arrays.scale, targets, model.pack())
    return build_result(ohlcv.index, ohlcv["close"], model, equity, cash, units * arrays.close, units, records,
                        float(state[ST_TRADED]))


def _execution(base: ExecutionModel | None, **overrides: Any) -> ExecutionModel:
    if base is None:
        return ExecutionModel.from_options(**overrides)
    merged = {**base.to_dict(), **overrides}
    return ExecutionModel.from_options(**merged)


def check_market(ohlcv: pd.DataFrame) -> None:
    """Refuse a frame the engine cannot trade: missing columns, a non-time index, NaN or non-positive prices."""
    if not isinstance(ohlcv, pd.DataFrame):
        raise DataValidationError(f"ohlcv must be a DataFrame, got {type(ohlcv).__name__}.")
    missing = [c for c in OHLCV_COLUMNS[:4] if c not in ohlcv.columns]
    if missing:
        raise DataValidationError(f"OHLCV frame lacks {missing}; load it with pinelab_core.load_ohlcv.")
    if not isinstance(ohlcv.index, pd.DatetimeIndex) or not ohlcv.index.is_monotonic_increasing:
        raise DataValidationError("The OHLCV index must be an increasing DatetimeIndex (UTC).")
    if len(ohlcv) < 2:
        raise DataValidationError(f"A backtest needs at least 2 bars; got {len(ohlcv)}.")
    prices = ohlcv[list(OHLCV_COLUMNS[:4])].to_numpy(np.float64)
    if not np.isfinite(prices).all() or (prices <= 0).any():
        raise DataValidationError("OHLC prices must be finite and positive on every bar; drop or fill bad bars.")


def align_positions(ohlcv: pd.DataFrame, positions: PositionsLike) -> np.ndarray:
    """Target positions as a float array on the OHLCV bars (NaN = no new decision), validated."""
    if callable(positions) and not isinstance(positions, pd.Series | pd.DataFrame | np.ndarray):
        positions = positions(ohlcv)
    if isinstance(positions, pd.DataFrame):
        if positions.shape[1] != 1:
            raise DataValidationError("One symbol takes a Series of positions; pass {symbol: ohlcv} for weights.")
        positions = positions.iloc[:, 0]
    if isinstance(positions, pd.Series):
        if isinstance(positions.index, pd.DatetimeIndex):
            extra = positions.index.difference(ohlcv.index)
            if len(extra):
                raise DataValidationError(
                    f"{len(extra)} position(s) fall on times that are not bars of the OHLCV frame "
                    f"(first {extra[0]}); place each decision at a bar's timestamp.")
            values = positions.reindex(ohlcv.index).to_numpy(np.float64)
        elif len(positions) == len(ohlcv):
            values = positions.to_numpy(np.float64)
        else:
            raise DataValidationError("Positions need a DatetimeIndex of bar times, or one value per bar.")
    else:
        values = np.asarray(positions, dtype=np.float64)
        if values.shape != (len(ohlcv),):
            raise DataValidationError(f"{values.shape} positions for {len(ohlcv)} bars: give one per bar.")
    finite = values[np.isfinite(values)]
    if len(finite) and (np.abs(finite) > 1.0 + 1e-12).any():
        raise DataValidationError("Target positions must lie in [-1, 1] (a fraction of equity; size with "
                                  "fraction=, vol_target= or max_leverage=).")
    if np.isinf(values).any():
        raise DataValidationError("Target positions must be finite (NaN means no new decision).")
    return np.ascontiguousarray(values)


def _run_portfolio(markets: Mapping[str, pd.DataFrame], weights: PositionsLike,
                   model: ExecutionModel) -> BacktestResult:
    if not isinstance(weights, pd.DataFrame):
        raise DataValidationError("A portfolio backtest takes a frame of weights, one column per symbol.")
    symbols = tuple(str(s) for s in markets)
    unknown = [c for c in weights.columns if str(c) not in markets]
    if unknown or not symbols:
        raise DataValidationError(f"Weight columns {unknown} have no OHLCV frame; symbols: {list(symbols)}.")
    index = next(iter(markets.values())).index
    for symbol, frame in markets.items():
        check_market(frame)
        if not frame.index.equals(index):
            raise DataValidationError(f"{symbol}'s bars differ from the others': align the symbols on common bars "
                                      "(e.g. frames.reindex(common_index)).")
    aligned = weights.reindex(columns=list(symbols))
    if not aligned.index.isin(index).all():
        raise DataValidationError("Every weights row must fall on a bar of the OHLCV frames.")
    aligned = aligned.reindex(index)
    values = aligned.to_numpy(np.float64)
    if (np.nansum(np.abs(values), axis=1) > model.max_leverage + 1e-9).any():
        raise DataValidationError(f"Gross weights exceed max_leverage={model.max_leverage} on some rows.")
    stack = {name: np.ascontiguousarray(np.column_stack([markets[s][name].to_numpy(np.float64) for s in symbols]))
             for name in ("open", "close")}
    equity, cash, value, records, traded = run_weights(stack["open"], stack["close"], values, model.pack())
    # buy-and-hold reference: equal weights bought at the first close and held
    close_index = pd.Series((stack["close"] / stack["close"][0]).mean(axis=1), index=index)
    return build_result(index, close_index, model, equity, cash, value, None, records, float(traded), symbols)
