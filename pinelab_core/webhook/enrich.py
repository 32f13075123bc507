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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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


class AlertEnricher:
    """Background enrichment of stored alerts. `enqueue(ids)` never blocks; overflow is logged and skipped."""

    def __init__(self, engine: Engine, settings: Settings, *, loader: OhlcvLoader | None = None,
                 max_backlog: int = 10_000, cache_seconds: float = 60.0) -> None:
        self.engine = engine
        self.settings = settings
        self.source = settings.default_source
        self.loader = loader or self._load_ohlcv
        self.cache_seconds = cache_seconds
        self._queue: queue.Queue[int] = queue.Queue(maxsize=max_backlog)
        self._cache: dict[tuple[str, str], tuple[float, tuple[pd.DataFrame, pd.DataFrame] | str]] = {}
        self._bars: dict[tuple[str, str, int], dict[str, Any] | None] = {}
        self._opinions: dict[tuple[str, str], dict[str, Any] | None] = {}
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
            updates.append({"row_id": row.id, "status": status, "details": json.dumps(details, default=str)})
        if updates:
            # One executemany in one short transaction: the writer thread is kept waiting as little as possible.
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

    def _details(self, row: Any) -> tuple[str, dict[str, Any]]:
        timeframe = interval_timeframe(row.interval) or "1d"
        details: dict[str, Any] = {"data_source": self.source, "simulated": self.source == "demo",
                                   "timeframe": timeframe}
        if not row.interval or not interval_timeframe(row.interval):
            details["note"] = f"interval {row.interval!r} has no PineLab bar size; daily bars used"
        loaded = self._market(row.ticker, timeframe)
        if isinstance(loaded, str):
            details["error"] = loaded
            return "enrich_failed", details
        ohlcv, frame = loaded
        received = pd.Timestamp(row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC))
        details["market"] = self._market_at(row.ticker, timeframe, frame, received)
        behind = int((received - frame.index[-1]) / Timeframe.parse(timeframe).offset)
        if behind > 1:  # say so rather than pass an old bar off as the alert's
            details["stale"] = True
            details["note"] = f"data ends {behind} bars before the alert (last bar {frame.index[-1].isoformat()})"
        opinion = self._model_opinion(row.ticker, timeframe, ohlcv)
        if opinion is not None:
            details["model"] = opinion
        return "enriched", details

    def _market_at(self, ticker: str, timeframe: str, frame: pd.DataFrame, received: datetime) -> dict[str, Any] | None:
        # A burst of alerts mostly lands on one bar: read that bar's context once.
        bar = int(frame.index.searchsorted(pd.Timestamp(received), side="right"))
        key = (ticker, timeframe, bar)
        if key not in self._bars:
            if len(self._bars) > 10_000:
                self._bars.clear()
            self._bars[key] = context_at(frame, received)
        return self._bars[key]

    def _market(self, ticker: str, timeframe: str) -> tuple[pd.DataFrame, pd.DataFrame] | str:
        """(OHLCV, context frame) of a market, cached for `cache_seconds`; the error text when it cannot load."""
        key = (ticker, timeframe)
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        value: tuple[pd.DataFrame, pd.DataFrame] | str
        self._bars.clear()  # bar contexts and opinions belong to the frames being replaced
        self._opinions.clear()
        try:
            ohlcv = self.loader(ticker, timeframe)
            value = (ohlcv, context_frame(ohlcv))
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
