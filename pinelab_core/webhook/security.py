"""The sidecar's gatekeepers: who is calling, are they allowed, do they know the secret, are they guessing.

TradingView cannot sign requests or set headers, so its alerts prove themselves with a passphrase
inside the message; senders that can sign use `X-Pinelab-Signature: sha256=<hex>` over the raw body,
optionally with `X-Pinelab-Timestamp: <unix seconds>` signed in (`<timestamp>.<body>`) and accepted
within 5 minutes, so a captured request cannot be replayed later. Both are compared in constant time
so response timing leaks nothing about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Iterable, Mapping

from pinelab_core.errors import AuthError, ConfigError, redact

__all__ = [
    "INSECURE_REFUSAL",
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE_S",
    "TIMESTAMP_HEADER",
    "IpAllowlist",
    "RedactingFilter",
    "TokenBucketLimiter",
    "check_passphrase",
    "client_address",
    "is_loopback_host",
    "sign_body",
    "verify_signature",
]

INSECURE_REFUSAL = (
    "The webhook has no secret: anyone who reaches it (through a tunnel or proxy, the public internet) could post "
    "trades. Set PINELAB_WEBHOOK_SECRET (TradingView's \"passphrase\") or PINELAB_WEBHOOK_HMAC_SECRET, or pass "
    "--insecure for a local experiment."
)
SIGNATURE_HEADER = "x-pinelab-signature"
TIMESTAMP_HEADER = "x-pinelab-timestamp"
SIGNATURE_TOLERANCE_S = 300


def check_passphrase(supplied: str | None, expected: str) -> None:
    """Raise `AuthError` unless `supplied` equals the configured secret (no secret configured: open).

    Bytes are compared, not str: `hmac.compare_digest` refuses non-ASCII str, and a sender may
    put anything in the field.
    """
    if not expected:
        return
    if supplied is None:
        raise AuthError("The alert carries no passphrase. Add \"passphrase\": \"<PINELAB_WEBHOOK_SECRET>\".")
    if not hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), expected.encode("utf-8")):
        raise AuthError("Wrong passphrase. Copy PINELAB_WEBHOOK_SECRET into the alert's \"passphrase\" field.")


def sign_body(body: bytes, secret: str, timestamp: str | int | None = None) -> str:
    """The `X-Pinelab-Signature` value for `body`: `sha256=<hex HMAC>`, over `<timestamp>.<body>` when timed."""
    signed = body if timestamp is None else f"{str(timestamp).strip()}.".encode("ascii") + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str, secret: str, timestamp: str | None = None,
                     now: float | None = None) -> None:
    """Raise `AuthError` unless `header` is the HMAC-SHA256 of `body` (with `timestamp`, when sent) under `secret`.

    A signed timestamp must lie within `SIGNATURE_TOLERANCE_S` of now: an old request replayed is refused.
    """
    if not secret:
        raise AuthError(
            "The request is signed but this sidecar has no PINELAB_WEBHOOK_HMAC_SECRET. Configure it or stop signing."
        )
    if timestamp is not None and not timestamp.strip().isdigit():
        raise AuthError("X-Pinelab-Timestamp must be whole Unix seconds.")
    expected = sign_body(body, secret, timestamp)
    if not hmac.compare_digest(header.strip().lower().encode("utf-8", "replace"), expected.encode("ascii")):
        raise AuthError("Bad X-Pinelab-Signature: it must be sha256=<hex HMAC-SHA256 of the raw body> "
                        "(of '<X-Pinelab-Timestamp>.<body>' when a timestamp is sent).")
    if timestamp is not None:
        skew = abs((time.time() if now is None else now) - int(timestamp))
        if skew > SIGNATURE_TOLERANCE_S:
            raise AuthError(f"X-Pinelab-Timestamp is {skew:.0f} s away from now (at most {SIGNATURE_TOLERANCE_S} "
                            "allowed): a replayed request, or the sender's clock is wrong.")


def client_address(peer: str | None, headers: Mapping[str, str], trust_forwarded: bool) -> str:
    """The caller's address. X-Forwarded-For counts only when a trusted proxy is configured.

    The right-most entry is the one the (single, trusted) proxy appended; entries to its left were
    written by the client and could be forged.
    """
    if trust_forwarded:
        forwarded = headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return peer or "unknown"


class IpAllowlist:
    """Addresses or networks (CIDR) allowed to post alerts; empty means everyone."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"PINELAB_WEBHOOK_IP_ALLOWLIST entry {entry!r} is not an address or network ({exc})."
                ) from None

    def __bool__(self) -> bool:
        return bool(self.networks)

    def allows(self, address: str) -> bool:
        if not self.networks:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


class TokenBucketLimiter:
    """`rate` requests per second per client with a burst of one second's worth; rate 0 turns it off.

    The sidecar charges it only for requests that fail authentication: TradingView sends every user's
    alerts from the same four addresses, so a bucket charged for every request would let a stranger's
    alerts starve yours. A request that authenticates is never limited.
    """

    def __init__(self, rate: float, *, max_clients: int = 10_000) -> None:
        self.rate = max(0.0, float(rate))
        self.capacity = max(1.0, self.rate)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one token for `client`; 0.0 when allowed, else the seconds to wait before retrying."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._remember(client, (tokens - 1.0, now), now)
                return 0.0
            self._remember(client, (tokens, now), now)
            return (1.0 - tokens) / self.rate

    def _remember(self, client: str, state: tuple[float, float], now: float) -> None:
        # Bound memory against address floods: forget clients whose bucket has refilled anyway.
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            refill = self.capacity / self.rate
            self._buckets = {c: s for c, s in self._buckets.items() if now - s[1] < refill}
        self._buckets[client] = state


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1); 0.0.0.0 and names are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


class RedactingFilter(logging.Filter):
    """Masks the configured secrets and any database password in a log record (message, arguments, traceback)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True
