"""The live loop's tables: scheduler, paper accounts, notifications, models that keep learning.

Split from `store.tables` (which re-exports every name here, so the schema still reads from one import).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from pinelab_core.store.tables import utcnow  # defined before tables imports this module

# --- the live loop: scheduler, paper accounts, notifications, models that keep learning -------------------
# Every row that must exist once has a natural unique key, written with INSERT ... ON CONFLICT DO NOTHING.

__all__ = [
    "LearningEventRow",
    "ModelPerformanceRow",
    "ModelPolicyRow",
    "NotificationDeliveryRow",
    "NotificationRow",
    "NotificationRuleRow",
    "PaperAccountRow",
    "PaperAlertRow",
    "PaperDecisionRow",
    "PaperEquityRow",
    "PaperFillRow",
    "PaperOrderRow",
    "RuleRegimeRow",
    "SchedulerLockRow",
    "SchedulerStepRow",
    "ShadowPredictionRow",
    "WatchedMarketRow",
]


class WatchedMarketRow(SQLModel, table=True):
    """A market the scheduler (`pinelab run`) keeps up to date; `last_bar_time` is the newest bar it processed."""

    __tablename__ = "watched_market"
    __table_args__ = (UniqueConstraint("data_source", "symbol", "timeframe", name="uq_watched_market"),)
    id: int | None = Field(default=None, primary_key=True)
    data_source: str = Field(max_length=200)
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    enabled: bool = True
    horizon: int = 5
    last_bar_time: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SchedulerLockRow(SQLModel, table=True):
    """The scheduler's lease: one row per lock name; a second `pinelab run` finds it held and refuses."""

    __tablename__ = "scheduler_lock"
    name: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=128)  # host:pid:token of the holder
    host: str = Field(default="", max_length=128)
    pid: int = 0
    acquired_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    stop_requested: bool = False
    options_json: str = Field(default="{}", sa_column=Column(Text))


