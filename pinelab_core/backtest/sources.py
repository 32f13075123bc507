"""Target positions from PineLab's signal sources, for "backtest my alerts" and "backtest my model".

    rule:<name>      a rule signal of `signals.rules.RULES` (rsi, macd, bollinger, candlestick)
    tradingview      the TradingView alerts the webhook sidecar stored for this market
    ensemble         the model ensemble's logged predictions for this market
    model:<name>[@v] a registered model version's walk-forward out-of-sample predictions

Each call becomes the target from its bar's close (BUY long, SELL short, a flat call flat) and is held until
the next call, or for `hold_bars` bars when given. Sources are read through the signals and registry
packages' public functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["SIGNAL_SOURCE_KINDS", "calls_to_positions", "source_positions"]

SIGNAL_SOURCE_KINDS: tuple[str, ...] = ("rule:<name>", "tradingview", "ensemble", "model:<name>[@version]")


def calls_to_positions(index: pd.DatetimeIndex, times: Iterable[pd.Timestamp], directions: Iterable[float],
                       hold_bars: int | None = None) -> pd.Series:
    """Targets on `index` from calls (time, direction): the last call of a bar wins; NaN where nothing changes.

    Args:
        index: the market's bars.
        times: each call's bar (a call between bars counts at the bar in progress, never earlier).
        directions: +1, -1 or 0 per call (strength is not a size here; size with the execution options).
        hold_bars: close each call after this many bars (None = hold until the next call).
    """
    stamps = pd.DatetimeIndex(list(times))
    sides = np.sign(np.asarray(list(directions), dtype=float))
    targets = pd.Series(np.nan, index=index, name="position")
    if len(stamps) == 0:
        return targets
    stamps = stamps.tz_convert("UTC") if stamps.tz is not None else stamps.tz_localize("UTC")
    positions = index.searchsorted(stamps, side="right") - 1
    keep = positions >= 0
    values = targets.to_numpy().copy()
    order = np.argsort(positions[keep], kind="stable")
    bars, calls = positions[keep][order], sides[keep][order]
    if hold_bars is not None:
        if hold_bars < 1:
            raise DataValidationError(f"hold_bars={hold_bars} must be at least 1.")
        exits = bars + hold_bars
        inside = exits < len(index)
        values[exits[inside]] = 0.0  # written first: a later call on the same bar overrides the exit
    values[bars] = calls
    return pd.Series(values, index=index, name="position")


def source_positions(source: str, ohlcv: pd.DataFrame, symbol: str, timeframe: str, *,
                     engine: Engine | None = None, settings: Settings | None = None,
                     hold_bars: int | None = None) -> pd.Series:
    """Targets from a signal source (see the module docstring for the names)."""
    if source.startswith("rule:"):
        return _rule_positions(source.removeprefix("rule:"), ohlcv, hold_bars)
    if source.startswith("model:"):
        return _model_positions(source.removeprefix("model:"), ohlcv, settings, hold_bars)
    if source in ("tradingview", "ensemble"):
        from pinelab_core.signals.sources import SIGNAL_SOURCES, MarketView

        if engine is None:
            raise DataValidationError(f"The {source} source reads the store: pass engine=get_engine(settings).")
        view = MarketView.build(ohlcv, symbol, timeframe, engine=engine, settings=settings)
        calls = SIGNAL_SOURCES[source].produce(view)
        return calls_to_positions(ohlcv.index, [c.time for c in calls], [c.direction for c in calls], hold_bars)
    hint = difflib.get_close_matches(source, ["tradingview", "ensemble", "rule:rsi", "rule:macd"], n=1)
    suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
    raise DataValidationError(f"Unknown signal source {source!r}.{suggestion} Use one of "
                              f"{', '.join(SIGNAL_SOURCE_KINDS)}.")


def _rule_positions(rule: str, ohlcv: pd.DataFrame, hold_bars: int | None) -> pd.Series:
    from pinelab_core.signals.rules import RULES

    if rule not in RULES:
        hint = difflib.get_close_matches(rule, list(RULES), n=1)
        suggestion = f" Did you mean 'rule:{hint[0]}'?" if hint else ""
        raise DataValidationError(f"Unknown rule {rule!r}.{suggestion} Rules: {', '.join(RULES)}.")
    fired = RULES[rule](ohlcv)
    return calls_to_positions(ohlcv.index, fired.index, fired["direction"], hold_bars)


def _model_positions(spec: str, ohlcv: pd.DataFrame, settings: Settings | None, hold_bars: int | None) -> pd.Series:
    from pinelab_core.models.registry import load_oof
    from pinelab_core.training.report import implied_positions

    name, _, version = spec.partition("@")
    oof = load_oof(settings or Settings.from_env(), name, int(version) if version else None)
    if "y_pred" not in oof.columns:
        raise DataValidationError(f"Model {name!r} has no stored out-of-sample predictions (y_pred).")
    on_bars = oof[oof.index.isin(ohlcv.index)]
    if on_bars.empty:
        raise DataValidationError(f"Model {name!r}'s out-of-sample predictions do not overlap these bars; "
                                  "pick the symbol, timeframe and dates it was trained on.")
    return calls_to_positions(ohlcv.index, on_bars.index, implied_positions(on_bars["y_pred"].to_numpy()), hold_bars)
