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
    OPT_IN_GROUPS: "hmm", "garch", "anomaly" (models refitted walk-forward), "mtf" (multi-timeframe), built only
        when named in `groups`
Market structure (causal regimes, volatility, spectrum, anomalies; docs/structure.md)
    regime_history(ohlcv, last=None) -> regime per bar (forward-filtered HMM, refitted walk-forward)
    regime_at(ohlcv, at=None) -> RegimeState (regime, probability, .summary) from the trailing bars only
    volatility_forecasts(ohlcv) -> GARCH / GJR-GARCH forecasts vs realised, QLIKE and MSE vs a naive forecast
    anomaly_alerts(ohlcv, threshold=4.0) -> [AnomalyAlert] ("Unusual volume at 14:00 on ...")
    track_record_by_regime(records, regimes, by="source"), weights_in_regime(outcomes, regimes, learn, at=...)
    regime_track_record(ohlcv, records, by=None, engine=None) -> RegimeTrackRecord (regime now + split record)
    store_regimes(engine, history, symbol=, timeframe=), load_regimes(engine, ...) -> the market_regime table
    market_structure(ohlcv, bars=500) -> MarketStructure: every view of the Market structure page
Charts
    build_price_chart(ohlcv, overlays=[Overlay("sma", 50)], show_levels=True) -> PriceChart (Plotly, downsampled)
    support_resistance_levels(ohlcv, left=5, right=5) -> [PriceLevel] (clustered swing pivots, touch counts)
    confirmed_pivots(ohlcv, left=5, right=5) -> swing highs/lows dated when confirmed (causal)
