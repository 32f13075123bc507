"""Shared builders for the live-loop tests: alert streams with planted duplicates and disorder."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pinelab_core.live.intake import AlertIn


def alert_stream(index: pd.DatetimeIndex, n: int, seed: int = 0) -> list[AlertIn]:
    """`n` distinct alerts at random times inside the bars, in time order, some with a size."""
    rng = np.random.default_rng(seed)
    step = int((index[1] - index[0]).value)
    starts = np.sort(rng.choice(index.as_unit("ns").asi8[:-1], n))
    times = starts + rng.integers(0, step // 1_000, n) * 1_000  # microseconds inside the bar
    actions = rng.choice(["buy", "sell", "flat"], n, p=[0.4, 0.4, 0.2])
    sizes = np.where(rng.random(n) < 0.3, rng.choice([0.25, 0.5, 1.0], n), np.nan)
    return [AlertIn(f"tv-{i:05d}", pd.Timestamp(t, tz="UTC"), str(a), None if np.isnan(s) else float(s))
            for i, (t, a, s) in enumerate(zip(times, actions, sizes, strict=True))]


def messy_delivery(alerts: list[AlertIn], *, duplicates: float = 0.05, reordered: float = 0.05,
                   seed: int = 1) -> tuple[list[AlertIn], int]:
    """The alerts as a flaky sender delivers them: `duplicates` re-sent later, `reordered` moved elsewhere."""
    rng = np.random.default_rng(seed)
    delivered = list(alerts)
    moved = rng.choice(len(delivered), int(reordered * len(delivered)), replace=False)
    for i in sorted(moved, reverse=True):
        alert = delivered.pop(i)
        delivered.insert(int(rng.integers(0, len(delivered) + 1)), alert)
    copies = rng.choice(len(alerts), int(duplicates * len(alerts)), replace=False)
    for i in copies:
        delivered.insert(int(rng.integers(0, len(delivered) + 1)), alerts[i])
    return delivered, len(copies)


def expected_targets(index: pd.DatetimeIndex, alerts: list[AlertIn], allow_short: bool = True) -> pd.Series:
    """What the alerts ask for, written independently of the state machine: the last alert of a bar wins."""
    targets = pd.Series(np.nan, index=index)
    ns = index.as_unit("ns").asi8
    for alert in sorted(alerts, key=lambda a: (a.time, a.key)):
        bar = int(np.searchsorted(ns, pd.Timestamp(alert.time).as_unit("ns").value, side="right")) - 1
        size = 1.0 if alert.size is None else alert.size
        value = {"buy": size, "sell": -size if allow_short else 0.0, "flat": 0.0}[alert.action]
        targets.iloc[bar] = value
    return targets
