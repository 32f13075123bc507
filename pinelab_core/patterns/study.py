"""Event study: does a detected pattern carry information on this market, after costs?

For each detection at bar t the trade the pattern implies is entered at bar t+1's open (PineLab's fill
rule) in the pattern's direction and left `horizon` bars later at that bar's open; its return is net of
`cost` per side (fees + slippage as a fraction of notional, as in every backtest). The benchmark is
random entry: the same trade, same directions, entered at bars drawn uniformly from the whole history.

Significance is a Monte Carlo test against random entry: `n_random` times, draw as many random entry bars
as the pattern has events, sign them with the events' directions, and take the mean; the p-value is the
share of those means at least as high as the pattern's (one-sided: "better than random entry"), with the
usual +1 correction. `significant` applies a Bonferroni correction over the patterns studied. Events
whose holding periods overlap are not independent, so treat a borderline p-value with care.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError

__all__ = ["STUDY_COLUMNS", "pattern_event_study"]

STUDY_COLUMNS: tuple[str, ...] = ("events", "pending", "mean_return", "median_return", "hit_rate", "random_mean",
                                  "excess_return", "t_stat", "p_value", "significant")


def pattern_event_study(ohlcv: pd.DataFrame, events: pd.DataFrame, *, horizon: int = 10, cost: float = 0.001,
                        n_random: int = 2000, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """One row per pattern: forward returns after detection against random entry (module docstring).

    Args:
        ohlcv: the market the events were detected on.
        events: `pattern_events(...)` rows (time, pattern, direction).
        horizon: bars held after the entry bar.
        cost: cost per side as a fraction of notional (0.001 = 10 bp); charged on entry and exit.
        n_random: random-entry draws for the p-value.
        alpha: family-wise significance level (Bonferroni over the patterns in `events`).
        seed: makes the random-entry draws reproducible.

    Returns:
        Index = pattern; columns `STUDY_COLUMNS`. `pending` counts events too recent to have an exit yet.
    """
    if horizon < 1 or cost < 0 or n_random < 1:
        raise DataValidationError(f"Event study needs horizon >= 1, cost >= 0, n_random >= 1; got {horizon}, "
                                  f"{cost}, {n_random}.")
    opens = ohlcv["open"].to_numpy(np.float64)
    entry_rows = np.arange(1, len(opens) - horizon)  # every bar t whose t+1 entry and exit exist, entered at t+1
    if not len(entry_rows):
        raise DataValidationError(f"The market has too few bars ({len(opens)}) for a {horizon}-bar event study.")
    random_returns = opens[entry_rows + horizon] / opens[entry_rows] - 1.0
    rng = np.random.default_rng(seed)
    patterns = sorted(events["pattern"].unique()) if len(events) else []
    rows = {name: _study_one(opens, events[events["pattern"] == name], ohlcv.index, random_returns, horizon,
                             cost, n_random, rng) for name in patterns}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(STUDY_COLUMNS[:-1]))
    table.index.name = "pattern"
    table["significant"] = table["p_value"] < alpha / max(len(patterns), 1)
    return table.sort_values("p_value") if len(table) else table.reindex(columns=list(STUDY_COLUMNS))


def _study_one(opens: np.ndarray, events: pd.DataFrame, index: pd.DatetimeIndex, random_returns: np.ndarray,
               horizon: int, cost: float, n_random: int, rng: np.random.Generator) -> list[float]:
    positions = index.get_indexer(pd.DatetimeIndex(events["time"]))
    directions = events["direction"].to_numpy(np.float64)
    entry = positions + 1
    done = (positions >= 0) & (entry + horizon < len(opens)) & (directions != 0)
    pending = int(((positions >= 0) & (entry + horizon >= len(opens))).sum())
    entry, directions = entry[done], directions[done]
    if not len(entry):
        return [0, pending, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    returns = directions * (opens[entry + horizon] / opens[entry] - 1.0) - 2.0 * cost
    draws = rng.integers(0, len(random_returns), size=(n_random, len(entry)))
    null_means = (directions * random_returns[draws]).mean(axis=1) - 2.0 * cost
    mean = float(returns.mean())
    random_mean = float(null_means.mean())
    spread = float(null_means.std(ddof=1)) if n_random > 1 else np.nan
    t_stat = (mean - random_mean) / spread if spread and np.isfinite(spread) else np.nan
    p_value = (1 + int((null_means >= mean).sum())) / (n_random + 1)
    return [len(entry), pending, mean, float(np.median(returns)), float((returns > 0).mean()), random_mean,
            mean - random_mean, t_stat, p_value]
