"""Conditional volatility from GARCH(1,1) and GJR-GARCH(1,1,1) with Student-t errors (the `arch` package).

Each fit sees the one-bar log returns of the 750 bars before its refit bar (`walkforward`); the returns are
divided by their standard deviation on that window for the optimiser and the parameters scaled back. From
the start of that window the fitted recursion

    sigma2[t + 1] = omega + (alpha + gamma * [eps[t] < 0]) * eps[t] ** 2 + beta * sigma2[t],  eps = r - mu

runs forward (seeded with the window's mean squared residual), so the conditional volatility at bar t
(sigma[t], known at t - 1) and the one-step forecast (sigma[t + 1], known at t's close) use bars <= t only.
GARCH(1,1) is the GJR recursion with gamma = 0. Volatilities are per bar, in log-return units, like `rv_20`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
import pandas as pd

from pinelab_core.features.spec import Bars, ComputeFn, FeatureSpec, feature_factory, log_ratio
from pinelab_core.features.walkforward import FitCache, quiet_single_thread, segments, walk_forward_lookback

__all__ = ["GARCH_EVERY", "GARCH_WINDOW", "SPECS", "GarchFit", "GarchPath", "fit_garch", "garch_path"]

_f = feature_factory("garch")
GARCH_WINDOW = 750
GARCH_EVERY = 250
REALISED_BARS = 20
GarchKind = Literal["garch", "gjr"]
_CACHE = FitCache()
#: When the optimiser finds nothing usable: an exponentially weighted variance with RiskMetrics' daily decay,
#: so every bar after the warm-up still has a volatility.
_FALLBACK = {"alpha": 0.06, "beta": 0.94}


@dataclass(frozen=True)
class GarchFit:
    """Fitted GARCH parameters in per-bar log-return units; `converged` is False for the fallback."""

    kind: str
    mu: float
    omega: float
    alpha: float
    gamma: float
    beta: float
    nu: float
    converged: bool

    @property
    def persistence(self) -> float:
        """How much of today's variance shock is left tomorrow: alpha + gamma / 2 + beta."""
        return self.alpha + 0.5 * self.gamma + self.beta


@dataclass(frozen=True)
class GarchPath:
    """A walk-forward run: per bar the conditional volatility, the one-step forecast and the serving fit."""

    volatility: np.ndarray
    forecast: np.ndarray
    fit_of_bar: np.ndarray
    fits: tuple[GarchFit, ...]
    refits: np.ndarray


def fit_garch(returns: np.ndarray, kind: GarchKind = "garch") -> GarchFit:
    """Fit GARCH(1,1) ("garch") or GJR-GARCH(1,1,1) ("gjr") with Student-t errors to one window of returns.

    Cached by the exact bytes of `returns`: the same window always gives the same fit.
    """
    return _CACHE.get(("garch", kind), returns, lambda: _fit_uncached(returns, kind))


def _fit_uncached(returns: np.ndarray, kind: GarchKind) -> GarchFit:
    from arch import arch_model  # imported on first fit: it pulls statsmodels, seconds at start-up

    scale = float(np.std(returns))
    if not scale > 0:
        return _fallback(returns, kind)
    with quiet_single_thread():
        model = arch_model(returns / scale, mean="Constant", vol="GARCH", p=1, o=1 if kind == "gjr" else 0, q=1,
                           dist="t", rescale=False)
        try:
            result = model.fit(disp="off", show_warning=False, options={"maxiter": 200})
        except (ValueError, np.linalg.LinAlgError):
            return _fallback(returns, kind)
    params = result.params
    if result.convergence_flag != 0 or not np.isfinite(params.to_numpy()).all():
        return _fallback(returns, kind)
    return GarchFit(kind, float(params["mu"]) * scale, float(params["omega"]) * scale**2, float(params["alpha[1]"]),
                    float(params.get("gamma[1]", 0.0)), float(params["beta[1]"]), float(params["nu"]), True)


def _fallback(returns: np.ndarray, kind: GarchKind) -> GarchFit:
    """No usable fit: an exponentially weighted variance (RiskMetrics' decay), zero on a window without movement."""
    if not np.std(returns) > 0:
        return GarchFit(kind, float(np.mean(returns)), 0.0, 0.0, 0.0, 0.0, float("nan"), False)
    return GarchFit(kind, float(np.mean(returns)), 0.0, _FALLBACK["alpha"], 0.0, _FALLBACK["beta"], float("nan"),
                    False)


@numba.njit(cache=True)
def _variance_path(returns: np.ndarray, mu: float, omega: float, alpha: float, gamma: float, beta: float,
                   seed: float, variance: np.ndarray) -> None:  # pragma: no cover - compiled
    """variance[t] = sigma2 of returns[t] given returns before t; variance[len] is the next bar's forecast."""
    variance[0] = seed
    for t in range(len(returns)):
        shock = returns[t] - mu
        weight = alpha + (gamma if shock < 0.0 else 0.0)
        variance[t + 1] = omega + weight * shock * shock + beta * variance[t]


