"""Sentiment scorers: a text in, a score in [-1, 1] out, per sentence and aggregated per text.

Two scorers, chosen by a short name (`SCORERS`):

- `lexicon` (the offline default): VADER (its lexicon ships inside the `vaderSentiment` package; nothing is
  downloaded) with PineLab's finance words and, when configured, the Loughran–McDonald lists (see `lexicon`).
- `finbert`: a FinBERT checkpoint on disk (`PINELAB_FINBERT_PATH`, a folder `save_pretrained` wrote) through
  transformers (the optional `sentiment` extra). Never downloaded: PineLab loads local files only.

Each text is split into sentences; each sentence gets a score in [-1, 1]; the text's score is their mean.
The label is positive at or above +0.05, negative at or below -0.05, neutral between (VADER's thresholds).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from pinelab_core.config import Settings
from pinelab_core.errors import ConfigError, DataValidationError, ModelSchemaError
from pinelab_core.sentiment.lexicon import finance_lexicon

__all__ = [
    "NEUTRAL_BAND",
    "SCORERS",
    "FinbertScorer",
    "LexiconScorer",
    "SentimentScore",
    "SentimentScorer",
    "describe_scorer",
    "get_scorer",
    "score_label",
    "score_texts",
    "split_sentences",
]

#: |score| below this is neutral (VADER's recommended threshold on its compound score).
NEUTRAL_BAND = 0.05
MAX_TEXT_CHARS = 5_000
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")


@dataclass(frozen=True)
class SentimentScore:
    """One text's sentiment: `score` in [-1, 1], its label, the scorer, and each sentence's score."""

    text: str
    score: float
    label: str  # positive | negative | neutral
    scorer: str
    sentences: tuple[tuple[str, float], ...] = ()


class SentimentScorer(Protocol):
    """Scores sentences. `name` says which scorer (and model) produced a score; it is stored with it."""

    name: str

    def score_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        """One score in [-1, 1] per sentence."""
        ...


def score_label(score: float) -> str:
    """positive / negative / neutral for a score in [-1, 1]."""
    return "positive" if score >= NEUTRAL_BAND else "negative" if score <= -NEUTRAL_BAND else "neutral"


def split_sentences(text: str) -> list[str]:
    """The sentences of a headline or summary (a headline is usually one)."""
    parts = [p.strip() for p in _SENTENCE_END.split(" ".join(text.split()))]
    return [p for p in parts if p]


class LexiconScorer:
    """VADER with finance words: offline, deterministic, a few thousand sentences a second on one core."""

    def __init__(self, lm_path: str | Path | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        valences, neutral = finance_lexicon(lm_path)
        # A finance meaning replaces VADER's general one; neutral words leave the lexicon altogether.
        self._analyzer.lexicon.update(valences)
        for word in neutral:
            self._analyzer.lexicon.pop(word, None)
        self.name = "lexicon+lm" if lm_path else "lexicon"

    def score_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        return np.array([self._analyzer.polarity_scores(s)["compound"] for s in sentences], dtype=np.float64)


class FinbertScorer:
    """A FinBERT-style sequence classifier from a local folder: score = P(positive) - P(negative).

    The model's `id2label` must name `positive`, `negative` and `neutral` (any case), as FinBERT's do.
    """

    def __init__(self, path: str | Path, *, batch_size: int = 32, max_length: int = 128) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise ConfigError(f"PINELAB_FINBERT_PATH={str(folder)!r} is not a folder. Point it at a FinBERT "
                              "checkpoint saved with save_pretrained (config.json, weights, tokenizer files).")
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ConfigError("FinBERT needs transformers: pip install -e '.[sentiment]'.") from exc
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self._model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Could not load a FinBERT checkpoint from {folder}: {exc}") from exc
        self._model.eval()
        labels = {str(v).lower(): int(k) for k, v in self._model.config.id2label.items()}
        missing = {"positive", "negative"} - set(labels)
        if missing:
            raise ModelSchemaError(f"The model in {folder} labels its classes {sorted(labels)}; a FinBERT "
                                   "sentiment model names positive, negative and neutral.")
        self._positive, self._negative = labels["positive"], labels["negative"]
        self._batch_size, self._max_length = batch_size, max_length
        self.name = f"finbert:{folder.name}"

    def score_sentences(self, sentences: Sequence[str]) -> np.ndarray:
        import torch

        scores: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(sentences), self._batch_size):
                batch = self._tokenizer(list(sentences[start:start + self._batch_size]), padding=True,
                                        truncation=True, max_length=self._max_length, return_tensors="pt")
                probabilities = torch.softmax(self._model(**batch).logits, dim=-1).numpy()
                scores.append(probabilities[:, self._positive] - probabilities[:, self._negative])
        return np.concatenate(scores).astype(np.float64) if scores else np.zeros(0)


@lru_cache(maxsize=4)
def _lexicon(lm_path: str) -> LexiconScorer:
    return LexiconScorer(lm_path or None)


@lru_cache(maxsize=2)
def _finbert(path: str) -> FinbertScorer:
    return FinbertScorer(path)


#: Scorer name -> factory from settings. "auto" (below) picks FinBERT when its weights are configured.
SCORERS: dict[str, Callable[[Settings], SentimentScorer]] = {
    "lexicon": lambda s: _lexicon(s.lm_dictionary_path),
    "finbert": lambda s: _finbert(s.finbert_path),
}


def describe_scorer(name: str) -> str:
    """A trader's sentence for a scorer name as stored with a score ("lexicon", "finbert:finbert", ...)."""
    if name.startswith("finbert:"):
        return f"FinBERT (the checkpoint in folder {name.removeprefix('finbert:')!r}, PINELAB_FINBERT_PATH)"
    if name == "lexicon+lm":
        return "VADER with PineLab's finance words and your Loughran–McDonald lists (offline lexicon)"
    return "VADER with PineLab's finance words (offline lexicon; set PINELAB_FINBERT_PATH for FinBERT)"


