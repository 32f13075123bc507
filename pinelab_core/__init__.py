"""PineLab: a local-first research desk for traders.

Learn PineLab from this list. Names load lazily, so `import pinelab_core` stays fast (the webhook
sidecar and the CLI do not pay for torch unless they use it).

Data
    load_ohlcv(symbol, timeframe="1d", start=None, end=None, source="auto") -> OHLCV frame
    read_ohlcv_file(path) -> OHLCV frame
    list_sources() -> the data sources (name, description, example)
    resample_ohlcv(frame, timeframe) -> coarser OHLCV bars
    validate_ohlcv(frame) -> the frame held to the OHLCV contract
Features
    build_features(ohlcv, groups=None, dtype="float64") -> causal feature matrix (frame, dict or panel)
    build_features_cached(ohlcv, settings, groups=None) -> the same, from the Parquet cache when possible
    feature_catalog(groups=None) -> name, group, parameters, lookback, history, start_dependent, scale_free, description
    model_feature_names(names=None, *, include_price_levels=False, include_start_dependent=False) -> default model
        inputs: scale-free, start-independent features in matrix order (train on these by default)
    required_history(names) -> bars of trailing history inference needs for these features (slice that many)
    causality_audit(ohlcv, n_cuts=12, seed=0, groups=None) -> pass/fail per feature (look-ahead check)
    rank_features(features, label, method="mutual_info" | "lightgbm" | "permutation", train_end=...) -> ranking
    drop_correlated(features, threshold=0.95) -> features without near-duplicates
Charts
    build_price_chart(ohlcv, overlays=[Overlay("sma", 50)], show_levels=True) -> PriceChart (Plotly, downsampled)
    support_resistance_levels(ohlcv, left=5, right=5) -> [PriceLevel] (clustered swing pivots, touch counts)
    confirmed_pivots(ohlcv, left=5, right=5) -> swing highs/lows dated when confirmed (causal)
Models and the model registry
    create_model(name, seed=0, device="auto", **params) -> Model (fit, predict_proba, save, load)
    list_models() -> ["cnn", "lightgbm", "lstm", "random_forest", "xgboost"]  (list_models("pattern"): pattern_cnn)
    choose_device(preference="auto") -> torch.device (CUDA, then Apple MPS, then CPU)
    ModelManifest(name, kind, feature_names, label, data_fingerprint, metrics, ...)
    register_model(settings, model, manifest, oof=None, activate=False) -> ModelVersionInfo
    list_versions(settings, status=None, symbol=None, timeframe=None) -> [ModelVersionInfo]
    load_version(settings, name, version=None, expected_features=None) -> LoadedModel (checksum + schema checked)
    set_status(settings, name, version, "active" | "challenger" | "candidate" | "archived")
    delete_version(settings, name, version) -> artifact folder and rows removed together
Training (purged walk-forward, background jobs)
    walk_forward(ohlcv, model="lightgbm", horizon=5, label="direction", seed=0, **options) -> TrainReport
        (report.oos: y_true, y_pred, prob_*; report.metrics: OOS scores, majority baseline, implied strategy
        vs buy-and-hold; report.folds; report.overfit; report.model: the final refit)
    LabelSpec(kind="direction" | "triple_barrier", horizon, params); make_labels(ohlcv, spec) -> 0/1/2, NaN
    walk_forward_splits(n_rows, train_size=, test_size=, horizon=, embargo=0, ...) -> [WalkForwardFold]
    tune(ohlcv, model, search_space=None, n_trials=10) -> TuningResult (nested walk-forward, test folds unseen)
    TrainRequest(symbols, models, ...); train_and_register(settings, request) -> [TrainedVersion]
    submit_job(settings, "train", request.to_dict()) -> job id; cancel_job, get_job, list_jobs, reconcile_jobs
Chart patterns (pinelab_core.patterns)
    generate_patterns(per_class=200, seed=0) -> PatternSamples (12 patterns + "none" on demo noise, ends at last bar)
    render_image(window, "candlestick" | "line") -> 128x128 chart; render_series(window) -> (4, 128)
    train_pattern_model(settings, PatternTrainConfig()) -> the CNN scored and registered as "chart-patterns"
    analyse_patterns(ohlcv, settings, last=500, threshold=0.5) -> PatternReport (scan, detections at the bar a
        pattern completes, the strongest now, event study after costs vs random entry)
    pattern_features(ohlcv, model) -> causal pattern probabilities as feature columns
Backtesting (the one execution engine: a decision at bar t's close fills at t+1's open)
    run_backtest(ohlcv, positions, *, fees=0.0, slippage=0.0, init_cash=10_000, **options) -> BacktestResult
        (.stats: n_trades, total_return, cagr, sharpe, ...; .equity; .trades); options: stop_loss, take_profit,
        trailing_stop, half_spread, slippage_atr, fixed_fee, vol_target, kelly_cap, lot_size, min_order, ...
    Stepper(ohlcv, **options).step(target) -> the same engine bar by bar (RL environments, paper trading)
    backtest_strategy(ohlcv, "sma_cross" | "rule:rsi" | "tradingview" | "ensemble" | "model:NAME", params)
    STRATEGIES, strategy_positions(ohlcv, name, **params), register_strategy(Strategy(...))
    sweep(ohlcv, strategy, method="grid" | "optuna" | "genetic") -> SweepResult (n_trials, deflated Sharpe, PBO)
    walk_forward_optimise(ohlcv, strategy) -> stitched out-of-sample run; monte_carlo(result) -> bands
    portfolio_backtest(markets, "min_variance" | "max_sharpe" | "risk_parity" | ...) -> weights, result
    round_trip_returns(ohlcv, decided_at, exit_decided_at, direction, fees=) -> net returns of single calls
    sharpe_ratio, max_drawdown, win_rate, profit_factor, cagr (elapsed time), periods_per_year
Predictions and explanations
    predict(symbol, timeframe="1d", source="auto") -> Prediction (signal, calibrated confidence, members, forecasts)
    predict_many(symbols, timeframe="1d", source="auto") -> {symbol: Prediction or the error}
    explain(symbol, timeframe="1d", source="auto", bar=None) -> Explanation (SHAP; base + contributions = output)
    explain_history(symbol, ..., bars=150) -> SHAP values over recent bars (global importance, beeswarm)
    explain_attention(symbol, ..., bar=None) -> each LSTM member's attention over its window
    resolve_outcomes(settings, ohlcv_loader) -> fills in logged predictions' outcomes once their horizon passed
    prediction_history(settings, symbol=None, timeframe=None) -> logged predictions with outcomes
Signals and the TradingView webhook
    run_signal_desk(ohlcv, symbol, timeframe, engine=...) -> SignalDesk (consensus, feed, weights, track records)
    parse_alert(body, content_type="") -> TradingViewAlert; alert_template() -> the message to paste into TradingView
    list_alerts(engine, limit=50) -> received alerts, newest first; signal_feed(engine) -> alerts + every source's calls
    SIGNAL_SOURCES, register_source(name, produce, description); Signal, AggregateSignal, WeightRule, SizingRule
    create_webhook_app(settings) -> FastAPI sidecar (`pinelab webhook` serves it)
Storage
    check_store(settings) -> StoreReport (backend, schema version, row counts; `pinelab db check`)
Configuration and errors
    Settings, PinelabError, DataFetchError, DataValidationError, ConfigError, ModelSchemaError, ...
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "generate_patterns": "pinelab_core.patterns",
    "render_image": "pinelab_core.patterns",
    "render_series": "pinelab_core.patterns",
    "PatternTrainConfig": "pinelab_core.patterns",
    "train_pattern_model": "pinelab_core.patterns",
    "analyse_patterns": "pinelab_core.patterns",
    "PatternReport": "pinelab_core.patterns",
    "pattern_features": "pinelab_core.patterns",
    "run_signal_desk": "pinelab_core.signals.desk",
    "SignalDesk": "pinelab_core.signals.desk",
    "parse_alert": "pinelab_core.signals.tradingview",
    "alert_template": "pinelab_core.signals.tradingview",
    "TradingViewAlert": "pinelab_core.signals.tradingview",
    "list_alerts": "pinelab_core.signals.alerts",
    "signal_feed": "pinelab_core.signals.feed",
    "SIGNAL_SOURCES": "pinelab_core.signals.sources",
    "register_source": "pinelab_core.signals.sources",
    "Signal": "pinelab_core.signals.sources",
    "AggregateSignal": "pinelab_core.signals.aggregate",
    "SizingRule": "pinelab_core.signals.aggregate",
    "WeightRule": "pinelab_core.signals.weights",
    "create_webhook_app": "pinelab_core.webhook",
    "Settings": "pinelab_core.config",
    "check_store": "pinelab_core.store",
    "StoreReport": "pinelab_core.store",
    "walk_forward": "pinelab_core.training",
    "TrainReport": "pinelab_core.training",
    "LabelSpec": "pinelab_core.training",
    "make_labels": "pinelab_core.training",
    "walk_forward_splits": "pinelab_core.training",
    "tune": "pinelab_core.training",
    "TrainRequest": "pinelab_core.training.runner",
    "TrainedVersion": "pinelab_core.training.runner",
    "train_and_register": "pinelab_core.training.runner",
    "submit_job": "pinelab_core.training.jobs",
    "cancel_job": "pinelab_core.training.jobs",
    "get_job": "pinelab_core.training.jobs",
    "list_jobs": "pinelab_core.training.jobs",
    "reconcile_jobs": "pinelab_core.training.jobs",
    "sharpe_ratio": "pinelab_core.backtest",
    "max_drawdown": "pinelab_core.backtest",
    "win_rate": "pinelab_core.backtest",
    "profit_factor": "pinelab_core.backtest",
    "cagr": "pinelab_core.backtest",
    "periods_per_year": "pinelab_core.backtest",
    "run_backtest": "pinelab_core.backtest",
    "BacktestResult": "pinelab_core.backtest",
    "ExecutionModel": "pinelab_core.backtest",
    "Stepper": "pinelab_core.backtest",
    "backtest_strategy": "pinelab_core.backtest",
    "STRATEGIES": "pinelab_core.backtest",
    "Strategy": "pinelab_core.backtest",
    "register_strategy": "pinelab_core.backtest",
    "strategy_positions": "pinelab_core.backtest",
    "sweep": "pinelab_core.backtest",
    "SweepResult": "pinelab_core.backtest",
    "walk_forward_optimise": "pinelab_core.backtest",
    "monte_carlo": "pinelab_core.backtest",
    "portfolio_backtest": "pinelab_core.backtest",
    "round_trip_returns": "pinelab_core.backtest",
    "predict": "pinelab_core.models.inference",
    "predict_many": "pinelab_core.models.inference",
    "Prediction": "pinelab_core.models.ensemble",
    "Forecast": "pinelab_core.models.ensemble",
    "explain": "pinelab_core.explain",
    "explain_history": "pinelab_core.explain",
    "explain_attention": "pinelab_core.explain",
    "Explanation": "pinelab_core.explain",
    "resolve_outcomes": "pinelab_core.models.tracking",
    "prediction_history": "pinelab_core.models.tracking",
    "PinelabError": "pinelab_core.errors",
    "DataFetchError": "pinelab_core.errors",
    "DataValidationError": "pinelab_core.errors",
    "ConfigError": "pinelab_core.errors",
    "ModelSchemaError": "pinelab_core.errors",
    "ModelNotFoundError": "pinelab_core.errors",
    "AuthError": "pinelab_core.errors",
    "JobError": "pinelab_core.errors",
    "StoreError": "pinelab_core.errors",
    "Action": "pinelab_core.types",
    "Timeframe": "pinelab_core.types",
    "OHLCV_COLUMNS": "pinelab_core.types",
    "load_ohlcv": "pinelab_core.data",
    "build_price_chart": "pinelab_core.viz",
    "PriceChart": "pinelab_core.viz",
    "Overlay": "pinelab_core.features.overlays",
    "PriceLevel": "pinelab_core.features.levels",
    "support_resistance_levels": "pinelab_core.features.levels",
    "confirmed_pivots": "pinelab_core.features.levels",
    "read_ohlcv_file": "pinelab_core.data",
    "list_sources": "pinelab_core.data",
    "resample_ohlcv": "pinelab_core.data",
    "validate_ohlcv": "pinelab_core.data",
    "build_features": "pinelab_core.features",
    "build_features_cached": "pinelab_core.features",
    "feature_catalog": "pinelab_core.features",
    "model_feature_names": "pinelab_core.features",
    "required_history": "pinelab_core.features",
    "causality_audit": "pinelab_core.features",
    "rank_features": "pinelab_core.features",
    "drop_correlated": "pinelab_core.features",
    "FEATURE_GROUPS": "pinelab_core.features",
    "create_model": "pinelab_core.models",
    "list_models": "pinelab_core.models",
    "choose_device": "pinelab_core.models.device",
    "ModelManifest": "pinelab_core.models.artifacts",
    "register_model": "pinelab_core.models.registry",
    "list_versions": "pinelab_core.models.registry",
    "load_version": "pinelab_core.models.registry",
    "set_status": "pinelab_core.models.registry",
    "delete_version": "pinelab_core.models.registry",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinelab_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