def _log_returns(close: np.ndarray) -> np.ndarray:
    out = np.full(len(close), np.nan)
    out[1:] = np.diff(np.log(close))
    return out


def garch_path(close: np.ndarray, index: pd.DatetimeIndex, kind: GarchKind = "garch", *,
               window: int = GARCH_WINDOW, every: int = GARCH_EVERY) -> GarchPath:
    """Walk-forward GARCH over a close series: a fit per refit bar, conditional volatility and forecast per bar."""
    n = len(close)
    volatility, forecast = np.full(n, np.nan), np.full(n, np.nan)
    fit_of_bar = np.full(n, -1, dtype=np.int64)
    fits: list[GarchFit] = []
    refits: list[int] = []
    for part in segments(index, window=window, every=every, warmup=1):
        returns = _log_returns(np.array(close[part.fit_start - 1 : part.end]))[1:]  # bars fit_start .. end - 1
        fit = fit_garch(np.ascontiguousarray(returns[:window]), kind)
        seed = float(np.mean((returns[:window] - fit.mu) ** 2))
        variance = np.empty(len(returns) + 1)
        _variance_path(returns, fit.mu, fit.omega, fit.alpha, fit.gamma, fit.beta, seed, variance)
        served = slice(part.refit - part.fit_start, len(returns))
        volatility[part.refit : part.end] = np.sqrt(variance[served])
        forecast[part.refit : part.end] = np.sqrt(variance[served.start + 1 : served.stop + 1])
        fit_of_bar[part.refit : part.end] = len(fits)
        fits.append(fit)
        refits.append(part.refit)
    return GarchPath(volatility, forecast, fit_of_bar, tuple(fits), np.asarray(refits, dtype=np.int64))


def realised_vol(close: np.ndarray, bars: int = REALISED_BARS) -> np.ndarray:
    """Population standard deviation of the last `bars` log returns, each window summed on its own."""
    returns = _log_returns(close)
    out = np.full(len(close), np.nan)
    if len(close) > bars:
        out[bars:] = np.lib.stride_tricks.sliding_window_view(returns[1:], bars).std(axis=1)
    return out


_LOOKBACK = walk_forward_lookback(window=GARCH_WINDOW, every=GARCH_EVERY, warmup=1)


def _paths(b: Bars) -> np.ndarray:
    """(9, bars) of every garch-group column, computed once per build."""

    def make() -> np.ndarray:
        plain, gjr = garch_path(b.close, b.index, "garch"), garch_path(b.close, b.index, "gjr")
        out = np.full((len(_NAMES), len(b)), np.nan)
        out[0], out[1], out[2], out[3] = plain.volatility, plain.forecast, gjr.volatility, gjr.forecast
        for row, (path, value) in enumerate(((plain, "persistence"), (gjr, "persistence"), (gjr, "gamma"),
                                             (plain, "nu")), start=4):
            per_fit = np.array([getattr(fit, value) for fit in path.fits] + [np.nan])
            out[row] = per_fit[path.fit_of_bar]  # fit_of_bar -1 picks the trailing NaN
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = log_ratio(plain.forecast, realised_vol(b.close))
        out[8] = np.where(np.isfinite(plain.forecast) & ~np.isfinite(ratio), 0.0, ratio)  # no spread: as forecast
        out[7] = np.where(np.isfinite(out[0]) & ~np.isfinite(out[7]), 0.0, out[7])  # fallback fits have no t
        out[:, :_LOOKBACK] = np.nan
        return out

    return b.memo("garch_paths", make)


def _column(row: int) -> ComputeFn:
    return lambda b: _paths(b)[row]


_NAMES = ("garch_vol", "garch_vol_fcst", "gjr_vol", "gjr_vol_fcst", "garch_persistence", "gjr_persistence",
          "gjr_leverage", "garch_t_dof", "garch_fcst_vs_rv_20")
_PARAMS = {"window": GARCH_WINDOW, "every": GARCH_EVERY, "errors": "Student-t"}
_TEXT = (
    "GARCH(1,1) conditional volatility of this bar's log return (per bar, known at the previous close)",
    "GARCH(1,1) one-step volatility forecast for the next bar (per bar)",
    "GJR-GARCH(1,1,1) conditional volatility of this bar's log return (per bar)",
    "GJR-GARCH(1,1,1) one-step volatility forecast for the next bar (per bar)",
    "GARCH(1,1) persistence alpha + beta of the fit serving this bar",
    "GJR-GARCH persistence alpha + gamma/2 + beta of the fit serving this bar",
    "GJR-GARCH leverage gamma: extra variance after a falling bar",
    "Student-t degrees of freedom of the GARCH(1,1) fit (0 when no fit converged)",
    "log(GARCH forecast / realised volatility of the last 20 bars): > 0 expects a rise",
)

SPECS: list[FeatureSpec] = [
    _f(name, _LOOKBACK, text, _column(row), history=_LOOKBACK + 1, **_PARAMS)
    for row, (name, text) in enumerate(zip(_NAMES, _TEXT, strict=True))
]
