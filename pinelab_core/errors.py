"""PineLab's exceptions.

Every error a user can cause is a `PinelabError`; its message says what was wrong and what to do.
Each class's docstring says whether the fix is to *retry* (the world may change) or to
*fix input* (the same call will fail again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "AuthError",
    "ConfigError",
    "DataFetchError",
    "DataValidationError",
    "JobError",
    "ModelNotFoundError",
    "ModelSchemaError",
    "PinelabError",
    "StoreError",
    "redact",
    "redact_url",
]

MASK = "***"
# scheme://user:password@host -> the password part; also a bare scheme://:password@host.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^\s/?#]+)(?=@)")
# key=value forms of the same (libpq keyword strings, query parameters).
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>[^\s&;]+)", re.IGNORECASE)


def redact_url(text: str) -> str:
    """`text` with the password of every URL (`postgresql://user:pw@host`) and `password=` replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _KEYWORD_PASSWORD.sub(lambda m: m["head"] + MASK, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` safe to store, log or show: every configured secret and every URL password masked.

    Longer secrets are masked first, so a secret that contains another is not left half visible.
    """
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return redact_url(text)


class PinelabError(Exception):
    """Base class of every error PineLab raises on purpose."""

    # The docstrings say only "what, then the advice" (the pages show the advice); so here, in a comment:
    # every message passes through redact_url, so no error shows a database password.
    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(redact_url(str(message)), *args)


class DataFetchError(PinelabError):
    """A data source could not deliver (network, rate limit, exchange down). Retry later, or use the cache."""

    def __init__(self, message: str, *, source: str = "", symbol: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.symbol = symbol


class DataValidationError(PinelabError):
    """Market data broke the OHLCV contract (missing columns, NaN, bad prices). Fix the input."""


class ConfigError(PinelabError):
    """A setting is missing or malformed. Fix the configuration (env var or secrets.toml)."""


class ModelSchemaError(PinelabError):
    """A saved model does not match what it is asked to do (features, checksum, version). Retrain or fix input."""


class ModelNotFoundError(PinelabError):
    """No model matches the request (none trained yet, wrong name or version). Train one or fix input."""


class AuthError(PinelabError):
    """A request failed authentication (bad passphrase or signature). Fix the sender's credentials."""


class JobError(PinelabError):
    """A background job could not be started, found or cancelled. Fix input; retry if the queue was busy."""


class StoreError(PinelabError):
    """The database could not be opened or migrated. Fix the database URL or file permissions; retry if locked."""
