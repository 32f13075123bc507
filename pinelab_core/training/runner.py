"""Train-and-register: the one function behind `pinelab train` and the Training page's background job.

Both paths call `train_and_register` with the same `TrainRequest`, so the same inputs give the same
versions and the same numbers whether a trader used the CLI or the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError
from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.training.jobs import json_safe
from pinelab_core.training.labels import LabelSpec
from pinelab_core.training.report import TrainReport
from pinelab_core.training.splits import WINDOWS
from pinelab_core.training.walk_forward import CANDLE_MODELS, WalkForwardProgress, walk_forward
from pinelab_core.types import Timeframe

if TYPE_CHECKING:
    from pinelab_core.training.worker import JobReporter

__all__ = ["TrainRequest", "TrainedVersion", "run_train_job", "train_and_register"]

StageCallback = Callable[[float, str, WalkForwardProgress], None]


@dataclass
class TrainRequest:
    """Everything a training run needs; stored as a job's params and echoed into each manifest."""

    symbols: list[str]
    source: str = "demo"
    timeframe: str = "1d"
    start: str | None = None
    end: str | None = None
    models: list[str] = field(default_factory=lambda: ["lightgbm"])
    horizon: int = 5
    label: str = "direction"
    label_params: dict[str, float] = field(default_factory=dict)
    groups: list[str] | None = None
    train_size: int | None = None
    test_size: int | None = None
    step: int | None = None
    window: str = "expanding"
    embargo: int = 0
    validation_fraction: float = 0.2
    fees: float = 0.0005
    slippage: float = 0.0
    device: str = "auto"
    seed: int = 0
    activate: bool = False
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    tune_trials: int = 0  # > 0: pick hyperparameters by nested walk-forward first (see training.tuning)
    include_price_levels: bool = False  # also learn from price levels (sma_200, bands): off by default
    include_start_dependent: bool = False  # also learn from cumulative sums (obv, ad): off by default
    sentiment: bool = False  # also learn from the market's news sentiment (sentiment_1d, sentiment_headlines_1d)

    def validate(self) -> TrainRequest:
        """Check the request before anything runs; raise a PinelabError that says what to change."""
        from pinelab_core.models import list_models, model_class

        self.symbols = [s.strip() for s in self.symbols if s and s.strip()]
        if not self.symbols:
            raise DataValidationError("Name at least one symbol to train on.")
        if not self.models:
            raise DataValidationError("Pick at least one model to train.")
        for name in self.models:
            if model_class(name).task != "direction":
                raise DataValidationError(f"{name!r} is not a direction model; train it with `pinelab patterns "
                                          "train` (or the Charts page). Direction models: "
                                          f"{', '.join(list_models())}.")
        Timeframe.parse(self.timeframe)
        LabelSpec(self.label, self.horizon, self.label_params)
        if self.window not in WINDOWS:
            raise DataValidationError(f"Unknown window {self.window!r}. Use 'expanding' or 'rolling'.")
        if self.tune_trials < 0:
            raise DataValidationError(f"tune_trials must be 0 (off) or more, got {self.tune_trials}.")
        if self.sentiment:
            from pinelab_core.rl.agents import AGENT_KINDS

            if all(model in CANDLE_MODELS or model in AGENT_KINDS for model in self.models):
                raise DataValidationError(f"{', '.join(self.models)} read raw candles or their own observations, not "
                                          "the feature matrix: news sentiment features need a feature model "
                                          "(lightgbm, xgboost, random_forest, lstm, ...).")
        if not 0.0 <= self.validation_fraction < 0.9:
            raise DataValidationError(f"validation_fraction must be in [0, 0.9), got {self.validation_fraction}.")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainRequest:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataValidationError(f"Unknown training option(s) {unknown}; known: {', '.join(sorted(known))}.")
        return cls(**data)


@dataclass
class TrainedVersion:
    """One registered model version and its headline numbers."""

    symbol: str
    model: str
    name: str
    version: int
    status: str
    device: str
    overfit: bool
    metrics: dict[str, float]
    report: TrainReport | None = field(default=None, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the report (non-finite numbers become None)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "report"}
        data["ref"] = self.ref
        return json_safe(data)


def train_and_register(
    settings: Settings, request: TrainRequest, *, progress: StageCallback | None = None, job_id: int | None = None
) -> list[TrainedVersion]:
    """Walk-forward train every (symbol, model) of `request` and register each final model.

    Args:
        settings: where data, features cache, models and the database live.
        request: what to train.
        progress: called with (overall fraction, stage text, the walk-forward tick); it may raise to stop.
        job_id: the background job this run belongs to, recorded in each manifest.
    """
    from pinelab_core.data import load_ohlcv

    request.validate()
    tasks = [(symbol, model) for symbol in request.symbols for model in request.models]
    results: list[TrainedVersion] = []
    for symbol in request.symbols:
        ohlcv = load_ohlcv(symbol, request.timeframe, request.start, request.end, request.source, settings)
        features = _features(settings, ohlcv, request)
        news_scorer = None
        if request.sentiment and features is not None:
            news_scorer, news = _news_features(settings, symbol, ohlcv)
            features = features.join(news)
        for model in request.models:
            done = len(results)

            def on_tick(fraction: float, stage: str, event: WalkForwardProgress, done: int = done) -> None:
                if progress is not None:
                    progress((done + fraction) / len(tasks), stage, event)

            report = _walk_forward_one(ohlcv, None if model in CANDLE_MODELS else features, symbol, model, request,
                                       on_tick)
            results.append(_register(settings, request, symbol, ohlcv, report, job_id, news_scorer))
    return results


