"""Stored TradingView alerts and the webhook's audit trail: building rows, reading them back.

The sidecar writes (see `pinelab_core.webhook.writer`); the CLI and the Signals page read through
`list_alerts` and `webhook_activity`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from pinelab_core.errors import redact
from pinelab_core.signals.tradingview import RawAlert, TradingViewAlert, dedupe_key, scrub_secret
from pinelab_core.store.tables import TradingViewAlertRow, WebhookRefusalRow, WebhookRequestRow

__all__ = [
    "ALERT_COLUMNS",
    "WebhookActivity",
    "alert_row_values",
    "list_alerts",
    "webhook_activity",
]

ALERT_COLUMNS: tuple[str, ...] = (
    "id", "received_at", "ticker", "exchange", "action", "price", "contracts", "order_id", "strategy",
    "interval", "market_position", "bar_time", "status",
)


def alert_row_values(
    alert: TradingViewAlert, raw: RawAlert, received_at: datetime, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Column values of the `tradingview_alert` row for an accepted alert, every text masked of `secrets`.

    The passphrase field is dropped when the body is decoded; masking catches a secret pasted into
    another field (a comment, an order id) so it never reaches the database either.
    """
    values = {
        "dedupe_key": dedupe_key(alert, received_at),
        "received_at": received_at,
        "ticker": alert.ticker,
        "exchange": alert.exchange,
        "action": alert.action.value,
        "price": alert.price,
        "contracts": alert.contracts,
        "order_id": alert.order_id,
        "strategy": alert.strategy,
        "interval": alert.interval,
        "market_position": alert.market_position,
        "bar_time": alert.bar_time,
        "comment": alert.comment,
        "payload": scrub_secret(raw, secrets),
        "status": "accepted",
        "enrichment_json": "{}",
    }
    for name, value in values.items():
        if isinstance(value, str) and name != "dedupe_key":
            values[name] = redact(value, secrets)
    return values


def list_alerts(
    engine: Engine,
    *,
    limit: int = 50,
    ticker: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> pd.DataFrame:
    """Received alerts, newest first, with their parsed fields, status and enrichment."""
    query = select(TradingViewAlertRow).order_by(col(TradingViewAlertRow.id).desc()).limit(max(1, limit))
    if ticker:
        query = query.where(TradingViewAlertRow.ticker == ticker.upper())
    if action:
        query = query.where(TradingViewAlertRow.action == action.upper())
    if since is not None:
        query = query.where(col(TradingViewAlertRow.received_at) >= since)
    with Session(engine) as session:
        rows = session.exec(query).all()
    records = []
    for row in rows:
        record = {name: getattr(row, name) for name in ALERT_COLUMNS}
        record["received_at"] = _utc(row.received_at)
        record["bar_time"] = _utc(row.bar_time)
        record["enrichment"] = json.loads(row.enrichment_json or "{}")
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*ALERT_COLUMNS, "enrichment"])


@dataclass(frozen=True)
class WebhookActivity:
    """What the sidecar has seen: request counts by outcome and reason, and the last alert."""

    total_requests: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    rejections: pd.DataFrame = field(default_factory=pd.DataFrame)  # outcome, status_code, reason, count
    last_alert_at: datetime | None = None
    last_alert: dict[str, Any] | None = None
    last_request_at: datetime | None = None


def webhook_activity(engine: Engine, *, top_reasons: int = 20, secrets: tuple[str, ...] = ()) -> WebhookActivity:
    """Counts of accepted and refused webhook requests (with the reasons) and the last alert received.

    Accepted and duplicate requests have an audit row each; refusals are counted per hour and reason.
    Reasons are shown with `secrets` (and any database password) masked, whatever older rows hold.
    """
    with Session(engine) as session:
        accepted = session.exec(
            select(WebhookRequestRow.outcome, func.count()).group_by(WebhookRequestRow.outcome)
        ).all()
        refused = session.exec(
            select(WebhookRefusalRow.outcome, func.sum(WebhookRefusalRow.count)).group_by(WebhookRefusalRow.outcome)
        ).all()
        reasons = session.exec(
            select(WebhookRefusalRow.outcome, WebhookRefusalRow.status_code, WebhookRefusalRow.reason,
                   func.sum(WebhookRefusalRow.count).label("n"))
            .group_by(col(WebhookRefusalRow.outcome), col(WebhookRefusalRow.status_code), col(WebhookRefusalRow.reason))
            .order_by(func.sum(WebhookRefusalRow.count).desc())
            .limit(top_reasons)
        ).all()
        request_times = (session.exec(select(func.max(WebhookRequestRow.received_at))).one(),
                         session.exec(select(func.max(WebhookRefusalRow.last_at))).one())
        last_request = max((t for t in map(_utc, request_times) if t is not None), default=None)
        last = session.exec(select(TradingViewAlertRow).order_by(col(TradingViewAlertRow.id).desc()).limit(1)).first()
    by_outcome: dict[str, int] = {}
    for outcome, count in [*accepted, *refused]:
        by_outcome[str(outcome)] = by_outcome.get(str(outcome), 0) + int(count or 0)
    rejections = pd.DataFrame(reasons, columns=["outcome", "status_code", "reason", "count"])
    rejections["reason"] = rejections["reason"].map(lambda reason: redact(str(reason), secrets))
    last_alert = None
    if last is not None:
        last_alert = {name: getattr(last, name) for name in ALERT_COLUMNS}
    return WebhookActivity(
        total_requests=sum(by_outcome.values()),
        by_outcome=by_outcome,
        rejections=rejections,
        last_alert_at=_utc(last.received_at) if last else None,
        last_alert=last_alert,
        last_request_at=_utc(last_request),
    )


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; they were stored as UTC.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
