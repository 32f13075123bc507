"""The FastAPI app of the webhook sidecar: `POST /webhook/tradingview`, `GET /healthz` and the read-only
insights API under `/api/v1` (`pinelab_core.api`, when `api_enabled`; docs at /docs).

The body is read by hand, not by a pydantic model, so that size is enforced before parsing (413),
JSON, text/plain JSON and plain sentences all land, and every refusal gets the right status and a
count. Checks run cheapest and least revealing first: allowlist, size, signature or passphrase,
format, fields; only failed authentications are rate limited. Storage goes through the one dedicated
writer thread (a request waits for its commit at most PINELAB_WEBHOOK_STORE_WAIT_S, then gets a 503);
enrichment runs after the answer on its own thread.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from pinelab_core.config import Settings
from pinelab_core.errors import AuthError, ConfigError, StoreError, redact
from pinelab_core.signals.alerts import alert_row_values
from pinelab_core.signals.tradingview import (
    MAX_ALERT_BYTES,
    AlertFieldError,
    AlertFormatError,
    RawAlert,
    decode_alert_body,
    validate_alert,
)
from pinelab_core.store.engine import get_engine
from pinelab_core.webhook.enrich import AlertEnricher
from pinelab_core.webhook.security import (
    INSECURE_REFUSAL,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IpAllowlist,
    RedactingFilter,
    TokenBucketLimiter,
    check_passphrase,
    client_address,
    verify_signature,
)
from pinelab_core.webhook.writer import AlertWriter, AuditEntry, WriteJob

__all__ = ["ALERT_PATH", "create_app"]

log = logging.getLogger(__name__)
ALERT_PATH = "/webhook/tradingview"

_ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ticker": {"type": "string", "example": "BTCUSDT"},
        "exchange": {"type": "string", "example": "BINANCE"},
        "interval": {"type": "string", "example": "60"},
        "time": {"type": "string", "example": "2024-01-01T12:00:00Z"},
        "action": {"type": "string", "enum": ["buy", "sell", "long", "short", "exit", "flat", "hold"]},
        "price": {"type": "number", "example": 43000.5},
        "contracts": {"type": "number", "example": 0.5},
        "order_id": {"type": "string", "example": "Long"},
        "market_position": {"type": "string", "enum": ["long", "flat", "short"]},
        "strategy": {"type": "string"},
        "passphrase": {"type": "string"},
    },
    "required": ["ticker", "action"],
}
_OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _ALERT_SCHEMA},
            "text/plain": {"schema": {"type": "string", "example": "BUY BTCUSDT @ 43000"}},
        },
    }
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "model": None}
    for status, description in {
        400: "malformed body", 401: "wrong or missing passphrase or signature", 403: "address not allowed",
        413: "body over 64 KiB", 422: "invalid field", 429: "rate limit exceeded", 503: "store unavailable, retry",
    }.items()
}


@dataclass
class _Rejection(Exception):
    status: int
    outcome: str
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    stored_reason: str = ""  # what the refusal count keeps when `reason` names an address


def create_app(settings: Settings, *, engine: Engine | None = None, enrich: bool | None = None) -> FastAPI:
    """Build the sidecar app. Serve it with `pinelab webhook`; tests call it through a TestClient.

    Args:
        settings: where the store is and the webhook_* keys (secrets, rate, allowlist, store wait, audit days).
        engine: the store engine; by default `get_engine(settings)`.
        enrich: add market context after answering; by default `settings.webhook_enrich`.

    Raises:
        ConfigError: neither PINELAB_WEBHOOK_SECRET nor PINELAB_WEBHOOK_HMAC_SECRET is set and
            `settings.webhook_insecure` is not (anyone reaching the port could post trades).
    """
    secrets = _secrets(settings)
    if not secrets and not settings.webhook_insecure:
        raise ConfigError(INSECURE_REFUSAL)
    if not secrets:
        log.warning("Webhook sidecar running WITHOUT a secret (--insecure): anything that reaches it is accepted.")
    _guard_logs((*secrets, settings.api_token))
    engine = engine if engine is not None else get_engine(settings)
    enricher = AlertEnricher(engine, settings) if (settings.webhook_enrich if enrich is None else enrich) else None
    writer = AlertWriter(engine, on_new_alerts=enricher.enqueue if enricher else None,
                         wait_s=settings.webhook_store_wait_s, synchronous=settings.webhook_sqlite_synchronous,
                         audit_days=settings.webhook_audit_days)

    api = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        writer.start()
        if enricher:
            enricher.start()
        if api is not None:
            await run_in_threadpool(api.start)  # reads the tokens once: not on the loop
        yield
        await run_in_threadpool(writer.close)
        if enricher:
            enricher.close()
        if api is not None:
            api.close()

    app = FastAPI(title="PineLab webhook sidecar", version="1", lifespan=lifespan,
                  docs_url="/docs" if settings.api_enabled else None, redoc_url=None)
    app.state.writer, app.state.enricher = writer, enricher
    _add_error_handlers(app)
    _add_alert_route(app, settings, _Gate(settings), writer)
    _add_health_route(app, writer, enricher)
    if settings.api_enabled:  # the read-only insights API (its own tokens, worker and cache; see pinelab_core.api)
        from pinelab_core.api import mount_api

        api = mount_api(app, settings, engine, health=writer.health)
    return app


def _secrets(settings: Settings) -> tuple[str, ...]:
    return tuple(s for s in (settings.webhook_secret, settings.webhook_hmac_secret) if s)


def _guard_logs(secrets: tuple[str, ...]) -> None:
    """Mask the secrets (and database passwords) in everything the sidecar's modules log."""
    for name in ("pinelab_core.webhook.app", "pinelab_core.webhook.writer", "pinelab_core.webhook.enrich",
                 "pinelab_core.api.compute", "pinelab_core.api.cache", "pinelab_core.api.worker",
                 "pinelab_core.api.tokens"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(old)
        logger.addFilter(RedactingFilter(secrets))


def _add_alert_route(app: FastAPI, settings: Settings, gate: _Gate, writer: AlertWriter) -> None:
    @app.post(ALERT_PATH, openapi_extra=_OPENAPI_EXTRA, responses=_REFUSALS)
    async def receive_tradingview_alert(request: Request) -> JSONResponse:
        """Receive one TradingView alert: JSON (application/json or text/plain) or a plain sentence."""
        client = client_address(request.client.host if request.client else None, request.headers,
                                settings.webhook_trust_forwarded)
        try:
            job = await gate.admit(request, client)
        except _Rejection as refusal:
            reason = redact(refusal.reason, gate.secrets)
            writer.count_refusal(AuditEntry(client, refusal.status, refusal.outcome, refusal.stored_reason or reason))
            return JSONResponse({"ok": False, "error": refusal.outcome, "reason": reason},
                                status_code=refusal.status, headers=refusal.headers)
        try:
            result = await writer.submit(job)
        except StoreError as exc:
            log.error("Alert not stored: %s", exc)
            return JSONResponse({"ok": False, "error": "store_unavailable", "reason": "The store is busy or down; "
                                 "the alert was not stored. Send it again."}, status_code=503,
                                headers={"Retry-After": "1"})
        stored = job.alert or {}
        return JSONResponse({"ok": True, "id": result.alert_id, "duplicate": result.duplicate,
                             "ticker": stored.get("ticker"), "action": stored.get("action")})


def _add_health_route(app: FastAPI, writer: AlertWriter, enricher: AlertEnricher | None) -> None:
    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness and the store's state as the writer last saw it; never waits for the database."""
        body = {"service": "pinelab-webhook", **writer.health(),
                "enrichment_backlog": enricher.backlog if enricher else 0}
        body["ok"] = body["database"] in {"ok", "starting"}
        return JSONResponse(body, status_code=200 if body["ok"] else 503)


class _Gate:
    """Decides, request by request, whether an alert is let in; builds its row when it is.

    Checks run cheapest and least revealing first. Until a request has proved it knows the secret,
    nothing it sent is echoed, and only its failures are charged to its address's rate limit.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allowlist = IpAllowlist(settings.webhook_ip_allowlist)
        self.limiter = TokenBucketLimiter(settings.webhook_rate_limit)
        self.secrets = _secrets(settings)

    async def admit(self, request: Request, client: str) -> WriteJob:
        if not self.allowlist.allows(client):
            raise _Rejection(403, "forbidden", f"Address {client} is not on PINELAB_WEBHOOK_IP_ALLOWLIST.",
                             stored_reason="Address not on PINELAB_WEBHOOK_IP_ALLOWLIST.")
        body = await _read_capped(request)
        raw = self._authenticate(request, body, client)
        try:
            alert = validate_alert(raw)
        except AlertFieldError as exc:
            raise _Rejection(422, "invalid", str(exc)) from None
        values = alert_row_values(alert, raw, datetime.now(UTC), self.secrets)
        return WriteJob(AuditEntry(client, 200, "accepted"), values)

    def _authenticate(self, request: Request, body: bytes, client: str) -> RawAlert:
        """The decoded alert of a sender that proved it knows a secret; refusals otherwise."""
        content_type = request.headers.get("content-type", "")
        signature = request.headers.get(SIGNATURE_HEADER)
        try:
            if signature is not None:
                verify_signature(body, signature, self.settings.webhook_hmac_secret,
                                 request.headers.get(TIMESTAMP_HEADER))
                return self._decode(body, content_type)
            if self.settings.webhook_hmac_secret and not self.settings.webhook_secret:
                raise AuthError("This sidecar accepts signed requests only: send X-Pinelab-Signature.")
            if not self.settings.webhook_secret:
                return self._decode(body, content_type)  # --insecure
            try:
                raw = decode_alert_body(body, content_type)
            except AlertFormatError as exc:
                if not passphrase_in(body, self.settings.webhook_secret):
                    raise self._unauthenticated(client, 400, "malformed", str(exc)) from None
                raise _Rejection(400, "malformed", _with_excerpt(exc)) from None
            check_passphrase(raw.passphrase, self.settings.webhook_secret)
            return raw
        except AuthError as exc:
            raise self._unauthenticated(client, 401, "unauthorized", str(exc)) from None

    def _decode(self, body: bytes, content_type: str) -> RawAlert:
        try:
            return decode_alert_body(body, content_type)
        except AlertFormatError as exc:
            raise _Rejection(400, "malformed", _with_excerpt(exc)) from None

    def _unauthenticated(self, client: str, status: int, outcome: str, reason: str) -> _Rejection:
        """A refusal for a sender that did not authenticate, charged to its address: past the limit, a 429."""
        wait = self.limiter.acquire(client)
        if wait > 0:
            return _Rejection(429, "rate_limited", f"Over {self.settings.webhook_rate_limit:g} failed "
                              f"authentications/s from {client}. Slow down.", {"Retry-After": str(max(1, round(wait)))},
                              stored_reason="Over the failed-authentication rate limit.")
        return _Rejection(status, outcome, reason)


def _with_excerpt(exc: AlertFormatError) -> str:
    return f"Cannot read {exc.excerpt!r} as an alert. {exc}" if exc.excerpt else str(exc)


def passphrase_in(body: bytes, secret: str) -> bool:
    """Whether a body too broken to parse still carries the right passphrase (then its sender may see why)."""
    match = _LOOSE_PASSPHRASE.search(body.decode("utf-8", "replace"))
    if match is None:
        return False
    return hmac.compare_digest(match["value"].encode("utf-8", "surrogatepass"), secret.encode("utf-8"))


_LOOSE_PASSPHRASE = re.compile(r"(?:passphrase|secret)[\"']?\s*[=:]\s*[\"']?(?P<value>[^\s\"',}]+)", re.IGNORECASE)


async def _read_capped(request: Request) -> bytes:
    """The raw body, refusing anything over MAX_ALERT_BYTES before (or while) it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ALERT_BYTES:
        raise _Rejection(413, "too_large", f"Body of {declared} bytes; alerts are at most {MAX_ALERT_BYTES} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_ALERT_BYTES:
                raise _Rejection(413, "too_large", f"Body over {MAX_ALERT_BYTES} bytes; send a shorter alert.")
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Rejection(400, "malformed", "The client disconnected before the body was complete.") from None
    return b"".join(chunks)


def _add_error_handlers(app: FastAPI) -> None:
    """FastAPI's own errors in the same JSON shape; input problems are 4xx, never 5xx."""

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        reason = str(exc)[:500] if not isinstance(exc, RequestValidationError) else str(exc.errors())[:500]
        return JSONResponse({"ok": False, "error": "invalid", "reason": reason}, status_code=422)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 400
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
        headers = getattr(exc, "headers", None)
        return JSONResponse({"ok": False, "error": "http", "reason": str(detail)}, status_code=status, headers=headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("Unexpected error in the webhook sidecar", exc_info=exc)
        return JSONResponse({"ok": False, "error": "internal", "reason": "Unexpected error; it was logged."},
                            status_code=500)

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
