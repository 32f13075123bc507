"""One symbol read across timeframes: every active model's, the ensemble's and every signal source's call on
each chosen timeframe, and how much they agree.

Each timeframe is read at its own latest *closed* bar: the loader already drops a forming bar from live
sources, and with `as_of` every frame is cut to the bars that had closed by then (a 1d bar counts only from
its midnight close, a 4h bar from its end), so a replay of a past moment sees what was known then.

The agreement counts one vote per timeframe and call: the ensemble's, each active RL agent's and each signal
source's (RSI, MACD, Bollinger, candlesticks, TradingView alerts). The ensemble's members and the desk's
consensus are shown but not counted (they repeat the ensemble's and the sources' votes), and the desk's agent
sources are left out of the signal rows (each agent already has its own row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, ModelNotFoundError, PinelabError
from pinelab_core.types import Action, Timeframe

if TYPE_CHECKING:  # the sidecar imports this module; models and signals load only when a read is made
    from pinelab_core.models.ensemble import Prediction
    from pinelab_core.rl.calls import AgentCall
    from pinelab_core.signals.aggregate import AggregateSignal
    from pinelab_core.signals.desk import SignalDesk

__all__ = ["DEFAULT_TIMEFRAMES", "MultiTimeframeView", "SourceCall", "TimeframeRead", "agreement_of",
           "multi_timeframe_view", "parse_timeframes", "timeframe_read"]

DEFAULT_TIMEFRAMES: tuple[str, ...] = ("15m", "1h", "4h", "1d")
_MAX_TIMEFRAMES = 8
_DIRECTION = {Action.BUY.value: 1, Action.SELL.value: -1, Action.HOLD.value: 0}
_CLASS_ACTION = {"UP": Action.BUY.value, "DOWN": Action.SELL.value, "SIDEWAYS": Action.HOLD.value}
_DUPLICATE_SOURCES = frozenset({"ensemble"})  # the desk's logged-prediction source repeats the ensemble's call


@dataclass(frozen=True)
class SourceCall:
    """One source's call on one timeframe."""

    source: str  # "ensemble", a member "name/vN", an agent "name@vN", a signal source ("rsi", ...) or "consensus"
    kind: str  # ensemble | model | agent | signal | consensus
    action: str  # BUY | SELL | HOLD, or NONE for a signal source without an active call
    direction: int  # +1 / -1 / 0
    strength: float  # calibrated confidence (ensemble, models), conviction (signals), |score| (consensus)
    placed_at: pd.Timestamp | None  # the bar the call was made at
    counted: bool = True  # part of the agreement score
    note: str = ""


@dataclass(frozen=True)
class TimeframeRead:
    """The calls on one timeframe at its latest closed bar; `note` says why a part is missing."""

    timeframe: str
    bar_time: pd.Timestamp | None
    close: float | None
    calls: tuple[SourceCall, ...] = ()
    in_sample: bool = False
    note: str = ""

    @property
    def agreement(self) -> float:
        return agreement_of(self.calls)[1]


@dataclass(frozen=True)
class MultiTimeframeView:
    """A symbol's calls on several timeframes, and their agreement (see `agreement_of`)."""

    symbol: str
    source: str
    as_of: pd.Timestamp | None  # the replayed moment; None: each timeframe's newest closed bar
    reads: tuple[TimeframeRead, ...]
    score: float = 0.0
    agreement: float = 0.0
    action: str = Action.HOLD.value
    votes: dict[str, int] = field(default_factory=dict)

    @property
    def timeframes(self) -> list[str]:
        return [read.timeframe for read in self.reads]

    def grid(self) -> pd.DataFrame:
        """Sources x timeframes, each cell "BUY 62%" (or "—" where a source has nothing on that timeframe)."""
        cells = {read.timeframe: {c.source: _cell(c) for c in read.calls} for read in self.reads}
        return pd.DataFrame(cells, index=self._rows(), columns=self.timeframes).fillna("—")

    def directions(self) -> pd.DataFrame:
        """Sources x timeframes of +1 / -1 / 0 (NaN where a source has nothing on that timeframe)."""
        cells = {read.timeframe: {c.source: float(c.direction) for c in read.calls} for read in self.reads}
        return pd.DataFrame(cells, index=self._rows(), columns=self.timeframes, dtype=float)

    def _rows(self) -> list[str]:
        order = {"ensemble": 0, "model": 1, "agent": 2, "signal": 3, "consensus": 4}
        seen: dict[str, tuple[int, int]] = {}
        for read in self.reads:
            for position, call in enumerate(read.calls):
                seen.setdefault(call.source, (order[call.kind], position))
        return sorted(seen, key=seen.__getitem__)


