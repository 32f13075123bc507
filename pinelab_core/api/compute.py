"""What the API's worker runs: one query in, one rendered answer out (never an exception).

`answer_query` first reads what an answer depends on (the newest closed bar of each timeframe involved,
the active model versions): its `inputs`. When they equal the cached answer's, it returns None and the
cached answer stands, so a burst of callers costs one computation per bar. Otherwise it computes the
payload and renders it to JSON bytes here, in the worker, so the event loop only copies bytes.

Errors become answers: no model -> 404 with what to train, no such market -> 404, a model that cannot read
the market -> 409, a bad parameter -> 422, a data source or store that is down -> 503 (not cached: retry).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import (
    DataFetchError,
    DataValidationError,
    ModelNotFoundError,
    ModelSchemaError,
    PinelabError,
    StoreError,
    redact,
)
from pinelab_core.insights import payload as render
from pinelab_core.insights.market import load_market
from pinelab_core.insights.timeframes import closed_frame

__all__ = ["ENDPOINTS", "Answer", "Query", "answer_query", "error_body"]

log = logging.getLogger(__name__)
Inputs = tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """One API question; equal queries share one cache entry."""

    endpoint: str
    symbol: str = ""
    timeframe: str = "1d"
    source: str = ""
    horizons: tuple[int, ...] = ()
    timeframes: tuple[str, ...] = ()
    top: int = 10
    horizon: int = 5


@dataclass(frozen=True)
class Answer:
    """A rendered answer and what it was computed from (`inputs` None: recompute every time it expires)."""

    status: int
    body: bytes
    inputs: Inputs | None = None
    computed_at: float = field(default_factory=time.time)


@dataclass
class _Loaded:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    inputs: Inputs | None = None


def answer_query(query: Query, settings: Settings, known: Inputs | None = None) -> Answer | None:
    """Answer `query`; None when its inputs still equal `known` (the cached answer is still right)."""
    loaded = _Loaded()
    try:
        _LOADERS.get(query.endpoint, _load_market)(query, settings, loaded)
        if known is not None and loaded.inputs == known:
            return None
        return Answer(200, _dumps(ENDPOINTS[query.endpoint](query, settings, loaded)), loaded.inputs)
    except ModelNotFoundError as exc:
        train = (f"pinelab predict --source {query.source} --symbol {query.symbol} --timeframe {query.timeframe} "
                 "--train-starter")
        return _error(404, "no_model", exc, settings, loaded.inputs, train={"cli": train, "page": "Predictions"})
    except ModelSchemaError as exc:
        return _error(409, "model_schema", exc, settings, loaded.inputs)
    except (DataFetchError, StoreError) as exc:  # may pass: say so and keep nothing
        return _error(503, "unavailable", exc, settings, None)
    except DataValidationError as exc:
        status, kind = (404, "no_data") if not loaded.frames else (422, "invalid")
        return _error(status, kind, exc, settings, loaded.inputs)
    except PinelabError as exc:
        return _error(422, "invalid", exc, settings, loaded.inputs)
    except Exception:  # a bug: logged with its traceback, answered 500 without details, never cached
        log.exception("Insights API failed on %s", query)
        return Answer(500, error_body("internal", "Unexpected error; it was logged."), None)


def error_body(kind: str, reason: str, **extra: Any) -> bytes:
    return _dumps({"ok": False, "error": kind, "reason": reason, **extra})


def _error(status: int, kind: str, exc: Exception, settings: Settings, inputs: Inputs | None,
           **extra: Any) -> Answer:
    secrets = (settings.webhook_secret, settings.webhook_hmac_secret, settings.api_token)
    return Answer(status, error_body(kind, redact(str(exc), secrets), **extra), inputs)


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, allow_nan=False, separators=(",", ":"), default=str).encode("utf-8")


# --- inputs: what an answer depends on --------------------------------------------------------------


def _active_versions(settings: Settings, timeframe: str) -> tuple[str, ...]:
    from pinelab_core.models.registry import list_versions

    return tuple(sorted(v.ref for v in list_versions(settings, status="active", timeframe=timeframe)))


def _load_market(query: Query, settings: Settings, loaded: _Loaded) -> None:
    """The market's frame on each timeframe involved; inputs = their last bars and the active versions."""
    for timeframe in dict.fromkeys((query.timeframe, *query.timeframes)):
        try:
            frame = load_market(query.symbol, timeframe, query.source, settings) if timeframe == query.timeframe \
                else closed_frame(query.symbol, timeframe, query.source, settings)
        except DataValidationError:
            if timeframe == query.timeframe:
                raise
            continue  # the grid says this timeframe has no data; the rest is still worth answering
        loaded.frames[timeframe] = frame
    bars = tuple((tf, frame.index[-1].isoformat()) for tf, frame in loaded.frames.items())
    models = () if query.endpoint in {"patterns"} else tuple(_active_versions(settings, tf) for tf in loaded.frames)
    loaded.inputs = (bars, models, _pattern_model(settings) if query.endpoint in {"patterns", "insights"} else None)


