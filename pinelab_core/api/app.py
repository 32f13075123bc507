"""The read-only insights API on the sidecar's FastAPI app: `/api/v1/...`, bearer tokens, per-token rate limit.

What runs on the event loop is only: check the token (a hash and a dict lookup), take a rate-limit token,
validate the parameters, look the answer up in the cache (`AnswerCache`) and send its bytes. Everything
that reads data, models or the store runs in the API worker (`ApiWorker`), so the TradingView alert path
(the same loop, its own writer thread) is never kept waiting by an API call.

Security: a bearer token separate from the webhook secret, compared by hash; unauthenticated requests
learn nothing but 401 and are charged to their address's failure budget (429 past it), like the webhook;
authenticated ones to their token's rate limit. GET only. CORS only for the configured origins, and only
on /api/ paths.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from pinelab_core.api import compute
from pinelab_core.api.cache import AnswerCache, Busy
from pinelab_core.api.schemas import RESPONSE_MODELS, ErrorOut
from pinelab_core.api.tokens import TokenBook
from pinelab_core.api.worker import ApiWorker
from pinelab_core.config import Settings, check_api_settings
from pinelab_core.errors import DataValidationError
from pinelab_core.insights.timeframes import parse_timeframes
from pinelab_core.types import Timeframe
from pinelab_core.webhook.security import TokenBucketLimiter, client_address

__all__ = ["API_PREFIX", "InsightsApi", "mount_api"]

API_PREFIX = "/api/v1"
_SYMBOL = r"^[A-Za-z0-9][A-Za-z0-9._:/^=\-]{0,39}$"
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`: `pinelab api-token create` "
                     "or PINELAB_API_TOKEN (not the webhook secret).")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in {
        401: "missing or invalid bearer token", 404: "no model for this market (says what to train), no data, or a "
        "symbol/source this API does not serve", 409: "the active models cannot read this market (retrain)",
        422: "invalid parameter", 429: "rate limit exceeded (Retry-After)",
        503: "still computing, busy, or a data source or the store is down (Retry-After)"}.items()
}


class ApiRefusal(Exception):
    """An API request refused before any computation, with its status, JSON error kind and headers."""

    def __init__(self, status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.error, self.reason, self.headers = status, error, reason, headers or {}


class InsightsApi:
    """The API's state on one sidecar: tokens, rate limits, the answers cache and the worker pool."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        check_api_settings(settings)
        self.settings = settings
        self.tokens = TokenBook(engine, settings.api_token)
        self.limiter = TokenBucketLimiter(settings.api_rate_limit)
        self.failures = TokenBucketLimiter(settings.webhook_rate_limit)  # failed authentications per address
        self.worker = ApiWorker(settings)
        self.cache = AnswerCache(self.worker.run, ttl_s=settings.api_cache_ttl_s, timeout_s=settings.api_timeout_s)
        self.sources = settings.api_sources or (settings.default_source,)
        self.symbols = frozenset(s.upper() for s in settings.api_symbols)

    def start(self) -> None:
        """Load the tokens once (before the first request) and start their refresh thread; the worker pool
        starts with the first question."""
        self.tokens.refresh()
        self.tokens.start()

    def close(self) -> None:
        self.tokens.close()
        self.worker.close()

    def caller(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
        """The token's name; refusals (401, 429) otherwise. Never touches the database."""
        name = self.tokens.identify(credentials.credentials) if credentials is not None else None
        if name is None:
            client = client_address(request.client.host if request.client else None, request.headers,
                                    self.settings.webhook_trust_forwarded)
            wait = self.failures.acquire(client)
            if wait > 0:
                raise ApiRefusal(429, "rate_limited", "Too many failed authentications from this address. Slow down.",
                                 {"Retry-After": str(max(1, round(wait)))})
            raise ApiRefusal(401, "unauthorized", "Missing or invalid bearer token: send Authorization: Bearer "
                             "<token> (`pinelab api-token create`).", {"WWW-Authenticate": "Bearer"})
        wait = self.limiter.acquire(name)
        if wait > 0:
            raise ApiRefusal(429, "rate_limited", f"Over {self.settings.api_rate_limit:g} requests/s for this token.",
                             {"Retry-After": str(max(1, round(wait)))})
        return name

    def source(self, source: str | None) -> str:
        """The data source to read (default: PINELAB_DEFAULT_SOURCE) if this API serves it; 422 otherwise."""
        chosen = source or self.settings.default_source
        if chosen not in self.sources:
            raise ApiRefusal(422, "invalid", f"Source {chosen!r} is not served here; use one of "
                             f"{', '.join(self.sources)} (PINELAB_API_SOURCES).")
        return chosen

    def market(self, symbol: str, source: str | None) -> tuple[str, str]:
        """(symbol, source) if this API serves them; 404 / 422 otherwise."""
        if self.symbols and symbol.upper() not in self.symbols:
            raise ApiRefusal(404, "not_served", f"This API does not serve {symbol!r} (PINELAB_API_SYMBOLS).")
        return symbol, self.source(source)

    async def respond(self, query: compute.Query, **live: Any) -> Response:
        """The cached (or freshly computed) answer to `query`, as bytes; `live` fields are added as they are now."""
        try:
            answer, how = await self.cache.get(query)
        except Busy as exc:
            raise ApiRefusal(503, "busy", str(exc), {"Retry-After": "2"}) from None
        body = answer.body
        if live and answer.status == 200:
            body = json.dumps({**json.loads(body), **live}, allow_nan=False, default=str).encode()
        headers = {"X-Pinelab-Cache": how, "Cache-Control": f"private, max-age={int(self.settings.api_cache_ttl_s)}"}
        if answer.status == 503:
            headers["Retry-After"] = "5"
        return Response(body, status_code=answer.status, media_type="application/json", headers=headers)


def mount_api(app: FastAPI, settings: Settings, engine: Engine, health: Any = None) -> InsightsApi:
    """Add the `/api/v1` routes (and CORS for `api_cors_origins`) to the sidecar `app`.

    Args:
        health: a callable giving the webhook's live health for /api/v1/status (the sidecar's writer view).

    Returns:
        The API state; the sidecar's lifespan calls its `start()` and `close()`.
    """
    api = InsightsApi(settings, engine)
    app.state.api = api

    async def on_refusal(_: Request, exc: Exception) -> JSONResponse:
        refusal = exc if isinstance(exc, ApiRefusal) else ApiRefusal(400, "invalid", str(exc))
        return JSONResponse({"ok": False, "error": refusal.error, "reason": refusal.reason},
                            status_code=refusal.status, headers=refusal.headers)

    app.add_exception_handler(ApiRefusal, on_refusal)
    if settings.api_cors_origins:
        app.add_middleware(ApiOnlyCors, origins=list(settings.api_cors_origins))

    async def authenticated(request: Request, credentials: Bearer) -> str:
        # A dependency, so it runs before the parameters are validated: a caller without a valid token
        # learns nothing about them. Async, so it runs on the loop (it never waits) instead of a thread.
        return api.caller(request, credentials)

    caller = Depends(authenticated)
    _add_market_routes(app, api, caller)
    _add_desk_routes(app, api, caller, health)
    return api


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
SymbolPath = Annotated[str, Path(pattern=_SYMBOL, description="ticker or pair as the source spells it, e.g. "
                                 "DEMO-BTC, AAPL, BTC/USDT")]
SourceQuery = Annotated[str | None, Query(max_length=80, description="data source (default: "
                                          "PINELAB_DEFAULT_SOURCE); only those in PINELAB_API_SOURCES")]
TimeframeQuery = Annotated[Timeframe, Query(description="bar size")]
TimeframesQuery = Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{1,4}(,[0-9A-Za-z]{1,4}){0,7}$",
                                              description="several bar sizes, e.g. 15m,1h,4h,1d")]
