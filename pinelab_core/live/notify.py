"""Notification rules and the events they match: consensus flips, confidence above x, drift alerts, the kill
switch, failed jobs. Each match is queued once per (rule, event) and delivered by `delivery.deliver_pending`.

    add_rule(engine, "btc flips", "consensus_flip", symbol="BTC/USDT", channel="webhook",
             target="https://hooks.slack.com/services/...", body_format="slack")
    add_rule(engine, "sure calls", "confidence_above", threshold=0.7, channel="email", target="me@example.com")
    add_rule(engine, "kill", "kill_switch")                      # the dashboard inbox

Events are read from the store (the consensus rows, the accounts' kill bars, the learning events, the jobs
table), never passed between steps in memory, so a scheduler restarted between two steps notifies the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.live.db import add_named, as_utc, insert_ignore, table_of, to_timestamp
from pinelab_core.live.delivery import deliver_pending
from pinelab_core.store.tables import (
    AggregatedSignalRow,
    JobRow,
    LearningEventRow,
    NotificationDeliveryRow,
    NotificationRow,
    NotificationRuleRow,
    PaperAccountRow,
)

if TYPE_CHECKING:
    from pinelab_core.live.steps import BarContext

__all__ = ["CHANNELS", "EVENTS", "FORMATS", "Event", "NotificationRule", "add_rule", "delivery_log",
           "disable_rule", "inbox", "list_rules", "mark_read", "notify_bar", "notify_tick", "queue_events"]

EVENTS: tuple[str, ...] = ("consensus_flip", "confidence_above", "drift_alert", "kill_switch", "job_failed")
CHANNELS: tuple[str, ...] = ("inbox", "webhook", "email")
FORMATS: tuple[str, ...] = ("json", "slack", "discord", "telegram")


@dataclass(frozen=True)
class NotificationRule:
    id: int
    name: str
    event: str
    symbol: str
    timeframe: str
    threshold: float | None
    channel: str
    target: str
    body_format: str
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Event:
    """Something that happened: `key` names it uniquely (a rule notifies it once)."""

    kind: str
    key: str
    title: str
    text: str
    symbol: str = ""
    timeframe: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def add_rule(engine: Engine, name: str, event: str, *, channel: str = "inbox", target: str = "", symbol: str = "",
             timeframe: str = "", threshold: float | None = None, body_format: str = "json") -> NotificationRule:
    """Add a notification rule (see the module docstring); refuses what could never deliver."""
    _check_rule(event, channel, target, threshold, body_format)
    row = NotificationRuleRow(name=name, event=event, channel=channel, target=target.strip(), symbol=symbol,
                              timeframe=timeframe, threshold=threshold, body_format=body_format)
    return _rule(add_named(engine, row, f"A notification rule named {name!r} exists already."))


def list_rules(engine: Engine) -> list[NotificationRule]:
    with Session(engine) as session:
        return [_rule(r) for r in session.execute(select(NotificationRuleRow).order_by(
            col(NotificationRuleRow.id))).scalars().all()]


def disable_rule(engine: Engine, name: str) -> bool:
    """Disable a rule (its notifications and delivery log stay); False when there is none of that name."""
    table = table_of(NotificationRuleRow)
    with engine.begin() as connection:
        return bool(connection.execute(table.update().where(table.c.name == name).values(enabled=False)).rowcount)


def queue_events(engine: Engine, events: list[Event]) -> int:
    """Queue one notification per (matching rule, event); an event already queued for a rule is skipped."""
    rules = [r for r in list_rules(engine) if r.enabled]
    rows = []
    for event in events:
        for rule in rules:
            if _matches(rule, event):
                rows.append({"rule_id": rule.id, "event_key": f"{event.kind}:{event.key}"[:200],
                             "title": event.title[:300], "body": event.text, "status": "pending",
                             "data_json": json.dumps({"event": event.kind, "symbol": event.symbol,
                                                      "timeframe": event.timeframe, **event.data}, default=str),
                             "next_attempt_at": datetime.now(UTC), "created_at": datetime.now(UTC)})
    with engine.begin() as connection:
        return len(insert_ignore(connection, NotificationRow, rows, ("rule_id", "event_key"), returning=True))


def notify_bar(context: BarContext) -> str:
    """Queue and deliver the notifications of one market's bar (its consensus, kill switches, drift alerts)."""
    events = (_consensus_events(context.engine, context.data_source, context.symbol, context.timeframe, context.at)
              + _kill_events(context.engine, context.data_source, context.symbol, context.timeframe, context.at)
              + _drift_events(context.engine, context.data_source, context.symbol, context.timeframe, context.at))
    queued = queue_events(context.engine, events)
    sent = deliver_pending(context.engine)
    return f"{len(events)} event(s), {queued} notification(s) queued, {sent.delivered} delivered"