class SchedulerStepRow(SQLModel, table=True):
    """One step (desk, predictions, paper, ...) of one market's bar, recorded once; a restart skips done steps."""

    __tablename__ = "scheduler_step"
    __table_args__ = (Index("uq_scheduler_step", "data_source", "symbol", "timeframe", "bar_time", "step",
                            unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    data_source: str = Field(max_length=200)
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    bar_time: datetime
    step: str = Field(max_length=32)
    status: str = Field(default="ok", max_length=16)  # ok | failed | skipped
    detail: str = Field(default="", sa_column=Column(Text))
    started_at: datetime = Field(default_factory=utcnow, index=True)
    seconds: float = 0.0


class PaperAccountRow(SQLModel, table=True):
    """A paper account: what it follows, its costs and sizing (`execution_json`), risk limits and kill switch."""

    __tablename__ = "paper_account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=128)
    data_source: str = Field(max_length=200)
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    strategy: str = Field(max_length=128)  # consensus | rule:<name> | ensemble | rl:<name> | tradingview | alerts
    sizing: str = Field(default="fixed", max_length=16)  # fixed: direction x fraction | signal: the source's size
    init_cash: float = 10_000.0
    execution_json: str = Field(default="{}", sa_column=Column(Text))
    risk_json: str = Field(default="{}", sa_column=Column(Text))
    start_time: datetime | None = None  # the first bar it decides at
    status: str = Field(default="active", max_length=16)  # active | killed | stopped
    kill_time: datetime | None = None  # the bar whose close tripped the kill switch
    kill_reason: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class PaperAlertRow(SQLModel, table=True):
    """An alert taken in by a paper account, once per (account, alert key): duplicates are dropped here."""

    __tablename__ = "paper_alert"
    __table_args__ = (UniqueConstraint("account_id", "alert_key", name="uq_paper_alert"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="paper_account.id", index=True)
    alert_key: str = Field(max_length=128)
    alert_time: datetime
    bar_time: datetime  # the bar in progress when the alert arrived: decided at its close
    action: str = Field(max_length=8)  # buy | sell | flat
    size: float | None = None
    price: float | None = None
    received_at: datetime = Field(default_factory=utcnow)


class PaperOrderRow(SQLModel, table=True):
    """What one alert (or strategy decision) did to the position state machine, once per (account, alert, bar)."""

    __tablename__ = "paper_order"
    __table_args__ = (UniqueConstraint("account_id", "alert_key", "bar_time", name="uq_paper_order"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="paper_account.id", index=True)
    alert_key: str = Field(max_length=128)
    bar_time: datetime
    from_state: str = Field(max_length=24)
    to_state: str = Field(max_length=24)
    target: float | None = None
    status: str = Field(max_length=16)  # order | unchanged | late
    created_at: datetime = Field(default_factory=utcnow)


class PaperDecisionRow(SQLModel, table=True):
    """The target position a paper account decided at a bar's close (NULL = hold); the engine's input."""

    __tablename__ = "paper_decision"
    __table_args__ = (UniqueConstraint("account_id", "bar_time", name="uq_paper_decision"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="paper_account.id", index=True)
    bar_time: datetime
    target: float | None = None
    reason: str = Field(default="", max_length=64)
    decided_at: datetime = Field(default_factory=utcnow)


class PaperFillRow(SQLModel, table=True):
    """A fill of a paper account at a bar's open, as the execution engine priced it (one per account and bar)."""

    __tablename__ = "paper_fill"
    __table_args__ = (UniqueConstraint("account_id", "bar_time", name="uq_paper_fill"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="paper_account.id", index=True)
    bar_time: datetime
    units: float  # signed: + bought, - sold
    price: float  # the engine's fill price (spread and slippage included)
    reference_price: float  # the bar's open the model priced against
    decision_price: float  # the close (or the alert's price) when the order was decided
    fees: float = 0.0
    position_after: float = 0.0  # units held after the fill
    created_at: datetime = Field(default_factory=utcnow)


class PaperEquityRow(SQLModel, table=True):
    """A paper account marked at a bar's close (one per account and bar)."""

    __tablename__ = "paper_equity"
    __table_args__ = (UniqueConstraint("account_id", "bar_time", name="uq_paper_equity"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="paper_account.id", index=True)
    bar_time: datetime
    equity: float
    cash: float
    units: float
    close: float


class NotificationRuleRow(SQLModel, table=True):
    """When to tell the trader (event, market, threshold) and how (webhook, email or the dashboard inbox)."""

    __tablename__ = "notification_rule"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=128)
    event: str = Field(max_length=32)  # consensus_flip | confidence_above | drift_alert | kill_switch | job_failed
    symbol: str = Field(default="", max_length=64)  # "" = every market
    timeframe: str = Field(default="", max_length=8)
    threshold: float | None = None
    channel: str = Field(max_length=16)  # webhook | email | inbox
    target: str = Field(default="", max_length=500)  # URL or address
    body_format: str = Field(default="json", max_length=16)  # json | slack | discord | telegram
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class NotificationRow(SQLModel, table=True):
    """One message of one rule, stored once per (rule, event key) so the same event never notifies twice."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("rule_id", "event_key", name="uq_notification"),)
    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="notification_rule.id", index=True)
    event_key: str = Field(max_length=200)
    title: str = Field(default="", max_length=300)
    body: str = Field(default="", sa_column=Column(Text))
    data_json: str = Field(default="{}", sa_column=Column(Text))
    status: str = Field(default="pending", index=True, max_length=16)  # pending | sending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    last_error: str = Field(default="", sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class NotificationDeliveryRow(SQLModel, table=True):
    """Every delivery attempt of a notification, successful or not."""

    __tablename__ = "notification_delivery"
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    attempt: int
    channel: str = Field(max_length=16)
    target: str = Field(default="", max_length=500)  # the URL without credentials, or the address
    ok: bool
    status_code: int | None = None
    error: str = Field(default="", sa_column=Column(Text))
    seconds: float = 0.0
    at: datetime = Field(default_factory=utcnow)


class ModelPolicyRow(SQLModel, table=True):
    """How a model line keeps learning: retrain schedule and triggers, fine-tuning, and its promotion rule."""

    __tablename__ = "model_policy"
    model_name: str = Field(primary_key=True, max_length=128)
    schedule: str = Field(default="off", max_length=8)  # off | daily | weekly
    on_drift: bool = True
    on_accuracy: bool = True
    mode: str = Field(default="full", max_length=16)  # full | incremental (nets: fine-tune with a replay buffer)
    min_shadow_bars: int = 50
    max_p_value: float = 0.05
    min_log_loss_gain: float = 0.0
    auto_promote: bool = False
    updated_at: datetime = Field(default_factory=utcnow)


class ShadowPredictionRow(SQLModel, table=True):
    """A champion's or challenger's own call at a bar, logged beside the ensemble's and never acted on.

    Only out-of-sample calls are logged (the bar lies after the version's training range), so the head-to-head
    is a live record; the outcome fills in once the label's horizon has passed.
    """

    __tablename__ = "shadow_prediction"
    __table_args__ = (Index("uq_shadow_prediction", "model_name", "version", "data_source", "symbol", "timeframe",
                            "bar_time", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=128, index=True)
    version: int
    role: str = Field(max_length=16)  # champion | challenger
    data_source: str = Field(max_length=200)
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    bar_time: datetime
    horizon: int
    prob_down: float
    prob_sideways: float
    prob_up: float
    close_at_bar: float
    outcome: int | None = None  # the realised class 0/1/2, once known
    realised_return: float | None = None  # log return over the horizon
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class LearningEventRow(SQLModel, table=True):
    """Something the system learned or decided: a retrain, a challenger, a promotion, a drift alert (once per key)."""

    __tablename__ = "learning_event"
    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(unique=True, max_length=200)
    kind: str = Field(max_length=32, index=True)
    time: datetime = Field(default_factory=utcnow, index=True)
    model_name: str = Field(default="", max_length=128)
    version: int | None = None
    job_id: int | None = None
    message: str = Field(default="", sa_column=Column(Text))
    detail_json: str = Field(default="{}", sa_column=Column(Text))


class RuleRegimeRow(SQLModel, table=True):
    """The rule-based regime of a market as seen at a bar's close (computed from the bars up to it)."""

    __tablename__ = "rule_regime"
    data_source: str = Field(primary_key=True, max_length=200)
    symbol: str = Field(primary_key=True, max_length=64)
    timeframe: str = Field(primary_key=True, max_length=8)
    bar_time: datetime = Field(primary_key=True)
    label: str = Field(max_length=32)  # e.g. up_calm (signals.market_regime)
    trend_regime: float | None = None  # +1 up, -1 down, 0 none (ADX)
    vol_regime: float | None = None  # 0 calm, 1 normal, 2 stressed
    vol_percentile: float | None = None
    efficiency_ratio: float | None = None
    recorded_at: datetime = Field(default_factory=utcnow)


class ModelPerformanceRow(SQLModel, table=True):
    """A model version's live record on one market, snapshotted once per day (of bar time)."""

    __tablename__ = "model_performance"
    __table_args__ = (Index("uq_model_performance", "model_name", "version", "data_source", "symbol", "timeframe",
                            "day", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(max_length=128)
    version: int
    role: str = Field(max_length=16)
    data_source: str = Field(max_length=200)
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    day: datetime
    n: int = 0
    hit_rate: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    strategy_return: float | None = None
    created_at: datetime = Field(default_factory=utcnow)