HorizonsQuery = Annotated[str, Query(pattern=r"^[0-9]{1,3}(,[0-9]{1,3}){0,9}$",
                                     description="bars ahead, comma separated (forecasters exist for 1, 5, 20)")]


def _timeframes(text: str | None) -> tuple[str, ...]:
    try:
        return tuple(parse_timeframes(text)) if text else ()
    except DataValidationError as exc:
        raise ApiRefusal(422, "invalid", str(exc)) from None


def _route(app: FastAPI, path: str, endpoint: str, caller: Any) -> Any:
    """`@app.get` for an authenticated API endpoint with its documented answers."""
    return app.get(f"{API_PREFIX}/{path}", responses={200: {"model": RESPONSE_MODELS[endpoint]}, **_ERRORS},
                   tags=["insights API"], dependencies=[caller])


def _add_market_routes(app: FastAPI, api: InsightsApi, caller: Any) -> None:
    @_route(app, "insights/{symbol:path}", "insights", caller)
    async def insights(symbol: SymbolPath, timeframe: TimeframeQuery = Timeframe.D1, source: SourceQuery = None,
                       timeframes: TimeframesQuery = None,
                       top: Annotated[int, Query(ge=1, le=50, description="SHAP contributions")] = 10) -> Response:
        """The ensemble's call (signal, calibrated confidence, each model's probabilities, in_sample), the forecast
        bands, the consensus with each source's part, the regime, the top SHAP contributions, the patterns and the
        news sentiment at the last closed bar: the Predictions page in JSON. `timeframes` adds the multi-timeframe
        grid."""
        symbol, source = api.market(symbol, source)
        return await api.respond(compute.Query("insights", symbol, timeframe.value, source, top=top,
                                               timeframes=_timeframes(timeframes)))

    @_route(app, "signals/{symbol:path}", "signals", caller)
    async def signals(symbol: SymbolPath, timeframe: TimeframeQuery = Timeframe.D1, source: SourceQuery = None,
                      horizon: Annotated[int, Query(ge=1, le=200, description="bars a call is held")] = 5) -> Response:
        """The signal desk's consensus, each source's learned weight and track record, and the latest calls."""
        symbol, source = api.market(symbol, source)
        return await api.respond(compute.Query("signals", symbol, timeframe.value, source, horizon=horizon))

    @_route(app, "price-prediction/{symbol:path}", "price-prediction", caller)
    async def price_prediction(symbol: SymbolPath, timeframe: TimeframeQuery = Timeframe.D1,
                               source: SourceQuery = None, horizons: HorizonsQuery = "1,5,20") -> Response:
        """Quantile price forecasts (median and 80% band) `horizons` bars ahead of the last closed bar."""
        symbol, source = api.market(symbol, source)
        wanted = tuple(sorted({int(h) for h in horizons.split(",")}))
        return await api.respond(compute.Query("price-prediction", symbol, timeframe.value, source, horizons=wanted))

    @_route(app, "patterns/{symbol:path}", "patterns", caller)
    async def patterns(symbol: SymbolPath, timeframe: TimeframeQuery = Timeframe.D1,
                       source: SourceQuery = None) -> Response:
        """Candlestick patterns (TA-Lib) that fired at the last closed bar, and the chart-pattern model's strongest
        patterns there with their probability and whether they completed at that bar, each with its direction."""
        symbol, source = api.market(symbol, source)
        return await api.respond(compute.Query("patterns", symbol, timeframe.value, source))

    @_route(app, "timeframes/{symbol:path}", "timeframes", caller)
    async def timeframes_view(symbol: SymbolPath, source: SourceQuery = None,
                              timeframes: TimeframesQuery = "15m,1h,4h,1d") -> Response:
        """Every model's, the ensemble's and each signal source's call on each timeframe, at its latest closed
        bar, with the agreement score (the Predictions page's timeframe-by-source grid)."""
        symbol, source = api.market(symbol, source)
        chosen = _timeframes(timeframes or "15m,1h,4h,1d")
        return await api.respond(compute.Query("timeframes", symbol, chosen[0], source, timeframes=chosen))


def _add_desk_routes(app: FastAPI, api: InsightsApi, caller: Any, health: Any) -> None:
    @_route(app, "models", "models", caller)
    async def models(source: SourceQuery = None) -> Response:
        """Registered model versions, the active ones per market, and each active market's drift alerts."""
        return await api.respond(compute.Query("models", source=api.source(source)))

    @_route(app, "status", "status", caller)
    async def status() -> Response:
        """Store backend and schema version, jobs, the last data refresh, the webhook's and the API's state."""
        webhook = health() if health is not None else {}
        return await api.respond(compute.Query("status"), webhook=webhook,
                                 api={"cache": api.cache.stats(), "tokens": len(api.tokens),
                                      "executor": api.settings.api_executor, "workers": api.settings.api_workers})


class ApiOnlyCors:
    """CORS for the configured origins on /api/ paths only: the webhook's replies stay unreadable to browsers."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["GET"],
                                   allow_headers=["Authorization"], allow_credentials=False, max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(API_PREFIX + "/"):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
