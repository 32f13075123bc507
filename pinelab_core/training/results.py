"""What the Training and Registry pages show about a registered version, read back from the registry.

The registry keeps the manifest (metrics, folds, importance, options) and the out-of-sample frame
(`oof.parquet`: predictions, positions and the strategy's and buy-and-hold's net returns), so a result
reads the same after a reload, in another session, or from the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pinelab_core.backtest.metrics import equity_curve
from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError
from pinelab_core.training.jobs import get_job, job_logs

__all__ = ["VersionResults", "job_loss_curve", "job_versions", "version_results"]


@dataclass(frozen=True)
class VersionResults:
    """One version's out-of-sample story: scores, folds, predictions, equity, importance, flags."""

    ref: str
    name: str
    version: int
    kind: str
    status: str
    device: str
    label: dict
    metrics: dict[str, float]
    folds: pd.DataFrame
    oos: pd.DataFrame
    importance: pd.Series
    overfit: bool
    options: dict

    @property
    def equity(self) -> pd.DataFrame:
        """Compounded equity of the implied strategy and of buy-and-hold over the out-of-sample bars."""
        if not {"strategy_return", "buy_and_hold_return"} <= set(self.oos.columns):
            return pd.DataFrame(columns=["strategy", "buy_and_hold"])
        return pd.DataFrame({"strategy": equity_curve(self.oos["strategy_return"]),
                             "buy_and_hold": equity_curve(self.oos["buy_and_hold_return"])}, index=self.oos.index)


def version_results(settings: Settings, name: str, version: int) -> VersionResults:
    """Read a version's manifest and out-of-sample frame from the registry.

    Raises:
        ModelNotFoundError: no such version.
    """
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import get_version, load_oof

    info = get_version(settings, name, version)
    manifest = ModelManifest.read(info.path)
    try:
        oos = load_oof(settings, name, version)
    except ModelNotFoundError:
        oos = pd.DataFrame()
    folds = pd.DataFrame(manifest.fold_metrics)
    importance = pd.Series(manifest.feature_importance, dtype="float64").sort_values(ascending=False)
    return VersionResults(
        ref=info.ref, name=info.name, version=info.version, kind=info.kind, status=info.status, device=info.device,
        label=dict(manifest.label), metrics={k: v for k, v in info.metrics.items()}, folds=folds, oos=oos,
        importance=importance, overfit=bool(manifest.options.get("overfit", False)), options=dict(manifest.options),
    )


def job_versions(settings: Settings, job_id: int) -> list[tuple[str, int]]:
    """(name, version) of every model a finished training job registered."""
    result = get_job(settings, job_id).result
    return [(str(v["name"]), int(v["version"])) for v in result.get("versions", [])]


def job_loss_curve(settings: Settings, job_id: int) -> pd.DataFrame:
    """The loss points a job wrote (fold, step, train_loss, val_loss, stage), for the live loss curve."""
    logs = job_logs(settings, job_id)
    points = logs[logs["level"] == "METRIC"]
    return pd.DataFrame({"fold": points["fold"], "step": points["epoch"], "train_loss": points["train_loss"],
                         "val_loss": points["val_loss"], "stage": points["message"]}).reset_index(drop=True)