def _pattern_model(settings: Settings) -> str | None:
    """The chart-pattern model's version and checksum (a retrained model changes the patterns' answer)."""
    from pinelab_core.patterns.training import pattern_model_version

    try:
        info = pattern_model_version(settings)
    except ModelNotFoundError:
        return None
    return f"{info.ref}:{info.checksum}"


def _load_registry(query: Query, settings: Settings, loaded: _Loaded) -> None:
    from pinelab_core.insights.status import active_markets, registry_fingerprint

    markets = active_markets(settings)
    for symbol, timeframe in markets:
        try:
            loaded.frames[f"{symbol}|{timeframe}"] = load_market(symbol, timeframe, query.source, settings)
        except PinelabError:
            continue  # its drift entry says the data could not be read
    loaded.inputs = (registry_fingerprint(settings), tuple((k, f.index[-1].isoformat())
                                                          for k, f in loaded.frames.items()))


def _load_nothing(query: Query, settings: Settings, loaded: _Loaded) -> None:
    loaded.inputs = None  # the store's state changes all the time: recompute whenever the answer expires


# --- payloads ------------------------------------------------------------------------------------


def _insights(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.market import market_insights

    insights = market_insights(query.symbol, query.timeframe, query.source, settings,
                               ohlcv=loaded.frames[query.timeframe], timeframes=query.timeframes or None,
                               frames=loaded.frames)
    return render.insights_payload(insights, query.top)


def _price_prediction(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.models.forecast import FORECAST_HORIZONS
    from pinelab_core.models.inference import predict

    unknown = sorted(set(query.horizons) - set(FORECAST_HORIZONS))
    if unknown:
        raise PinelabError(f"No forecaster for horizons {unknown}; available: "
                           f"{','.join(map(str, FORECAST_HORIZONS))} bars.")
    ohlcv = loaded.frames[query.timeframe]
    p = predict(query.symbol, query.timeframe, query.source, settings, ohlcv=ohlcv)
    return {"symbol": query.symbol, "timeframe": query.timeframe, "source": query.source,
            "bar_time": render.stamp(p.bar_time), "close": render.number(p.close),
            "horizons": list(query.horizons or FORECAST_HORIZONS), "in_sample": bool(p.in_sample),
            "signal": p.signal.value, "confidence": render.number(p.confidence),
            "forecasts": render.forecasts_json(p.forecasts, query.horizons or None)}


def _signals(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.market import market_signals
    from pinelab_core.store import get_engine

    desk = market_signals(loaded.frames[query.timeframe], query.symbol, query.timeframe, settings,
                          get_engine(settings), horizon=query.horizon)
    return render.signals_payload(desk, symbol=query.symbol, timeframe=query.timeframe, source=query.source)


def _patterns(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.patterns import chart_pattern_hits, pattern_hits

    ohlcv = loaded.frames[query.timeframe]
    bar, hits = pattern_hits(ohlcv)
    return render.patterns_payload(bar, hits, chart_pattern_hits(ohlcv, settings), symbol=query.symbol,
                                   timeframe=query.timeframe, source=query.source)


def _timeframes(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.timeframes import multi_timeframe_view

    view = multi_timeframe_view(query.symbol, query.timeframes, query.source, settings, frames=loaded.frames)
    return render.view_json(view)


def _models(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.status import models_status

    return models_status(settings, query.source, {k: f for k, f in loaded.frames.items()})


def _status(query: Query, settings: Settings, loaded: _Loaded) -> dict[str, Any]:
    from pinelab_core.insights.status import store_status

    return store_status(settings)


ENDPOINTS: dict[str, Callable[[Query, Settings, _Loaded], dict[str, Any]]] = {
    "insights": _insights, "price-prediction": _price_prediction, "signals": _signals, "patterns": _patterns,
    "timeframes": _timeframes, "models": _models, "status": _status,
}
_LOADERS: dict[str, Callable[[Query, Settings, _Loaded], None]] = {"models": _load_registry, "status": _load_nothing}
