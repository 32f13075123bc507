"""Delivering notifications: an outbound webhook (JSON, Slack, Discord or Telegram bodies), SMTP email, the inbox.

`deliver_pending` claims each due notification in a write transaction (`pending` -> `sending`, so two processes
never send the same one), sends it, and logs the attempt in `notification_delivery`. A failure is retried with
exponential backoff (`backoff_s` x 2^(attempt - 1), capped at an hour) up to `max_attempts`, then marked
`failed`. A notification left `sending` by a crashed process goes back to `pending` after `stale_s`: delivery is
at least once, and the (rule, event) key keeps each event to one notification.

Email needs an SMTP server: PINELAB_SMTP_HOST, PINELAB_SMTP_PORT (587), PINELAB_SMTP_USER,
PINELAB_SMTP_PASSWORD, PINELAB_SMTP_FROM and PINELAB_SMTP_SECURITY (starttls, ssl or none).
"""

from __future__ import annotations

import json
import os
import smtplib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from pinelab_core.errors import ConfigError, redact
from pinelab_core.live.db import table_of
from pinelab_core.store.engine import write_transaction
from pinelab_core.store.tables import NotificationDeliveryRow, NotificationRow, NotificationRuleRow

__all__ = ["DeliveryStats", "SmtpConfig", "deliver_pending", "message_body", "safe_target"]

MAX_ATTEMPTS = 5
BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0
STALE_SENDING_S = 300.0
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SmtpConfig:
    """Where email goes out (read from PINELAB_SMTP_*; the password is never stored or logged)."""

    host: str = ""
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = "pinelab@localhost"
    security: str = "starttls"  # starttls | ssl | none

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SmtpConfig:
        env = dict(os.environ if environ is None else environ)
        security = env.get("PINELAB_SMTP_SECURITY", "starttls").strip().lower()
        if security not in ("starttls", "ssl", "none"):
            raise ConfigError("PINELAB_SMTP_SECURITY must be starttls, ssl or none.")
        try:
            port = int(env.get("PINELAB_SMTP_PORT", "587"))
        except ValueError as exc:
            raise ConfigError("PINELAB_SMTP_PORT must be a port number, e.g. 587.") from exc
        return cls(env.get("PINELAB_SMTP_HOST", ""), port, env.get("PINELAB_SMTP_USER", ""),
                   env.get("PINELAB_SMTP_PASSWORD", ""), env.get("PINELAB_SMTP_FROM", "pinelab@localhost"), security)


@dataclass(frozen=True)
class DeliveryStats:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def message_body(body_format: str, title: str, text: str, data: dict[str, Any], target: str = "") -> dict[str, Any]:
    """The JSON body of a webhook post: plain JSON, or what Slack, Discord or Telegram expect."""
    if body_format == "slack":
        return {"text": f"*{title}*\n{text}"}
    if body_format == "discord":
        return {"content": f"**{title}**\n{text}"[:2000]}
    if body_format == "telegram":
        chat = parse_qs(urlsplit(target).query).get("chat_id", [""])[0]
        return {"chat_id": chat, "text": f"{title}\n{text}"}
    return {"title": title, "text": text, **data}


