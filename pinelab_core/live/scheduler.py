"""`pinelab run`: the scheduler that keeps watched markets up to date as their bars close.

Each tick, for every watched market: load its bars (network sources fetch only what is new, through the price
cache), find the bars that closed since the market's cursor, and for each one, on the bars up to it, run the
steps of `steps.STEPS` (signal desk, predictions, outcomes, shadow predictions, regime, paper accounts, learning,
notifications), each recorded once in `scheduler_step`. Then the cursor moves on. A restart resumes at the
cursor and skips the steps a bar already finished, so nothing runs twice; a lease in the store
(`lock.acquire_lease`) keeps a second copy from running at all.

On a market that does not move (the demo simulator, a file), `replay_from` walks its history instead: each tick
reveals the next `bars_per_tick` bars, as if they had just closed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, PinelabError
from pinelab_core.live.db import table_of, to_timestamp
from pinelab_core.live.lock import LEASE_S, SchedulerLease, acquire_lease
from pinelab_core.live.steps import STEPS, BarContext, run_bar_steps, run_tick_steps
from pinelab_core.store import get_engine
from pinelab_core.store.tables import SchedulerStepRow, WatchedMarketRow
from pinelab_core.types import Timeframe

__all__ = ["SchedulerOptions", "SchedulerSummary", "WatchedMarket", "list_watched", "run_scheduler",
           "scheduler_log_path", "start_scheduler", "step_log", "unwatch_market", "watch_market"]

log = logging.getLogger("pinelab.live")
Loader = Callable[[str, str, str], pd.DataFrame]


@dataclass(frozen=True)
class SchedulerOptions:
    """How `pinelab run` runs.

    Attributes:
        interval_s: seconds between ticks.
        replay_from: walk the history from this bar on (demo and file markets, which never get new bars).
        bars_per_tick: bars a replay reveals per tick.
        max_catchup: most bars a live market processes in one tick after a pause (older ones are skipped).
        max_ticks: stop after this many ticks (None = until stopped).
        lease_s: the lock's lease; a dead holder's lock frees after it (at once on the same host).
        steps: which steps run (default all of `steps.STEPS`).
    """

    interval_s: float = 30.0
    replay_from: pd.Timestamp | None = None
    bars_per_tick: int = 1
    max_catchup: int = 24
    max_ticks: int | None = None
    lease_s: float = LEASE_S
    steps: tuple[str, ...] = STEPS

    def __post_init__(self) -> None:
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            raise DataValidationError(f"Unknown scheduler step(s) {unknown}. Steps: {', '.join(STEPS)}.")
        if self.interval_s < 0 or self.bars_per_tick < 1 or self.max_catchup < 1:
            raise DataValidationError("interval_s >= 0, bars_per_tick >= 1 and max_catchup >= 1 are required.")


@dataclass(frozen=True)
class WatchedMarket:
    id: int
    data_source: str
    symbol: str
    timeframe: str
    horizon: int
    enabled: bool
    last_bar_time: pd.Timestamp | None


@dataclass
class SchedulerSummary:
    """What a `run_scheduler` call did."""

    ticks: int = 0
    bars: int = 0
    failures: list[str] = field(default_factory=list)
    stopped_because: str = ""


def watch_market(engine: Engine, source: str, symbol: str, timeframe: str, *, horizon: int = 5) -> WatchedMarket:
    """Add a market to the scheduler's watchlist (a market already watched is returned as it is)."""
    tf = Timeframe.parse(timeframe).value
    with Session(engine) as session:
        session.add(WatchedMarketRow(data_source=source, symbol=symbol, timeframe=tf, horizon=horizon))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
    return next(m for m in list_watched(engine) if (m.data_source, m.symbol, m.timeframe) == (source, symbol, tf))


def unwatch_market(engine: Engine, source: str, symbol: str, timeframe: str) -> bool:
    """Stop watching a market (its records stay); False when it was not watched."""
    table = table_of(WatchedMarketRow)
    with engine.begin() as connection:
        return bool(connection.execute(update(table).where(
            table.c.data_source == source, table.c.symbol == symbol,
            table.c.timeframe == Timeframe.parse(timeframe).value).values(enabled=False)).rowcount)


def list_watched(engine: Engine, *, enabled_only: bool = False) -> list[WatchedMarket]:
    with Session(engine) as session:
        query = select(WatchedMarketRow).order_by(col(WatchedMarketRow.id))
        if enabled_only:
            query = query.where(col(WatchedMarketRow.enabled).is_(True))
        rows = session.execute(query).scalars().all()
    return [WatchedMarket(int(r.id or 0), r.data_source, r.symbol, r.timeframe, r.horizon, bool(r.enabled),
                          to_timestamp(r.last_bar_time) if r.last_bar_time else None) for r in rows]


