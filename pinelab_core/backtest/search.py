"""Parameter search over a rule strategy: grid, Optuna (TPE) and a genetic algorithm (DEAP).

Every sweep counts its trials and reports, with the winner, the deflated Sharpe ratio (is the winner better
than the luckiest of that many tries?) and the probability of backtest overfitting (CSCV, 16 blocks).
Trials stream: each keeps its metrics and block moments only. With `engine` and `study`, each finished
trial is upserted by (study, parameter hash) and a rerun evaluates only the trials that are missing.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.backtest.executors import map_trials
from pinelab_core.backtest.overfitting import deflated_sharpe_ratio, moments_sharpe, probability_of_overfitting
from pinelab_core.backtest.strategies import get_strategy, param_grid
from pinelab_core.backtest.trials import SWEEP_METRICS, TrialOutcome, TrialSpec
from pinelab_core.errors import DataValidationError

__all__ = ["SEARCH_METHODS", "SweepResult", "sweep"]

SEARCH_METHODS: tuple[str, ...] = ("grid", "optuna", "genetic")


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: one row per trial, the winner and how much to trust it.

    Attributes:
        trials: parameters and `SWEEP_METRICS` per distinct trial, in evaluation order.
        best_params: the winner's parameters (highest `metric`).
        metric: what the sweep maximised.
        n_trials: distinct configurations evaluated (the deflated Sharpe ratio's trial count).
        deflated_sharpe: probability that the winner's Sharpe beats the best expected by luck.
        pbo: probability of backtest overfitting (CSCV over 16 blocks).
        study: the store key of the trials ("" when not stored).
    """

    trials: pd.DataFrame
    best_params: dict[str, float]
    metric: str
    n_trials: int
    deflated_sharpe: float
    pbo: float
    study: str = ""

    @property
    def best(self) -> pd.Series:
        return self.trials.loc[self.trials[self.metric].idxmax()]


class _Evaluator:
    """Runs specs through an executor, reusing stored and already-seen trials (the sweep's memory)."""

    def __init__(self, ohlcv: pd.DataFrame, strategy: str, execution: dict[str, Any], executor: str | None,
                 engine: Engine | None, study: str) -> None:
        from pinelab_core.backtest.store import load_trials

        self.ohlcv, self.strategy, self.execution, self.executor = ohlcv, strategy, execution, executor
        self.engine, self.study = engine, study
        self.known: dict[str, TrialOutcome] = load_trials(engine, study) if engine is not None and study else {}
        self.order: list[str] = []

    def __call__(self, batch: Sequence[Mapping[str, float]]) -> list[TrialOutcome]:
        specs = [TrialSpec(self.strategy, dict(params), self.execution) for params in batch]
        missing = {s.param_hash: s for s in specs if s.param_hash not in self.known}
        todo = list(missing.values())
        for position, outcome in map_trials(self.ohlcv, todo, executor=self.executor):
            self.known[todo[position].param_hash] = outcome
            if self.engine is not None and self.study:
                from pinelab_core.backtest.store import save_trial

                save_trial(self.engine, self.study, todo[position], outcome)
        for spec in specs:
            if spec.param_hash not in self.order:
                self.order.append(spec.param_hash)
        return [self.known[s.param_hash] for s in specs]


def sweep(
    ohlcv: pd.DataFrame,
    strategy: str,
    *,
    method: str = "grid",
    grid: Mapping[str, Sequence[float]] | None = None,
    metric: str = "sharpe",
    n_trials: int = 50,
    seed: int = 0,
    executor: str | None = "serial",
    engine: Engine | None = None,
    study: str = "",
    **execution: Any,
) -> SweepResult:
    """Search a strategy's parameters on `ohlcv` and judge the winner.

    Args:
        ohlcv: the market.
        strategy: a name from `STRATEGIES`.
        method: "grid" (every combination), "optuna" (TPE over the grid's ranges) or "genetic" (DEAP over the
            grid's values).
        grid: {parameter: values}; default the strategy's own grid.
        metric: a `SWEEP_METRICS` name to maximise.
        n_trials: trials for optuna; population x generations budget for genetic.
        seed: makes optuna and genetic searches repeatable (the grid needs none).
        executor: "serial", "process" or "ray" (None: Ray when PINELAB_RAY_ADDRESS is set, else processes).
        engine: a store engine to upsert trials into (with `study`), so a rerun resumes.
        study: the name the trials are stored under.
        **execution: `ExecutionModel` options (fees=, slippage=, stop_loss=, ...).
    """
    if method not in SEARCH_METHODS:
        raise DataValidationError(f"Unknown search method {method!r}; use one of {', '.join(SEARCH_METHODS)}.")
    if metric not in SWEEP_METRICS:
        raise DataValidationError(f"Cannot maximise {metric!r}; choose one of {', '.join(SWEEP_METRICS)}.")
    spec = get_strategy(strategy)
    axes = {k: list(v) for k, v in (grid or spec.grid).items()}
    for name in axes:
        spec.resolve({name: axes[name][0]})  # unknown parameter names fail here, with a hint
    evaluate = _Evaluator(ohlcv, strategy, dict(execution), executor, engine, study)
    if method == "grid":
        evaluate(param_grid(strategy, axes))
    elif method == "optuna":
        _optuna(evaluate, strategy, axes, metric, n_trials, seed)
    else:
        _genetic(evaluate, strategy, axes, metric, n_trials, seed)
    return _summarise(evaluate, metric, study)


