"""How orders fill and what they cost: the one set of execution rules every PineLab backtest obeys.

The rules (DESIGN.md): a target position in [-1, 1] decided at bar t's close is filled at bar t+1's open.
A fill pays, per side:
    fees          fraction of traded notional (0.001 = 10 bp), plus `fixed_fee` in cash per order;
    half_spread   fraction of the price: buys fill above the quote, sells below;
    slippage      fraction of the price, adverse, plus `slippage_atr` x ATR(14) known at the decision.
Stops (`stop_loss`, `take_profit`, `trailing_stop`, fractions of the entry price) are checked intrabar
against the bar's low/high: the stop first when both could have been hit in one bar (we cannot know which
came first, so assume the worse), and a gap through the stop fills at the open.

Sizing turns a target into units at the fill: units = target x scale x equity / (fill price x (1 + fees)),
rounded toward zero to `lot_size` (0 = fractional units). `scale` is `fraction`, times
`vol_target / realised volatility` when a volatility target is set, capped at `max_leverage`, and further
capped at `kelly_cap` x the Kelly fraction of the trades closed so far once `kelly_min_trades` have closed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from pinelab_core.errors import DataValidationError

__all__ = ["ExecutionModel", "REASONS"]

#: Why a trade was closed, by the code the engine records.
REASONS: tuple[str, ...] = ("signal", "stop", "take-profit", "trailing-stop", "open", "liquidation")

# Positions in the packed parameter vector the Numba kernels read (keep in step with `ExecutionModel.pack`).
P_FEES, P_FIXED_FEE, P_HALF_SPREAD, P_SLIPPAGE, P_SLIPPAGE_ATR = 0, 1, 2, 3, 4
P_STOP, P_TAKE, P_TRAIL = 5, 6, 7
P_FRACTION, P_MAX_LEVERAGE, P_KELLY_CAP, P_KELLY_MIN = 8, 9, 10, 11
P_MIN_ORDER, P_LOT, P_SHORT, P_INIT_CASH, P_REBALANCE = 12, 13, 14, 15, 16
N_PARAMS = 17


@dataclass(frozen=True)
class ExecutionModel:
    """Costs, stops, sizing and order rules of a backtest. Every field is validated on construction.

    Attributes:
        fees: commission per side, fraction of traded notional.
        fixed_fee: commission per order, in cash.
        half_spread: half the bid-ask spread, fraction of the price.
        slippage: adverse fill slippage, fraction of the price.
        slippage_atr: more adverse slippage in units of ATR(14) at the decision bar.
        stop_loss: exit when the price moves this fraction against the entry (None = no stop).
        take_profit: exit when the price moves this fraction in favour (None = none).
        trailing_stop: exit when the price falls this fraction from the best price since entry (None = none).
        fraction: share of equity a target of 1.0 commits.
        vol_target: annualised volatility to size for (None = fixed fraction).
        vol_lookback: bars of close-to-close returns the realised volatility is measured on.
        max_leverage: cap on |exposure| / equity after volatility targeting.
        kelly_cap: multiple of the Kelly fraction (0.5 = half Kelly) that caps exposure (None = off).
        kelly_min_trades: closed trades needed before the Kelly cap applies.
        min_order: smallest order notional in cash; smaller orders are skipped.
        lot_size: units are multiples of this (0 = fractional; 1 = whole shares).
        allow_short: when False, negative targets mean flat.
        init_cash: starting cash.
        rebalance_every: also trade back to the current target every this many bars (0 = only on change).
    """

    fees: float = 0.0
    fixed_fee: float = 0.0
    half_spread: float = 0.0
    slippage: float = 0.0
    slippage_atr: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    fraction: float = 1.0
    vol_target: float | None = None
    vol_lookback: int = 20
    max_leverage: float = 1.0
    kelly_cap: float | None = None
    kelly_min_trades: int = 20
    min_order: float = 0.0
    lot_size: float = 0.0
    allow_short: bool = True
    init_cash: float = 10_000.0
    rebalance_every: int = 0

    def __post_init__(self) -> None:
        for name in ("fees", "fixed_fee", "half_spread", "slippage", "slippage_atr", "min_order", "lot_size"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise DataValidationError(f"{name}={value!r} must be a non-negative number (fractions: 0.001 = 0.1%).")
        if self.fees >= 0.1 or self.half_spread >= 0.1 or self.slippage >= 0.1:
            raise DataValidationError("fees, half_spread and slippage are fractions below 0.1 (10%); "
                                      "did you give percent? Use 0.001 for 0.1%.")
        for name in ("stop_loss", "take_profit", "trailing_stop", "vol_target", "kelly_cap"):
            value = getattr(self, name)
            if value is not None and (not np.isfinite(value) or value <= 0):
                raise DataValidationError(f"{name}={value!r} must be a positive fraction, or None for off.")
        if self.stop_loss is not None and self.stop_loss >= 1:
            raise DataValidationError(f"stop_loss={self.stop_loss} must be below 1 (a fraction of the entry).")
        if not 0 < self.fraction <= self.max_leverage:
            raise DataValidationError(f"fraction={self.fraction} must be in (0, max_leverage={self.max_leverage}].")
        if self.init_cash <= 0 or not np.isfinite(self.init_cash):
            raise DataValidationError(f"init_cash={self.init_cash} must be positive.")
        if self.vol_lookback < 2 or self.kelly_min_trades < 1 or self.rebalance_every < 0:
            raise DataValidationError("vol_lookback >= 2, kelly_min_trades >= 1 and rebalance_every >= 0 required.")

    @classmethod
    def from_options(cls, **options: object) -> ExecutionModel:
        """Build from keyword options, naming any unknown one with the closest valid name."""
        import difflib

        known = {f.name for f in fields(cls)}
        for name in options:
            if name not in known:
                hint = difflib.get_close_matches(name, sorted(known), n=1)
                suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
                raise DataValidationError(f"Unknown backtest option {name!r}.{suggestion} "
                                          f"Valid: {', '.join(sorted(known))}.")
        return cls(**options)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def pack(self) -> np.ndarray:
        """The parameters as the float vector the Numba kernels read (NaN = option off)."""
        params = np.full(N_PARAMS, np.nan)
        params[P_FEES], params[P_FIXED_FEE] = self.fees, self.fixed_fee
        params[P_HALF_SPREAD], params[P_SLIPPAGE], params[P_SLIPPAGE_ATR] = self.half_spread, self.slippage, \
            self.slippage_atr
        params[P_STOP] = np.nan if self.stop_loss is None else self.stop_loss
        params[P_TAKE] = np.nan if self.take_profit is None else self.take_profit
        params[P_TRAIL] = np.nan if self.trailing_stop is None else self.trailing_stop
        params[P_FRACTION], params[P_MAX_LEVERAGE] = self.fraction, self.max_leverage
        params[P_KELLY_CAP] = np.nan if self.kelly_cap is None else self.kelly_cap
        params[P_KELLY_MIN] = self.kelly_min_trades
        params[P_MIN_ORDER], params[P_LOT] = self.min_order, self.lot_size
        params[P_SHORT] = 1.0 if self.allow_short else 0.0
        params[P_INIT_CASH], params[P_REBALANCE] = self.init_cash, self.rebalance_every
        return params
