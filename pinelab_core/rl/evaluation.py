"""Walk-forward evaluation of an agent on bars it never saw, over several seeds, against baselines.

The bars after the features' warm-up are cut into a first training span and `n_folds` test folds. For each
fold and seed a fresh agent learns on every bar before the fold (expanding window) and then trades the fold,
deterministically, from a flat account. The folds' decisions are stitched into one out-of-sample position
series per seed and run through `run_backtest` once, so the reported stats are the backtester's, with the
same costs the agent trained under. Baselines on the same bars: buy-and-hold, random actions (one per seed)
and, when the market has active supervised models, their cross-fitted out-of-fold calls.

Seeds are summarised by the interquartile mean (IQM: the mean of the middle half; with 3 seeds every seed
counts) and the spread (lowest and highest seed), because one lucky seed says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.backtest import run_backtest
from pinelab_core.errors import DataValidationError

__all__ = ["AgentEvaluation", "evaluate_agent", "interquartile_mean", "evaluation_folds"]

HEADLINE: tuple[str, ...] = ("total_return", "sharpe", "max_drawdown", "n_trades", "win_rate", "exposure")


@dataclass(frozen=True)
class AgentEvaluation:
    """Out-of-sample results of one agent kind over seeds, beside the baselines."""

    kind: str
    seeds: tuple[int, ...]
    folds: pd.DataFrame  # fold, seed, train_end, test_start, test_end, total_return, sharpe
    per_seed: pd.DataFrame  # one row per seed: the stitched out-of-sample run's stats
    baselines: pd.DataFrame  # one row per baseline (buy_and_hold, random (IQM over seeds), ensemble)
    equity: pd.DataFrame  # out-of-sample equity per seed ("seed 0", ...) and per baseline
    summary: dict[str, float] = field(default_factory=dict)  # <stat>_iqm, <stat>_min, <stat>_max

    def metrics(self) -> dict[str, float]:
        """Flat numbers for the registry: the agent's IQM and spread, and each baseline's stats."""
        out = dict(self.summary)
        for name, row in self.baselines.iterrows():
            for stat in HEADLINE:
                if stat in row and pd.notna(row[stat]):
                    out[f"{name}_{stat}"] = float(row[stat])
        out["beats_buy_and_hold"] = float(out.get("sharpe_iqm", np.nan) > out.get("buy_and_hold_sharpe", np.inf))
        return out


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of the middle half of the values (all of them when fewer than 4)."""
    from scipy.stats import trim_mean

    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    return float(trim_mean(finite, 0.25)) if len(finite) else float("nan")


def evaluation_folds(first: int, last: int, n_folds: int, test_fraction: float) -> list[tuple[int, int]]:
    """(start, end) bar positions of `n_folds` consecutive test folds covering the last `test_fraction` of
    [first, last]; each fold's training span is every bar before its start."""
    span = last - first + 1
    test_bars = int(span * test_fraction)
    size = test_bars // n_folds
    if n_folds < 1 or size < 20:
        raise DataValidationError(f"{span} tradeable bars give {n_folds} test folds of {size} bars; use more "
                                  "history, fewer folds or a larger test fraction (each fold needs 20+ bars).")
    start = last + 1 - size * n_folds
    return [(start + k * size, start + (k + 1) * size - 1) for k in range(n_folds)]


