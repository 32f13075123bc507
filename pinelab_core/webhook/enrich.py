"""Enrichment after the answer: market context at the alert's bar and, when a model exists, its opinion.

Runs on its own thread with its own sessions, fed by the writer once alerts are committed, so a
slow data source never delays TradingView's 200. Frames are cached per (ticker, timeframe) for a
short while: a burst of alerts on one market costs one load and one indicator pass.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import PinelabError
from pinelab_core.signals.context import context_at, context_frame
from pinelab_core.signals.tradingview import interval_timeframe
from pinelab_core.store.tables import ModelVersionRow, TradingViewAlertRow
from pinelab_core.types import Timeframe

__all__ = ["AlertEnricher", "OhlcvLoader"]

log = logging.getLogger(__name__)
_ALERTS = TradingViewAlertRow.__table__  # type: ignore[attr-defined]
_SELECT_ALERTS = select(_ALERTS.c.id, _ALERTS.c.ticker, _ALERTS.c.interval, _ALERTS.c.received_at).where(
    _ALERTS.c.id.in_(bindparam("ids", expanding=True)))
_VERSIONS = ModelVersionRow.__table__  # type: ignore[attr-defined]
_ACTIVE_MODEL = select(_VERSIONS.c.id).where(
    _VERSIONS.c.status == "active", _VERSIONS.c.timeframe == bindparam("timeframe")).limit(1)
_UPDATE_ALERT = update(_ALERTS).where(_ALERTS.c.id == bindparam("row_id")).values(
    status=bindparam("status"), enrichment_json=bindparam("details"))
OhlcvLoader = Callable[[str, str], pd.DataFrame]
_STOP = -1


class _LruCache(OrderedDict[Any, Any]):
    """A dict that keeps only its `maxsize` most recently used entries (alerts can name any ticker)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


@dataclass(frozen=True)
class _Market:
    ohlcv: pd.DataFrame
    context: pd.DataFrame
    times: np.ndarray  # bar open times, int64 ns, for a cheap per-alert lookup
    step_ns: int


