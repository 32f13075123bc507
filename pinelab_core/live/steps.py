"""The scheduler's steps: what happens to one market when one of its bars closes, and once per tick.

Per bar (on the bars up to it, so every record is what was knowable at its close):

    desk        the signal desk: every source's calls, outcomes judged, weights learned, the consensus stored
    predict     the active ensemble's prediction, logged (in-sample calls never are)
    outcomes    logged predictions whose horizon has passed get their outcome
    shadow      champion and challenger versions' own calls, logged beside the ensemble's, never acted on
    regime      the market's rule-based regime as seen at this bar
    paper       every paper account on the market decides, fills through the execution engine, marks, or is killed
    learning    daily performance snapshots; drift or accuracy decay (and schedules) queue retraining
    notify      the notification rules see this bar's consensus, kill switches and drift alerts

Each step of each bar is recorded once (`scheduler_step`): a restarted scheduler skips what a bar finished and
retries what failed. A step that fails is logged and the others still run.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import DataFetchError, ModelNotFoundError, PinelabError
from pinelab_core.live.db import table_of, upsert
from pinelab_core.store.tables import SchedulerStepRow

__all__ = ["STEPS", "BarContext", "StepSkipped", "run_bar_steps", "run_tick_steps"]

log = logging.getLogger("pinelab.live")
STEPS: tuple[str, ...] = ("desk", "predict", "outcomes", "shadow", "regime", "paper", "learning", "notify")
_KEY = ("data_source", "symbol", "timeframe", "bar_time", "step")


class StepSkipped(Exception):  # noqa: N818 - control flow: nothing to do (no model, no account)
    """A step had nothing to do for this bar; its message says why."""


@dataclass(frozen=True)
class BarContext:
    """One market at one closed bar: `view` holds the bars up to it; `views` every market's current bars."""

    settings: Settings
    engine: Engine
    data_source: str
    symbol: str
    timeframe: str
    horizon: int
    view: pd.DataFrame
    views: dict[tuple[str, str, str], pd.DataFrame]
    latest: bool = True  # the bar was the newest closed one when processed (False while catching up)

    @property
    def at(self) -> pd.Timestamp:
        return pd.Timestamp(self.view.index[-1])

    def loader(self, source: str, symbol: str, timeframe: str) -> pd.DataFrame:
        """The bars the scheduler holds for a market now (never later ones: outcomes stay point in time)."""
        frame = self.views.get((source, symbol, timeframe))
        if frame is None:
            raise DataFetchError(f"{symbol} {timeframe} from {source} is not a watched market this tick.")
        return frame


def _desk(context: BarContext) -> str:
    from pinelab_core.signals import run_signal_desk

    desk = run_signal_desk(context.view, context.symbol, context.timeframe, engine=context.engine,
                           settings=context.settings, horizon=context.horizon, data_source=context.data_source)
    agg = desk.aggregate
    return f"consensus {agg.action.value} score {agg.score:+.2f} confidence {agg.confidence:.2f}"


def _predict(context: BarContext) -> str:
    from pinelab_core.models.inference import predict

    try:
        prediction = predict(context.symbol, context.timeframe, context.data_source, context.settings,
                             ohlcv=context.view, forecasts=False, latest=context.latest)
    except ModelNotFoundError as exc:
        raise StepSkipped(f"no active model: {exc}") from exc
    tag = " (in-sample: not logged)" if prediction.in_sample else ""
    return f"{prediction.signal.value} confidence {prediction.confidence:.2f}{tag}"


def _outcomes(context: BarContext) -> str:
    from pinelab_core.models.tracking import resolve_outcomes

    return f"{resolve_outcomes(context.settings, context.loader)} outcome(s) resolved"


def _shadow(context: BarContext) -> str:
    from pinelab_core.live.challenger import shadow_step

    return shadow_step(context)


def _regime(context: BarContext) -> str:
    from pinelab_core.live.learning import record_regime

    return record_regime(context.engine, context.data_source, context.symbol, context.timeframe, context.view)