def agreement_of(calls: Iterable[SourceCall]) -> tuple[float, float, dict[str, int]]:
    """(score, agreement, votes) of the counted calls.

    score = the mean direction of the counted calls (a call without a direction, HOLD or none, is 0), in [-1, 1];
    agreement = |up - down| / (up + down): 1 when every directional call points the same way, 0 when they split
    evenly (and 0 with no directional call at all).
    """
    counted = [c for c in calls if c.counted]
    up, down = sum(c.direction > 0 for c in counted), sum(c.direction < 0 for c in counted)
    score = sum(c.direction for c in counted) / len(counted) if counted else 0.0
    agreement = abs(up - down) / (up + down) if up + down else 0.0
    return float(score), float(agreement), {"up": up, "down": down, "neutral": len(counted) - up - down}


def parse_timeframes(text: str | Iterable[str] | None) -> list[str]:
    """"15m,1h,4h,1d" (or a list) -> distinct timeframes, finest first. Raises DataValidationError for a bad one."""
    if text is None:
        return list(DEFAULT_TIMEFRAMES)
    items = text.split(",") if isinstance(text, str) else list(text)
    parsed = {Timeframe.parse(item).value: Timeframe.parse(item).seconds for item in items if str(item).strip()}
    if not parsed:
        raise DataValidationError(f"No timeframe given. Pick from {', '.join(t.value for t in Timeframe)}.")
    if len(parsed) > _MAX_TIMEFRAMES:
        raise DataValidationError(f"At most {_MAX_TIMEFRAMES} timeframes at once, got {len(parsed)}.")
    return sorted(parsed, key=parsed.__getitem__)


def multi_timeframe_view(symbol: str, timeframes: str | Iterable[str] | None = None, source: str = "auto",
                         settings: Settings | None = None, *, engine: Engine | None = None,
                         as_of: str | pd.Timestamp | None = None,
                         known: Mapping[str, TimeframeRead] | None = None,
                         frames: Mapping[str, pd.DataFrame] | None = None) -> MultiTimeframeView:
    """Read `symbol` on each timeframe at its latest closed bar (or the latest closed by `as_of`).

    Args:
        symbol, source, settings: as for `predict`.
        timeframes: e.g. "15m,1h,4h,1d" (the default).
        engine: the store (tracked signals, alerts, logged predictions); by default `get_engine(settings)`.
        as_of: replay this moment: each timeframe's frame ends with its last bar closed by then, and the
            model calls are flagged in-sample (a look back, never logged as live calls).
        known: timeframe reads already made (the insights call passes its own timeframe's).
        frames: bars already loaded per timeframe (ending at their newest closed bar); the others are loaded.
    """
    from pinelab_core.store import get_engine

    settings = settings or Settings.from_env()
    engine = engine if engine is not None else get_engine(settings)
    moment = None if as_of is None else _utc(as_of)
    reads = []
    for timeframe in parse_timeframes(timeframes):
        if known and timeframe in known:
            reads.append(known[timeframe])
            continue
        try:
            frame = frames[timeframe] if frames and timeframe in frames and moment is None else \
                closed_frame(symbol, timeframe, source, settings, moment)
        except PinelabError as exc:
            reads.append(TimeframeRead(timeframe, None, None, note=str(exc)))
            continue
        reads.append(timeframe_read(frame, symbol, timeframe, source, settings, engine, latest=moment is None))
    score, agreement, votes = agreement_of(c for read in reads for c in read.calls)
    action = Action.BUY.value if score >= 0.2 else Action.SELL.value if score <= -0.2 else Action.HOLD.value
    return MultiTimeframeView(symbol, source, moment, tuple(reads), score, agreement, action, votes)


