"""Event study: does a detected pattern carry information on this market, after costs?

For each detection at bar t the trade the pattern implies is decided at t's close in the pattern's
direction and closed at bar t+horizon's close; the execution engine's round trip
(`backtest.round_trip_returns`) fills both at the next bar's open and charges `cost` per side as a fee, so
the returns are the ones a backtest of the same calls would book. The benchmark is random entry: the same
round trip, in the same directions, decided at bars drawn uniformly from the whole history.

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
        horizon: bars from the decision to the exit decision (each filled at the next bar's open).
        cost: fee per side as a fraction of notional (0.001 = 10 bp); charged on entry and exit.
        n_random: random-entry draws for the p-value.
        alpha: family-wise significance level (Bonferroni over the patterns in `events`).
        seed: makes the random-entry draws reproducible.

    Returns:
        Index = pattern; columns `STUDY_COLUMNS`. `pending` counts events too recent to have an exit yet.
    """
    from pinelab_core.backtest.roundtrip import round_trip_returns  # the engine loads when a study runs, not on import

    if horizon < 1 or cost < 0 or n_random < 1:
        raise DataValidationError(f"Event study needs horizon >= 1, cost >= 0, n_random >= 1; got {horizon}, "
                                  f"{cost}, {n_random}.")
    decisions = np.arange(0, len(ohlcv) - horizon - 1)  # every bar whose round trip has filled both legs
    if not len(decisions):
        raise DataValidationError(f"The market has too few bars ({len(ohlcv)}) for a {horizon}-bar event study.")
    random_returns = {side: round_trip_returns(ohlcv, decisions, decisions + horizon, np.full(len(decisions), side),
                                               fees=cost) for side in (1, -1)}
    rng = np.random.default_rng(seed)
    patterns = sorted(events["pattern"].unique()) if len(events) else []
    rows = {name: _study_one(ohlcv, events[events["pattern"] == name], random_returns, horizon, cost, n_random, rng)
            for name in patterns}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(STUDY_COLUMNS[:-1]))
    table.index.name = "pattern"
    table["significant"] = table["p_value"] < alpha / max(len(patterns), 1)
    return table.sort_values("p_value") if len(table) else table.reindex(columns=list(STUDY_COLUMNS))


def _study_one(ohlcv: pd.DataFrame, events: pd.DataFrame, random_returns: dict[int, np.ndarray], horizon: int,
               cost: float, n_random: int, rng: np.random.Generator) -> list[float]:
    positions = ohlcv.index.get_indexer(pd.DatetimeIndex(events["time"]))
    directions = np.sign(events["direction"].to_numpy(np.float64)).astype(np.int64)
    known = (positions >= 0) & (directions != 0)
    done = known & (positions + horizon + 1 < len(ohlcv))
    pending = int((known & ~done).sum())
    positions, directions = positions[done], directions[done]
    if not len(positions):
        return [0, pending, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan]
    from pinelab_core.backtest.roundtrip import round_trip_returns

    returns = round_trip_returns(ohlcv, positions, positions + horizon, directions, fees=cost)
    draws = rng.integers(0, len(random_returns[1]), size=(n_random, len(positions)))
    # Each random draw takes the round trip in the direction of the event it stands in for.
    null_means = np.where(directions > 0, random_returns[1][draws], random_returns[-1][draws]).mean(axis=1)
    mean, random_mean = float(returns.mean()), float(null_means.mean())
    spread = float(null_means.std(ddof=1)) if n_random > 1 else np.nan
    t_stat = (mean - random_mean) / spread if spread and np.isfinite(spread) else np.nan
    p_value = (1 + int((null_means >= mean).sum())) / (n_random + 1)
    return [len(positions), pending, mean, float(np.median(returns)), float((returns > 0).mean()), random_mean,
            mean - random_mean, t_stat, p_value]
