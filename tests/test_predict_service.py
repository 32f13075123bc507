"""The inference service end to end: registry -> active ensemble -> Prediction, cached and logged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import random_walk_ohlcv

from pinelab_core.config import Settings
from pinelab_core.errors import ModelNotFoundError
from pinelab_core.models.active import clear_model_cache, load_active
from pinelab_core.models.ensemble import PROB_COLUMNS
from pinelab_core.models.inference import clear_prediction_cache, predict, predict_many
from pinelab_core.types import Action

SYMBOL, TIMEFRAME = "TEST-MKT", "1h"
LABEL = {"kind": "direction", "horizon": 3, "params": {}}


def planted_ohlcv(n: int = 1_400, seed: int = 7) -> pd.DataFrame:
    """A random walk whose next moves follow the sign of the last 3-bar move: an edge the models can find."""
    ohlcv = random_walk_ohlcv(n, seed=seed, freq="1h")
    rng = np.random.default_rng(seed)
    returns = rng.normal(0, 0.004, n)
    for t in range(3, n):
        returns[t] += 0.5 * np.sign(returns[t - 3:t].sum()) * 0.004
    close = 100.0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0, 0.002, n)) * close
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": ohlcv["volume"].to_numpy()}, index=ohlcv.index)


def train_active_models(settings: Settings, ohlcv: pd.DataFrame, kinds: tuple[str, ...] = ("lightgbm", "xgboost"),
                        *, with_oof: bool = True, symbol: str = SYMBOL, timeframe: str = TIMEFRAME) -> None:
    """Fit small members on the first 70% of bars, score the rest as out-of-fold rows, register them active."""
    from pinelab_core.features import build_features
    from pinelab_core.models import create_model
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model
    from pinelab_core.training.labels import LabelSpec, make_labels

    features = build_features(ohlcv)
    labels = make_labels(ohlcv, LabelSpec.from_dict(LABEL))
    known = labels.notna().to_numpy()
    cut = int(0.7 * len(ohlcv))
    params = {"lightgbm": {"n_estimators": 40, "num_threads": 1}, "xgboost": {"n_estimators": 40, "num_threads": 1},
              "lstm": {"epochs": 2, "window": 8, "hidden": 16, "heads": 2},
              "cnn": {"epochs": 2, "window": 8, "channels": 8}}
    for kind in kinds:
        model = create_model(kind, seed=0, device="cpu", **params[kind])
        train = np.flatnonzero(known[:cut])
        model.fit(features.iloc[train[0]:train[-1] + 1], labels.iloc[train[0]:train[-1] + 1].to_numpy())
        test_rows = np.flatnonzero(known)
        test_rows = test_rows[test_rows >= cut]
        probs = model.predict_proba(features.iloc[cut - model.context_rows:test_rows[-1] + 1])
        probs = probs[model.context_rows:][test_rows - cut]
        oof = pd.DataFrame(probs, columns=list(PROB_COLUMNS), index=features.index[test_rows])
        oof["y_true"] = labels.iloc[test_rows].astype(int).to_numpy()
        manifest = ModelManifest(name=f"test-{kind}", kind=kind, feature_names=list(features.columns), label=LABEL,
                                 symbol=symbol, timeframe=timeframe, source="test")
        register_model(settings, model, manifest, oof=oof if with_oof else None, activate=True)


@pytest.fixture
def trained(settings: Settings) -> tuple[Settings, pd.DataFrame]:
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = planted_ohlcv()
    train_active_models(settings, ohlcv)
    return settings, ohlcv


def test_no_model_says_how_to_train(settings: Settings) -> None:
    clear_model_cache()
    with pytest.raises(ModelNotFoundError, match="--train-starter"):
        predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=planted_ohlcv(400))


def test_prediction_has_calibrated_signal_members_and_forecasts(trained: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = trained
    prediction = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv)
    assert prediction.bar_time == ohlcv.index[-1]
    assert set(prediction.models) == {"test-lightgbm/v1", "test-xgboost/v1"}
    assert prediction.weights_source == "out-of-fold"
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert prediction.confidence == pytest.approx(max(prediction.probabilities.values()))
    assert prediction.signal in set(Action)
    assert 0.0 <= prediction.agreement <= 1.0
    assert prediction.horizon == 3
    assert [f.horizon for f in prediction.forecasts] == [1, 5, 20]
    for forecast in prediction.forecasts:
        assert forecast.lower_price <= forecast.price <= forecast.upper_price
    # The planted pattern is learnable: the pool's out-of-fold hit rate beats the three-class chance level.
    active = load_active(settings, SYMBOL, TIMEFRAME)
    assert active.ensemble.oof_metrics["hit_rate"] > 0.4
    assert active.oof_reliability is not None
    assert active.oof_reliability["count"].sum() == active.ensemble.oof_metrics["n_scored"]  # cross-fitted rows


def test_prediction_is_cached_until_a_new_bar_and_logged_once(trained: tuple[Settings, pd.DataFrame]) -> None:
    from pinelab_core.models.tracking import prediction_history

    settings, ohlcv = trained
    first = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:-1])
    assert predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:-1]) is first
    second = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv)
    assert second is not first and second.bar_time > first.bar_time
    history = prediction_history(settings, SYMBOL, TIMEFRAME)
    assert list(history["bar_time"]) == [first.bar_time, second.bar_time]
    assert history["members"].iloc[-1]["test-xgboost/v1"] == pytest.approx(second.models["test-xgboost/v1"])


def test_predictions_read_only_the_past(trained: tuple[Settings, pd.DataFrame]) -> None:
    settings, ohlcv = trained
    bar = 1_200
    past_only = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:bar], forecasts=False, log=False)
    altered = ohlcv.copy()
    altered.iloc[bar:, :4] *= 3.0  # a wild future must not change the prediction for bar - 1
    clear_prediction_cache()
    again = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=altered.iloc[:bar], forecasts=False, log=False)
    assert again.probabilities == pytest.approx(past_only.probabilities)


def test_watchlist_keeps_going_past_a_bad_symbol(trained: tuple[Settings, pd.DataFrame]) -> None:
    settings, _ = trained
    results = predict_many(["DEMO-EQUITY", "DEMO-FX"], TIMEFRAME, "demo", settings, forecasts=False)
    assert set(results) == {"DEMO-EQUITY", "DEMO-FX"}
    for result in results.values():
        assert not isinstance(result, Exception), result
        assert result.symbol in {"DEMO-EQUITY", "DEMO-FX"}
        assert result.trained_on == [SYMBOL]  # the timeframe's models, trained on another symbol, and it says so
    broken = predict_many(["file:/nonexistent.csv"], TIMEFRAME, "file:/nonexistent.csv", settings)
    assert isinstance(broken["file:/nonexistent.csv"], Exception)


def test_fallback_weights_without_out_of_fold_rows(settings: Settings) -> None:
    clear_model_cache()
    ohlcv = planted_ohlcv(900)
    train_active_models(settings, ohlcv, ("lightgbm", "lstm"), with_oof=False)
    prediction = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv, forecasts=False)
    assert prediction.weights_source == "fallback"
    assert prediction.weights == pytest.approx({"test-lightgbm/v1": 0.40 / 0.75, "test-lstm/v1": 0.35 / 0.75})
    assert json.dumps(prediction.models)  # plain floats, JSON-ready


def test_a_market_without_models_borrows_one_other_symbols_set(settings: Settings) -> None:
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = planted_ohlcv(800)
    train_active_models(settings, ohlcv, ("lightgbm",), symbol="FIRST")
    train_active_models(settings, ohlcv, ("xgboost",), symbol="SECOND")  # newer
    prediction = predict("THIRD", TIMEFRAME, "test", settings, ohlcv=ohlcv, forecasts=False, log=False)
    assert prediction.trained_on == ["SECOND"]
    assert prediction.model_versions == ["test-xgboost/v1"]
    own = predict("FIRST", TIMEFRAME, "test", settings, ohlcv=ohlcv, forecasts=False, log=False)
    assert own.model_versions == ["test-lightgbm/v1"]


def test_a_past_bar_is_in_sample_and_never_enters_the_track_record(trained: tuple[Settings, pd.DataFrame]) -> None:
    """A call for a bar the models learned from, or for a bar that is not the newest, was shown and logged
    as if it were live."""
    from pinelab_core.models.tracking import prediction_history

    settings, ohlcv = trained
    live = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv, forecasts=False)
    assert not live.in_sample and live.trained_through == ohlcv.index[-1 - 3]  # the last labelled training bar
    learned = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:-10], forecasts=False)
    assert learned.in_sample  # inside the training range
    cut_off = predict(SYMBOL, TIMEFRAME, "test", settings, ohlcv=ohlcv.iloc[:-2], forecasts=False, latest=False)
    assert cut_off.in_sample  # after the training range, but the market has newer bars
    assert list(prediction_history(settings, SYMBOL, TIMEFRAME)["bar_time"]) == [live.bar_time]


def test_inference_reads_the_same_feature_values_as_the_full_history(settings: Settings) -> None:
    """`ad` at the last bar was -8.96e8 at inference against 3.8e7..2.0e9 in training: a trailing slice
    must give every input the value the full history gives (to 1e-6 relative)."""
    from pinelab_core.data import load_ohlcv
    from pinelab_core.features import build_features, model_feature_names
    from pinelab_core.models import create_model
    from pinelab_core.models.active import member_inputs
    from pinelab_core.models.artifacts import ModelManifest
    from pinelab_core.models.registry import register_model
    from pinelab_core.training.labels import LabelSpec, make_labels

    clear_model_cache()
    ohlcv = load_ohlcv("DEMO-BTC", "1h", source="demo")
    names = model_feature_names()
    assert "obv" not in names and "ad" not in names and "sma_200" not in names
    features = build_features(ohlcv.iloc[:3_000])[names]
    labels = make_labels(ohlcv.iloc[:3_000], LabelSpec.from_dict(LABEL))
    known = labels.notna().to_numpy()
    model = create_model("lightgbm", device="cpu", n_estimators=5, num_threads=1)
    model.fit(features[known], labels[known].to_numpy())
    register_model(settings, model, ModelManifest(name="slice-check", kind="lightgbm", feature_names=names,
                                                  label=LABEL, symbol="DEMO-BTC", timeframe="1h"), activate=True)
    active = load_active(settings, "DEMO-BTC", "1h")
    for end in (len(ohlcv), len(ohlcv) - 777, 9_000):
        bars = ohlcv.iloc[:end]
        sliced = active.history_slice(bars)
        assert len(sliced) < len(bars)
        full = member_inputs(active, bars)["slice-check/v1"].iloc[-1]
        trailing = member_inputs(active, sliced)["slice-check/v1"].iloc[-1]
        np.testing.assert_allclose(trailing.to_numpy(), full.to_numpy(), rtol=1e-6, atol=1e-9)
