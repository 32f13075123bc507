"""The Charts page's pattern report, cached per market, scan settings and pattern-model version."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pinelab_core.config import Settings
from pinelab_core.patterns import PatternReport, analyse_patterns, pattern_model_version

__all__ = ["pattern_report"]


def pattern_report(ohlcv: pd.DataFrame, settings: Settings, *, last: int, threshold: float) -> PatternReport:
    """`analyse_patterns` for the page, computed once per (bars, scan settings, active pattern model).

    Raises:
        ModelNotFoundError: no pattern model is trained yet.
    """
    version = pattern_model_version(settings)
    return _cached(ohlcv, settings, last, threshold, f"{version.ref}:{version.checksum}")


@st.cache_data(show_spinner="Looking for chart patterns…", max_entries=8)
def _cached(ohlcv: pd.DataFrame, settings: Settings, last: int, threshold: float, model_key: str) -> PatternReport:
    del model_key  # only part of the cache key: a newly trained model is scanned afresh
    return analyse_patterns(ohlcv, settings, last=last, threshold=threshold)
