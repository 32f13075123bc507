"""The live loop: the scheduler, paper accounts on the execution engine, notifications, models that keep learning.

Scheduler (`pinelab run`)
    watch_market(engine, source, symbol, timeframe) / unwatch_market / list_watched
    run_scheduler(settings, SchedulerOptions(interval_s=30, replay_from=None, ...)) -> SchedulerSummary
    start_scheduler(settings, ...) -> pid (detached, for the dashboard); request_stop(engine); lease_info(engine)
    step_log(engine) -> the recorded steps (desk, predict, outcomes, shadow, regime, paper, learning, notify)
    live_overview(engine) -> LiveOverview (scheduler, watched markets, every account's state, newest steps)
Paper accounts (no real order is ever sent)
    create_account(engine, name, source=, symbol=, timeframe=, strategy="consensus", init_cash=, sizing=,
                   risk=RiskLimits(max_position, max_daily_loss, max_drawdown), fees=, slippage=, ...)
    list_accounts / get_account / set_account_status(engine, id, "active" | "stopped")
    take_alerts(engine, account, [AlertIn(key, time, action, size)], bars) -> IntakeResult (duplicates, late)
    advance_account(engine, account, ohlcv) -> AdvanceResult (fills through backtest.Stepper; the kill switch)
    paper_report(engine, account, ohlcv) -> PaperReport (equity vs buy-and-hold, fills, orders, P&L, Reconciliation)
    replay_alerts(ohlcv, alerts, ...) / read_alerts_csv(path) -> ReplayResult (`pinelab paper replay`)
    FOLLOWERS, register_follower("rl", follower)   what accounts can follow, by name
Notifications
    add_rule(engine, name, event, channel="inbox" | "webhook" | "email", target=, body_format=, threshold=)
    queue_events(engine, [Event]) / deliver_pending(engine) / inbox(engine) / delivery_log(engine)
Models that keep learning
    request_retrain(settings, engine, name, version, reason=, key=, end=, mode="full" | "incremental")
    fine_tune_version(settings, name, version, ohlcv) -> FineTuneResult (IncrementalReport vs a full retrain)
    head_to_head(engine, model, ohlcv=) -> HeadToHead; get_policy / set_policy; promotion_verdict; promote
    learning_frames(engine) -> LearningFrames (events, regimes as seen at each bar, daily performance)

Names load lazily, like `pinelab_core.signals`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "SchedulerOptions": "scheduler", "SchedulerSummary": "scheduler", "WatchedMarket": "scheduler",
    "watch_market": "scheduler", "unwatch_market": "scheduler", "list_watched": "scheduler",
    "run_scheduler": "scheduler", "start_scheduler": "scheduler", "step_log": "scheduler",
    "scheduler_log_path": "scheduler",
    "STEPS": "steps",
    "LeaseInfo": "lock", "SchedulerRunningError": "lock", "lease_info": "lock", "request_stop": "lock",
    "PaperAccount": "accounts", "RiskLimits": "accounts", "create_account": "accounts", "list_accounts": "accounts",
    "get_account": "accounts", "set_account_status": "accounts",
    "AlertIn": "intake", "IntakeResult": "intake", "take_alerts": "intake",
    "PositionState": "positions", "transition": "positions",
    "AdvanceResult": "paper", "advance_account": "paper",
    "PaperReport": "report", "Reconciliation": "report", "paper_report": "report",
    "ReplayResult": "replay", "replay_alerts": "replay", "read_alerts_csv": "replay",
    "FOLLOWERS": "followers", "register_follower": "followers",
    "Event": "notify", "NotificationRule": "notify", "add_rule": "notify", "list_rules": "notify",
    "disable_rule": "notify", "queue_events": "notify", "inbox": "notify", "mark_read": "notify",
    "delivery_log": "notify", "EVENTS": "notify",
    "SmtpConfig": "delivery", "deliver_pending": "delivery",
    "request_retrain": "retrain", "run_retrain_job": "retrain",
    "FineTuneResult": "incremental", "IncrementalReport": "incremental", "fine_tune_version": "incremental",
    "HeadToHead": "challenger", "head_to_head": "challenger", "shadow_frame": "challenger",
    "ModelPolicy": "promotion", "get_policy": "promotion", "set_policy": "promotion",
    "promotion_verdict": "promotion", "promote": "promotion",
    "LearningFrames": "learning", "learning_frames": "learning", "record_event": "learning",
    "LiveOverview": "overview", "live_overview": "overview",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinelab_core.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pinelab_core.live.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