def _valid(strategy: str, params: Mapping[str, float]) -> bool:
    try:
        get_strategy(strategy).resolve(params)
    except DataValidationError:
        return False
    return True


def _score(outcome: TrialOutcome, metric: str) -> float:
    value = outcome.metrics[metric]
    return float(value) if value is not None and np.isfinite(value) else -1e9


def _optuna(evaluate: _Evaluator, strategy: str, axes: dict[str, list[float]], metric: str, n_trials: int,
            seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    batch = 8  # trials asked together so an executor can run them side by side; told back in order
    for start in range(0, n_trials, batch):
        asked = [study.ask() for _ in range(min(batch, n_trials - start))]
        params = [{name: _suggest(trial, name, values) for name, values in axes.items()} for trial in asked]
        valid = [p for p in params if _valid(strategy, p)]
        outcomes = dict(zip([id(p) for p in valid], evaluate(valid), strict=True)) if valid else {}
        for trial, p in zip(asked, params, strict=True):
            if id(p) in outcomes:
                study.tell(trial, _score(outcomes[id(p)], metric))
            else:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)


def _suggest(trial: Any, name: str, values: list[float]) -> float:
    low, high = min(values), max(values)
    if all(float(v).is_integer() for v in values):
        return int(trial.suggest_int(name, int(low), int(high)))
    return float(trial.suggest_float(name, float(low), float(high)))


def _genetic(evaluate: _Evaluator, strategy: str, axes: dict[str, list[float]], metric: str, n_trials: int,
             seed: int) -> None:
    """A small GA over grid indices: tournament selection, uniform crossover, index mutation (DEAP)."""
    from deap import base, creator, tools

    if not hasattr(creator, "PinelabFitness"):
        creator.create("PinelabFitness", base.Fitness, weights=(1.0,))
        creator.create("PinelabIndividual", list, fitness=creator.PinelabFitness)
    names = list(axes)
    rng = random.Random(seed)
    state = random.getstate()
    random.seed(seed)  # DEAP's operators draw from the global generator: seed it, restore it afterwards
    try:
        toolbox = base.Toolbox()
        toolbox.register("mate", tools.cxUniform, indpb=0.5)
        toolbox.register("mutate", tools.mutUniformInt, low=[0] * len(names),
                         up=[len(axes[n]) - 1 for n in names], indpb=0.3)
        toolbox.register("select", tools.selTournament, tournsize=3)
        size = max(4, min(16, n_trials // 4))
        population = [creator.PinelabIndividual([rng.randrange(len(axes[n])) for n in names]) for _ in range(size)]
        def decode(genes: list[int]) -> dict[str, float]:
            return {n: axes[n][g] for n, g in zip(names, genes, strict=True)}

        for _ in range(max(1, n_trials // size)):
            params = [decode(ind) for ind in population]
            scores = [_score(o, metric) for o in _evaluate_valid(evaluate, strategy, params)]
            for individual, score in zip(population, scores, strict=True):
                individual.fitness.values = (score,)
            offspring = [toolbox.clone(ind) for ind in toolbox.select(population, len(population))]
            for left, right in zip(offspring[::2], offspring[1::2], strict=False):
                toolbox.mate(left, right)
            for individual in offspring:
                toolbox.mutate(individual)
            population = offspring
    finally:
        random.setstate(state)


def _evaluate_valid(evaluate: _Evaluator, strategy: str, params: list[dict[str, float]]) -> list[TrialOutcome]:
    """Outcomes in order; an invalid combination scores as a failed trial without running."""
    valid = [p for p in params if _valid(strategy, p)]
    done = iter(evaluate(valid)) if valid else iter(())
    failed = TrialOutcome({}, {m: float("nan") for m in SWEEP_METRICS}, np.zeros((16, 5)))
    return [next(done) if _valid(strategy, p) else failed for p in params]


def _summarise(evaluate: _Evaluator, metric: str, study: str) -> SweepResult:
    outcomes = [evaluate.known[h] for h in evaluate.order]
    if not outcomes:
        raise DataValidationError("The sweep ran no valid trial: check the grid against the strategy's rules.")
    trials = pd.DataFrame([{**o.params, **o.metrics} for o in outcomes])
    scores = np.array([_score(o, metric) for o in outcomes])
    winner = outcomes[int(np.argmax(scores))]
    sharpes = np.array([moments_sharpe(o.moments)[0] for o in outcomes])
    best_sharpe, skew, kurt, n_obs = moments_sharpe(winner.moments)
    dsr = deflated_sharpe_ratio(best_sharpe, len(outcomes), float(np.var(sharpes, ddof=1)) if len(outcomes) > 1
                                else 0.0, n_obs, skew, kurt)
    pbo = probability_of_overfitting(np.stack([o.moments for o in outcomes]))
    return SweepResult(trials, dict(winner.params), metric, len(outcomes), dsr, pbo, study)
