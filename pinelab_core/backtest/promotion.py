"""The promotion checklist: the seeds' rule for moving a strategy from research towards paper trading."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["PromotionRule", "promotion_checklist"]


@dataclass(frozen=True)
class PromotionRule:
    """Thresholds: backtest Sharpe above, walk-forward out-of-sample trade win rate above, and the Monte Carlo
    5th-percentile max drawdown no worse than `max_drawdown_limit` (a negative fraction the user sets)."""

    min_sharpe: float = 1.5
    min_walk_forward_win_rate: float = 0.55
    max_drawdown_limit: float = -0.25


def promotion_checklist(sharpe: float, walk_forward_win_rate: float | None, monte_carlo_p5_drawdown: float | None,
                        rule: PromotionRule = PromotionRule()) -> pd.DataFrame:
    """One row per check: what was measured, the threshold, and pass/fail (a check not run yet fails)."""
    rows = [
        ("Backtest Sharpe", sharpe, f"> {rule.min_sharpe:g}", sharpe > rule.min_sharpe),
        ("Walk-forward out-of-sample win rate", walk_forward_win_rate, f"> {rule.min_walk_forward_win_rate:.0%}",
         walk_forward_win_rate is not None and walk_forward_win_rate > rule.min_walk_forward_win_rate),
        ("Monte Carlo 5th-percentile max drawdown", monte_carlo_p5_drawdown, f">= {rule.max_drawdown_limit:.0%}",
         monte_carlo_p5_drawdown is not None and monte_carlo_p5_drawdown >= rule.max_drawdown_limit),
    ]
    return pd.DataFrame(rows, columns=["check", "value", "threshold", "passed"])
