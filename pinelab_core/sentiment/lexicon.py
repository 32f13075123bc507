"""The finance words VADER is missing, and a loader for your own copy of the Loughran–McDonald lists.

VADER's lexicon was built from social-media English. News about markets reads differently: "plunge",
"downgrade" and "beats" are not in it, while "shares" (+1.2) and "crude" (-2.7) carry a tone they do not
have in a headline. Loughran and McDonald (2011, "When is a liability not a liability?") showed the same
for general-purpose word lists on 10-K filings and published finance word lists (the Master Dictionary).

Licence: the Master Dictionary is distributed by the University of Notre Dame's Software Repository for
Accounting and Finance (sraf.nd.edu), free for academic use, with a licence required for commercial use.
PineLab is MIT-licensed and may be used commercially, so it does **not** ship their lists. It ships
`FINANCE_VALENCES`: a short list written by hand for PineLab (common English words of market news, in
LM's positive and negative categories, valences on VADER's -4..+4 scale) and `NEUTRALISED`, general-tone
words that are neutral in finance. With a copy of the Master Dictionary you are entitled to use, point
`PINELAB_LM_DICTIONARY_PATH` at its CSV and every word of its Positive and Negative lists joins the lexicon.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pinelab_core.errors import ConfigError

__all__ = ["FINANCE_VALENCES", "LM_VALENCE", "NEUTRALISED", "finance_lexicon", "read_lm_dictionary"]

#: Valence given to a word of the Loughran–McDonald Positive (+) or Negative (-) list: a clear, mid-strength
#: tone on VADER's scale ("gain" is 2.4, "loss" -1.3), so the finance meaning wins over VADER's general one.
LM_VALENCE = 2.0

#: PineLab's hand-written finance words (not a copy of the LM dictionary), VADER scale.
FINANCE_VALENCES: dict[str, float] = {
    # price moves
    "surge": 2.2, "surges": 2.2, "surged": 2.2, "soar": 2.5, "soars": 2.5, "soared": 2.5, "jump": 1.5,
    "jumps": 1.5, "jumped": 1.5, "rally": 2.0, "rallies": 2.0, "rallied": 2.0, "rebound": 1.5, "rebounds": 1.5,
    "climb": 1.2, "climbs": 1.2, "rise": 1.0, "rises": 1.0, "rose": 1.0, "gains": 1.8, "gained": 1.8,
    "plunge": -2.8, "plunges": -2.8, "plunged": -2.8, "tumble": -2.4, "tumbles": -2.4, "tumbled": -2.4,
    "slump": -2.3, "slumps": -2.3, "slumped": -2.3, "sink": -1.8, "sinks": -1.8, "sank": -1.8,
    "slide": -1.5, "slides": -1.5, "slid": -1.5, "fall": -1.2, "falls": -1.2, "fell": -1.2, "drop": -1.3,
    "drops": -1.3, "dropped": -1.3, "decline": -1.5, "declines": -1.5, "declined": -1.5, "selloff": -2.3,
    "sell-off": -2.3, "rout": -2.8, "crash": -3.0, "crashes": -3.0, "crashed": -3.0,
    # results and guidance
    "beat": 1.8, "beats": 1.8, "topped": 1.6, "tops": 1.6, "exceeds": 1.8, "exceeded": 1.8, "record": 1.5,
    "profitable": 2.0, "profits": 1.9, "upbeat": 2.0, "raises": 1.2, "raised": 1.2, "outperform": 2.0,
    "outperforms": 2.0, "upgrade": 2.2, "upgrades": 2.2, "upgraded": 2.2, "bullish": 2.4, "dividend": 0.8,
    "buyback": 1.2, "expansion": 1.2, "approval": 1.8, "approved": 1.6,
    "miss": -1.8, "misses": -1.8, "missed": -1.8, "shortfall": -2.0, "warning": -1.8, "warns": -2.0,
    "warned": -2.0, "downgrade": -2.3, "downgrades": -2.3, "downgraded": -2.3, "underperform": -2.0,
    "bearish": -2.4, "losses": -2.0, "impairment": -2.0, "writedown": -2.0, "write-down": -2.0,
    "restatement": -2.2, "layoffs": -2.0, "bankruptcy": -3.2, "insolvency": -3.0, "default": -2.5,
    "defaults": -2.5, "delisting": -2.6, "lawsuit": -1.8, "litigation": -1.8, "probe": -1.6,
    "investigation": -1.6, "subpoena": -1.8, "recall": -1.8, "recalls": -1.8, "penalty": -1.8,
    "fine": -1.5, "fines": -1.5, "fined": -2.0, "sanctions": -1.5, "downturn": -2.0, "recession": -2.5,
    "volatile": -1.0, "halted": -1.8, "suspended": -1.6, "hack": -2.2, "breach": -2.0, "outage": -1.8,
    "deficit": -1.2, "cuts": -1.0,
}

#: General-tone words that are neutral in a headline ("shares", "crude oil", "tax liabilities", "vice chair").
NEUTRALISED: tuple[str, ...] = (
    "share", "shares", "crude", "liability", "liabilities", "vice", "capital", "cancer", "mine", "mines",
    "tire", "tires", "gross", "bull", "bear",
)


def read_lm_dictionary(path: str | Path) -> dict[str, float]:
    """Positive and Negative words of a Loughran–McDonald Master Dictionary CSV, as VADER valences.

    The CSV has a `Word` column and one column per category (`Positive`, `Negative`, ...) holding the
    year the word was added (0 when it is not in that list; a negative year when it was removed).

    Raises:
        ConfigError: the file is missing or is not a Master Dictionary CSV.
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"PINELAB_LM_DICTIONARY_PATH={str(file)!r} is not a file. Point it at your copy of "
                          "the Loughran–McDonald Master Dictionary CSV, or leave it empty.")
    try:
        frame = pd.read_csv(file, usecols=["Word", "Positive", "Negative"], keep_default_na=False)
    except ValueError as exc:
        raise ConfigError(f"{file.name} is not a Loughran–McDonald Master Dictionary CSV: it needs the columns "
                          f"Word, Positive and Negative ({exc}).") from exc
    words = frame["Word"].astype(str).str.lower()
    positive = pd.to_numeric(frame["Positive"], errors="coerce").fillna(0) > 0
    negative = pd.to_numeric(frame["Negative"], errors="coerce").fillna(0) > 0
    valences = {w: -LM_VALENCE for w in words[negative]}
    valences.update({w: LM_VALENCE for w in words[positive & ~negative]})
    return valences


def finance_lexicon(lm_path: str | Path | None = None) -> tuple[dict[str, float], tuple[str, ...]]:
    """The words to add to VADER (PineLab's list, then the LM lists when given) and the words to neutralise."""
    valences = dict(FINANCE_VALENCES)
    if lm_path:
        valences.update(read_lm_dictionary(lm_path))
    neutral = tuple(w for w in NEUTRALISED if w not in valences)
    return valences, neutral
