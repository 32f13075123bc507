"""Bearer tokens of the insights API: created, listed and revoked in the store, checked from memory.

A token is 32 random bytes (`plk_` + URL-safe base64), shown once when created. The store keeps only its
SHA-256, so a copy of the database lets nobody call the API. A SHA-256 of a random 256-bit secret is
enough (no slow password hash is needed: nothing about it can be guessed). `PINELAB_API_TOKEN` is one more
accepted token, never stored. The sidecar holds the valid hashes in memory and re-reads them every few
seconds on a background thread, so checking a request never waits for the database, and a token revoked
from another process stops working within `REFRESH_S`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from pinelab_core.errors import DataValidationError, StoreError
from pinelab_core.store.tables import ApiTokenRow

__all__ = ["ENV_TOKEN_NAME", "REFRESH_S", "TOKEN_PREFIX", "ApiTokenInfo", "TokenBook", "create_api_token",
           "hash_token", "list_api_tokens", "revoke_api_token"]

log = logging.getLogger(__name__)
TOKEN_PREFIX = "plk_"
REFRESH_S = 5.0
ENV_TOKEN_NAME = "PINELAB_API_TOKEN"
_TOKENS = ApiTokenRow.__table__  # type: ignore[attr-defined]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class ApiTokenInfo:
    """A stored token as `pinelab api-token list` shows it (never the token itself)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_token(engine: Engine, name: str) -> tuple[ApiTokenInfo, str]:
    """Store a new token under `name`; returns its record and the token (shown once, kept nowhere).

    Raises:
        DataValidationError: the name is not 1-64 letters, digits, `_`, `.` or `-`, or it is taken.
    """
    if not _NAME.match(name):
        raise DataValidationError(f"Token name {name!r}: use 1-64 letters, digits, '_', '.' or '-' (e.g. sheets-bot).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {"name": name, "prefix": token[:8], "token_hash": hash_token(token), "created_at": datetime.now(UTC)}
    try:
        with engine.begin() as connection:  # the unique name decides, in the database, who got it first
            new_id = connection.execute(_TOKENS.insert().values(**row).returning(_TOKENS.c.id)).scalar_one()
    except IntegrityError:
        raise DataValidationError(f"A token named {name!r} exists (revoked names stay taken). Pick another "
                                  "name; `pinelab api-token list` shows them.") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"Could not store the token: {exc}. Retry.") from exc
    return ApiTokenInfo(int(new_id), name, row["prefix"], row["created_at"], None), token


def list_api_tokens(engine: Engine) -> list[ApiTokenInfo]:
    """Every stored token, oldest first, revoked ones included."""
    with engine.connect() as connection:
        rows = connection.execute(select(_TOKENS).order_by(_TOKENS.c.id)).all()
    return [ApiTokenInfo(int(r.id), r.name, r.prefix, _utc(r.created_at) or r.created_at, _utc(r.revoked_at))
            for r in rows]


def revoke_api_token(engine: Engine, name_or_id: str) -> ApiTokenInfo:
    """Revoke the token with this name (or id); revoking twice keeps the first time.

    Raises:
        DataValidationError: no token has that name or id.
    """
    column = _TOKENS.c.id if name_or_id.isdigit() else _TOKENS.c.name
    key: int | str = int(name_or_id) if name_or_id.isdigit() else name_or_id
    with engine.begin() as connection:
        connection.execute(update(_TOKENS).where(column == key, _TOKENS.c.revoked_at.is_(None))
                           .values(revoked_at=datetime.now(UTC)))
    match = [t for t in list_api_tokens(engine) if (t.id if name_or_id.isdigit() else t.name) == key]
    if not match:
        raise DataValidationError(f"No API token is named {name_or_id!r}. `pinelab api-token list` shows them.")
    return match[0]


class TokenBook:
    """Who may call: the valid token hashes, held in memory and refreshed from the store every `REFRESH_S`.

    `identify` never touches the database (it runs on the sidecar's event loop); `refresh` does, on the
    book's own thread (or the caller's, in tests and at startup).
    """

    def __init__(self, engine: Engine, env_token: str = "") -> None:
        self.engine = engine
        self._env_hash = hash_token(env_token) if env_token else ""
        self._hashes: dict[str, str] = {}  # sha256 hex -> token name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded = False

    def __len__(self) -> int:
        return len(self._hashes) + bool(self._env_hash)

    def identify(self, token: str) -> str | None:
        """The name of the token's owner ("PINELAB_API_TOKEN" for the configured one), or None."""
        digest = hash_token(token)
        if self._env_hash and hmac.compare_digest(digest, self._env_hash):
            return ENV_TOKEN_NAME
        return self._hashes.get(digest)  # a lookup by hash: its timing tells nothing about any token

    def refresh(self) -> None:
        """Re-read the valid tokens. On a store error the last good set stays (and the error is logged)."""
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(_TOKENS.c.token_hash, _TOKENS.c.name)
                                          .where(_TOKENS.c.revoked_at.is_(None))).all()
        except SQLAlchemyError as exc:
            log.warning("Could not refresh the API tokens (keeping the last %d): %s", len(self._hashes), exc)
            return
        self._hashes = {row.token_hash: row.name for row in rows}
        self.loaded = True

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pinelab-api-tokens", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self.refresh()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