def _walk_forward_one(ohlcv: pd.DataFrame, features: pd.DataFrame | None, symbol: str, model: str,
                      request: TrainRequest, progress: StageCallback) -> TrainReport:
    """One (symbol, model) run: tuned by nested walk-forward first when the request asks for it."""
    options: dict[str, Any] = {
        "label_params": request.label_params, "test_size": request.test_size, "step": request.step,
        "window": request.window, "embargo": request.embargo, "validation_fraction": request.validation_fraction,
        "fees": request.fees, "slippage": request.slippage, "device": request.device, "timeframe": request.timeframe,
    }
    params = request.model_params.get(model, {})

    def fold_stage(event: WalkForwardProgress) -> str:
        return f"fold {event.fold} of {event.n_folds}" if event.fold <= event.n_folds else "final model"

    if request.tune_trials:
        from pinelab_core.training.tuning import tune

        result = tune(ohlcv, model, n_trials=request.tune_trials, seed=request.seed, horizon=request.horizon,
                      label=request.label, features=features, train_size=request.train_size, model_params=params,
                      progress=lambda f, stage, e: progress(f, f"{symbol} {model}: {stage}, {fold_stage(e)}", e),
                      **options)
        return result.report
    return walk_forward(
        ohlcv, model, request.horizon, request.label, request.seed, features=features,
        train_size=request.train_size, model_params=params,
        progress=lambda e: progress(e.fraction, f"{symbol} {model}: {fold_stage(e)}", e), **options,
    )


def run_train_job(settings: Settings, params: dict[str, Any], reporter: JobReporter) -> dict[str, Any]:
    """The worker's "train" job: `train_and_register` with progress, loss points and log lines in the table."""
    request = TrainRequest.from_dict(params)

    def on_progress(fraction: float, stage: str, event: WalkForwardProgress) -> None:
        if event.train_loss is not None or event.val_loss is not None:
            reporter.metric(fold=event.fold, epoch=event.step, train_loss=event.train_loss, val_loss=event.val_loss,
                            message=stage)
        if event.step == 0:
            reporter.log(stage)
        reporter.progress(fraction, stage)

    trained = train_and_register(settings, request, progress=on_progress, job_id=reporter.job_id)
    for item in trained:
        score, baseline = item.metrics["balanced_accuracy"], item.metrics["baseline_balanced_accuracy"]
        reporter.log(f"registered {item.ref}: balanced accuracy {score:.3f} (majority baseline {baseline:.3f})")
    return {"versions": [item.to_dict() for item in trained]}


def _features(settings: Settings, ohlcv: pd.DataFrame, request: TrainRequest) -> pd.DataFrame | None:
    if all(model in CANDLE_MODELS for model in request.models):
        return None
    from pinelab_core.features import build_features_cached
    from pinelab_core.training.walk_forward import select_model_features

    # one frame in, one frame out (a dict only comes back for a dict of symbols)
    built = cast(pd.DataFrame, build_features_cached(ohlcv, settings, request.groups))
    return select_model_features(built, request.groups, include_price_levels=request.include_price_levels,
                                 include_start_dependent=request.include_start_dependent)


def _news_features(settings: Settings, symbol: str, ohlcv: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """(the scorer, the market's news sentiment features): each bar counts the headlines published before it opened.

    Raises:
        DataValidationError: no headline of the market is stored (a model would learn from a constant).
    """
    from pinelab_core.sentiment import market_headlines, sentiment_features
    from pinelab_core.store import get_engine

    scorer, headlines = market_headlines(get_engine(settings), symbol, settings)
    if headlines.empty:
        raise DataValidationError(
            f"No news headlines are stored for {symbol}, so sentiment features would be a constant. Import a "
            "headlines CSV (Sentiment page, or `pinelab sentiment --file FILE --symbol ...`), fetch news "
            "(`pinelab sentiment --fetch --symbol ...`), or train without sentiment.")
    return scorer, sentiment_features(ohlcv, headlines)


def _register(settings: Settings, request: TrainRequest, symbol: str, ohlcv: pd.DataFrame,
              report: TrainReport, job_id: int | None, news_scorer: str | None = None) -> TrainedVersion:
    from pinelab_core.features import data_fingerprint
    from pinelab_core.models.artifacts import ModelManifest, model_slug
    from pinelab_core.models.registry import register_model

    if report.model is None:
        raise DataValidationError("The run was not refit on all rows, so there is no final model to register.")
    kind = report.model_kind
    name = model_slug(symbol, request.timeframe, request.label, f"h{request.horizon}", kind)
    manifest = ModelManifest(
        name=name, kind=kind, feature_names=list(report.feature_names),
        label={**report.label.to_dict(), "classes": list(DIRECTION_CLASSES)},
        data_fingerprint=data_fingerprint(ohlcv), symbol=symbol, timeframe=request.timeframe, source=request.source,
        seed=request.seed, device=report.device, metrics=json_safe(report.metrics), job_id=job_id,
        trained_through=str(report.options.get("trained_through", "")),
        options=json_safe({**report.options, "groups": request.groups, "overfit": report.overfit,
                           "include_price_levels": request.include_price_levels,
                           "include_start_dependent": request.include_start_dependent,
                           "sentiment_scorer": news_scorer,
                           "overfit_threshold": report.overfit_threshold, "start": request.start, "end": request.end}),
        fold_metrics=json_safe(report.folds.to_dict(orient="records")),
        feature_importance=json_safe(report.feature_importance.to_dict()) if report.feature_importance is not None
        else {},
    )
    info = register_model(settings, report.model, manifest, oof=report.oos, activate=request.activate)
    return TrainedVersion(symbol=symbol, model=kind, name=info.name, version=info.version, status=info.status,
                          device=report.device, overfit=report.overfit, metrics=dict(report.metrics), report=report)
