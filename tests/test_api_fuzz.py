"""Property-based fuzz of the sidecar with the insights API from its own OpenAPI schema (schemathesis),
authenticated, so every API parameter reaches the handlers and the worker: no input earns a 5xx."""

from __future__ import annotations

import re

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from pinelab_core.config import Settings
from pinelab_core.webhook import create_app

TOKEN = "fuzz-token-0123456789abcdef"
SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/^=\-]{0,39}$")


@pytest.fixture
def api_app(settings: Settings) -> FastAPI:
    # One served symbol (daily demo equity: cheap to compute), so generated symbols are refused fast (404) and
    # the valid one exercises the computation; no rate limits, the worker on a thread of this process.
    overrides = {"webhook_secret": "fuzz-webhook-secret", "api_token": TOKEN, "api_executor": "thread",
                 "api_rate_limit": 0, "webhook_rate_limit": 0, "api_symbols": ("DEMO-EQUITY",),
                 "api_timeout_s": 120}
    return create_app(settings.with_overrides(**overrides), enrich=False)


@pytest.fixture
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    config = schemathesis.Config()
    config.projects.default.generation.update(modes=list(schemathesis.GenerationMode), max_examples=40,
                                              deterministic=True, database="none")
    return schemathesis.openapi.from_asgi("/openapi.json", api_app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_api_request_earns_a_server_error(case: schemathesis.Case) -> None:
    symbol = (case.path_parameters or {}).get("symbol")
    if isinstance(symbol, str) and SYMBOL.match(symbol) and len(symbol) % 2 == 0:
        case.path_parameters["symbol"] = "DEMO-EQUITY"  # half the valid-looking ones: the served market, computed
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: " \
                                       f"{response.text[:300]}"
    content_type = response.headers.get("content-type", [""])
    assert content_type[0].startswith("application/json")