def _paper(context: BarContext) -> str:
    from pinelab_core.live.accounts import list_accounts
    from pinelab_core.live.paper import advance_account

    accounts = list_accounts(context.engine, source=context.data_source, symbol=context.symbol,
                             timeframe=context.timeframe)
    if not accounts:
        raise StepSkipped("no paper account on this market")
    notes = []
    for account in accounts:
        result = advance_account(context.engine, account, context.view, settings=context.settings)
        killed = f", KILLED at {result.killed_at:%Y-%m-%d %H:%M}" if result.killed_at is not None else ""
        notes.append(f"{account.name}: {result.new_fills} fill(s){killed}")
    return "; ".join(notes)


def _learning(context: BarContext) -> str:
    from pinelab_core.live.learning import learning_step

    return learning_step(context)


def _notify(context: BarContext) -> str:
    from pinelab_core.live.notify import notify_bar

    return notify_bar(context)


_BAR_STEPS: dict[str, Callable[[BarContext], str]] = {
    "desk": _desk, "predict": _predict, "outcomes": _outcomes, "shadow": _shadow, "regime": _regime,
    "paper": _paper, "learning": _learning, "notify": _notify,
}


def run_bar_steps(context: BarContext, steps: tuple[str, ...] = STEPS) -> list[str]:
    """Run the chosen steps for one market's bar, skipping the ones it already finished; returns failures."""
    done = _finished(context)
    failures = []
    for name in steps:
        if name in done:
            continue
        started, clock = datetime.now(UTC), time.perf_counter()
        status, detail = "ok", ""
        try:
            detail = _BAR_STEPS[name](context)
        except StepSkipped as exc:
            status, detail = "skipped", str(exc)
        except Exception as exc:  # noqa: BLE001 - one failing step must not stop the others or the scheduler
            status = "failed"
            detail = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, PinelabError):
                detail += "\n" + traceback.format_exc(limit=6)
            failures.append(f"{context.symbol} {context.timeframe} {context.at:%Y-%m-%d %H:%M} {name}: {detail}")
            log.warning("step %s failed on %s %s: %s", name, context.symbol, context.at, detail)
        _record(context, name, status, detail, started, time.perf_counter() - clock)
    return failures


def run_tick_steps(settings: Settings, engine: Engine, views: dict[tuple[str, str, str], pd.DataFrame],
                   steps: tuple[str, ...] = STEPS) -> list[str]:
    """Once per tick: finished retrain jobs become learning events, scheduled retrains, due notifications."""
    failures = []
    work: list[tuple[str, Callable[[], object]]] = []
    if "learning" in steps:
        from pinelab_core.live.learning import learning_tick

        work.append(("learning", lambda: learning_tick(settings, engine, views)))
    if "notify" in steps:
        from pinelab_core.live.notify import notify_tick

        work.append(("notify", lambda: notify_tick(settings, engine)))
    for name, call in work:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            failures.append(f"tick {name}: {type(exc).__name__}: {exc}")
            log.warning("tick step %s failed: %s", name, exc)
    return failures


def _finished(context: BarContext) -> set[str]:
    table = table_of(SchedulerStepRow)
    with context.engine.connect() as connection:
        rows = connection.execute(select(table.c.step).where(
            table.c.data_source == context.data_source, table.c.symbol == context.symbol,
            table.c.timeframe == context.timeframe, table.c.bar_time == context.at.to_pydatetime(),
            table.c.status.in_(("ok", "skipped")))).all()
    return {row[0] for row in rows}


def _record(context: BarContext, step: str, status: str, detail: str, started: datetime, seconds: float) -> None:
    with context.engine.begin() as connection:
        upsert(connection, SchedulerStepRow, {
            "data_source": context.data_source, "symbol": context.symbol, "timeframe": context.timeframe,
            "bar_time": context.at.to_pydatetime(), "step": step, "status": status, "detail": detail[:4000],
            "started_at": started, "seconds": round(seconds, 4)}, _KEY)
