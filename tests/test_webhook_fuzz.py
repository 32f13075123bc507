"""Property-based fuzz of the sidecar from its own OpenAPI schema (schemathesis): no input earns a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from pinelab_core.config import Settings
from pinelab_core.webhook import create_app


@pytest.fixture
def webhook_app(settings: Settings) -> FastAPI:
    # No secret (--insecure), so bodies get past authentication and the parser and validators are exercised.
    return create_app(settings.with_overrides(webhook_rate_limit=0, webhook_insecure=True), enrich=False)


@pytest.fixture
def api_schema(webhook_app: FastAPI) -> schemathesis.BaseSchema:
    config = schemathesis.Config()
    # Valid and deliberately invalid bodies, bounded and reproducible.
    config.projects.default.generation.update(modes=list(schemathesis.GenerationMode), max_examples=100,
                                              deterministic=True, database="none")
    return schemathesis.openapi.from_asgi("/openapi.json", webhook_app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_request_earns_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    content_type = response.headers.get("content-type", [""])  # schemathesis keeps every header value in a list
    assert content_type[0].startswith("application/json")
