"""The sidecar's gatekeepers: who is calling, are they allowed, are they too fast, do they know the secret.

TradingView cannot sign requests or set headers, so its alerts prove themselves with a passphrase
inside the message; senders that can sign use `X-Pinelab-Signature: sha256=<hex>` over the raw body.
Both are compared in constant time so response timing leaks nothing about the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from collections.abc import Iterable, Mapping

from pinelab_core.errors import AuthError, ConfigError

__all__ = [
    "SIGNATURE_HEADER",
    "IpAllowlist",
    "TokenBucketLimiter",
    "check_passphrase",
    "client_address",
    "is_loopback_host",
    "sign_body",
    "verify_signature",
]

SIGNATURE_HEADER = "x-pinelab-signature"


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


def sign_body(body: bytes, secret: str) -> str:
    """The `X-Pinelab-Signature` header value for `body`: `sha256=<hex HMAC>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str, secret: str) -> None:
    """Raise `AuthError` unless `header` is the HMAC-SHA256 of `body` under `secret`."""
    if not secret:
        raise AuthError(
            "The request is signed but this sidecar has no PINELAB_WEBHOOK_HMAC_SECRET. Configure it or stop signing."
        )
    expected = sign_body(body, secret)
    if not hmac.compare_digest(header.strip().lower().encode("utf-8", "replace"), expected.encode("ascii")):
        raise AuthError("Bad X-Pinelab-Signature: it must be sha256=<hex HMAC-SHA256 of the raw body>.")


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
    """`rate` requests per second per client with a burst of one second's worth; rate 0 turns it off."""

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