def closed_frame(symbol: str, timeframe: str, source: str, settings: Settings,
                 as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """The market's bars on `timeframe`, ending with the last bar closed by `as_of` (default: the newest).

    A replay cuts the frame the pages load (same first bar), so the signal desk tracks the same calls whether
    it replays a moment or reads the newest bar; only a moment before that frame loads the span before it.
    """
    from pinelab_core.data import load_ohlcv
    from pinelab_core.data.resample import closed_bars

    frame = load_ohlcv(symbol, timeframe, source=source, settings=settings)
    if as_of is None:
        return frame
    cut = closed_bars(frame, timeframe, as_of)
    if cut.empty:
        cut = closed_bars(load_ohlcv(symbol, timeframe, end=as_of, source=source, settings=settings), timeframe, as_of)
        if cut.empty:
            raise DataValidationError(f"No {timeframe} bar of {symbol} had closed by {as_of}.")
    return cut


def timeframe_read(ohlcv: pd.DataFrame, symbol: str, timeframe: str, source: str, settings: Settings,
                   engine: Engine, *, latest: bool = True, prediction: Prediction | None = None,
                   desk: SignalDesk | None = None, agents: list[AgentCall] | None = None) -> TimeframeRead:
    """Every call on one timeframe at the frame's last bar: the ensemble and its members, each active agent,
    each signal source and the consensus. `prediction` / `desk` / `agents`, when given, are used instead of
    computing them again."""
    from pinelab_core.models.inference import predict
    from pinelab_core.rl.calls import agent_calls
    from pinelab_core.signals import run_signal_desk

    calls: list[SourceCall] = []
    notes, in_sample = [], False
    try:
        prediction = prediction or predict(symbol, timeframe, source, settings, ohlcv=ohlcv, latest=latest,
                                           forecasts=False)
        calls.extend(_model_calls(prediction))
        in_sample = prediction.in_sample
    except ModelNotFoundError as exc:
        notes.append(str(exc))
    except PinelabError as exc:  # a model that cannot read this market (schema, too little data): say so
        notes.append(f"models: {exc}")
    try:
        agents = agents if agents is not None else agent_calls(settings, symbol, timeframe, ohlcv, latest=latest)
        calls.extend(_agent_call(a) for a in agents)
    except PinelabError as exc:  # an agent that cannot read this market: the rest of the read stands
        notes.append(f"agents: {exc}")
    desk = desk or run_signal_desk(ohlcv, symbol, timeframe, engine=engine, settings=settings)
    calls.extend(_signal_calls(desk.aggregate))
    return TimeframeRead(timeframe, pd.Timestamp(ohlcv.index[-1]), float(ohlcv["close"].iloc[-1]), tuple(calls),
                         in_sample, " ".join(notes))


def _model_calls(p: Prediction) -> list[SourceCall]:
    note = "in-sample: a look back the models may have learned from" if p.in_sample else ""
    bar = pd.Timestamp(p.bar_time)
    calls = [SourceCall("ensemble", "ensemble", p.signal.value, _DIRECTION[p.signal.value], float(p.confidence), bar,
                        note=note)]
    for key, probabilities in p.models.items():
        top = max(probabilities, key=probabilities.__getitem__)
        action = _CLASS_ACTION.get(top, Action.HOLD.value)
        calls.append(SourceCall(key, "model", action, _DIRECTION[action], float(probabilities[top]), bar,
                                counted=False))
    return calls


def _agent_call(a: AgentCall) -> SourceCall:
    direction = 1 if a.target > 0 else -1 if a.target < 0 else 0
    action = Action.BUY.value if direction > 0 else Action.SELL.value if direction < 0 else Action.HOLD.value
    note = "in-sample: a bar the agent learned from, or a look back" if a.in_sample else ""
    return SourceCall(a.agent, "agent", action, direction, float(a.confidence), pd.Timestamp(a.bar_time), note=note)


def _signal_calls(a: AggregateSignal) -> list[SourceCall]:
    calls = []
    for c in a.contributions:
        if c.source in _DUPLICATE_SOURCES or c.source.split(":")[0] == "agent":  # rows of their own already
            continue
        if c.time is None:
            calls.append(SourceCall(c.source, "signal", "NONE", 0, 0.0, None, note="no active call"))
            continue
        action = Action.BUY.value if c.direction > 0 else Action.SELL.value if c.direction < 0 else Action.HOLD.value
        calls.append(SourceCall(c.source, "signal", action, int(c.direction), float(c.strength), pd.Timestamp(c.time)))
    calls.append(SourceCall("consensus", "consensus", a.action.value, _DIRECTION[a.action.value], abs(float(a.score)),
                            pd.Timestamp(a.time), counted=False))
    return calls


def _cell(call: SourceCall) -> str:
    if call.action == "NONE":
        return "·"
    return f"{call.action} {call.strength:.0%}"


def _utc(moment: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