def safe_target(channel: str, target: str) -> str:
    """The target as logged: an email address as it is, a URL reduced to scheme and host (its path holds tokens)."""
    if channel != "webhook":
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/***"


def deliver_pending(engine: Engine, *, smtp: SmtpConfig | None = None, now: datetime | None = None,
                    backoff_s: float = BACKOFF_S, max_attempts: int = MAX_ATTEMPTS,
                    stale_s: float = STALE_SENDING_S, limit: int = 50) -> DeliveryStats:
    """Send every notification that is due; returns how many were delivered, will be retried, or failed."""
    now = now or datetime.now(UTC)
    notes, rules = table_of(NotificationRow), table_of(NotificationRuleRow)
    with engine.begin() as connection:  # a crashed sender's claims go back to the queue
        connection.execute(update(notes).where(notes.c.status == "sending",
                                               notes.c.next_attempt_at < now - timedelta(seconds=stale_s))
                           .values(status="pending"))
        due = connection.execute(select(notes.c.id).where(notes.c.status == "pending", notes.c.next_attempt_at <= now)
                                 .order_by(notes.c.id).limit(limit)).scalars().all()
    stats = {"delivered": 0, "retrying": 0, "failed": 0}
    for note_id in due:
        with write_transaction(engine, lock="notifications") as connection:
            claimed = connection.execute(update(notes).where(notes.c.id == note_id, notes.c.status == "pending")
                                         .values(status="sending", attempts=notes.c.attempts + 1,
                                                 next_attempt_at=now)).rowcount
            if not claimed:
                continue  # another process took it
            note = connection.execute(select(notes).where(notes.c.id == note_id)).one()
            rule = connection.execute(select(rules).where(rules.c.id == note.rule_id)).one()
        outcome = _send(rule, note, smtp)
        stats[_settle(engine, note, rule, outcome, now, backoff_s, max_attempts)] += 1
    return DeliveryStats(**stats)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status_code: int | None
    error: str
    seconds: float


def _send(rule: Any, note: Any, smtp: SmtpConfig | None) -> _Outcome:
    started = time.perf_counter()
    try:
        if rule.channel == "webhook":
            code = _post(rule, note)
            ok, error = 200 <= code < 300, "" if 200 <= code < 300 else f"HTTP {code}"
            return _Outcome(ok, code, error, time.perf_counter() - started)
        if rule.channel == "email":
            _email(rule, note, smtp or SmtpConfig.from_env())
        return _Outcome(True, None, "", time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - any failure of the far end is a failed attempt, retried later
        # The message may quote the URL, whose path holds the webhook's token: mask it like a password.
        secrets = [rule.target, urlsplit(rule.target).path if rule.channel == "webhook" else ""]
        secrets += [smtp.password] if smtp else []
        return _Outcome(False, None, redact(f"{type(exc).__name__}: {exc}", secrets), time.perf_counter() - started)


def _post(rule: Any, note: Any) -> int:
    import httpx

    body = message_body(rule.body_format, note.title, note.body, json.loads(note.data_json or "{}"), rule.target)
    url = rule.target
    if rule.body_format == "telegram":  # the chat id travels in the body
        parts = urlsplit(url)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    response = httpx.post(url, json=body, timeout=TIMEOUT_S, follow_redirects=False)
    return int(response.status_code)


def _email(rule: Any, note: Any, smtp: SmtpConfig) -> None:
    if not smtp.host:
        raise ConfigError("Email notifications need an SMTP server: set PINELAB_SMTP_HOST (and _PORT, _USER, "
                          "_PASSWORD, _FROM).")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = f"[PineLab] {note.title}", smtp.sender, rule.target
    message.set_content(note.body)
    client_class = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
    with client_class(smtp.host, smtp.port, timeout=TIMEOUT_S) as client:
        if smtp.security == "starttls":
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)


def _settle(engine: Engine, note: Any, rule: Any, outcome: _Outcome, now: datetime, backoff_s: float,
            max_attempts: int) -> str:
    """Log the attempt and move the notification on: delivered, pending again (later), or failed."""
    attempt = int(note.attempts)
    if outcome.ok:
        status, values = "delivered", {"status": "delivered", "delivered_at": datetime.now(UTC), "last_error": ""}
    elif attempt >= max_attempts:
        status, values = "failed", {"status": "failed", "last_error": outcome.error}
    else:
        delay = min(backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
        status = "retrying"
        values = {"status": "pending", "last_error": outcome.error, "next_attempt_at": now + timedelta(seconds=delay)}
    notes = table_of(NotificationRow)
    with engine.begin() as connection:
        connection.execute(update(notes).where(notes.c.id == note.id).values(**values))
        connection.execute(table_of(NotificationDeliveryRow).insert().values(
            notification_id=note.id, attempt=attempt, channel=rule.channel,
            target=safe_target(rule.channel, rule.target)[:500], ok=outcome.ok, status_code=outcome.status_code,
            error=outcome.error[:2000], seconds=round(outcome.seconds, 4), at=datetime.now(UTC)))
    return status
