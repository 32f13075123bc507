"""The market's current regime at its last closed bar, from the rule-based regime features, plus any
registered regime model (an HMM, say) under its own name.

Every number reads bars <= the last bar only: the rule features are causal (they pass the look-ahead
audit) and a provider receives the same frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pinelab_core.errors import PinelabError

__all__ = ["REGIME_PROVIDERS", "Regime", "current_regime", "register_regime_provider"]

#: A regime model: the market's bars (ending at the last closed bar) -> a JSON-ready description of its regime.
RegimeProvider = Callable[[pd.DataFrame], dict[str, Any]]

#: Regime models beside the rule features, by name; `register_regime_provider` adds one.
REGIME_PROVIDERS: dict[str, RegimeProvider] = {}

_VOLATILITY = {0.0: "calm", 1.0: "normal", 2.0: "stressed"}
_TREND = {1.0: "up", -1.0: "down", 0.0: "none"}
_RULE_FEATURES = ("vol_regime", "vol_pctile_252", "trend_regime", "efficiency_ratio_20")


@dataclass(frozen=True)
class Regime:
    """The regime at `bar_time`: trend and volatility labels from the rule features, and each provider's view."""

    bar_time: pd.Timestamp
    label: str  # trend x volatility, e.g. "up_calm" (signals.market_regime, the label similar calls are grouped by)
    trend: str  # up | down | none (ADX 14 above 25, direction from +DI/-DI)
    volatility: str  # calm | normal | stressed (tercile of rv_20 among its last 252 values)
    volatility_percentile: float
    efficiency_ratio: float  # 0 choppy .. 1 straight-line trend (Kaufman, 20 bars)
    method: str = "rules"
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)


def register_regime_provider(name: str, provider: RegimeProvider) -> None:
    """Add (or replace) a regime model whose answer joins every `current_regime` under `name`."""
    REGIME_PROVIDERS[name] = provider


def current_regime(ohlcv: pd.DataFrame) -> Regime:
    """The regime at the frame's last bar (NaN / "unknown" while the features warm up).

    Only the trailing bars the rule features need are read, so the cost does not grow with the history.
    """
    from pinelab_core.features import build_features, required_history
    from pinelab_core.signals import market_regime

    history = required_history(list(_RULE_FEATURES))
    tail = ohlcv.iloc[-max(history, 200):]  # market_regime's SMA 50 + 100-bar median baseline fit in 200
    last = pd.DataFrame(build_features(tail, groups="regime")).iloc[-1]
    providers = {}
    for name, provider in REGIME_PROVIDERS.items():
        try:
            providers[name] = provider(ohlcv)
        except PinelabError as exc:  # a provider that cannot answer says why; the rule regime still stands
            providers[name] = {"error": str(exc)}
    return Regime(
        bar_time=pd.Timestamp(ohlcv.index[-1]), label=str(market_regime(tail).iloc[-1]),
        trend=_TREND.get(_finite(last["trend_regime"]), "unknown"),
        volatility=_VOLATILITY.get(_finite(last["vol_regime"]), "unknown"),
        volatility_percentile=float(last["vol_pctile_252"]), efficiency_ratio=float(last["efficiency_ratio_20"]),
        providers=providers,
    )


def _finite(value: float) -> float:
    return float(value) if math.isfinite(float(value)) else math.nan