def run_scheduler(settings: Settings, options: SchedulerOptions = SchedulerOptions(), *,
                  stop: threading.Event | None = None, loader: Loader | None = None) -> SchedulerSummary:
    """Hold the scheduler lock and tick until stopped (Ctrl+C, `request_stop`, `stop`, or `max_ticks`).

    Raises:
        SchedulerRunningError: another copy holds the lock.
    """
    engine = get_engine(settings)
    lease = acquire_lease(engine, lease_s=options.lease_s, options=_jsonable(options))
    lease.start_heartbeat()
    stop = stop or threading.Event()
    load = loader or _default_loader(settings)
    summary = SchedulerSummary()
    try:
        while True:
            _tick(settings, engine, options, load, summary)
            summary.ticks += 1
            reason = _stop_reason(options, summary, stop, lease)
            deadline = time.monotonic() + options.interval_s
            while not reason and time.monotonic() < deadline:  # short waits: a stop request is seen within a second
                stop.wait(min(1.0, max(deadline - time.monotonic(), 0.0)))
                reason = _stop_reason(options, summary, stop, lease, sleeping=True)
            if reason:
                summary.stopped_because = reason
                log.info("scheduler stopped: %s", reason)
                return summary
    finally:
        lease.release()


def _stop_reason(options: SchedulerOptions, summary: SchedulerSummary, stop: threading.Event,
                 lease: SchedulerLease, *, sleeping: bool = False) -> str:
    if sleeping and not lease.stop_requested.is_set() and not lease.lost.is_set():
        lease.check_stop()
    if options.max_ticks is not None and summary.ticks >= options.max_ticks:
        return f"ran {summary.ticks} tick(s)"
    if stop.is_set():
        return "stopped"
    if lease.stop_requested.is_set():
        return "stop requested"
    if lease.lost.is_set():
        return "lost the scheduler lock"
    return ""


def _tick(settings: Settings, engine: Engine, options: SchedulerOptions, load: Loader,
          summary: SchedulerSummary) -> None:
    views: dict[tuple[str, str, str], pd.DataFrame] = {}
    for market in list_watched(engine, enabled_only=True):
        try:
            frame = load(market.data_source, market.symbol, market.timeframe)
        except PinelabError as exc:
            summary.failures.append(f"{market.symbol} {market.timeframe}: {exc}")
            log.warning("could not load %s %s: %s", market.symbol, market.timeframe, exc)
            continue
        for at in _bars_to_process(market, frame, options):
            view = frame.loc[frame.index <= at]
            views[(market.data_source, market.symbol, market.timeframe)] = view
            # A replay reveals each bar as the newest; live, a bar behind the newest is being caught up on.
            latest = options.replay_from is not None or at == frame.index[-1]
            context = BarContext(settings, engine, market.data_source, market.symbol, market.timeframe,
                                 market.horizon, view, views, latest)
            summary.failures += run_bar_steps(context, options.steps)
            _move_cursor(engine, market.id, at)
            summary.bars += 1
    summary.failures += run_tick_steps(settings, engine, views, options.steps)


def _bars_to_process(market: WatchedMarket, frame: pd.DataFrame, options: SchedulerOptions) -> list[pd.Timestamp]:
    index = frame.index
    if market.last_bar_time is not None:
        newer = index[index > market.last_bar_time]
    elif options.replay_from is not None:
        newer = index[index >= options.replay_from]
    else:
        newer = index[-1:]
    if options.replay_from is not None:
        return list(newer[:options.bars_per_tick])
    return list(newer[-options.max_catchup:])


def _move_cursor(engine: Engine, market_id: int, at: pd.Timestamp) -> None:
    table = table_of(WatchedMarketRow)
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == market_id).values(last_bar_time=at.to_pydatetime()))


def _default_loader(settings: Settings) -> Loader:
    from pinelab_core.data import load_ohlcv

    return lambda source, symbol, timeframe: load_ohlcv(symbol, timeframe, source=source, settings=settings)


def step_log(engine: Engine, *, limit: int = 200) -> pd.DataFrame:
    """The newest scheduler steps: market, bar, step, status, detail, seconds."""
    table = table_of(SchedulerStepRow)
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id.desc()).limit(limit)).all()
    columns = ["started_at", "symbol", "timeframe", "bar_time", "step", "status", "seconds", "detail"]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)
    for column in ("started_at", "bar_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def scheduler_log_path(settings: Settings) -> str:
    return str(settings.data_dir / "scheduler.log")


def start_scheduler(settings: Settings, *, interval_s: float = 30.0, replay_from: str | None = None) -> int:
    """Start `pinelab run` as a detached process (the dashboard's Start button); returns its pid.

    The process takes the lock itself, so starting a second one only makes it exit with a message in its log.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    same_store = {"PINELAB_DATA_DIR": str(settings.data_dir.resolve()),
                  "PINELAB_MODELS_DIR": str(settings.models_dir.resolve()),
                  "PINELAB_DATABASE_URL": settings.database_url or
                  f"sqlite:///{(settings.data_dir.resolve() / 'pinelab.db').as_posix()}"}
    command = [sys.executable, "-m", "pinelab_core", "run", "--interval", str(interval_s)]
    if replay_from:
        command += ["--replay-from", replay_from]
    with open(scheduler_log_path(settings), "ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **same_store}, start_new_session=True)
    return int(process.pid)


def _jsonable(options: SchedulerOptions) -> dict[str, object]:
    data = asdict(options)
    data["replay_from"] = None if options.replay_from is None else options.replay_from.isoformat()
    data["started_at"] = datetime.now(UTC).isoformat()
    data["pid"] = os.getpid()
    return data


def wait_for(condition: Callable[[], bool], timeout_s: float, every_s: float = 0.2) -> bool:
    """Poll `condition` until true or `timeout_s` passes (tests and the page's Start button)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return condition()