class AlertEnricher:
    """Background enrichment of stored alerts. `enqueue(ids)` never blocks; overflow is logged and skipped."""

    def __init__(self, engine: Engine, settings: Settings, *, loader: OhlcvLoader | None = None,
                 max_backlog: int = 10_000, cache_seconds: float = 60.0, max_markets: int = 32) -> None:
        self.engine = engine
        self.settings = settings
        self.source = settings.default_source
        self.loader = loader or self._load_ohlcv
        self.cache_seconds = cache_seconds
        self._queue: queue.Queue[int] = queue.Queue(maxsize=max_backlog)
        # Bounded: frames are large, and an alert may name any ticker. Least recently used goes first.
        self._cache: _LruCache = _LruCache(max_markets)  # (ticker, timeframe) -> (loaded at, market or error)
        self._results: _LruCache = _LruCache(10_000)  # (ticker, interval, bar, bars behind) -> (status, details)
        self._opinions: _LruCache = _LruCache(max_markets)  # (ticker, timeframe) -> the models' call
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pinelab-alert-enricher", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    def enqueue(self, alert_ids: list[int]) -> None:
        for alert_id in alert_ids:
            try:
                self._queue.put_nowait(alert_id)
            except queue.Full:
                log.warning("Enrichment backlog full; alert %s stays unenriched", alert_id)

    def enrich(self, alert_ids: list[int]) -> int:
        """Enrich these alerts now, on the calling thread; returns how many rows were updated."""
        with self.engine.connect() as connection:
            rows = connection.execute(_SELECT_ALERTS, {"ids": list(alert_ids)}).all()
        updates = []
        for row in rows:
            status, details = self._details(row)
            updates.append({"row_id": row.id, "status": status, "details": details})
        if updates:
            # One executemany in one short transaction: the alert writer is kept waiting as little as possible.
            with self.engine.begin() as connection:
                connection.execute(_UPDATE_ALERT, updates)
        return len(updates)

    def _run(self) -> None:
        while True:
            ids = [self._queue.get()]
            while len(ids) < 500 and ids[-1] != _STOP:
                try:
                    ids.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch = [i for i in ids if i != _STOP]
            if batch:
                try:
                    self.enrich(batch)
                except Exception:  # never let one bad batch kill the thread
                    log.exception("Enrichment of %d alerts failed", len(batch))
            if ids[-1] == _STOP:
                return

    def _details(self, row: Any) -> tuple[str, str]:
        """(status, enrichment JSON) of one alert. Alerts on the same market and bar share one result."""
        timeframe = interval_timeframe(row.interval) or "1d"
        market = self._market(row.ticker, timeframe)
        if isinstance(market, str):
            failed = {"data_source": self.source, "timeframe": timeframe, "error": market}
            return "enrich_failed", json.dumps(failed)
        received = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
        received_ns = int(received.timestamp() * 1e9)
        bar = int(np.searchsorted(market.times, received_ns, side="right"))
        behind = (received_ns - int(market.times[-1])) // market.step_ns
        key = (row.ticker, row.interval, bar, behind)
        if key not in self._results:
            self._results[key] = ("enriched", json.dumps(self._describe(row, timeframe, market, received, behind),
                                                         default=str))
        return self._results.get(key)

    def _describe(self, row: Any, timeframe: str, market: _Market, received: datetime, behind: int) -> dict[str, Any]:
        details: dict[str, Any] = {"data_source": self.source, "simulated": self.source == "demo",
                                   "timeframe": timeframe, "market": context_at(market.context, received)}
        if not interval_timeframe(row.interval):
            details["note"] = f"interval {row.interval!r} has no PineLab bar size; daily bars used"
        if behind > 1:  # say so rather than pass an old bar off as the alert's
            details["stale"] = True
            last_bar = market.context.index[-1].isoformat()
            details["note"] = f"data ends {behind} bars before the alert (last bar {last_bar})"
        opinion = self._model_opinion(row.ticker, timeframe, market.ohlcv)
        if opinion is not None:
            details["model"] = opinion
        return details

    def _market(self, ticker: str, timeframe: str) -> _Market | str:
        """A market's bars and context, cached for `cache_seconds`; the error text when it cannot load."""
        key = (ticker, timeframe)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        value: _Market | str
        self._results.clear()  # results and opinions belong to the frames being replaced
        self._opinions.pop(key, None)
        try:
            ohlcv = self.loader(ticker, timeframe)
            times = ohlcv.index.as_unit("ns").asi8
            value = _Market(ohlcv, context_frame(ohlcv), times, Timeframe.parse(timeframe).seconds * 10**9)
        except (PinelabError, ImportError) as exc:
            value = str(exc)
        self._cache[key] = (time.monotonic(), value)
        return value

    def _model_opinion(self, ticker: str, timeframe: str, ohlcv: pd.DataFrame) -> dict[str, Any] | None:
        """The active models' call on this market (once per market and cache period), when a model is active.

        The registry is asked first with one query, so a desk without trained models never imports torch here.
        """
        key = (ticker, timeframe)
        if key not in self._opinions:
            self._opinions[key] = _model_opinion(self.engine, self.settings, self.source, ticker, timeframe, ohlcv)
        return self._opinions[key]

    def _load_ohlcv(self, ticker: str, timeframe: str) -> pd.DataFrame:
        from pinelab_core.data import load_ohlcv

        return load_ohlcv(ticker, timeframe, source=self.source, settings=self.settings)


def _model_opinion(engine: Engine, settings: Settings, source: str, ticker: str, timeframe: str,
                   ohlcv: pd.DataFrame) -> dict[str, Any] | None:
    with engine.connect() as connection:
        active = connection.execute(_ACTIVE_MODEL, {"timeframe": timeframe}).first()
    if active is None:
        return None
    try:
        from pinelab_core.models.inference import predict
    except ImportError:
        return None
    try:
        prediction = predict(ticker, timeframe, source=source, settings=settings, ohlcv=ohlcv, forecasts=False,
                             log=False)
    except (PinelabError, ImportError) as exc:
        return {"error": str(exc)[:300]}
    return {"signal": prediction.signal.value, "confidence": round(float(prediction.confidence), 4),
            "agreement": round(float(prediction.agreement), 4), "bar_time": prediction.bar_time.isoformat(),
            "models": list(prediction.model_versions)}
