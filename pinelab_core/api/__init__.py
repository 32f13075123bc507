"""The read-only insights API, served by the webhook sidecar under /api/v1 (OpenAPI docs at /docs).

    mount_api(app, settings, engine) -> InsightsApi     add the routes to the sidecar's FastAPI app
    create_api_token(engine, name) -> (info, token)     the token is shown once; only its SHA-256 is stored
    list_api_tokens(engine), revoke_api_token(engine, name_or_id)
    answer_query(Query(...), settings) -> Answer        one answer, computed as the API's worker does

Endpoints: insights, signals, price-prediction, patterns, timeframes (per symbol), models, status.
See docs/api.md.
"""

from pinelab_core.api.app import API_PREFIX, InsightsApi, mount_api
from pinelab_core.api.compute import Answer, Query, answer_query
from pinelab_core.api.tokens import ApiTokenInfo, create_api_token, list_api_tokens, revoke_api_token

__all__ = [
    "API_PREFIX",
    "Answer",
    "ApiTokenInfo",
    "InsightsApi",
    "Query",
    "answer_query",
    "create_api_token",
    "list_api_tokens",
    "mount_api",
    "revoke_api_token",
]