def notify_tick(settings: Settings, engine: Engine) -> None:
    """Once per tick: failed jobs become events, and every due notification (retries included) goes out."""
    queue_events(engine, _job_events(engine))
    deliver_pending(engine)


def inbox(engine: Engine, *, limit: int = 100) -> pd.DataFrame:
    """Every notification, newest first: time, rule, channel, title, body, status, attempts, error, read."""
    notes, rules = table_of(NotificationRow), table_of(NotificationRuleRow)
    with engine.connect() as connection:
        rows = connection.execute(select(notes.c.id, notes.c.created_at, rules.c.name, rules.c.channel, notes.c.title,
                                         notes.c.body, notes.c.status, notes.c.attempts, notes.c.last_error,
                                         notes.c.read_at).join(rules, rules.c.id == notes.c.rule_id)
                                  .order_by(notes.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["id", "time", "rule", "channel", "title", "body", "status", "attempts",
                                        "error", "read_at"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def mark_read(engine: Engine, ids: list[int]) -> None:
    table = table_of(NotificationRow)
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.id.in_(ids), table.c.read_at.is_(None))
                           .values(read_at=datetime.now(UTC)))


def delivery_log(engine: Engine, *, limit: int = 200) -> pd.DataFrame:
    """Every delivery attempt, newest first."""
    table = table_of(NotificationDeliveryRow)
    columns = ["at", "notification_id", "attempt", "channel", "target", "ok", "status_code", "error", "seconds"]
    with engine.connect() as connection:
        rows = connection.execute(select(*(table.c[c] for c in columns)).order_by(table.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _consensus_events(engine: Engine, source: str, symbol: str, timeframe: str, at: pd.Timestamp) -> list[Event]:
    table = table_of(AggregatedSignalRow)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.time, table.c.action, table.c.score, table.c.confidence).where(
            table.c.data_source == source, table.c.symbol == symbol, table.c.timeframe == timeframe,
            table.c.time <= at.to_pydatetime()).order_by(table.c.time.desc()).limit(2)).all()
    if not rows or to_timestamp(rows[0][0]) != at:
        return []
    now, before = rows[0], rows[1] if len(rows) > 1 else None
    key = f"{source}|{symbol}|{timeframe}|{at.isoformat()}"
    data = {"bar_time": at.isoformat(), "action": now[1], "score": now[2], "confidence": now[3],
            "previous_action": before[1] if before else None, "previous_confidence": before[3] if before else 0.0}
    events = [Event("confidence_above", key, f"{symbol} {timeframe}: {now[1]} with confidence {now[3]:.0%}",
                    f"The consensus of {symbol} {timeframe} at {at:%Y-%m-%d %H:%M} UTC is {now[1]} "
                    f"(score {now[2]:+.2f}, confidence {now[3]:.0%}).", symbol, timeframe, data)]
    if before is not None and before[1] != now[1]:
        events.append(Event("consensus_flip", key, f"{symbol} {timeframe}: consensus {before[1]} -> {now[1]}",
                            f"The consensus of {symbol} {timeframe} flipped from {before[1]} to {now[1]} at "
                            f"{at:%Y-%m-%d %H:%M} UTC (score {now[2]:+.2f}, confidence {now[3]:.0%}).",
                            symbol, timeframe, data))
    return events


def _kill_events(engine: Engine, source: str, symbol: str, timeframe: str, at: pd.Timestamp) -> list[Event]:
    table = table_of(PaperAccountRow)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.name, table.c.kill_reason).where(
            table.c.data_source == source, table.c.symbol == symbol, table.c.timeframe == timeframe,
            table.c.kill_time == at.to_pydatetime())).all()
    return [Event("kill_switch", f"account|{name}", f"Kill switch: paper account {name} stopped", reason, symbol,
                  timeframe, {"account": name, "bar_time": at.isoformat()}) for name, reason in rows]


