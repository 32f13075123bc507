"""The position state machine alerts drive: flat, long or short, with a size.

An alert names the position it wants (buy = long, sell = short, flat = out), never a quantity to add, so the
same alert twice, or an older one replayed, can only ask for a state the account is already in: it makes no
order. That is what keeps duplicated or reordered alerts from ever doubling a position.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinelab_core.errors import DataValidationError

__all__ = ["ACTIONS", "FLAT", "PositionState", "parse_action", "transition"]

ACTIONS: tuple[str, ...] = ("buy", "sell", "flat")
_SPELLINGS = {"buy": "buy", "long": "buy", "sell": "sell", "short": "sell", "flat": "flat", "close": "flat",
              "exit": "flat"}


@dataclass(frozen=True)
class PositionState:
    """Side (+1 long, -1 short, 0 flat) and size (fraction of equity the target commits, 0 when flat)."""

    side: int = 0
    size: float = 0.0

    @property
    def target(self) -> float:
        """The target position the execution engine takes: side x size, in [-1, 1]."""
        return float(self.side * self.size)

    @property
    def label(self) -> str:
        if self.side == 0:
            return "flat"
        return f"{'long' if self.side > 0 else 'short'} {self.size:g}"


FLAT = PositionState()


def parse_action(action: str) -> str:
    """buy | sell | flat from the common spellings (BUY, long, short, close, exit)."""
    key = str(action).strip().lower()
    if key not in _SPELLINGS:
        raise DataValidationError(f"Unknown alert action {action!r}. Use buy, sell or flat.")
    return _SPELLINGS[key]


def transition(state: PositionState, action: str, size: float | None = None, *,
               allow_short: bool = True) -> PositionState:
    """The state after an alert: buy -> long `size` (default 1), sell -> short (flat when shorting is off), flat.

    Raises:
        DataValidationError: unknown action, or a size outside (0, 1].
    """
    kind = parse_action(action)
    amount = 1.0 if size is None else float(size)
    if kind != "flat" and not 0.0 < amount <= 1.0:
        raise DataValidationError(f"Alert size {size!r} must be a fraction of equity in (0, 1].")
    if kind == "flat" or (kind == "sell" and not allow_short):
        return FLAT
    return PositionState(1 if kind == "buy" else -1, amount)