def evaluate_agent(ohlcv: pd.DataFrame, kind: str = "ppo", *, seeds: Sequence[int] = (0, 1, 2), n_folds: int = 3,
                   test_fraction: float = 0.3, params: dict[str, Any] | None = None,
                   features: pd.DataFrame | None = None, ensemble_positions: pd.Series | None = None,
                   progress: Callable[[float, str, Any], None] | None = None) -> AgentEvaluation:
    """Train and test `kind` walk-forward over `seeds` (see the module docstring).

    Args:
        ohlcv: the market.
        kind: "ppo", "a2c" or "dqn".
        seeds: one fresh agent per seed and fold (at least 3 for an honest spread).
        n_folds: test folds; test_fraction: share of the tradeable bars they cover.
        params: the agent's params (hyperparameters, environment, timesteps).
        features: your own observed feature frame instead of the feature engine's (e.g. a leak canary).
        ensemble_positions: the supervised ensemble's out-of-sample targets on these bars, when there are any.
        progress: called with (fraction done, stage text, the agent's progress tick or None).
    """
    from pinelab_core.rl.agents import AGENT_KINDS
    from pinelab_core.rl.features import observation_features

    params = dict(params or {})
    cls = AGENT_KINDS[kind]
    probe = cls(seed=0, **params)
    observed = observation_features(ohlcv, features if features is not None else probe.params["features"])
    first = observed.first_valid + int(probe.params["window"]) - 1
    folds = evaluation_folds(first, len(ohlcv) - 1, n_folds, test_fraction)
    oos = slice(folds[0][0], folds[-1][1] + 1)
    runs, rows = {}, []
    total = len(seeds) * len(folds)
    for s_index, seed in enumerate(seeds):
        targets = pd.Series(np.nan, index=ohlcv.index)
        for f_index, (start, end) in enumerate(folds):
            done = s_index * len(folds) + f_index
            stage = f"{kind} seed {seed}, fold {f_index + 1} of {len(folds)}"

            def tick(event: Any, done: int = done, stage: str = stage) -> None:
                if progress is not None:
                    progress((done + event.timesteps / max(event.total, 1)) / total, stage, event)

            agent = cls(seed=int(seed), **params)
            agent.learn(ohlcv, bars=(first, start - 1), progress=tick, features=features)
            traded = agent.act(ohlcv, start=start, end=end, features=features).targets.iloc[start:end + 1]
            targets.iloc[start:end + 1] = traded.to_numpy()
            fold_run = _backtest(ohlcv, targets, slice(start, end + 1), probe)
            rows.append({"fold": f_index + 1, "seed": int(seed), "train_end": ohlcv.index[start - 1],
                         "test_start": ohlcv.index[start], "test_end": ohlcv.index[end],
                         "total_return": fold_run.stats["total_return"], "sharpe": fold_run.stats["sharpe"]})
        runs[f"seed {seed}"] = _backtest(ohlcv, targets, oos, probe)
    per_seed = pd.DataFrame([{"seed": int(s), **{k: float(r.stats[k]) for k in HEADLINE}}
                             for s, r in zip(seeds, runs.values(), strict=True)])
    baselines, curves = _baselines(ohlcv, oos, probe, seeds, ensemble_positions)
    equity = pd.DataFrame({**{name: run.equity["equity"] for name, run in runs.items()}, **curves})
    summary = {}
    for stat in HEADLINE:
        values = per_seed[stat].to_numpy(dtype=float)
        summary[f"{stat}_iqm"] = interquartile_mean(values)
        summary[f"{stat}_min"], summary[f"{stat}_max"] = float(np.nanmin(values)), float(np.nanmax(values))
    return AgentEvaluation(kind, tuple(int(s) for s in seeds), pd.DataFrame(rows), per_seed, baselines, equity,
                           summary)


def _backtest(ohlcv: pd.DataFrame, targets: pd.Series, span: slice, agent: Any) -> Any:
    """The backtester's run of `targets` over `span`, from a fresh account, with the agent's execution options."""
    options = {k: v for k, v in agent.env_options().items()
               if k not in ("window", "features", "action_mode", "positions", "episode_bars", "turnover_penalty",
                            "drawdown_penalty")}
    return run_backtest(ohlcv.iloc[span], targets.iloc[span], **options)


def _baselines(ohlcv: pd.DataFrame, oos: slice, agent: Any, seeds: Sequence[int],
               ensemble_positions: pd.Series | None) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    index = ohlcv.index
    rows: dict[str, dict[str, float]] = {}
    curves: dict[str, pd.Series] = {}
    hold = _backtest(ohlcv, pd.Series(1.0, index=index), oos, agent)
    rows["buy_and_hold"] = {k: float(hold.stats[k]) for k in HEADLINE}
    curves["buy-and-hold"] = hold.equity["equity"]
    positions = np.asarray(agent.params["positions"], dtype=float) if agent.params["action_mode"] == "discrete" \
        else None
    random_runs = []
    for seed in seeds:
        rng = np.random.default_rng(int(seed))
        draws = rng.choice(positions, size=len(index)) if positions is not None else rng.uniform(-1, 1, len(index))
        random_runs.append(_backtest(ohlcv, pd.Series(draws, index=index), oos, agent))
    rows["random"] = {k: interquartile_mean([float(r.stats[k]) for r in random_runs]) for k in HEADLINE}
    curves[f"random (seed {seeds[0]})"] = random_runs[0].equity["equity"]
    if ensemble_positions is not None:
        calls = ensemble_positions.reindex(index)
        if calls.iloc[oos].notna().any():
            run = _backtest(ohlcv, calls, oos, agent)
            rows["ensemble"] = {k: float(run.stats[k]) for k in HEADLINE}
            curves["supervised ensemble"] = run.equity["equity"]
    return pd.DataFrame.from_dict(rows, orient="index"), curves
