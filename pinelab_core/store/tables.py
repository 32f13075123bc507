"""Every table PineLab keeps (the live loop's in `store.live_tables`, re-exported here), read from one import.

Times are stored as timezone-aware UTC datetimes except the price cache, which keys bars by
epoch seconds (`ts`) for fast bulk upserts. Free-form structured fields are JSON text columns
(`*_json`); the query functions in `store.queries` and the domain packages decode them into
typed records.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AggregatedSignalRow",
    "ApiTokenRow",
    "BacktestDetailRow",
    "BacktestRow",
    "BacktestTrialRow",
    "FeatureSnapshotRow",
    "JobLogRow",
    "MarketRegimeRow",
    "ModelRow",
    "ModelVersionRow",
    "NewsHeadlineRow",
    "PredictionRow",
    "PriceBarRow",
    "PriceFetchRow",
    "SchemaVersion",
    "SignalOutcomeRow",
    "SourceWeightRow",
    "JobRow",
    "TradingViewAlertRow",
    "WebhookRefusalRow",
    "WebhookRequestRow",
    "model_set_key",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def model_set_key(model_versions_json: str) -> str:
    """The `prediction.model_key` of a model set: a fixed-width hash of its versions and label spec JSON."""
    return hashlib.sha256(model_versions_json.encode("utf-8")).hexdigest()


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "schema_version"
    id: int = Field(default=1, primary_key=True)
    version: int
    applied_at: datetime = Field(default_factory=utcnow)


# --- market data -----------------------------------------------------------------------------


class PriceBarRow(SQLModel, table=True):
    """One cached OHLCV bar of a network source, keyed by (source, symbol, timeframe, ts)."""

    __tablename__ = "price_bar"
    source: str = Field(primary_key=True, max_length=64)
    symbol: str = Field(primary_key=True, max_length=64)
    timeframe: str = Field(primary_key=True, max_length=8)
    ts: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    open: float
    high: float
    low: float
    close: float
    volume: float


class PriceFetchRow(SQLModel, table=True):
    """When a (source, symbol, timeframe) was last fetched from the network, and how it went."""

    __tablename__ = "price_fetch"
    source: str = Field(primary_key=True, max_length=64)
    symbol: str = Field(primary_key=True, max_length=64)
    timeframe: str = Field(primary_key=True, max_length=8)
    fetched_at: datetime = Field(default_factory=utcnow)
    rows: int = 0
    last_error: str = ""


class FeatureSnapshotRow(SQLModel, table=True):
    """A cached feature matrix on disk, found by data fingerprint + feature-set version."""

    __tablename__ = "feature_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    data_fingerprint: str = Field(index=True, max_length=64)
    feature_set_version: str = Field(max_length=64)
    groups: str = ""
    path: str
    n_rows: int = 0
    n_columns: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class MarketRegimeRow(SQLModel, table=True):
    """The HMM regime of one bar as known at its close (`structure.regime_history`), one row per market and bar.

    A regime is a pure function of the bars up to its bar (forward-filtered, walk-forward fits), so a row is
    written once and a rewrite of the same bar stores the same values.
    """

    __tablename__ = "market_regime"
    data_source: str = Field(primary_key=True, max_length=64)
    symbol: str = Field(primary_key=True, max_length=64)
    timeframe: str = Field(primary_key=True, max_length=8)
    time: datetime = Field(primary_key=True)
    regime: str = Field(max_length=32)
    probability: float
    n_states: int
    probabilities_json: str = Field(default="{}", sa_column=Column(Text))  # every named regime's probability
    created_at: datetime = Field(default_factory=utcnow)


# --- models and training ---------------------------------------------------------------------


class ModelRow(SQLModel, table=True):
    """A named model line (e.g. 'btc-1h-direction'); its versions hold the artifacts."""

    __tablename__ = "model"
    name: str = Field(primary_key=True, max_length=128)
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class ModelVersionRow(SQLModel, table=True):
    """One trained artifact under models/<name>/<version>/ with its manifest."""

    __tablename__ = "model_version"
    __table_args__ = (UniqueConstraint("model_name", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    model_name: str = Field(foreign_key="model.name", index=True, max_length=128)
    version: int
    kind: str = Field(max_length=32)  # registry name: lightgbm, xgboost, lstm, ...
    status: str = Field(default="candidate", max_length=16)  # candidate|active|challenger|archived
    symbol: str = ""
    timeframe: str = ""
    label: str = ""
    horizon: int = 0
    path: str = ""
    checksum: str = ""
    device: str = ""
    metrics_json: str = Field(default="{}", sa_column=Column(Text))
    manifest_json: str = Field(default="{}", sa_column=Column(Text))
    job_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class JobRow(SQLModel, table=True):
    """A background job (training, tuning, RL): its state, progress and result."""

    __tablename__ = "job"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="train", max_length=32)
    status: str = Field(default="queued", index=True, max_length=16)  # queued|running|succeeded|failed|cancelled
    params_json: str = Field(default="{}", sa_column=Column(Text))
    result_json: str = Field(default="{}", sa_column=Column(Text))
    progress: float = 0.0
    stage: str = ""
    pid: int | None = None
    cancel_requested: bool = False
    error: str = Field(default="", sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


class JobLogRow(SQLModel, table=True):
    """A log line or a metric point (fold, epoch, losses) of a job."""

    __tablename__ = "job_log"
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    level: str = Field(default="INFO", max_length=8)
    message: str = Field(default="", sa_column=Column(Text))
    fold: int | None = None
    epoch: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None


# --- predictions -------------------------------------------------------------------------------


class PredictionRow(SQLModel, table=True):
    """A logged ensemble prediction; the outcome columns fill in once its horizon has passed.

    One row per (source, symbol, timeframe, bar_time, model set): `model_key` hashes the model set
    (`model_versions_json`), and loggers upsert on that key, so two processes logging the same call store it once.
    """

    __tablename__ = "prediction"
    __table_args__ = (
        Index("ix_prediction_symbol_bar", "symbol", "timeframe", "bar_time"),
        Index("uq_prediction_call", "source", "symbol", "timeframe", "bar_time", "model_key", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    source: str = ""
    symbol: str = Field(max_length=64)
    timeframe: str = Field(max_length=8)
    bar_time: datetime
    horizon: int
    signal: str = Field(max_length=8)
    confidence: float
    probabilities_json: str = Field(default="{}", sa_column=Column(Text))
    members_json: str = Field(default="{}", sa_column=Column(Text))
    model_versions_json: str = Field(default="{}", sa_column=Column(Text))
    model_key: str = Field(default="", max_length=64)  # model_set_key(model_versions_json)
    in_sample: bool = False  # the bar was not the newest, or lay inside the models' training range
    input_fingerprint: str = ""
    close_at_bar: float | None = None
    realised_return: float | None = None
    outcome: str | None = None  # the realised class, once known
    hit: bool | None = None
    resolved_at: datetime | None = None


# --- signals -----------------------------------------------------------------------------------


class TradingViewAlertRow(SQLModel, table=True):
    """An accepted TradingView alert, stored once (dedupe_key is unique)."""

    __tablename__ = "tradingview_alert"
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=64)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    ticker: str = Field(index=True, max_length=64)
    exchange: str = ""
    action: str = Field(max_length=8)
    price: float | None = None
    contracts: float | None = None
    order_id: str = ""
    strategy: str = ""
    interval: str = ""
    market_position: str = ""
    bar_time: datetime | None = None
    comment: str = ""
    payload: str = Field(default="", sa_column=Column(Text))
    status: str = Field(default="accepted", max_length=16)  # accepted|enriched|enrich_failed
    enrichment_json: str = Field(default="{}", sa_column=Column(Text))


class WebhookRequestRow(SQLModel, table=True):
    """Audit trail of the alerts let in: one row per accepted or duplicate request (kept PINELAB_WEBHOOK_AUDIT_DAYS).

    Refused requests are counted in `webhook_refusal` instead, so a flood of junk cannot grow the store.
    """

    __tablename__ = "webhook_request"
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    client: str = ""
    status_code: int
    outcome: str = Field(max_length=32)  # accepted|duplicate
    reason: str = ""
    alert_id: int | None = None


class WebhookRefusalRow(SQLModel, table=True):
    """Refused webhook requests, counted per hour, outcome, status and (secret-free) reason."""

    __tablename__ = "webhook_refusal"
    period_start: datetime = Field(primary_key=True)  # the hour the refusals arrived in (UTC)
    outcome: str = Field(primary_key=True, max_length=32)  # unauthorized|malformed|invalid|too_large|rate_limited|...
    status_code: int = Field(primary_key=True)
    reason: str = Field(primary_key=True, max_length=300)
    count: int = 0
    last_at: datetime = Field(default_factory=utcnow)
    last_client: str = Field(default="", max_length=64)


class AggregatedSignalRow(SQLModel, table=True):
    """The fused score for a market at a bar, with each source's contribution (one row per market and bar).

    `inputs_at` is when the round that computed it read its inputs; a stored consensus is only ever
    replaced by one computed from inputs read at least as late (see `signals.desk`).
    """

    __tablename__ = "aggregated_signal"
    __table_args__ = (Index("uq_aggregated_signal_bar", "data_source", "symbol", "timeframe", "time", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    data_source: str = Field(default="", max_length=64)
    symbol: str = Field(index=True, max_length=64)
    timeframe: str = ""
    time: datetime
    score: float
    confidence: float
    position_size: float
    action: str = Field(max_length=8)
    contributions_json: str = Field(default="{}", sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    inputs_at: datetime = Field(default_factory=utcnow)


class SignalOutcomeRow(SQLModel, table=True):
    """A single source's signal and, after its horizon, what it earned (one per source, market, bar and horizon)."""

    __tablename__ = "signal_outcome"
    __table_args__ = (Index("uq_signal_outcome_call", "source", "data_source", "symbol", "timeframe", "time", "horizon",
                            unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True, max_length=64)
    data_source: str = Field(default="", max_length=64)  # where the judging bars came from ("demo" = simulated)
    symbol: str = Field(index=True, max_length=64)
    timeframe: str = ""
    direction: int
    strength: float = 1.0
    time: datetime
    horizon: int = 1
    regime: str = ""
    entry_price: float | None = None
    ref_id: int | None = None  # e.g. the alert or prediction row this signal came from
    realised_return: float | None = None
    hit: bool | None = None
    duration_bars: int | None = None
    exit_time: datetime | None = None
    reward: float | None = None  # the volatility-scaled score that moved the source's weight
    resolved_at: datetime | None = None


class SourceWeightRow(SQLModel, table=True):
    """The learned weight of a signal source on one market (data source, symbol, timeframe)."""

    __tablename__ = "source_weight"
    source: str = Field(primary_key=True, max_length=64)
    data_source: str = Field(default="", primary_key=True, max_length=64)  # "demo" keeps simulated apart
    symbol: str = Field(default="", primary_key=True, max_length=64)
    timeframe: str = Field(default="", primary_key=True, max_length=8)
    weight: float
    n_outcomes: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class BacktestRow(SQLModel, table=True):
    """A stored backtest run: market, strategy, parameters (with the execution options and data source) and stats.

    Its equity curve and trades live in `backtest_detail` (one row per run), so listing runs stays light.
    """

    __tablename__ = "backtest"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    symbol: str = ""
    timeframe: str = ""
    strategy: str = ""
    params_json: str = Field(default="{}", sa_column=Column(Text))
    metrics_json: str = Field(default="{}", sa_column=Column(Text))


class BacktestDetailRow(SQLModel, table=True):
    """A stored run's equity curve (downsampled to at most a few thousand points) and its trades, as JSON."""

    __tablename__ = "backtest_detail"
    backtest_id: int = Field(foreign_key="backtest.id", primary_key=True)
    equity_json: str = Field(default="{}", sa_column=Column(Text))
    trades_json: str = Field(default="[]", sa_column=Column(Text))


class BacktestTrialRow(SQLModel, table=True):
    """One trial of a parameter sweep, stored once per (study, parameter hash) so a killed sweep resumes."""

    __tablename__ = "backtest_trial"
    __table_args__ = (UniqueConstraint("study", "param_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    study: str = Field(index=True, max_length=128)
    param_hash: str = Field(max_length=64)
    strategy: str = Field(default="", max_length=64)
    params_json: str = Field(default="{}", sa_column=Column(Text))
    metrics_json: str = Field(default="{}", sa_column=Column(Text))
    moments_json: str = Field(default="[]", sa_column=Column(Text))  # block moments for DSR and PBO
    created_at: datetime = Field(default_factory=utcnow)


# --- insights API ------------------------------------------------------------------------------


class ApiTokenRow(SQLModel, table=True):
    """A bearer token of the read-only insights API. Only its SHA-256 is kept (the token is shown once, when
    created); a revoked token keeps its row, with `revoked_at`, so the list says what was revoked and when."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the token's first characters, to recognise it in a list
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


# --- reinforcement-learning agents ---------------------------------------------------------------


class AgentProgressRow(SQLModel, table=True):
    """One progress point of an agent's training inside a job: the live learning curves of the Training page."""

    __tablename__ = "agent_progress"
    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    run: str = Field(default="", max_length=128)  # e.g. "DEMO-EQUITY ppo seed 1, fold 2 of 3"
    timesteps: int = 0
    total: int = 0
    episode_reward: float | None = None
    loss: float | None = None
    timesteps_per_second: float | None = None


# --- news sentiment ----------------------------------------------------------------------------


class NewsHeadlineRow(SQLModel, table=True):
    """A news headline about a market with one scorer's sentiment (one row per headline and scorer).

    `published_at` decides when the headline may count (from the bar after it); `origin` says where it came
    from (yahoo, csv, webhook, demo). Rescoring with another scorer adds rows, never changes one.
    """

    __tablename__ = "news_headline"
    __table_args__ = (Index("uq_news_headline", "symbol_key", "published_at", "text_hash", "scorer", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    symbol: str = Field(max_length=64)
    symbol_key: str = Field(index=True, max_length=64)  # symbol_key(symbol): one market across spellings
    published_at: datetime
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_hash: str = Field(max_length=64)
    publisher: str = Field(default="", max_length=200)
    url: str = Field(default="", max_length=1000)
    origin: str = Field(default="", max_length=16)  # yahoo|csv|webhook|demo
    ref_id: int | None = None  # the tradingview_alert row of a webhook headline
    scorer: str = Field(max_length=128)
    score: float
    label: str = Field(max_length=8)
    sentences_json: str = Field(default="[]", sa_column=Column(Text))
    scored_at: datetime = Field(default_factory=utcnow)


# The live loop's tables live in their own module (registered on the same metadata when this one loads).
from pinelab_core.store.live_tables import *  # noqa: E402, F403
from pinelab_core.store.live_tables import __all__ as _live_names  # noqa: E402

__all__ += _live_names
