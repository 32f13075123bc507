"""Train the chart-pattern model on synthetic patterns, score it, and keep it in the model registry.

    result = train_pattern_model(settings, PatternTrainConfig(per_class=300, epochs=12))
    result.info.ref                    # "chart-patterns@v1", active
    result.held_out.per_class          # precision / recall per pattern on unseen synthetic windows
    detector = load_pattern_model(settings)

The train, validation (early stopping) and held-out sets are drawn with three different seeds derived from
`config.seed`, so the held-out score is on windows the net never saw. The same config gives the same model.
As a background job: `submit_pattern_training(settings, config)` (job kind "patterns").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError
from pinelab_core.patterns.evaluation import PatternEvaluation, evaluate_patterns, read_labelled_windows
from pinelab_core.patterns.synthetic import PATTERN_CLASSES, generate_patterns

if TYPE_CHECKING:
    from pinelab_core.models.base import ProgressCallback
    from pinelab_core.models.patterns import ChartPatternModel
    from pinelab_core.models.registry import ModelVersionInfo

__all__ = [
    "PATTERN_MODEL_NAME",
    "PatternTrainConfig",
    "PatternTrainResult",
    "latest_pattern_job",
    "load_pattern_model",
    "pattern_model_version",
    "run_pattern_job",
    "submit_pattern_training",
    "train_pattern_model",
]

#: The registry name of the chart-pattern model (one name for every market: patterns are scale-free).
PATTERN_MODEL_NAME = "chart-patterns"


@dataclass
class PatternTrainConfig:
    """How the pattern model is trained. The defaults take minutes on a laptop CPU, seconds on a GPU."""

    per_class: int = 300
    validation_per_class: int = 40
    test_per_class: int = 60
    seed: int = 0
    style: str = "candlestick"
    scales: list[int] = field(default_factory=lambda: [30, 60, 120])
    epochs: int = 12
    channels: int = 8
    batch_size: int = 64
    device: str = "auto"
    labelled_path: str = ""  # a hand-labelled CSV to score on as well (see `read_labelled_windows`)
    activate: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PatternTrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class PatternTrainResult:
    """The registered version and its scores on the held-out synthetic and (optionally) labelled sets."""

    info: ModelVersionInfo
    model: ChartPatternModel
    held_out: PatternEvaluation
    labelled: PatternEvaluation | None


def train_pattern_model(settings: Settings, config: PatternTrainConfig | None = None, *,
                        progress: ProgressCallback | None = None) -> PatternTrainResult:
    """Generate, train, score and register the pattern model (see the module docstring)."""
    from pinelab_core.models import create_model
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model

    config = config or PatternTrainConfig()
    seeds = (config.seed * 3 + 1, config.seed * 3 + 2, config.seed * 3 + 3)
    train = generate_patterns(config.per_class, seed=seeds[0], max_bars=max(config.scales))
    validation = generate_patterns(config.validation_per_class, seed=seeds[1], max_bars=max(config.scales))
    held = generate_patterns(config.test_per_class, seed=seeds[2], max_bars=max(config.scales))
    model: ChartPatternModel = create_model(  # type: ignore[assignment]
        "pattern_cnn", seed=config.seed, device=config.device, style=config.style, scales=list(config.scales),
        epochs=config.epochs, channels=config.channels, batch_size=config.batch_size)
    summary = model.fit_samples(train, validation=validation, progress=progress)
    held_out = evaluate_patterns(model, held)
    labelled = evaluate_patterns(model, read_labelled_windows(config.labelled_path)) if config.labelled_path else None
    metrics = {**held_out.metrics(), **(labelled.metrics("labelled_") if labelled else {}),
               "val_loss": summary.val_loss if summary.val_loss is not None else float("nan"),
               "best_epoch": float(summary.best_iteration or 0)}
    manifest = ModelManifest(
        name=PATTERN_MODEL_NAME, kind=model.kind, symbol="synthetic", timeframe="any", source="synthetic",
        label={"kind": "pattern", "horizon": 0, "classes": list(PATTERN_CLASSES)},
        data_fingerprint=f"generate_patterns(per_class={config.per_class}, seed={seeds[0]})",
        seed=config.seed, options={"config": config.to_dict(), **model.params}, metrics=metrics,
    )
    info = register_model(settings, model, manifest, activate=config.activate)
    return PatternTrainResult(info, model, held_out, labelled)


def pattern_model_version(settings: Settings, version: int | None = None) -> ModelVersionInfo:
    """The registry entry of the active (else newest) pattern model, or of `version`.

    Raises:
        ModelNotFoundError: none is trained yet; the message says how to train one.
    """
    from pinelab_core.models.registry import get_version

    try:
        return get_version(settings, PATTERN_MODEL_NAME, version)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            "No chart-pattern model is trained yet. Train it with `pinelab patterns train` or the Charts page's "
            "button (about a minute on a CPU), or register the one PineLab ships: `pinelab patterns install` (the "
            f"Charts page's 'Use the shipped pattern model'). ({exc})") from exc


def load_pattern_model(settings: Settings, version: int | None = None, *, device: str = "cpu") -> ChartPatternModel:
    """The active (else newest) registered pattern model, verified like any registry model.

    Raises:
        ModelNotFoundError: none is trained yet; the message says how to train one.
    """
    from pinelab_core.models.registry import load_version

    info = pattern_model_version(settings, version)
    return load_version(settings, info.name, info.version, device=device).model  # type: ignore[return-value]


def submit_pattern_training(settings: Settings, config: PatternTrainConfig | None = None) -> int:
    """Queue pattern-model training as a background job; returns the job id."""
    from pinelab_core.training.jobs import submit_job

    return submit_job(settings, "patterns", (config or PatternTrainConfig()).to_dict())


def latest_pattern_job(settings: Settings) -> Any:
    """The newest "patterns" job (a `JobInfo`), or None: the Charts page shows its progress or its failure."""
    from pinelab_core.training.jobs import list_jobs

    return next((job for job in list_jobs(settings, limit=50) if job.kind == "patterns"), None)


def run_pattern_job(settings: Settings, params: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """The worker's entry point for a "patterns" job: train with progress per epoch, return the scores."""
    config = PatternTrainConfig.from_dict(params)

    def on_epoch(tick: Any) -> None:
        reporter.check_cancel()
        reporter.progress(tick.step / max(tick.total, 1), f"pattern model epoch {tick.step}/{tick.total}")
        reporter.metric(fold=None, epoch=tick.step, train_loss=tick.train_loss, val_loss=tick.val_loss)

    reporter.progress(0.0, "generating synthetic patterns")
    result = train_pattern_model(settings, config, progress=on_epoch)
    reporter.log(f"registered {result.info.ref}: held-out accuracy {result.held_out.accuracy:.3f}, "
                 f"macro F1 {result.held_out.macro_f1:.3f}")
    return {"versions": [{"name": result.info.name, "version": result.info.version}],
            "metrics": result.info.metrics, "path": str(Path(result.info.path))}