def _drift_events(engine: Engine, source: str, symbol: str, timeframe: str, at: pd.Timestamp) -> list[Event]:
    table = table_of(LearningEventRow)
    prefix = f"drift|{source}|{symbol}|{timeframe}|"
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.event_key, table.c.model_name, table.c.message).where(
            table.c.kind == "drift_alert", table.c.event_key.startswith(prefix, autoescape=True),
            table.c.time == at.to_pydatetime())).all()
    return [Event("drift_alert", key, f"Drift: {model or symbol} on {symbol} {timeframe}", message, symbol, timeframe,
                  {"model": model}) for key, model, message in rows]


def _job_events(engine: Engine, *, within: timedelta = timedelta(days=1)) -> list[Event]:
    table = table_of(JobRow)
    since = datetime.now(UTC) - within
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.kind, table.c.error, table.c.finished_at).where(
            table.c.status == "failed", table.c.finished_at >= since)).all()
    return [Event("job_failed", f"job|{job_id}", f"{kind} job {job_id} failed", (error or "").splitlines()[0][:500]
                  if error else "failed", data={"job_id": job_id, "finished_at": as_utc(finished)})
            for job_id, kind, error, finished in rows]


def _matches(rule: NotificationRule, event: Event) -> bool:
    from pinelab_core.signals import symbol_key

    if rule.event != event.kind:
        return False
    if rule.symbol and symbol_key(rule.symbol) != symbol_key(event.symbol):
        return False
    if rule.timeframe and rule.timeframe != event.timeframe:
        return False
    if event.kind == "job_failed" and as_utc(event.data.get("finished_at")) is not None:
        return as_utc(event.data["finished_at"]) >= rule.created_at  # type: ignore[operator]
    if event.kind == "confidence_above":  # crossing the threshold upwards, on a BUY or SELL
        threshold = rule.threshold if rule.threshold is not None else 0.0
        return (event.data["action"] != "HOLD" and event.data["confidence"] >= threshold
                and float(event.data.get("previous_confidence") or 0.0) < threshold)
    return True


def _check_rule(event: str, channel: str, target: str, threshold: float | None, body_format: str) -> None:
    if event not in EVENTS:
        raise DataValidationError(f"Unknown event {event!r}. Use one of: {', '.join(EVENTS)}.")
    if channel not in CHANNELS:
        raise DataValidationError(f"Unknown channel {channel!r}. Use one of: {', '.join(CHANNELS)}.")
    if body_format not in FORMATS:
        raise DataValidationError(f"Unknown body format {body_format!r}. Use one of: {', '.join(FORMATS)}.")
    if channel == "webhook" and not target.strip().lower().startswith(("http://", "https://")):
        raise DataValidationError("A webhook rule needs target='https://...' (the URL to POST to).")
    if channel == "email" and "@" not in target:
        raise DataValidationError("An email rule needs target='you@example.com'.")
    if event == "confidence_above" and (threshold is None or not 0.0 < threshold <= 1.0):
        raise DataValidationError("confidence_above needs threshold= a confidence in (0, 1], e.g. 0.7.")


def _rule(row: NotificationRuleRow) -> NotificationRule:
    return NotificationRule(int(row.id or 0), row.name, row.event, row.symbol, row.timeframe, row.threshold,
                            row.channel, row.target, row.body_format, bool(row.enabled),
                            as_utc(row.created_at) or datetime.now(UTC))
