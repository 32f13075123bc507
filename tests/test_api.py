"""The insights API's HTTP layer on the sidecar: bearer tokens (stored hashed, revocable, separate from the
webhook secret), rate limits, read-only routes, CORS, docs, the answers cache and the CLI."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from pinelab_core.api import Answer, Query, create_api_token, list_api_tokens, revoke_api_token
from pinelab_core.api.cache import AnswerCache, Busy
from pinelab_core.api.tokens import hash_token
from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError, DataValidationError
from pinelab_core.store import get_engine
from pinelab_core.store.tables import ApiTokenRow
from pinelab_core.webhook import ALERT_PATH, create_app

SECRET = "webhook-passphrase-123"
ENV_TOKEN = "env-token-0123456789abcdef"


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., object]]:
    @contextmanager
    def factory(**overrides: object) -> Iterator[TestClient]:
        values: dict[str, object] = {"webhook_secret": SECRET, "api_token": ENV_TOKEN, "api_executor": "thread",
                                     "webhook_rate_limit": 0}
        values.update(overrides)
        app = create_app(settings.with_overrides(**values), enrich=False)
        with TestClient(app, client=("203.0.113.7", 5000)) as client:
            yield client

    yield factory


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_stored_hashed_listed_and_revoked(settings: Settings) -> None:
    engine = get_engine(settings)
    info, token = create_api_token(engine, "sheets-bot")
    assert token.startswith("plk_") and len(token) > 40 and info.active
    with Session(engine) as session:
        row = session.exec(select(ApiTokenRow)).one()
    assert row.token_hash == hash_token(token) and token not in json.dumps(row.model_dump(), default=str)
    with pytest.raises(DataValidationError, match="exists"):
        create_api_token(engine, "sheets-bot")
    with pytest.raises(DataValidationError, match="use 1-64"):
        create_api_token(engine, "no spaces please")
    revoked = revoke_api_token(engine, "sheets-bot")
    assert not revoked.active and revoke_api_token(engine, str(info.id)).revoked_at == revoked.revoked_at
    assert [t.name for t in list_api_tokens(engine)] == ["sheets-bot"]
    with pytest.raises(DataValidationError, match="No API token"):
        revoke_api_token(engine, "nobody")


def test_a_stored_token_or_the_configured_one_gets_in_and_nothing_else(make_client, settings: Settings) -> None:
    _, token = create_api_token(get_engine(settings), "dashboard")
    with make_client() as client:
        assert client.get("/api/v1/models", headers=_bearer(token)).status_code == 200
        assert client.get("/api/v1/models", headers=_bearer(ENV_TOKEN)).status_code == 200
        for headers in ({}, _bearer("plk_wrong"), _bearer(SECRET), {"Authorization": f"Basic {token}"},
                        {"Authorization": token}):
            reply = client.get("/api/v1/models", headers=headers)
            assert reply.status_code == 401, headers
            assert reply.json()["error"] == "unauthorized" and reply.headers["www-authenticate"] == "Bearer"
        # refused before the parameters are looked at: a stranger learns nothing about them
        assert client.get("/api/v1/insights/DEMO-BTC?timeframe=nonsense").status_code == 401


def test_a_revoked_token_stops_working_at_the_next_refresh(make_client, settings: Settings) -> None:
    engine = get_engine(settings)
    _, token = create_api_token(engine, "temp")
    with make_client() as client:
        assert client.get("/api/v1/models", headers=_bearer(token)).status_code == 200
        revoke_api_token(engine, "temp")  # from another process, as `pinelab api-token revoke` would
        client.app.state.api.tokens.refresh()  # what the refresh thread does every few seconds
        assert client.get("/api/v1/models", headers=_bearer(token)).status_code == 401


def test_failed_authentications_are_rate_limited_per_address(make_client) -> None:
    with make_client(webhook_rate_limit=2) as client:
        statuses = [client.get("/api/v1/models", headers=_bearer("guess")).status_code for _ in range(4)]
        assert statuses[:2] == [401, 401] and statuses[2:] == [429, 429]
        assert client.get("/api/v1/models", headers=_bearer(ENV_TOKEN)).status_code == 200  # a valid token passes


def test_each_token_has_its_own_rate_limit(make_client, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _, other = create_api_token(get_engine(settings), "other")
    with make_client(api_rate_limit=3) as client:
        # The clock stands still, so the bucket refills by nothing between requests however slow the machine is
        # (a request that took over 1/3 s used to earn the next one a token: a 200 where the test wants a 429).
        limiter, frozen = client.app.state.api.limiter, time.monotonic()
        monkeypatch.setattr(limiter, "acquire", functools.partial(type(limiter).acquire, limiter, now=frozen))
        statuses = [client.get("/api/v1/models", headers=_bearer(ENV_TOKEN)).status_code for _ in range(5)]
        assert statuses[:3] == [200] * 3 and statuses[3] == 429
        refused = client.get("/api/v1/models", headers=_bearer(ENV_TOKEN))
        assert refused.json()["error"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
        assert client.get("/api/v1/models", headers=_bearer(other)).status_code == 200


def test_the_api_is_read_only_and_served_symbols_and_sources_are_enforced(make_client) -> None:
    with make_client(api_symbols=("DEMO-BTC",), api_sources=("demo",)) as client:
        for method in ("post", "put", "delete", "patch"):
            assert getattr(client, method)("/api/v1/insights/DEMO-BTC", headers=_bearer(ENV_TOKEN)).status_code == 405
        other = client.get("/api/v1/patterns/DEMO-ETH", headers=_bearer(ENV_TOKEN))
        assert other.status_code == 404 and other.json()["error"] == "not_served"
        for source in ("yahoo", "file:/etc/passwd"):
            reply = client.get(f"/api/v1/patterns/DEMO-BTC?source={source}", headers=_bearer(ENV_TOKEN))
            assert reply.status_code == 422 and "PINELAB_API_SOURCES" in reply.json()["reason"]
        assert client.get("/api/v1/patterns/DEMO-BTC?timeframe=1h", headers=_bearer(ENV_TOKEN)).status_code == 200


def test_a_market_without_models_answers_404_with_what_to_train(make_client) -> None:
    with make_client() as client:
        for path in ("insights", "price-prediction"):
            reply = client.get(f"/api/v1/{path}/DEMO-ETH?timeframe=4h", headers=_bearer(ENV_TOKEN))
            assert reply.status_code == 404, reply.text
            body = reply.json()
            assert body["error"] == "no_model" and "--train-starter" in body["train"]["cli"]
            assert "DEMO-ETH" in body["reason"] and "4h" in body["train"]["cli"]


def test_cors_is_off_unless_configured_and_then_only_for_the_api(make_client) -> None:
    preflight = {"Origin": "https://sheet.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    with make_client() as client:
        reply = client.get("/api/v1/models", headers={**_bearer(ENV_TOKEN), "Origin": "https://sheet.example"})
        assert "access-control-allow-origin" not in reply.headers
    with make_client(api_cors_origins=("https://sheet.example",)) as client:
        allowed = client.options("/api/v1/models", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://sheet.example"
        assert "POST" not in allowed.headers["access-control-allow-methods"]
        other = client.options("/api/v1/models", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        alert = client.post(ALERT_PATH, content=b"{}", headers={"Origin": "https://sheet.example"})
        assert "access-control-allow-origin" not in alert.headers  # the webhook stays closed to browsers


def test_openapi_docs_at_docs_with_the_bearer_scheme(make_client) -> None:
    with make_client() as client:
        assert "swagger" in client.get("/docs").text.lower()
        schema = client.get("/openapi.json").json()
    assert {"HTTPBearer"} <= set(schema["components"]["securitySchemes"])
    for path in ("/api/v1/insights/{symbol}", "/api/v1/price-prediction/{symbol}", "/api/v1/models", "/api/v1/status"):
        operation = schema["paths"][path]["get"]
        assert operation["security"] == [{"HTTPBearer": []}]
        assert {"200", "401", "404", "429"} <= set(operation["responses"])
    ok = schema["paths"]["/api/v1/insights/{symbol}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/InsightsOut")


def test_api_off_means_no_routes_and_no_docs(make_client) -> None:
    with make_client(api_enabled=False) as client:
        assert client.get("/api/v1/models", headers=_bearer(ENV_TOKEN)).status_code == 404
        assert client.get("/docs").status_code == 404


def test_settings_refuse_a_short_token_and_mask_it() -> None:
    with pytest.raises(ConfigError, match="shorter than 16"):
        Settings.from_env({"PINELAB_API_TOKEN": "short"}, secrets_path=None)
    settings = Settings.from_env({"PINELAB_API_TOKEN": ENV_TOKEN, "PINELAB_API_CORS_ORIGINS": "https://a,https://b"})
    assert ENV_TOKEN not in repr(settings) and settings.api_cors_origins == ("https://a", "https://b")
    with pytest.raises(ConfigError, match="PINELAB_API_EXECUTOR"):
        Settings.from_env({"PINELAB_API_EXECUTOR": "gpu"})


# --- the answers cache ------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr("pinelab_core.api.cache.monotonic", fake)
    return fake


def test_a_burst_of_callers_costs_one_computation(clock: _Clock) -> None:
    calls: list[tuple[Query, object]] = []

    async def scenario() -> list[tuple[Answer, str]]:
        release = asyncio.Event()

        async def compute(query: Query, known: object) -> Answer:
            calls.append((query, known))
            await release.wait()
            return Answer(200, b'{"bar": 1}', inputs=("bar 1",))

        cache = AnswerCache(compute, ttl_s=30, timeout_s=10)
        waiting = [asyncio.create_task(cache.get(Query("signals", "X"))) for _ in range(50)]
        await asyncio.sleep(0)
        release.set()
        return [*await asyncio.gather(*waiting), await cache.get(Query("signals", "X"))]

    answers = asyncio.run(scenario())
    assert len(calls) == 1 and calls[0][1] is None
    assert {a.body for a, _ in answers} == {b'{"bar": 1}'}
    assert [how for _, how in answers][-1] == "hit"


def test_expired_answers_are_rechecked_and_recomputed_only_for_a_new_bar(clock: _Clock) -> None:
    bar = {"now": "bar 1"}
    known_seen: list[object] = []

    async def compute(query: Query, known: object) -> Answer | None:
        known_seen.append(known)
        if known == (bar["now"],):
            return None  # the worker found the same closed bar: the cached answer stands
        return Answer(200, bar["now"].encode(), inputs=(bar["now"],))

    async def scenario() -> list[str]:
        cache = AnswerCache(compute, ttl_s=30, timeout_s=10)
        query = Query("patterns", "X")
        served = [(await cache.get(query))[0].body.decode()]
        clock.now += 31  # expired: the re-check finds the same bar
        served.append((await cache.get(query))[1])  # stale while the re-check runs
        await asyncio.sleep(0.01)
        served.append((await cache.get(query))[1])
        bar["now"] = "bar 2"
        clock.now += 31
        await cache.get(query)
        await asyncio.sleep(0.01)
        served.append((await cache.get(query))[0].body.decode())
        served.append(str(cache.counts["computed"]))
        return served

    assert asyncio.run(scenario()) == ["bar 1", "stale", "hit", "bar 2", "2"]
    assert known_seen == [None, ("bar 1",), ("bar 1",)]


def test_a_slow_first_answer_is_a_503_to_retry_and_then_cached(clock: _Clock) -> None:
    async def scenario() -> tuple[str, str]:
        release = asyncio.Event()

        async def compute(query: Query, known: object) -> Answer:
            await release.wait()
            return Answer(200, b"{}", inputs=())

        cache = AnswerCache(compute, ttl_s=30, timeout_s=0.01)
        with pytest.raises(Busy, match="ask again"):
            await cache.get(Query("insights", "X"))
        release.set()
        await asyncio.sleep(0.01)
        return (await cache.get(Query("insights", "X")))[1], str(cache.counts["busy"])

    assert asyncio.run(scenario()) == ("hit", "1")


def test_errors_that_may_pass_are_not_cached(clock: _Clock) -> None:
    statuses = iter([503, 200])

    async def compute(query: Query, known: object) -> Answer:
        status = next(statuses)
        return Answer(status, b"{}", inputs=None if status == 503 else ())

    async def scenario() -> list[int]:
        cache = AnswerCache(compute, ttl_s=30, timeout_s=10)
        return [(await cache.get(Query("signals", "X")))[0].status for _ in range(3)]

    assert asyncio.run(scenario()) == [503, 200, 200]


# --- the command line -------------------------------------------------------------------------


def test_cli_creates_lists_and_revokes_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-token", "create", "--name", "sheets-bot", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith("plk_") and created["active"]
    assert main(["api-token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in listed] == ["sheets-bot"] and "token" not in listed[0]
    assert main(["api-token", "revoke", "sheets-bot"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["api-token", "create", "--name", "sheets-bot"]) == 2
    assert "exists" in capsys.readouterr().err


def test_a_stale_answer_is_served_even_when_too_many_rechecks_are_queued(clock: _Clock) -> None:
    """Regression: with the re-check queue full, an expired answer raised Busy (a 503) instead of being served."""

    async def scenario() -> list[str]:
        release = asyncio.Event()
        first = {"done": False}

        async def compute(query: Query, known: object) -> Answer:
            if first["done"]:
                await release.wait()  # re-checks hang until released
            return Answer(200, query.symbol.encode(), inputs=(query.symbol,))

        cache = AnswerCache(compute, ttl_s=30, timeout_s=10, max_pending=1)
        for symbol in ("A", "B"):
            await cache.get(Query("patterns", symbol))
        first["done"] = True
        clock.now += 31
        served = [(await cache.get(Query("patterns", symbol)))[1] for symbol in ("A", "B")]
        release.set()
        return served

    assert asyncio.run(scenario()) == ["stale", "stale"]


def test_busy_counts_only_refused_callers(clock: _Clock) -> None:
    """A stale answer served while its re-check could not be queued is no refusal: /status must not count it."""

    async def scenario() -> dict[str, int]:
        release = asyncio.Event()

        async def compute(query: Query, known: object) -> Answer:
            if query.symbol != "A":
                await release.wait()
            return Answer(200, b"{}", inputs=(query.symbol,))

        cache = AnswerCache(compute, ttl_s=30, timeout_s=0.01, max_pending=1)
        await cache.get(Query("patterns", "A"))
        clock.now += 31
        with pytest.raises(Busy):
            await cache.get(Query("patterns", "B"))  # B's computation holds the one slot...
        await cache.get(Query("patterns", "A"))  # ...so A is served stale without a re-check
        with pytest.raises(Busy):
            await cache.get(Query("patterns", "C"))  # refused: counted
        release.set()
        return cache.stats()

    stats = asyncio.run(scenario())
    assert stats["stale"] == 1 and stats["busy"] == 2  # B timed out waiting, C found no slot


def test_the_insights_front_door_is_exported() -> None:
    import pinelab_core

    for name in ("market_insights", "multi_timeframe_view", "pattern_hits", "current_regime", "create_api_token",
                 "list_api_tokens", "revoke_api_token"):
        assert name in pinelab_core.__all__ and callable(getattr(pinelab_core, name)), name
