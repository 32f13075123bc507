"""The causality (look-ahead) audit: recompute the features on truncated copies of the data and check
that nothing already computed changes when the future is removed.

How it decides, and why:

- For a cut at k bars, the matrix of `ohlcv.iloc[:k]` must equal the first k rows of the full matrix.
  A centred window, a back-fill, or a z-score over the whole sample all change some of those rows
  once later bars disappear, so they fail. The whole prefix is compared, which includes the cut's
  last row (the row a live system would compute at that moment).
- Only the end of the frame is cut, never the start. Recursive indicators (EMA, RSI, ATR, ADX, MACD,
  KAMA, TRIX, cumulative OBV/A-D) therefore see the same history from the same first bar and
  reproduce bit for bit; their dependence on the start of the data (TA-Lib's "unstable period") is
  a warm-up property, not a leak, and the catalog's lookback plus a few hundred bars covers it.
  The tolerance (relative 1e-9, absolute 1e-12) only absorbs rounding from blocked matrix products
  (the rolling FFT), orders of magnitude below any real leak; NaN versus a number is always a failure.
- Cut points: a ladder of short prefixes (1, 2, 4, ... bars) so a back-filled warm-up is caught
  (a back-fill needs a later value that a short prefix does not have), plus `n_cuts` random cuts
  over the rest of the frame, drawn with `seed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from pinelab_core.errors import DataValidationError
from pinelab_core.features.builder import build_feature_frame, check_ohlcv

__all__ = ["AUDIT_ATOL", "AUDIT_RTOL", "audit_cut_points", "causality_audit"]

AUDIT_RTOL = 1e-9
AUDIT_ATOL = 1e-12
_MIN_ROWS = 10


def audit_cut_points(n_rows: int, n_cuts: int, seed: int) -> list[int]:
    """Prefix lengths to test: 1, 2, 4, ... up to n/4, then `n_cuts` random lengths in [n/4, n)."""
    ladder = [2**i for i in range(int(np.log2(max(n_rows // 4, 1))) + 1)]
    rng = np.random.default_rng(seed)
    low = max(n_rows // 4, 2)
    random_cuts = rng.integers(low, n_rows, size=n_cuts).tolist() if n_rows > low else []
    return sorted(set(ladder) | {int(c) for c in random_cuts})


def causality_audit(
    ohlcv: pd.DataFrame,
    n_cuts: int = 12,
    seed: int = 0,
    groups: Iterable[str] | str | None = None,
    *,
    builder: Any = None,
) -> pd.DataFrame:
    """Prove (or refute) that each feature only uses past data, on your own OHLCV frame.

    Args:
        ohlcv: The OHLCV frame to audit on (at least a few hundred bars makes the check meaningful).
        n_cuts: Number of random cut points, on top of the ladder of short prefixes.
        seed: Seed of the random cut points (same seed, same cuts).
        groups: Feature groups to audit; None audits all.
        builder: The feature function to audit, `builder(ohlcv, groups=...) -> DataFrame`; defaults to
            `build_features` (one frame). Tests pass a deliberately leaky builder here to show the audit catches it.

    Returns:
        One row per feature: feature, passed, max_abs_diff (inf where a value and a NaN disagree),
        first_bad_time (the earliest bar whose value changed when the future was removed, else NaT).

    Raises:
        DataValidationError: fewer than 10 bars, or n_cuts < 1.
    """
    frame = check_ohlcv(ohlcv)
    if len(frame) < _MIN_ROWS:
        raise DataValidationError(f"The causality audit needs at least {_MIN_ROWS} bars, got {len(frame)}.")
    if n_cuts < 1:
        raise DataValidationError(f"n_cuts must be at least 1, got {n_cuts}.")
    build = builder or build_feature_frame
    full = build(frame, groups=groups)
    values = full.to_numpy(dtype=np.float64)
    max_diff = np.zeros(values.shape[1])
    first_bad = np.full(values.shape[1], len(frame), dtype=np.int64)
    for cut in audit_cut_points(len(frame), n_cuts, seed):
        part = build(frame.iloc[:cut], groups=groups)[full.columns].to_numpy(dtype=np.float64)
        diff, bad = _compare(part, values[:cut])
        max_diff = np.maximum(max_diff, diff)
        rows = np.where(bad.any(axis=0), bad.argmax(axis=0), len(frame))
        first_bad = np.minimum(first_bad, rows)
    passed = first_bad == len(frame)
    first_time = [pd.NaT if ok else frame.index[row] for ok, row in zip(passed, first_bad, strict=True)]
    return pd.DataFrame(
        {"feature": full.columns, "passed": passed, "max_abs_diff": max_diff, "first_bad_time": first_time}
    )


def _compare(part: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the largest absolute difference, and a rows x columns mask of disagreements."""
    both_nan = np.isnan(part) & np.isnan(reference)
    one_nan = np.isnan(part) ^ np.isnan(reference)
    with np.errstate(invalid="ignore"):
        close = np.isclose(part, reference, rtol=AUDIT_RTOL, atol=AUDIT_ATOL)
        gap = np.where(one_nan, np.inf, np.abs(part - reference))
    bad = ~(close | both_nan)
    gap = np.where(both_nan, 0.0, gap)
    return (gap.max(axis=0) if len(gap) else np.zeros(part.shape[1])), bad
