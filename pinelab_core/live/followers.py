"""What a paper account follows, by name, and the target position it takes at each bar's close.

    consensus        the signal desk's stored consensus of the market (BUY long, SELL short, HOLD flat)
    source:<name>    one signal source of `signals.SIGNAL_SOURCES` (rsi, macd, bollinger, candlestick, ensemble,
                     and any source registered later), each call held until the next one
    ensemble         the model ensemble's logged live predictions (source:ensemble)
    rl:<agent>       an RL agent, through the follower the `rl` package registers: register_follower("rl", ...)
    tradingview      the TradingView alerts the webhook stored for the symbol, through the position state machine
    alerts           alerts handed to `take_alerts` (the CLI's replay), through the same state machine

A follower returns targets on the market's bars (NaN = no new decision). Every value at bar t is computable at
t's close: rule sources are causal, the consensus is the row the desk stored for bar t, logged predictions
exclude in-sample ones. With sizing "fixed" only the direction counts (the engine's `fraction` sizes it); with
"signal" the source's own size does (the consensus position size, a call's strength, an alert's size).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.live.db import to_timestamp
from pinelab_core.store.tables import AggregatedSignalRow

__all__ = ["ALERT_STRATEGIES", "FOLLOWERS", "FollowContext", "Follower", "check_strategy", "register_follower",
           "strategy_targets"]

ALERT_STRATEGIES: tuple[str, ...] = ("tradingview", "alerts")
_ACTION_SIDE = {"BUY": 1.0, "SELL": -1.0, "HOLD": 0.0}


@dataclass(frozen=True)
class FollowContext:
    """What a follower sees: the market up to the bar being decided, the store and the account's sizing."""

    ohlcv: pd.DataFrame
    symbol: str
    timeframe: str
    data_source: str
    argument: str  # what follows the prefix: the source or agent name
    sizing: str
    engine: Engine
    settings: Settings | None = None


Follower = Callable[[FollowContext], pd.Series]


def _consensus(context: FollowContext) -> pd.Series:
    index = context.ohlcv.index
    with Session(context.engine) as session:
        rows = session.exec(select(AggregatedSignalRow).where(
            AggregatedSignalRow.data_source == context.data_source, AggregatedSignalRow.symbol == context.symbol,
            AggregatedSignalRow.timeframe == context.timeframe,
            col(AggregatedSignalRow.time) >= index[0].to_pydatetime(),
            col(AggregatedSignalRow.time) <= index[-1].to_pydatetime())).all()
    targets = pd.Series(np.nan, index=index, name="target")
    for row in rows:
        at = to_timestamp(row.time)
        if at in targets.index:
            side = _ACTION_SIDE.get(row.action.upper(), 0.0)
            targets[at] = float(row.position_size) if context.sizing == "signal" else side
    return targets


def _signal_source(context: FollowContext) -> pd.Series:
    from pinelab_core.signals import SIGNAL_SOURCES, MarketView

    name = context.argument
    if name not in SIGNAL_SOURCES:
        raise DataValidationError(_unknown(name, list(SIGNAL_SOURCES), "signal source"))
    view = MarketView.build(context.ohlcv, context.symbol, context.timeframe, engine=context.engine,
                            settings=context.settings)
    calls = SIGNAL_SOURCES[name].produce(view)
    targets = pd.Series(np.nan, index=context.ohlcv.index, name="target")
    for call in sorted(calls, key=lambda c: c.time):  # the last call of a bar wins
        if call.time in targets.index:
            size = min(max(float(call.strength), 0.0), 1.0) if context.sizing == "signal" else 1.0
            targets[call.time] = float(np.sign(call.direction)) * size
    return targets


def _ensemble(context: FollowContext) -> pd.Series:
    return _signal_source(FollowContext(context.ohlcv, context.symbol, context.timeframe, context.data_source,
                                        "ensemble", context.sizing, context.engine, context.settings))


def _rl_missing(context: FollowContext) -> pd.Series:
    raise DataValidationError(
        f"No RL agent can be followed yet ({context.argument!r}): the rl package registers its agents with "
        "pinelab_core.live.register_follower('rl', follower). Train an agent, or follow another strategy.")


#: Strategy prefix -> follower. `rl` is the hook the RL package replaces with its agents' targets.
FOLLOWERS: dict[str, Follower] = {"consensus": _consensus, "source": _signal_source, "ensemble": _ensemble,
                                  "rl": _rl_missing}


def register_follower(prefix: str, follower: Follower) -> None:
    """Make `prefix[:argument]` followable by paper accounts (e.g. "rl" for `rl:<agent>`)."""
    if not prefix or ":" in prefix:
        raise DataValidationError(f"A follower prefix is a plain name like 'rl', not {prefix!r}.")
    FOLLOWERS[prefix] = follower


def check_strategy(strategy: str) -> None:
    """Refuse a strategy no follower (nor the alert intake) knows, with the closest valid name."""
    prefix, _, argument = strategy.partition(":")
    if strategy in ALERT_STRATEGIES:
        return
    if prefix not in FOLLOWERS:
        names = [*ALERT_STRATEGIES, "consensus", "ensemble", "source:rsi", "rl:<agent>"]
        raise DataValidationError(_unknown(strategy, names, "strategy"))
    if prefix in ("source", "rl") and not argument:
        raise DataValidationError(f"Say which one: {prefix}:<name>, e.g. source:rsi or rl:ppo.")
    if FOLLOWERS[prefix] is _rl_missing:
        _rl_missing(FollowContext(pd.DataFrame(), "", "", "", argument, "fixed", None))  # type: ignore[arg-type]


def strategy_targets(strategy: str, context: FollowContext) -> pd.Series:
    """The targets `strategy` decides on `context.ohlcv`'s bars (NaN = hold); not for the alert strategies."""
    check_strategy(strategy)
    prefix, _, argument = strategy.partition(":")
    follower = FOLLOWERS[prefix]
    targets = follower(FollowContext(context.ohlcv, context.symbol, context.timeframe, context.data_source,
                                     argument, context.sizing, context.engine, context.settings))
    return targets.reindex(context.ohlcv.index).clip(-1.0, 1.0)


def _unknown(name: str, valid: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"Unknown {what} {name!r}.{hint} Valid: {', '.join(valid)}."
