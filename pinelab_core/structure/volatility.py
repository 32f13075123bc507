"""GARCH volatility forecasts against what was realised: the Market structure page's volatility panel.

For every bar t the forecasts are the walk-forward GARCH(1,1) and GJR-GARCH conditional volatilities of bar t,
made at bar t - 1's close (`features.garch`), next to a naive forecast (the realised volatility of the 20
bars up to t - 1). They are scored against the squared return of bar t with the two standard losses of
volatility forecasts: QLIKE (log sigma2 + r2 / sigma2, robust to the noise of one squared return) and the mean
squared error of the variance. Lower is better; both are shown relative to the naive forecast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pinelab_core.features.builder import check_ohlcv
from pinelab_core.features.garch import GARCH_EVERY, GARCH_WINDOW, GarchFit, garch_path, realised_vol
from pinelab_core.structure.regimes import bars_per_year

__all__ = ["VolatilityForecast", "volatility_forecasts"]

_MODELS = {"garch": "GARCH(1,1)", "gjr": "GJR-GARCH", "naive": "realised 20 bars"}


@dataclass(frozen=True)
class VolatilityForecast:
    """Forecast and realised volatility per bar, the forecasts' losses and the fits serving the last bar.

    Attributes:
        frame: per bar, annualised: `garch`, `gjr` (forecasts of this bar's volatility made at the previous
            close), `naive` (realised 20-bar volatility up to the previous bar), `realised` (20-bar realised
            volatility up to this bar) and `abs_return` (|log return| of this bar, annualised as a volatility).
        losses: one row per forecast: model, bars scored, qlike, mse, and both relative to the naive forecast.
        next_bar: the annualised forecasts for the bar after the last one (GARCH and GJR).
        fits: the GARCH and GJR fits serving the last bar (None before the first fit).
        bars_per_year: how the annualisation was counted (from the data's own span).
    """

    frame: pd.DataFrame
    losses: pd.DataFrame
    next_bar: dict[str, float]
    fits: dict[str, GarchFit | None]
    bars_per_year: float


def volatility_forecasts(ohlcv: pd.DataFrame, *, start: pd.Timestamp | None = None, window: int = GARCH_WINDOW,
                         every: int = GARCH_EVERY) -> VolatilityForecast:
    """Walk-forward GARCH and GJR-GARCH forecasts against realised volatility (see the module docstring).

    Args:
        ohlcv: the market; the fits read the bars before `start` too.
        start: the first bar shown and scored (default: the first bar).
        window, every: bars per fit and the refit period in bar spacings.
    """
    frame = check_ohlcv(ohlcv)
    close = frame["close"].to_numpy(dtype=np.float64)
    paths = {kind: garch_path(close, frame.index, kind, window=window, every=every) for kind in ("garch", "gjr")}
    returns = np.full(len(close), np.nan)
    returns[1:] = np.diff(np.log(close))
    realised = realised_vol(close)
    naive = np.full(len(close), np.nan)
    naive[1:] = realised[:-1]
    per_bar = {"garch": paths["garch"].volatility, "gjr": paths["gjr"].volatility, "naive": naive}
    scale = math.sqrt(bars_per_year(frame.index))
    table = pd.DataFrame({**{name: values * scale for name, values in per_bar.items()},
                          "realised": realised * scale, "abs_return": np.abs(returns) * scale}, index=frame.index)
    next_bar = {kind: float(path.forecast[-1] * scale) if len(close) else float("nan") for kind, path in paths.items()}
    fits = {kind: path.fits[path.fit_of_bar[-1]] if len(close) and path.fit_of_bar[-1] >= 0 else None
            for kind, path in paths.items()}
    first = 0 if start is None else int(frame.index.searchsorted(pd.Timestamp(start)))
    shown = {name: values[first:] for name, values in per_bar.items()}
    return VolatilityForecast(table.iloc[first:], _losses(shown, returns[first:]), next_bar, fits, scale**2)


def _losses(per_bar: dict[str, np.ndarray], returns: np.ndarray) -> pd.DataFrame:
    """QLIKE and MSE of each variance forecast against the squared return, on the bars every forecast covers."""
    squared = returns**2
    scored = np.isfinite(squared) & np.logical_and.reduce([np.isfinite(v) & (v > 0) for v in per_bar.values()])
    rows = []
    for name, sigma in per_bar.items():
        variance = sigma[scored] ** 2
        qlike = float(np.mean(np.log(variance) + squared[scored] / variance)) if scored.any() else float("nan")
        mse = float(np.mean((variance - squared[scored]) ** 2)) if scored.any() else float("nan")
        rows.append({"model": _MODELS[name], "bars": int(scored.sum()), "qlike": qlike, "mse": mse})
    table = pd.DataFrame(rows)
    naive = table.iloc[-1]
    table["qlike_vs_naive"] = table["qlike"] - naive["qlike"]  # QLIKE is a log score: differences, not ratios
    table["mse_vs_naive"] = table["mse"] / naive["mse"] if naive["mse"] > 0 else np.nan
    return table