def get_scorer(name: str = "auto", settings: Settings | None = None) -> SentimentScorer:
    """The scorer called `name`: "lexicon", "finbert", or "auto" (FinBERT when PINELAB_FINBERT_PATH is set).

    Raises:
        DataValidationError: an unknown name.
        ConfigError: "finbert" without PINELAB_FINBERT_PATH, or weights that do not load.
    """
    settings = settings or Settings.from_env()
    chosen = name.strip().lower()
    if chosen == "auto":
        chosen = "finbert" if settings.finbert_path else "lexicon"
    if chosen not in SCORERS:
        raise DataValidationError(f"Unknown sentiment scorer {name!r}. Known: auto, {', '.join(SCORERS)}.")
    if chosen == "finbert" and not settings.finbert_path:
        raise ConfigError("The finbert scorer needs PINELAB_FINBERT_PATH: a folder holding a FinBERT checkpoint "
                          "(e.g. ProsusAI/finbert saved with save_pretrained). PineLab never downloads it.")
    return SCORERS[chosen](settings)


def score_texts(texts: Iterable[str], scorer: str | SentimentScorer = "auto",
                settings: Settings | None = None) -> list[SentimentScore]:
    """Score each text: its sentences, then their mean (`score` in [-1, 1]), its label and the scorer's name.

    Args:
        texts: headlines (or any short texts); each at most 5,000 characters.
        scorer: a scorer name ("auto", "lexicon", "finbert") or a scorer object.

    Raises:
        DataValidationError: a text is not a string or is too long.
    """
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise DataValidationError(f"Text {position} is a {type(text).__name__}, not a string.")
        if len(text) > MAX_TEXT_CHARS:
            raise DataValidationError(f"Text {position} has {len(text):,} characters; score at most "
                                      f"{MAX_TEXT_CHARS:,} (a headline, a summary), not a whole article.")
    model = get_scorer(scorer, settings) if isinstance(scorer, str) else scorer
    sentences = [split_sentences(text) for text in items]
    flat = [s for group in sentences for s in group]
    values = np.clip(model.score_sentences(flat), -1.0, 1.0) if flat else np.zeros(0)
    results: list[SentimentScore] = []
    position = 0
    for text, group in zip(items, sentences, strict=True):
        mine = values[position:position + len(group)]
        position += len(group)
        score = float(mine.mean()) if len(mine) else 0.0
        results.append(SentimentScore(text, score, score_label(score), model.name,
                                      tuple(zip(group, (float(v) for v in mine), strict=True))))
    return results

