"""Headline scoring throughput: PineLab's lexicon scorer against plain VADER, measured in one run, same texts.

PineLab's `score_texts(texts, "lexicon")` (sentence split, VADER with the finance words, mean per headline,
label) against `SentimentIntensityAnalyzer().polarity_scores` on each text (the peer). Also the daily
feature (`sentiment_features`) on a year of hourly bars. Best of 3 runs each; the ratio is what to read.

    python bench/bench_sentiment.py            # writes bench/results/sentiment.md
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pinelab_core.sentiment import demo_headlines, get_scorer, score_texts, sentiment_features

RESULTS = Path(__file__).parent / "results" / "sentiment.md"


def _best(call, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    texts = [h.text for h in demo_headlines()] * 100  # 6,000 headlines
    plain = SentimentIntensityAnalyzer()
    scorer = get_scorer("lexicon")
    ours = _best(lambda: score_texts(texts, scorer))
    peer = _best(lambda: [plain.polarity_scores(t)["compound"] for t in texts])
    rng = np.random.default_rng(0)
    index = pd.date_range("2025-01-01", periods=24 * 365, freq="h", tz="UTC", name="time")
    bars = pd.DataFrame({c: 1.0 for c in ("open", "high", "low", "close", "volume")}, index=index)
    news = pd.DataFrame({"published_at": index[0] + pd.to_timedelta(rng.uniform(0, 365, 20_000), unit="D"),
                         "score": rng.uniform(-1, 1, 20_000)})
    feature = _best(lambda: sentiment_features(bars, news))
    load = os.getloadavg()
    lines = [
        "# Sentiment benchmark", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} when the run ended; best of 3.", "",
        "| case | PineLab | peer | ratio |", "|---|---|---|---|",
        f"| score {len(texts):,} headlines | {len(texts) / ours:,.0f}/s (lexicon) | {len(texts) / peer:,.0f}/s "
        f"(plain VADER) | {ours / peer:.2f}x the peer's time |",
        f"| daily feature, {len(bars):,} hourly bars x {len(news):,} headlines | {feature * 1000:.1f} ms | | |",
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