Models and the model registry
    create_model(name, seed=0, device="auto", **params) -> Model (fit, predict_proba, save, load)
    list_models() -> ["a2c", "cnn", "dqn", "lightgbm", "lstm", "ppo", "random_forest", "xgboost"]
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
Reinforcement learning (agents trading through the same execution engine)
    TradingEnv(ohlcv, **options) -> gymnasium Env: scale-free feature windows + position + unrealised return;
        reward = log equity change net of the engine's costs (replay through run_backtest: the same money)
    create_model("ppo" | "a2c" | "dqn", timesteps=50_000) -> agent; agent.learn(ohlcv); agent.act(ohlcv)
    evaluate_agent(ohlcv, "ppo", seeds=(0, 1, 2)) -> walk-forward IQM and spread vs buy-and-hold, random, ensemble
    train_agents(settings, TrainRequest(models=["ppo"], ...)) -> registered agents; submit_job(settings, "rl", ...)
    agent_calls(settings, symbol, timeframe, ohlcv) -> active agents' calls; run_agent_desk(...) -> AgentDesk
        (trend + mean-reversion agents through the learned-weight consensus, RiskManager applied last)
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
Insights (one market read as the pages read it; served as JSON by the sidecar's /api/v1, see docs/api.md)
    market_insights(symbol, timeframe="1d", source="auto", settings) -> MarketInsights: the ensemble's call, the
        agents' calls, forecasts, the desk's consensus, the regime, top SHAP contributions, candlestick patterns
    multi_timeframe_view(symbol, "15m,1h,4h,1d", source, settings, as_of=None) -> MultiTimeframeView: every model's,
        agent's and signal source's call per timeframe at its own latest closed bar, agreement; .grid() for a table
    pattern_hits(ohlcv) -> (bar, [PatternHit]); current_regime(ohlcv) -> Regime
    create_api_token(engine, name) -> (info, token shown once); list_api_tokens(engine); revoke_api_token(engine, name)
Live (the scheduler, paper trading, notifications, models that keep learning; `pinelab_core.live` has the rest)
    watch_market(engine, source, symbol, timeframe); run_scheduler(settings, SchedulerOptions(...))  (`pinelab run`)
    create_account(engine, name, source=, symbol=, timeframe=, strategy="consensus", risk=RiskLimits(...), fees=)
    advance_account(engine, account, ohlcv) -> fills through the execution engine's Stepper; kill switch
    paper_report(engine, account, ohlcv) -> equity vs buy-and-hold, fills, P&L, reconciliation with a backtest
    replay_alerts(ohlcv, alerts, ...) -> ReplayResult (`pinelab paper replay`)
    add_rule(engine, name, "consensus_flip" | "confidence_above" | ..., channel="webhook" | "email" | "inbox")
    head_to_head(engine, model) -> champion vs challenger on the same bars; promote(settings, engine, model, version)
News sentiment (offline lexicon by default, FinBERT from PINELAB_FINBERT_PATH)
    score_texts(texts, scorer="auto") -> [SentimentScore] (score in [-1, 1], label, scorer, per-sentence scores)
    fetch_news(engine, symbol) / import_headlines(engine, csv) -> headlines stored with their scores
    sentiment_panel(engine, symbol) -> SentimentPanel (headlines, daily scores, scorer, demo flag)
    sentiment_features(ohlcv, headlines) -> sentiment_1d, sentiment_headlines_1d (from the bar after publication)
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
    "score_texts": "pinelab_core.sentiment",
    "SentimentScore": "pinelab_core.sentiment",
    "fetch_news": "pinelab_core.sentiment",
    "import_headlines": "pinelab_core.sentiment",
    "sentiment_panel": "pinelab_core.sentiment",
    "SentimentPanel": "pinelab_core.sentiment",
    "sentiment_features": "pinelab_core.sentiment",
    "market_insights": "pinelab_core.insights",
    "MarketInsights": "pinelab_core.insights",
    "multi_timeframe_view": "pinelab_core.insights",
    "MultiTimeframeView": "pinelab_core.insights",
    "pattern_hits": "pinelab_core.insights",
    "PatternHit": "pinelab_core.insights",
    "current_regime": "pinelab_core.insights",
    "Regime": "pinelab_core.insights",
    "create_api_token": "pinelab_core.api",
    "list_api_tokens": "pinelab_core.api",
    "revoke_api_token": "pinelab_core.api",
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
    "TradingEnv": "pinelab_core.rl",
    "evaluate_agent": "pinelab_core.rl",
    "train_agents": "pinelab_core.rl",
    "agent_calls": "pinelab_core.rl",
    "run_agent_desk": "pinelab_core.rl",
    "RiskManager": "pinelab_core.rl",
    "OPT_IN_GROUPS": "pinelab_core.features",
    "regime_history": "pinelab_core.structure",
    "regime_at": "pinelab_core.structure",
    "RegimeState": "pinelab_core.structure",
    "volatility_forecasts": "pinelab_core.structure",
    "anomaly_alerts": "pinelab_core.structure",
    "AnomalyAlert": "pinelab_core.structure",
    "track_record_by_regime": "pinelab_core.structure",
    "weights_in_regime": "pinelab_core.structure",
    "regime_track_record": "pinelab_core.structure",
    "RegimeTrackRecord": "pinelab_core.structure",
    "store_regimes": "pinelab_core.structure",
    "load_regimes": "pinelab_core.structure",
    "market_structure": "pinelab_core.structure",
    "create_model": "pinelab_core.models",
    "list_models": "pinelab_core.models",
    "choose_device": "pinelab_core.models.device",
    "ModelManifest": "pinelab_core.models.artifacts",
    "register_model": "pinelab_core.models.registry",
    "list_versions": "pinelab_core.models.registry",
    "load_version": "pinelab_core.models.registry",
    "set_status": "pinelab_core.models.registry",
    "delete_version": "pinelab_core.models.registry",
    "watch_market": "pinelab_core.live",
    "run_scheduler": "pinelab_core.live",
    "SchedulerOptions": "pinelab_core.live",
    "create_account": "pinelab_core.live",
    "RiskLimits": "pinelab_core.live",
    "advance_account": "pinelab_core.live",
    "paper_report": "pinelab_core.live",
    "replay_alerts": "pinelab_core.live",
    "add_rule": "pinelab_core.live",
    "head_to_head": "pinelab_core.live",
    "promote": "pinelab_core.live",
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
