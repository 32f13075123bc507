"""Settings, read once from environment variables (or `.streamlit/secrets.toml`) and passed down.

Every key has a working offline default, so a fresh clone runs with no configuration at all.
Environment variables win over `secrets.toml`; the `[pinelab]` table of that file uses the same
names without the `PINELAB_` prefix, in lower case (`database_url = "..."`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pinelab_core.errors import MASK, ConfigError, redact_url

__all__ = ["Settings", "TRADINGVIEW_SENDER_IPS", "check_api_settings"]

#: The addresses TradingView documents as the senders of its webhook alerts.
TRADINGVIEW_SENDER_IPS: tuple[str, ...] = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")


@dataclass(frozen=True)
class Settings:
    """PineLab configuration. Build it with `Settings.from_env()`; never mutate, use `with_overrides`."""

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    database_url: str = ""  # empty -> sqlite file inside data_dir
    default_source: str = "demo"
    fetch_timeout_s: float = 20.0
    fetch_retries: int = 3
    device: str = "auto"  # auto | cpu | cuda | mps
    max_concurrent_jobs: int = 1
    webhook_secret: str = ""
    webhook_hmac_secret: str = ""
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8787
    webhook_rate_limit: float = 20.0  # failed authentications per second per client; 0 = off
    webhook_ip_allowlist: tuple[str, ...] = ()
    webhook_trust_forwarded: bool = False
    webhook_public_url: str = ""
    webhook_enrich: bool = True  # add market context and model opinion to alerts after answering
    webhook_insecure: bool = False  # accept alerts with no secret configured (loopback only; warns)
    webhook_store_wait_s: float = 2.0  # longest an alert waits for a locked store before its 503
    webhook_audit_days: int = 30  # how long the webhook's request audit is kept
    webhook_sqlite_synchronous: str = "FULL"  # FULL: an acknowledged alert survives power loss; NORMAL: a crash
    sentiment_scorer: str = "auto"  # auto (FinBERT when finbert_path is set, else lexicon) | lexicon | finbert
    finbert_path: str = ""  # a local FinBERT checkpoint folder (save_pretrained); never downloaded
    lm_dictionary_path: str = ""  # your copy of the Loughran-McDonald Master Dictionary CSV (not shipped)
    api_enabled: bool = True  # serve the read-only insights API (/api/v1/...) on the sidecar
    api_token: str = ""  # a bearer token accepted besides those `pinelab api-token create` stores (hashed)
    api_rate_limit: float = 20.0  # requests per second per token (burst of one second); 0 = off
    api_cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API; empty = CORS off
    api_cache_ttl_s: float = 30.0  # an answer is reused this long, then re-checked against the newest closed bar
    api_timeout_s: float = 20.0  # longest a request waits for a computation before a 503 (it goes on, then caches)
    api_executor: str = "process"  # process: computations in a child process (the alert loop never shares a GIL)
    api_workers: int = 1  # processes (or threads) computing answers
    api_sources: tuple[str, ...] = ()  # data sources the API may read (`file:` ones only when listed); empty = default
    api_symbols: tuple[str, ...] = ()  # symbols the API answers for; empty = any

    def __repr__(self) -> str:
        """Like the dataclass repr, with the webhook secrets, the API token and any database password masked."""
        shown = []
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in _SECRET_FIELDS and value:
                value = MASK
            elif field.name == "database_url":
                value = redact_url(value)
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pinelab.db').as_posix()}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
        """Read settings from `PINELAB_*` variables, then `.streamlit/secrets.toml`, then defaults."""
        env = dict(os.environ if environ is None else environ)
        secrets = _read_secrets(secrets_path if secrets_path is not None else Path(".streamlit/secrets.toml"))
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"PINELAB_{field.name.upper()}", secrets.get(field.name))
            if raw is None or raw == "":
                continue
            values[field.name] = _coerce(field.name, field.type, raw)
        if "webhook_ip_allowlist" in values and values["webhook_ip_allowlist"] == ("tradingview",):
            values["webhook_ip_allowlist"] = TRADINGVIEW_SENDER_IPS
        settings = cls(**values)
        if settings.device not in {"auto", "cpu", "cuda", "mps"} and not settings.device.startswith("cuda:"):
            raise ConfigError(f"PINELAB_DEVICE={settings.device!r} is not a device. Use auto, cpu, cuda or mps.")
        _check(settings)
        return settings


_SECRET_FIELDS = frozenset({"webhook_secret", "webhook_hmac_secret", "api_token"})


def _check(settings: Settings) -> None:
    if settings.max_concurrent_jobs < 1:
        raise ConfigError("PINELAB_MAX_CONCURRENT_JOBS must be at least 1.")
    if settings.webhook_store_wait_s <= 0:
        raise ConfigError("PINELAB_WEBHOOK_STORE_WAIT_S must be above 0 (TradingView gives up after 3 s; 2 is good).")
    if settings.webhook_audit_days < 1:
        raise ConfigError("PINELAB_WEBHOOK_AUDIT_DAYS must be at least 1.")
    if settings.webhook_sqlite_synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
        raise ConfigError("PINELAB_WEBHOOK_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL.")
    check_api_settings(settings)


def check_api_settings(settings: Settings) -> None:
    """Raise `ConfigError` for API settings that cannot work (the sidecar checks them again when it mounts the API)."""
    if settings.api_executor not in {"process", "thread"}:
        raise ConfigError(f"PINELAB_API_EXECUTOR={settings.api_executor!r}: use process (default) or thread.")
    if settings.api_workers < 1:
        raise ConfigError("PINELAB_API_WORKERS must be at least 1.")
    if settings.api_cache_ttl_s <= 0 or settings.api_timeout_s <= 0:
        raise ConfigError("PINELAB_API_CACHE_TTL_S and PINELAB_API_TIMEOUT_S must be above 0 (defaults 30 and 20).")
    if settings.api_rate_limit < 0:
        raise ConfigError("PINELAB_API_RATE_LIMIT must be 0 (off) or more requests per second.")
    if settings.api_token and len(settings.api_token) < 16:
        raise ConfigError("PINELAB_API_TOKEN is shorter than 16 characters: anyone could guess it. "
                          "Use `pinelab api-token create` or a long random string.")


def _read_secrets(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}). Fix or remove the file.") from exc
    section = data.get("pinelab", {})
    return section if isinstance(section, dict) else {}


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    kind = str(kind)
    try:
        if "Path" in kind:
            return Path(str(raw)).expanduser()
        if "tuple" in kind:
            items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"PINELAB_{name.upper()}={raw!r} is not a valid {kind}. Fix the setting.") from exc
    return str(raw)
