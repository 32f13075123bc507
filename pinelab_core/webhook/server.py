"""Serving the sidecar with uvicorn, after refusing unsafe bindings."""

from __future__ import annotations

import gc
import sys

from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError
from pinelab_core.webhook.security import INSECURE_REFUSAL, is_loopback_host

__all__ = ["SWITCH_INTERVAL_S", "check_binding", "serve"]

SWITCH_INTERVAL_S = 0.0005


def check_binding(settings: Settings, host: str, port: int) -> None:
    """Raise `ConfigError` for a bad port, or no secret configured.

    Anyone who can reach the port could otherwise post trades into the desk's signals, and a tunnel or
    reverse proxy forwards the public internet to 127.0.0.1 just the same. Without a secret the sidecar
    starts only with `webhook_insecure` (`--insecure`), and only on a loopback address.
    """
    if not 0 < port < 65536:
        raise ConfigError(f"Port {port} is out of range. Use 1-65535 (default 8787).")
    if settings.webhook_secret or settings.webhook_hmac_secret:
        return
    if not is_loopback_host(host):
        raise ConfigError(
            f"Refusing to listen on {host} without a secret: anyone reaching it could post alerts. "
            "Set PINELAB_WEBHOOK_SECRET (and put it in the alert's \"passphrase\"), or bind to 127.0.0.1."
        )
    if not settings.webhook_insecure:
        raise ConfigError(INSECURE_REFUSAL)


def serve(settings: Settings, host: str | None = None, port: int | None = None, *, log_level: str = "info") -> None:
    """Run the sidecar until interrupted (blocking). Access logs are off: the audit table keeps every request."""
    import uvicorn

    from pinelab_core.webhook.app import create_app

    host = host or settings.webhook_host
    port = port or settings.webhook_port
    check_binding(settings, host, port)
    # The event loop answers alerts while the enrichment thread works; with Python's default 5 ms GIL
    # switch interval the loop can wait that long to get the GIL back. This process serves only the sidecar.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = create_app(settings)
    # Everything built so far (pandas, SQLAlchemy, FastAPI, the app) lives as long as the process: move it
    # out of the collector's sight so full collections stay short and do not stall answers under load.
    gc.freeze()
    # proxy_headers=False: uvicorn would otherwise rewrite the client address from X-Forwarded-For on its
    # own; whether that header is trusted is PINELAB_WEBHOOK_TRUST_FORWARDED's call alone.
    uvicorn.run(app, host=host, port=port, access_log=False, server_header=False,
                proxy_headers=False, log_level=log_level, timeout_graceful_shutdown=10)
