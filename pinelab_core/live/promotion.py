"""Each model line's learning policy (retrain schedule and triggers, fine-tuning, promotion rule) and promotion.

The promotion rule is the trader's: a challenger is promoted when it has at least `min_shadow_bars` resolved
live calls on the same bars as its champion, beats its log loss by at least `min_log_loss_gain`, and the
Diebold-Mariano p-value is at most `max_p_value`. With `auto_promote` the scheduler promotes by itself; else the
Registry page shows the verdict and a button. Every promotion is a `promoted` learning event.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.live.challenger import HeadToHead
from pinelab_core.live.db import table_of, upsert
from pinelab_core.store.tables import ModelPolicyRow

__all__ = ["MODES", "SCHEDULES", "ModelPolicy", "PromotionVerdict", "get_policy", "promote", "promotion_verdict",
           "set_policy"]

SCHEDULES: tuple[str, ...] = ("off", "daily", "weekly")
MODES: tuple[str, ...] = ("full", "incremental")


@dataclass(frozen=True)
class ModelPolicy:
    """How a model line keeps learning (defaults: retrain on drift or decay, full retrains, promote by hand)."""

    model_name: str
    schedule: str = "off"
    on_drift: bool = True
    on_accuracy: bool = True
    mode: str = "full"
    min_shadow_bars: int = 50
    max_p_value: float = 0.05
    min_log_loss_gain: float = 0.0
    auto_promote: bool = False

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise DataValidationError(f"Unknown schedule {self.schedule!r}. Use one of: {', '.join(SCHEDULES)}.")
        if self.mode not in MODES:
            raise DataValidationError(f"Unknown retrain mode {self.mode!r}. Use one of: {', '.join(MODES)}.")
        if self.min_shadow_bars < 1 or not 0.0 < self.max_p_value <= 1.0:
            raise DataValidationError("min_shadow_bars must be at least 1 and max_p_value in (0, 1].")


@dataclass(frozen=True)
class PromotionVerdict:
    promote: bool
    reasons: list[str]


def get_policy(engine: Engine, model_name: str) -> ModelPolicy:
    """The model's policy (the defaults when none was set)."""
    table = table_of(ModelPolicyRow)
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.model_name == model_name)).mappings().first()
    if row is None:
        return ModelPolicy(model_name)
    return ModelPolicy(**{k: row[k] for k in ModelPolicy.__dataclass_fields__})


def set_policy(engine: Engine, model_name: str, **changes: object) -> ModelPolicy:
    """Change some fields of a model's policy (validated) and store it."""
    unknown = set(changes) - set(ModelPolicy.__dataclass_fields__) - {"model_name"}
    if unknown:
        raise DataValidationError(f"Unknown policy field(s) {sorted(unknown)}; known: "
                                  f"{', '.join(f for f in ModelPolicy.__dataclass_fields__ if f != 'model_name')}.")
    policy = ModelPolicy(**{**asdict(get_policy(engine, model_name)), **changes})  # type: ignore[arg-type]
    with engine.begin() as connection:
        upsert(connection, ModelPolicyRow, {**asdict(policy), "updated_at": datetime.now(UTC)}, ("model_name",))
    return policy


def promotion_verdict(result: HeadToHead, policy: ModelPolicy) -> PromotionVerdict:
    """Whether the head-to-head meets the policy's promotion rule, with a reason per condition."""
    checks = [
        (result.champion is not None, "a champion to compare with" if result.champion is not None
         else "no champion has live calls on the same bars"),
        (result.n_bars >= policy.min_shadow_bars, f"{result.n_bars} shared resolved bars (need "
         f"{policy.min_shadow_bars})"),
        (result.log_loss_gain >= policy.min_log_loss_gain and result.log_loss_gain == result.log_loss_gain,
         f"log-loss gain {result.log_loss_gain:+.4f} (need >= {policy.min_log_loss_gain:+.4f})"),
        (result.dm_p_value <= policy.max_p_value, f"Diebold-Mariano p = {result.dm_p_value:.3f} "
         f"(need <= {policy.max_p_value})"),
    ]
    return PromotionVerdict(all(ok for ok, _ in checks), [("pass: " if ok else "fail: ") + text
                                                          for ok, text in checks])


def promote(settings: Settings, engine: Engine, model_name: str, version: int, *, reason: str = "by hand",
            detail: dict[str, object] | None = None) -> bool:
    """Make `version` the active one of its name (the old champion becomes a candidate); log it once."""
    from pinelab_core.live.learning import record_event
    from pinelab_core.models.registry import get_version, set_status

    before = [v for v in _active(settings, model_name) if v != version]
    get_version(settings, model_name, version)  # a clear error for an unknown version
    set_status(settings, model_name, version, "active")
    return record_event(engine, "promoted", f"promoted|{model_name}|v{version}", model=model_name, version=version,
                        message=f"{model_name}@v{version} promoted over "
                                f"{', '.join(f'v{v}' for v in before) or 'no champion'} ({reason})",
                        detail={"previous": before, "reason": reason, **(detail or {})})


def _active(settings: Settings, model_name: str) -> list[int]:
    from pinelab_core.models.registry import list_versions

    return [v.version for v in list_versions(settings, status="active", name=model_name)]
