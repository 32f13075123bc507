"""Chart patterns: a synthetic generator, a CNN recogniser in the registry, causal detection, an event study.

    generate_patterns(per_class=200, seed=0) -> PatternSamples     labelled windows, pattern ends at last bar
    render_image(window, "candlestick"|"line") -> (128, 128)        what the net sees; render_series -> (4, 128)
    train_pattern_model(settings, PatternTrainConfig()) -> result   train, score, register "chart-patterns"
    install_pretrained_pattern_model(settings) -> info              register the model PineLab ships instead
    submit_pattern_training(settings, config) -> job id             the same as a background job
    latest_pattern_job(settings) -> JobInfo | None                  its progress, result or failure
    load_pattern_model(settings) / cached_pattern_model(settings)  the active version, verified
    evaluate_patterns(model, samples) -> PatternEvaluation          per-class precision/recall, confusion
    read_labelled_windows(csv) -> PatternSamples                    a hand-labelled set
    scan_patterns(ohlcv, model, last=500) -> PatternScan            probabilities per bar (causal)
    pattern_events(scan, threshold=0.5) -> frame                    detections at the bar they complete
    patterns_now(scan) -> frame                                     the newest bar's strongest patterns
    pattern_features(ohlcv, model) -> frame                         probabilities as feature columns
    pattern_event_study(ohlcv, events, horizon=10, cost=0.001)      returns after detection vs random entry
    analyse_patterns(ohlcv, settings) -> PatternReport              all of the above for the Charts page and CLI

Nothing here imports torch or the model registry at import time (the registry imports `render` and
`synthetic` to hold the pattern model).
"""

from pinelab_core.patterns.detect import (
    PatternScan,
    cached_pattern_model,
    pattern_events,
    pattern_features,
    patterns_now,
    scan_patterns,
)
from pinelab_core.patterns.evaluation import PatternEvaluation, evaluate_patterns, read_labelled_windows
from pinelab_core.patterns.pretrained import PRETRAINED_DIR, install_pretrained_pattern_model
from pinelab_core.patterns.render import IMAGE_SIZE, render_batch, render_image, render_series
from pinelab_core.patterns.report import PatternReport, analyse_patterns
from pinelab_core.patterns.study import pattern_event_study
from pinelab_core.patterns.synthetic import (
    NO_PATTERN,
    PATTERN_CLASSES,
    PATTERN_DIRECTION,
    PatternSamples,
    generate_patterns,
)
from pinelab_core.patterns.training import (
    PATTERN_MODEL_NAME,
    PatternTrainConfig,
    PatternTrainResult,
    latest_pattern_job,
    load_pattern_model,
    pattern_model_version,
    submit_pattern_training,
    train_pattern_model,
)

__all__ = [
    "IMAGE_SIZE",
    "NO_PATTERN",
    "PATTERN_CLASSES",
    "PATTERN_DIRECTION",
    "PATTERN_MODEL_NAME",
    "PRETRAINED_DIR",
    "PatternEvaluation",
    "PatternReport",
    "PatternSamples",
    "PatternScan",
    "PatternTrainConfig",
    "PatternTrainResult",
    "analyse_patterns",
    "cached_pattern_model",
    "evaluate_patterns",
    "generate_patterns",
    "install_pretrained_pattern_model",
    "latest_pattern_job",
    "load_pattern_model",
    "pattern_event_study",
    "pattern_events",
    "pattern_features",
    "pattern_model_version",
    "patterns_now",
    "read_labelled_windows",
    "render_batch",
    "render_image",
    "render_series",
    "scan_patterns",
    "submit_pattern_training",
    "train_pattern_model",
]
