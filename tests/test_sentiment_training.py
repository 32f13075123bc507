"""News sentiment as a training option: `TrainRequest(sentiment=True)` / `pinelab train --sentiment` / the Training
page's checkbox learn from the market's stored headlines, and predictions, the challenger path and drift read them
again with the scorer the model learned them with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.data import load_ohlcv
from pinelab_core.errors import DataValidationError
from pinelab_core.models.active import clear_model_cache, load_active, member_inputs
from pinelab_core.models.inference import clear_prediction_cache, predict
from pinelab_core.sentiment import import_headlines, market_sentiment_features
from pinelab_core.store import get_engine
from pinelab_core.training.runner import TrainRequest, train_and_register
from tests.conftest import random_walk_ohlcv

SYMBOL, START = "DEMO-EQUITY", "2024-03-01"


def _planted_news(ohlcv: pd.DataFrame) -> bytes:
    """One headline the evening before each bar opens, its tone the bar's coming close-to-close move."""
    up = (ohlcv["close"].shift(-1) > ohlcv["close"]).iloc[:-1]
    texts = ["Demo Corp shares soar on record profits" if rise else "Demo Corp shares plunge on a profit warning"
             for rise in up]
    published = ohlcv.index[:-1] - pd.Timedelta(hours=12)
    rows = [f"{t.isoformat()},{SYMBOL},{text}" for t, text in zip(published, texts, strict=True)]
    return ("published_at,symbol,headline\n" + "\n".join(rows) + "\n").encode()


def _request(**options: object) -> TrainRequest:
    return TrainRequest(symbols=[SYMBOL], source="demo", start=START, models=["lightgbm"], horizon=1,
                        groups=["momentum"], label_params={"k": 0.0}, model_params={"lightgbm": {"n_estimators": 40}},
                        **options)  # type: ignore[arg-type]


def test_a_model_trained_on_planted_news_finds_it_and_predictions_read_the_news_again(settings: Settings) -> None:
    clear_model_cache()
    clear_prediction_cache()
    ohlcv = load_ohlcv(SYMBOL, "1d", START, source="demo", settings=settings)
    engine = get_engine(settings)
    import_headlines(engine, _planted_news(ohlcv), settings=settings)
    (plain,) = train_and_register(settings, _request())
    (news,) = train_and_register(settings, _request(sentiment=True, activate=True))
    names = news.report.feature_names  # type: ignore[union-attr]
    assert names[-2:] == ["sentiment_1d", "sentiment_headlines_1d"] and "sentiment_1d" not in plain.report.feature_names  # type: ignore[union-attr]
    # the news of the coming move is found out of sample; without it the momentum features find nothing like it
    assert news.metrics["balanced_accuracy"] > plain.metrics["balanced_accuracy"] + 0.2
    assert news.metrics["balanced_accuracy"] > 0.8
    active = load_active(settings, SYMBOL, "1d")
    (member,) = active.members
    assert member.news_scorer == "lexicon"
    frame = member_inputs(active, ohlcv)[member.key]
    expected = market_sentiment_features(engine, SYMBOL, ohlcv, settings=settings, scorer="lexicon")
    pd.testing.assert_frame_equal(frame[["sentiment_1d", "sentiment_headlines_1d"]], expected)
    call = predict(SYMBOL, "1d", "demo", settings, ohlcv=ohlcv)
    assert list(call.models) == [member.key] and np.isclose(sum(call.probabilities.values()), 1.0)


def test_the_challenger_path_reads_the_same_news_inputs(settings: Settings) -> None:
    from pinelab_core.live.challenger import loaded_version, version_inputs

    ohlcv = load_ohlcv(SYMBOL, "1d", START, source="demo", settings=settings)
    import_headlines(get_engine(settings), _planted_news(ohlcv), settings=settings)
    (news,) = train_and_register(settings, _request(sentiment=True))
    _, manifest = loaded_version(settings, news.name, news.version)
    assert manifest.options["sentiment_scorer"] == "lexicon"
    frame = version_inputs(manifest, ohlcv, settings)
    assert list(frame.columns) == list(manifest.feature_names) and frame["sentiment_headlines_1d"].iloc[-1] == 1


def test_training_on_news_without_headlines_says_how_to_get_them(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    random_walk_ohlcv(400, seed=1, freq="D").to_csv(path)
    request = _request(sentiment=True)
    request.symbols, request.source, request.start = ["MYCO"], f"file:{path}", None
    with pytest.raises(DataValidationError, match="No news headlines are stored for MYCO.*--file"):
        train_and_register(settings, request)
    for models in (["cnn"], ["ppo"]):
        with pytest.raises(DataValidationError, match="need a feature model"):
            TrainRequest(symbols=[SYMBOL], models=models, sentiment=True).validate()


def test_the_cli_trains_with_news(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    for env, value in {"PINELAB_DATA_DIR": settings.data_dir, "PINELAB_MODELS_DIR": settings.models_dir}.items():
        monkeypatch.setenv(env, str(value))
    ohlcv = load_ohlcv(SYMBOL, "1d", START, source="demo", settings=settings)
    import_headlines(get_engine(settings), _planted_news(ohlcv), settings=settings)
    assert main(["train", "--source", "demo", "--symbol", SYMBOL, "--start", START, "--models", "lightgbm",
                 "--horizon", "1", "--groups", "momentum", "--label-param", "k=0", "--param", "n_estimators=40",
                 "--sentiment", "--json"]) == 0
    (trained,) = json.loads(capsys.readouterr().out)
    assert trained["metrics"]["balanced_accuracy"] > 0.8


def test_a_call_at_bar_t_is_the_same_when_the_store_already_holds_later_news(settings: Settings,
                                                                            second_store: Settings) -> None:
    import dataclasses

    from pinelab_core.models.active import member_probabilities

    clear_model_cache()
    ohlcv = load_ohlcv(SYMBOL, "1d", START, source="demo", settings=settings)
    news = _planted_news(ohlcv)
    import_headlines(get_engine(settings), news, settings=settings)
    train_and_register(settings, _request(sentiment=True, activate=True))
    active = load_active(settings, SYMBOL, "1d")
    lines = news.decode().splitlines()
    for t in (400, 550, len(ohlcv) - 1):
        past = ohlcv.iloc[: t + 1]
        public = [line for line in lines[1:] if pd.Timestamp(line.split(",")[0]) < past.index[-1] + pd.Timedelta("1D")]
        import_headlines(get_engine(second_store), "\n".join([lines[0], *public]).encode(), settings=second_store)
        fresh = dataclasses.replace(active, settings=second_store)  # a store holding only what was public at t
        late, known = member_inputs(active, past), member_inputs(fresh, past)
        pd.testing.assert_frame_equal(late[active.members[0].key], known[active.members[0].key], check_exact=True)
        rows = np.array([t])
        np.testing.assert_array_equal(member_probabilities(active, late, rows),
                                      member_probabilities(fresh, known, rows))
