"""The inference service: `predict(symbol)` and `predict_many(symbols)` on the active ensemble.

Per call: load the bars (or take the frame given), keep the trailing slice the features' warm-up and the
nets' windows need, build each member's inputs once, predict the last bar, pool, add the quantile price
forecasts, log the prediction for outcome tracking. Answers are cached per market until a new bar
arrives (or the active models change), so a dashboard refreshing every few seconds costs nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.errors import DataValidationError, PinelabError
from pinelab_core.models.active import ActiveEnsemble, load_active, member_inputs, member_probabilities
from pinelab_core.models.base import DIRECTION_CLASSES
from pinelab_core.models.ensemble import Prediction, signal_for
from pinelab_core.types import Timeframe

__all__ = ["clear_prediction_cache", "input_fingerprint", "is_in_sample", "predict", "predict_frame", "predict_many"]

_PREDICTIONS: dict[tuple, Prediction] = {}
_LOCK = threading.Lock()


def predict(symbol: str, timeframe: str = "1d", source: str = "auto", settings: Settings | None = None, *,
            ohlcv: pd.DataFrame | None = None, min_confidence: float = 0.0, forecasts: bool = True,
            log: bool = True, latest: bool = True) -> Prediction:
    """What the active models say about `symbol`'s next `horizon` bars, as of its last bar.

    Args:
        symbol: ticker or pair, as the source spells it.
        timeframe: bar size ("1h", "1d", ...).
        source: data source string (demo, yahoo, ccxt:<exchange>, file:<path>, auto).
        settings: configuration; default `Settings.from_env()`.
        ohlcv: bars already loaded (the dashboard's selection); loaded from `source` when None.
        min_confidence: below this calibrated confidence the signal is HOLD.
        forecasts: add the 1/5/20-bar quantile price forecasts.
        log: record the prediction in the tracking table (once per bar and model set). An in-sample
            prediction is never recorded: the live track record holds only calls made before the outcome.
        latest: whether `ohlcv` ends at the market's newest closed bar (a frame cut off by an end date
            does not). Otherwise the prediction describes the past and is flagged `in_sample`.

    Raises:
        ModelNotFoundError: no model is active for the timeframe (train one first).
        DataValidationError / DataFetchError: the market data could not be loaded.
    """
    settings = settings or Settings.from_env()
    timeframe = Timeframe.parse(timeframe).value
    if ohlcv is None:
        from pinelab_core.data import load_ohlcv

        ohlcv = load_ohlcv(symbol, timeframe, source=source, settings=settings)
    active = load_active(settings, symbol, timeframe)
    key = (str(settings.models_dir), source, symbol, timeframe, ohlcv.index[-1] if len(ohlcv) else None,
           tuple(active.versions), min_confidence, forecasts, latest)
    with _LOCK:
        cached = _PREDICTIONS.get(key)
    if cached is not None:
        return cached
    prediction = predict_frame(active, ohlcv, symbol=symbol, source=source, min_confidence=min_confidence,
                               forecasts=forecasts, latest=latest)
    if log and not prediction.in_sample:
        from pinelab_core.models.tracking import log_prediction

        log_prediction(settings, prediction, active.label)
    with _LOCK:
        _PREDICTIONS[key] = prediction
    return prediction


def predict_many(symbols: Sequence[str], timeframe: str = "1d", source: str = "auto",
                 settings: Settings | None = None, **options: object) -> dict[str, Prediction | PinelabError]:
    """`predict` for a watchlist; a symbol that fails maps to its error instead of stopping the others."""
    settings = settings or Settings.from_env()
    results: dict[str, Prediction | PinelabError] = {}
    for symbol in symbols:
        try:
            results[symbol] = predict(symbol, timeframe, source, settings, **options)  # type: ignore[arg-type]
        except PinelabError as exc:
            results[symbol] = exc
    return results


def predict_frame(active: ActiveEnsemble, ohlcv: pd.DataFrame, *, symbol: str, source: str = "",
                  min_confidence: float = 0.0, forecasts: bool = True, latest: bool = True) -> Prediction:
    """The ensemble's prediction at the last bar of `ohlcv` (no caching, no logging).

    `latest` says whether that bar is the market's newest; see `predict` and `is_in_sample`.
    """
    if len(ohlcv) < 2:
        raise DataValidationError(f"{symbol} has {len(ohlcv)} bars; a prediction needs history. Widen the range.")
    sliced = active.history_slice(ohlcv)
    inputs = member_inputs(active, sliced)
    last = np.array([len(sliced) - 1])
    member_probs = member_probabilities(active, inputs, last)
    pooled = active.ensemble.combine(member_probs)[0]
    signal, chosen, confidence = signal_for(pooled, min_confidence)
    agreement = float(active.ensemble.agreement(member_probs, np.array([chosen]))[0])
    bar_time = pd.Timestamp(sliced.index[-1])
    close = float(sliced["close"].iloc[-1])
    models = {m.key: _by_class(member_probs[0, i]) for i, m in enumerate(active.members)}
    prediction = Prediction(
        symbol=symbol, timeframe=active.timeframe, bar_time=bar_time, horizon=active.horizon, signal=signal,
        confidence=confidence, probabilities=_by_class(pooled), models=models,
        weights=dict(zip(active.ensemble.members, active.ensemble.weights, strict=True)),
        agreement=agreement, model_versions=active.versions, close=close, source=source,
        weights_source=active.ensemble.weights_source, input_fingerprint=input_fingerprint(sliced),
        trained_on=sorted({m.trained_on for m in active.members if m.trained_on}),
        in_sample=is_in_sample(bar_time, active.trained_through, latest=latest),
        trained_through=active.trained_through,
    )
    if forecasts:
        prediction.forecasts = _forecasts(active, sliced, inputs, source, symbol)
    return prediction


def is_in_sample(bar_time: pd.Timestamp, trained_through: pd.Timestamp | None, *, latest: bool) -> bool:
    """A call for a bar that is not the newest, or that the models learned from, is in-sample: it describes
    a past whose outcome may have shaped the models, so it is never shown or logged as a live call."""
    return not latest or (trained_through is not None and pd.Timestamp(bar_time) <= trained_through)


def input_fingerprint(ohlcv: pd.DataFrame) -> str:
    """A short hash of the bars a prediction read (index and values), to tell later what it saw."""
    digest = hashlib.sha256(ohlcv.index.asi8.tobytes())
    digest.update(np.ascontiguousarray(ohlcv[["open", "high", "low", "close", "volume"]].to_numpy()).tobytes())
    return digest.hexdigest()[:16]


def clear_prediction_cache() -> None:
    """Forget cached predictions (tests; after editing data by hand)."""
    with _LOCK:
        _PREDICTIONS.clear()


def _forecasts(active: ActiveEnsemble, sliced: pd.DataFrame, inputs: dict[str, pd.DataFrame], source: str,
               symbol: str) -> list:
    from pinelab_core.models.forecast import forecaster_for

    tabular = next((inputs[m.key] for m in active.members if not m.reads_candles), None)
    if tabular is None:  # only candle-reading nets are active: the forecaster still reads the feature matrix
        from pinelab_core.features import build_features

        tabular = pd.DataFrame(build_features(sliced))
    forecaster = forecaster_for((source, symbol, active.timeframe), tabular, sliced["close"])
    if forecaster is None:
        return []
    return forecaster.forecast(tabular.iloc[[-1]], float(sliced["close"].iloc[-1]), pd.Timestamp(sliced.index[-1]),
                               active.timeframe)


def _by_class(probabilities: np.ndarray) -> dict[str, float]:
    return {name: float(p) for name, p in zip(DIRECTION_CLASSES, probabilities, strict=True)}
