"""Market regimes per bar from the walk-forward Gaussian HMM (`features.hmm_regime`), as a trader reads them.

`regime_history` names the regime of every bar, `regime_at` the regime at one bar from the trailing
`regime_history_bars()` bars only (the same answer the full history gives: tested), and `regime_model` the
fitted model behind a bar. Everything for bar t uses bars <= t: the probabilities are forward-filtered,
and each fit saw only bars before the first bar it serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features.builder import check_ohlcv
from pinelab_core.features.hmm_regime import (
    HMM_EVERY,
    HMM_WINDOW,
    REGIME_NAMES,
    VOL_BARS,
    HmmFit,
    HmmPath,
    hmm_regime_path,
    regime_summary,
)
from pinelab_core.features.walkforward import walk_forward_lookback

__all__ = [
    "REGIME_NAMES", "UNKNOWN", "RegimeModel", "RegimeState", "bars_per_year", "regime_at", "regime_history",
    "regime_history_bars", "regime_model",
]

#: The regime of a bar no fit serves yet (the first `regime_history_bars()` bars of a market, at most).
UNKNOWN = "unknown"
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{name.replace(' ', '_')}" for name in REGIME_NAMES)


@dataclass(frozen=True)
class RegimeState:
    """The market regime at one bar, as known at its close.

    Attributes:
        time: the bar.
        regime: one of `REGIME_NAMES`, or "unknown" before the first fit.
        probability: the forward-filtered probability of that regime (NaN when unknown).
        probabilities: every named regime's probability at the bar.
        n_states: HMM states the serving fit chose by BIC (0 when unknown).
        refit_time: the first bar the serving fit serves (it saw only bars before it); None when unknown.
    """

    time: pd.Timestamp
    regime: str
    probability: float
    probabilities: dict[str, float] = field(default_factory=dict)
    n_states: int = 0
    refit_time: pd.Timestamp | None = None

    @property
    def known(self) -> bool:
        return self.regime != UNKNOWN

    @property
    def summary(self) -> str:
        """One line for a page: "calm bull (82%, 3-state HMM)"."""
        if not self.known:
            return f"{UNKNOWN} (fewer than {regime_history_bars()} bars of history)"
        return f"{self.regime} ({self.probability:.0%}, {self.n_states}-state HMM)"


@dataclass(frozen=True)
class RegimeModel:
    """The fitted HMM serving one bar: its states, transitions and how the state count was chosen.

    Attributes:
        states: one row per state, calmest first: regime, mean_return and volatility (per bar), annualised
            volatility, persistence (P(stay)), expected_bars (mean run length, 1 / (1 - persistence)).
        transitions: P(next state | state), rows and columns labelled "<rank> <regime>".
        bic: BIC per state count tried (lower is better; the chosen count has the lowest).
        fit_start, fit_end: the first and last bar of the fit window; refit_time: the first bar it serves.
    """

    states: pd.DataFrame
    transitions: pd.DataFrame
    bic: dict[int, float]
    fit_start: pd.Timestamp
    fit_end: pd.Timestamp
    refit_time: pd.Timestamp


def regime_history_bars(window: int = HMM_WINDOW, every: int = HMM_EVERY) -> int:
    """Trailing bars `regime_at` reads: enough for the value at the last bar to equal the full-history value."""
    return walk_forward_lookback(window=window, every=every, warmup=VOL_BARS) + 1


def regime_history(ohlcv: pd.DataFrame, *, last: int | None = None, window: int = HMM_WINDOW,
                   every: int = HMM_EVERY) -> pd.DataFrame:
    """The regime of every bar, as it was known at that bar's close.

    Args:
        ohlcv: an OHLCV frame (the DESIGN.md contract).
        last: only the last `last` bars (the fits still read the `regime_history_bars()` bars before them, so
            each bar's regime is the one the full history gives); None for every bar.
        window: bars each HMM fit sees (the bars before its refit bar).
        every: refit period, in bar spacings (epoch-anchored, so the schedule does not depend on the frame start).

    Returns:
        A frame on the bars' index: `regime` (name or "unknown"), `probability` (of that regime), `state`
        (volatility rank of the most likely state, -1 unknown), `n_states`, `p_calm_bull` ... `p_crisis`,
        `exp_vol` and `exp_return` (per bar), and `refit` (True on the first bar a new fit serves).
    """
    frame = check_ohlcv(ohlcv)
    if last is not None:
        frame = frame.iloc[-(last + regime_history_bars(window, every)):]
    path = _path(frame, window, every)
    history = _history_frame(path, frame.index)
    return history if last is None else history.iloc[-last:]


def _path(frame: pd.DataFrame, window: int, every: int) -> HmmPath:
    if window < 50 or every < 1:
        raise DataValidationError(f"A regime fit needs window >= 50 and every >= 1 bars, got {window} and {every}.")
    return hmm_regime_path(frame["close"].to_numpy(dtype=np.float64), frame.index, window=window, every=every)


def _history_frame(path: HmmPath, index: pd.DatetimeIndex) -> pd.DataFrame:
    summary = regime_summary(path, warmup=0)
    named = summary[: len(REGIME_NAMES)].T
    known = path.fit_of_bar >= 0
    best = np.where(known, np.nan_to_num(named, nan=-1.0).argmax(axis=1), -1)
    regime = np.where(known, np.asarray(REGIME_NAMES, dtype=object)[np.maximum(best, 0)], UNKNOWN)
    state = np.where(known, np.nan_to_num(path.probabilities, nan=-1.0).argmax(axis=1), -1)
    frame = pd.DataFrame({
        "regime": regime.astype(object),
        "probability": np.where(known, named[np.arange(len(named)), np.maximum(best, 0)], np.nan),
        "state": state.astype(np.int64),
        "n_states": np.where(known, summary[9], 0).astype(np.int64),
        **{column: named[:, k] for k, column in enumerate(PROBABILITY_COLUMNS)},
        "exp_vol": summary[6],
        "exp_return": summary[7],
        "refit": np.isin(np.arange(len(index)), path.refits),
    }, index=index)
    return frame


def regime_at(ohlcv: pd.DataFrame, at: pd.Timestamp | str | None = None, *, window: int = HMM_WINDOW,
              every: int = HMM_EVERY) -> RegimeState:
    """The regime at bar `at` (default: the last bar) from the trailing `regime_history_bars()` bars up to it.

    One call for a page or the live loop: it fits at most the one window serving `at` (cached per process),
    and returns exactly what `regime_history(ohlcv)` says for that bar.
    """
    frame = _up_to(check_ohlcv(ohlcv), at)
    if frame.empty:
        raise DataValidationError(f"No bar at or before {at}; pick a time inside the data.")
    recent = frame.iloc[-regime_history_bars(window, every):]
    path = _path(recent, window, every)
    row = _history_frame(path, recent.index).iloc[-1]
    number = int(path.fit_of_bar[-1])
    refit = recent.index[int(path.refits[number])] if number >= 0 else None
    probabilities = {name: float(row[column]) for name, column in zip(REGIME_NAMES, PROBABILITY_COLUMNS, strict=True)}
    return RegimeState(recent.index[-1], str(row["regime"]), float(row["probability"]), probabilities,
                       int(row["n_states"]), refit)


def regime_model(ohlcv: pd.DataFrame, at: pd.Timestamp | str | None = None, *, window: int = HMM_WINDOW,
                 every: int = HMM_EVERY) -> RegimeModel | None:
    """The fitted HMM serving bar `at` (default: the last bar); None while no fit serves it yet."""
    frame = _up_to(check_ohlcv(ohlcv), at)
    recent = frame.iloc[-regime_history_bars(window, every):]
    path = _path(recent, window, every)
    number = int(path.fit_of_bar[-1]) if len(recent) else -1
    if number < 0:
        return None
    fit, refit = path.fits[number], int(path.refits[number])
    return RegimeModel(_states_table(fit, bars_per_year(frame.index)), _transitions(fit), dict(fit.bic),
                       recent.index[refit - window], recent.index[refit - 1], recent.index[refit])


def _up_to(frame: pd.DataFrame, at: pd.Timestamp | str | None) -> pd.DataFrame:
    """The bars at or before `at` (a naive time is taken as UTC, like the bars)."""
    if at is None:
        return frame
    when = pd.Timestamp(at)
    return frame.loc[: when.tz_localize("UTC") if when.tzinfo is None else when]


def _states_table(fit: HmmFit, per_year: float) -> pd.DataFrame:
    persistence = np.diag(fit.transmat)
    with np.errstate(divide="ignore"):
        expected = np.where(persistence < 1.0, 1.0 / (1.0 - persistence), np.inf)
    return pd.DataFrame({
        "regime": fit.names,
        "mean_return": fit.return_mean,
        "volatility": fit.return_vol,
        "annualised_volatility": fit.return_vol * math.sqrt(per_year),
        "persistence": persistence,
        "expected_bars": expected,
    }, index=pd.RangeIndex(fit.n_states, name="state"))


def _transitions(fit: HmmFit) -> pd.DataFrame:
    labels = [f"{rank} {name}" for rank, name in enumerate(fit.names)]
    return pd.DataFrame(fit.transmat, index=labels, columns=labels)


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """Bars per year counted from the data's own span (equity sessions, FX weeks and 24/7 crypto alike)."""
    if len(index) < 2:
        return 252.0
    years = (index[-1] - index[0]).total_seconds() / (365.25 * 86_400)
    return (len(index) - 1) / years if years > 0 else 252.0
