"""The multi-agent desk: a trend agent and a mean-reversion agent voting through the learned-weight consensus,
with a risk manager applied last.

    desk = run_agent_desk(ohlcv, "DEMO-EQUITY", "1d", settings=settings)
    desk.members, desk.score, desk.before_risk, desk.target, desk.risk_note, desk.result (the desk's backtest)

At every bar from the agents' first out-of-sample call: each role's agent calls (signal sources "agent:trend",
"agent:mean_reversion" and "agent"), the signal desk's consensus fuses the calls with the weights learned from
the outcomes known by then, and its volatility-targeted size is the desk's wish. The risk manager then caps the
exposure and cuts it on drawdown of the desk's own equity (halved past `soft_drawdown`, flat past
`hard_drawdown` for `cooloff_bars`). The resulting targets run through the execution engine bar by bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pinelab_core.backtest import BacktestResult, Stepper
from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError

__all__ = ["ROLE_FEATURES", "ROLES", "AgentDesk", "RiskManager", "run_agent_desk"]

ROLES: tuple[str, ...] = ("trend", "mean_reversion")
#: What each role's agent observes (scale-free features of the feature engine).
ROLE_FEATURES: dict[str, tuple[str, ...]] = {
    "trend": ("logret_5", "logret_10", "dist_sma_20", "dist_sma_50", "ma_ratio_20_50", "macd_hist_atr", "adx_14",
              "linreg_slope_14", "efficiency_ratio_20", "aroon_osc_25", "rv_20"),
    "mean_reversion": ("logret_1", "rsi_7", "rsi_14", "bb_pctb_20", "zscore_close_20", "stoch_k", "willr_14",
                       "cci_14", "dist_low_20", "dist_high_20", "rv_20"),
}


@dataclass(frozen=True)
class RiskManager:
    """Caps exposure and cuts it when the desk's equity falls from its peak."""

    max_exposure: float = 1.0
    soft_drawdown: float = 0.10
    hard_drawdown: float = 0.20
    soft_scale: float = 0.5
    cooloff_bars: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.max_exposure <= 1 or not 0 < self.soft_drawdown < self.hard_drawdown < 1:
            raise DataValidationError("RiskManager needs 0 < max_exposure <= 1 and 0 < soft < hard drawdown < 1.")

    def apply(self, wish: float, drawdown: float, bars_since_breach: int) -> tuple[float, str]:
        """The allowed target for a wished one, and why it differs (empty when it does not)."""
        if bars_since_breach < self.cooloff_bars:
            return 0.0, f"flat: drawdown passed {self.hard_drawdown:.0%} (cool-off {self.cooloff_bars} bars)"
        capped = float(np.clip(wish, -self.max_exposure, self.max_exposure))
        note = f"capped at {self.max_exposure:.0%}" if capped != wish else ""
        if drawdown >= self.soft_drawdown:
            return capped * self.soft_scale, f"halved: drawdown {drawdown:.1%} past {self.soft_drawdown:.0%}"
        return capped, note


@dataclass(frozen=True)
class AgentDesk:
    """The desk at the last bar and its history."""

    members: pd.DataFrame  # source, weight, direction, strength, share of the score, call time
    score: float  # the consensus score in [-1, 1]
    before_risk: float  # the consensus's volatility-targeted position
    target: float  # after the risk manager
    drawdown: float
    risk_note: str
    history: pd.DataFrame  # per bar: score, before_risk, target, equity, drawdown
    result: BacktestResult | None = field(default=None, repr=False)  # the desk's run through the engine


def run_agent_desk(ohlcv: pd.DataFrame, symbol: str, timeframe: str, *, settings: Settings | None = None,
                   horizon: int = 5, risk: RiskManager = RiskManager(), fees: float = 0.0005,
                   sources: tuple[str, ...] | None = None) -> AgentDesk:
    """Run the desk over `ohlcv` (see the module docstring).

    Raises:
        DataValidationError: no active agent calls on this market yet (train and activate one per role).
    """
    import pinelab_core.rl.sources as agent_sources
    from pinelab_core.signals import MarketView, WeightRule, aggregate_signals, evaluate_signals, generate_signals

    names = list(sources or agent_sources.AGENT_SOURCES)
    view = MarketView.build(ohlcv, symbol, timeframe, horizon=horizon, settings=settings or Settings.from_env())
    signals = generate_signals(view, names)
    if not signals:
        raise DataValidationError(f"No active agent has out-of-sample calls on {symbol} {timeframe} yet. Train an "
                                  "agent per desk role (trend, mean-reversion) on the Training page and activate it.")
    weight_at = _weight_path(evaluate_signals(_frame(signals), ohlcv), names, WeightRule())
    first = int(ohlcv.index.searchsorted(min(s.time for s in signals)))
    index = ohlcv.index
    stepper = Stepper(ohlcv, fees=fees)
    rows, peak, since_breach, note, latest = [], np.nan, 10**9, "", None
    for bar in range(len(ohlcv)):
        if bar < first:
            stepper.step(None)
            continue
        latest = aggregate_signals([s for s in signals if s.time <= index[bar]], weight_at(index[bar]),
                                   ohlcv.iloc[:bar + 1], symbol=symbol, timeframe=timeframe)
        equity = stepper.equity
        peak = equity if not np.isfinite(peak) else max(peak, equity)
        drawdown = 1.0 - equity / peak
        since_breach = 0 if drawdown >= risk.hard_drawdown else since_breach + 1
        target, note = risk.apply(latest.position_size, drawdown, since_breach)
        stepper.step(target)
        rows.append((index[bar], latest.score, latest.position_size, target, stepper.equity, drawdown))
    history = pd.DataFrame(rows, columns=["time", "score", "before_risk", "target", "equity", "drawdown"])
    history = history.set_index("time")
    assert latest is not None  # `first` lies inside the frame: the loop reached it
    members = pd.DataFrame([{"source": c.source, "weight": c.weight, "direction": c.direction,
                             "strength": c.strength, "share": c.share, "call_time": c.time}
                            for c in latest.contributions])
    last = history.iloc[-1]
    result = stepper.result() if len(ohlcv) >= 2 else None
    return AgentDesk(members, float(last["score"]), float(last["before_risk"]), float(last["target"]),
                     float(last["drawdown"]), note, history, result)


def _frame(signals: list) -> pd.DataFrame:
    return pd.DataFrame([{"source": s.source, "time": s.time, "direction": s.direction, "strength": s.strength,
                          "horizon": s.horizon} for s in signals])


def _weight_path(outcomes: pd.DataFrame, names: list[str], rule: object):  # type: ignore[no-untyped-def]
    """weight_at(t): each source's learned weight from the outcomes known by t (point in time)."""
    from pinelab_core.signals import learn_weights

    _, path = learn_weights(outcomes, rule, names)  # type: ignore[arg-type]
    path = path.assign(exit_time=pd.to_datetime(path["exit_time"], utc=True)).sort_values("exit_time", kind="stable")
    initial = {name: rule.initial for name in names}  # type: ignore[attr-defined]

    def weight_at(when: pd.Timestamp) -> dict[str, float]:
        known = path[path["exit_time"] <= when]
        return {**initial, **known.groupby("source")["weight"].last().to_dict()}

    return weight_at
