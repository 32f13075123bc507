"""PineLab's exceptions.

Every error a user can cause is a `PinelabError`; its message says what was wrong and what to do.
Each class's docstring says whether the fix is to *retry* (the world may change) or to
*fix input* (the same call will fail again).
"""

from __future__ import annotations

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
]


class PinelabError(Exception):
    """Base class of every error PineLab raises on purpose."""


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
