"""Sentiment scorers: the offline lexicon (VADER + finance words), the LM lists, FinBERT from a local folder
(a tiny randomly initialised BERT built here, no download) and `pinelab sentiment --text`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pinelab_core.cli import main
from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError, DataValidationError, ModelSchemaError
from pinelab_core.sentiment import LexiconScorer, get_scorer, score_texts, split_sentences
from pinelab_core.sentiment.lexicon import read_lm_dictionary


def test_finance_words_fix_what_plain_vader_gets_wrong() -> None:
    plain = SentimentIntensityAnalyzer()
    # Plain VADER: "shares" (+1.2) and "profit" outweigh "plunge" and "warning" it does not know.
    assert plain.polarity_scores("Shares plunge after profit warning")["compound"] > 0
    assert plain.polarity_scores("Demo Corp beats estimates")["compound"] == 0
    plunge, beats, neutral = score_texts(["Shares plunge after profit warning", "Demo Corp beats estimates",
                                          "Demo Corp names a new chief financial officer"], "lexicon")
    assert plunge.label == "negative" and plunge.score < -0.3
    assert beats.label == "positive" and beats.score > 0.3
    assert neutral.label == "neutral" and neutral.score == 0.0
    assert {plunge.scorer, beats.scorer} == {"lexicon"}


def test_scores_lie_in_the_unit_interval_and_a_text_is_the_mean_of_its_sentences() -> None:
    text = "Demo Corp beats estimates. Shares plunge after profit warning! Outlook unchanged"
    assert split_sentences(text) == ["Demo Corp beats estimates.", "Shares plunge after profit warning!",
                                     "Outlook unchanged"]
    [result] = score_texts([text], "lexicon")
    values = [value for _, value in result.sentences]
    assert len(values) == 3 and result.score == pytest.approx(np.mean(values))
    many = score_texts(["great great great!!! record profits, soaring, best ever"] * 2 + ["bankruptcy fraud crash"],
                       "lexicon")
    assert all(-1.0 <= r.score <= 1.0 for r in many)
    assert many[0] == many[1]  # deterministic
    assert score_texts([], "lexicon") == []


def test_bad_input_and_unknown_scorers_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="not a string"):
        score_texts([42], "lexicon")  # type: ignore[list-item]
    with pytest.raises(DataValidationError, match="Unknown sentiment scorer 'bert'"):
        get_scorer("bert", Settings())
    with pytest.raises(ConfigError, match="PINELAB_FINBERT_PATH"):
        get_scorer("finbert", Settings())
    with pytest.raises(ConfigError, match="is not a folder"):
        get_scorer("finbert", Settings(finbert_path=str(tmp_path / "missing")))
    assert get_scorer("auto", Settings()).name == "lexicon"


def test_the_loughran_mcdonald_lists_join_the_lexicon_from_your_own_copy(tmp_path: Path) -> None:
    # The Master Dictionary's layout: a Word column and the year a word joined each list (0: not in it).
    csv = tmp_path / "lm.csv"
    csv.write_text("Word,Negative,Positive,Uncertainty\nQUIBBLE,2009,0,0\nSPLENDIDNESS,0,2011,0\n"
                   "RETRACTED,-2020,0,0\nMAYBE,0,0,2009\n")
    assert read_lm_dictionary(csv) == {"quibble": -2.0, "splendidness": 2.0}
    with_lm = LexiconScorer(csv)
    assert with_lm.name == "lexicon+lm"
    assert with_lm.score_sentences(["quibble"])[0] < 0 < with_lm.score_sentences(["splendidness"])[0]
    assert LexiconScorer().score_sentences(["quibble"])[0] == 0.0
    (tmp_path / "bad.csv").write_text("term,tone\nx,1\n")
    with pytest.raises(ConfigError, match="Word, Positive and Negative"):
        read_lm_dictionary(tmp_path / "bad.csv")


# --- FinBERT, from a tiny random BERT saved the way save_pretrained saves FinBERT ---------------------------


def _tiny_bert(folder: Path, id2label: dict[int, str], bias: list[float]) -> Path:
    transformers = pytest.importorskip("transformers")
    import torch

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "shares", "plunge", "profit", "warning", "beats"]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                                     num_labels=3, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_finbert_scores_are_p_positive_minus_p_negative_from_a_local_folder(tmp_path: Path) -> None:
    # FinBERT's own order: 0 positive, 1 negative, 2 neutral; a bias that leans positive.
    folder = _tiny_bert(tmp_path / "finbert", {0: "positive", 1: "negative", 2: "neutral"}, [2.0, -2.0, 0.0])
    settings = Settings(finbert_path=str(folder))
    scorer = get_scorer("auto", settings)  # auto picks FinBERT once its weights are configured
    assert scorer.name == "finbert:finbert"
    texts = ["shares plunge", "profit warning. beats"]
    results = score_texts(texts, scorer)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForSequenceClassification.from_pretrained(folder)
    with torch.no_grad():
        probabilities = torch.softmax(model(**tokenizer(["shares plunge"], return_tensors="pt")).logits, -1)[0]
    assert results[0].score == pytest.approx(float(probabilities[0] - probabilities[1]), abs=1e-6)
    assert results[0].label == "positive" and results[0].scorer == "finbert:finbert"
    assert len(results[1].sentences) == 2 and all(-1 <= r.score <= 1 for r in results)


def test_finbert_reads_the_label_order_from_the_model_and_refuses_other_heads(tmp_path: Path) -> None:
    swapped = _tiny_bert(tmp_path / "swapped", {0: "neutral", 1: "negative", 2: "positive"}, [0.0, 3.0, -3.0])
    [result] = score_texts(["shares plunge"], get_scorer("finbert", Settings(finbert_path=str(swapped))))
    assert result.label == "negative" and result.score < -0.5
    other = _tiny_bert(tmp_path / "other", {0: "cat", 1: "dog", 2: "bird"}, [0.0, 0.0, 0.0])
    with pytest.raises(ModelSchemaError, match="positive, negative and neutral"):
        get_scorer("finbert", Settings(finbert_path=str(other)))


# --- the command line --------------------------------------------------------------------------------------


def test_the_cli_scores_one_text_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sentiment", "--text", "Shares plunge after profit warning", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["label"] == "negative" and -1 <= payload["score"] < 0 and payload["scorer"] == "lexicon"
    assert main(["sentiment", "--text", "Demo Corp beats estimates"]) == 0
    assert "positive (lexicon)  Demo Corp beats estimates" in capsys.readouterr().out
    assert main(["sentiment", "--text", "x", "--scorer", "finbert"]) == 2
    assert "PINELAB_FINBERT_PATH" in capsys.readouterr().err
