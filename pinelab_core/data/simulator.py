"""The offline demo market: a seeded simulator that looks like a market to a model and to an eye.

Any symbol string gives the same series every time (the seed is a stable BLAKE2 hash of the symbol
and timeframe, never Python's salted ``hash()``). Each bar's return mixes

- a hidden bull/bear/range regime (Markov chain) that sets drift and volatility level,
- GARCH(1,1) volatility clustering with Student-t innovations (fat tails),
- intraday volatility seasonality (U-shape for equity sessions, a US-afternoon peak for 24h markets),
- occasional jumps, and gaps at session opens (overnight, FX weekend),

and volume co-moves with |returns| and volatility, with intraday and day-of-week seasonality.

The series is pinned to a fixed anchor (the last bar opens before ``ANCHOR_END``) and generated
*backwards* from it: bar k counted back from the anchor always gets the same random draws, so a
longer history is an exact extension of a shorter one and nothing depends on the wall clock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from pinelab_core.data.calendar import DAY, Calendar, bar_times, session_position, weekday
from pinelab_core.data.timeparse import TimeLike, parse_when
from pinelab_core.data.validation import TIME_UNIT
from pinelab_core.errors import DataValidationError
from pinelab_core.types import INDEX_NAME, Timeframe

__all__ = ["ANCHOR_END", "DEMO_PROFILES", "MarketProfile", "demo_profile", "simulate_ohlcv"]

#: Every demo series ends with the last bar opening before this instant (Friday 2026-10-30 is the last day).
ANCHOR_END = pd.Timestamp("2026-10-31", tz="UTC")
#: History shown when no start is given, per timeframe (about 10 years daily, 2 years hourly, 60 days minute).
DEFAULT_SPAN: dict[Timeframe, pd.Timedelta] = {
    Timeframe.M1: pd.Timedelta(days=60),
    Timeframe.M5: pd.Timedelta(days=180),
    Timeframe.M15: pd.Timedelta(days=365),
    Timeframe.M30: pd.Timedelta(days=365),
    Timeframe.H1: pd.Timedelta(days=730),
    Timeframe.H4: pd.Timedelta(days=1826),
    Timeframe.D1: pd.Timedelta(days=3653),
    Timeframe.W1: pd.Timedelta(days=7305),
}
#: A guard against requests that would not fit in memory (10M bars is ~400 MB of OHLCV).
MAX_BARS = 10_000_000
#: A coarser timeframe is aggregated from the profile's base bars when one bar holds at most this many,
#: so switching 1h -> 1d on DEMO-BTC shows the same market; beyond it the timeframe is simulated natively.
MAX_RESAMPLE_RATIO = 240

# Regimes: 0 bull, 1 bear, 2 range. Annual drift (for a 25%-vol market), volatility multiplier and
# mean duration in trading days.
_REGIME_DRIFT = np.array([0.30, -0.45, 0.0])
_REGIME_VOL = np.array([0.85, 1.55, 0.7])
_REGIME_DAYS = np.array([220.0, 60.0, 90.0])
_GARCH_ALPHA, _GARCH_BETA = 0.07, 0.91
# Day-of-week volume factors, Monday first: quieter weekends for 24/7 markets, busier Fridays.
_WEEKDAY_VOLUME = np.array([0.92, 1.0, 1.03, 1.02, 1.08, 0.62, 0.68])
_FX_CODES = {"EUR", "USD", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "MXN", "ZAR", "SGD", "HKD", "CNH"}


@dataclass(frozen=True)
class MarketProfile:
    """What kind of market a demo symbol simulates.

    Attributes:
        kind: "equity", "crypto" or "fx".
        calendar: when it trades.
        base_timeframe: the bars it is simulated in; coarser timeframes aggregate them.
        annual_vol: annualised volatility of returns.
        price: the close of the anchor bar.
        daily_volume: typical volume traded per day.
        tail_df: Student-t degrees of freedom of the innovations (lower = fatter tails).
        gap_vol: session-open gap size as a fraction of daily volatility.
        jumps_per_year: how often a jump bar occurs.
    """

    kind: str
    calendar: Calendar
    base_timeframe: Timeframe
    annual_vol: float
    price: float
    daily_volume: float
    tail_df: float = 4.0
    gap_vol: float = 0.0
    jumps_per_year: float = 4.0

    @property
    def days_per_year(self) -> float:
        return {"equity": 252.0, "fx": 260.0, "crypto": 365.0}[self.kind]

    def bars_per_day(self, timeframe: Timeframe) -> float:
        if timeframe is Timeframe.W1:
            return 1.0 / (7.0 if self.calendar is Calendar.ALWAYS else 5.0)
        if not timeframe.is_intraday:
            return 1.0
        session = 6.5 * 3600 if self.calendar is Calendar.SESSION else DAY
        return session / timeframe.seconds


DEMO_PROFILES: dict[str, MarketProfile] = {
    "DEMO-EQUITY": MarketProfile("equity", Calendar.SESSION, Timeframe.D1, 0.24, 182.5, 4.5e7, 3.5, 0.45, 4.0),
    "DEMO-INDEX": MarketProfile("equity", Calendar.SESSION, Timeframe.D1, 0.16, 5_820.0, 2.5e9, 4.5, 0.35, 2.0),
    "DEMO-BTC": MarketProfile("crypto", Calendar.ALWAYS, Timeframe.H1, 0.62, 68_400.0, 28_000.0, 3.2, 0.0, 10.0),
    "DEMO-ETH": MarketProfile("crypto", Calendar.ALWAYS, Timeframe.H1, 0.75, 3_450.0, 350_000.0, 3.2, 0.0, 10.0),
    "DEMO-FX": MarketProfile("fx", Calendar.FX, Timeframe.M1, 0.08, 1.0852, 180_000.0, 4.5, 0.2, 3.0),
}


def demo_profile(symbol: str) -> MarketProfile:
    """The profile of a demo symbol: a named one, else guessed from how the symbol is spelled.

    "BTC/USDT"-like pairs simulate crypto, "EURUSD"/"EUR/USD" simulate FX, anything else an equity;
    the anchor price comes from the symbol's hash so different symbols trade at different levels.
    """
    key = _normalise(symbol)
    if key in DEMO_PROFILES:
        return DEMO_PROFILES[key]
    level = _stable_hash(f"price|{key}") / 2**64
    letters = re.sub(r"[^A-Z]", "", key)
    if len(letters) == 6 and letters[:3] in _FX_CODES and letters[3:] in _FX_CODES:
        return MarketProfile("fx", Calendar.FX, Timeframe.M1, 0.09, round(0.6 + level, 4), 150_000.0, 4.5, 0.2, 3.0)
    if "/" in key or key.endswith(("USDT", "USDC", "BTC", "-USD", "PERP")):
        price = float(np.exp(np.log(0.5) + level * np.log(4000.0)))
        return MarketProfile("crypto", Calendar.ALWAYS, Timeframe.H1, 0.8, price, 5e6 / price, 3.2, 0.0, 12.0)
    price = round(20.0 + 480.0 * level, 2)
    return MarketProfile("equity", Calendar.SESSION, Timeframe.D1, 0.3, price, 2e9 / price, 3.5, 0.45, 5.0)


def simulate_ohlcv(
    symbol: str,
    timeframe: str | Timeframe = "1d",
    start: TimeLike = None,
    end: TimeLike = None,
) -> pd.DataFrame:
    """Simulated OHLCV bars of `symbol` between `start` and `end` (inclusive, UTC).

    Args:
        symbol: any string; the named ones are DEMO-EQUITY, DEMO-INDEX, DEMO-BTC, DEMO-ETH, DEMO-FX.
        timeframe: bar size ("1m" ... "1w").
        start: first bar; default the timeframe's usual history before `end`.
        end: last bar, inclusive (a bare date includes its whole day); default and at most the demo
            anchor, 2026-10-30.

    Returns:
        The OHLCV frame of the contract (float64 columns, UTC index named ``time``).

    Raises:
        DataValidationError: the window is empty, after the anchor, or too long to hold in memory.
    """
    tf = Timeframe.parse(timeframe)
    profile = demo_profile(symbol)
    first_wanted, last_wanted = parse_when(start, "start"), parse_when(end, "end", end_of_day=True)
    last = ANCHOR_END if last_wanted is None else min(last_wanted + pd.Timedelta(1, "ns"), ANCHOR_END)
    first = first_wanted if first_wanted is not None else last - DEFAULT_SPAN[tf]
    if first >= last:
        raise DataValidationError(
            f"The demo market has no {tf.value} bars between {first} and {last}: it ends at "
            f"{ANCHOR_END - pd.Timedelta(days=1):%Y-%m-%d (%A)}. Choose an earlier start or end."
        )
    base = profile.base_timeframe
    if base.seconds < tf.seconds <= base.seconds * MAX_RESAMPLE_RATIO:
        from pinelab_core.data.resample import resample_ohlcv

        bin_start = first.floor("D") - pd.Timedelta(days=7)  # generous: the first coarse bin must be complete
        frame = resample_ohlcv(_generate(symbol, profile, base, bin_start), tf)
    else:
        frame = _generate(symbol, profile, tf, first)
    window = frame.loc[(frame.index >= first) & (frame.index < last)]
    if window.empty:
        raise DataValidationError(
            f"The demo {profile.kind} market {symbol!r} has no {tf.value} bars between {first} and {last} "
            "(weekends and closed hours hold no bars). Widen the date range."
        )
    return window


def _generate(symbol: str, profile: MarketProfile, tf: Timeframe, first: pd.Timestamp) -> pd.DataFrame:
    """Bars from `first` to the anchor, simulated natively at `tf`."""
    start_s, end_s = int(first.timestamp()), int(ANCHOR_END.timestamp())
    expected = (end_s - start_s) / tf.seconds * (5 / 7 if profile.calendar is not Calendar.ALWAYS else 1.0)
    if expected > MAX_BARS:
        raise DataValidationError(
            f"{symbol!r} at {tf.value} from {first.date()} is about {expected:,.0f} bars, more than the "
            f"{MAX_BARS:,} the demo market builds at once. Choose a later start or a coarser timeframe."
        )
    times = bar_times(profile.calendar, tf, start_s, end_s)
    # Reverse: index 0 is the anchor bar, so the draws of a bar do not depend on how far back we go.
    times_back = times[::-1]
    prices = _simulate_backwards(profile, tf, times_back, _stable_hash(f"{_normalise(symbol)}|{tf.value}"))
    index = pd.DatetimeIndex(pd.to_datetime(times, unit="s", utc=True), name=INDEX_NAME).as_unit(TIME_UNIT)
    return pd.DataFrame({name: values[::-1] for name, values in prices.items()}, index=index)


def _simulate_backwards(
    profile: MarketProfile, tf: Timeframe, times: np.ndarray, seed: int
) -> dict[str, np.ndarray]:
    """OHLCV columns for `times` given newest first."""
    n = len(times)
    bars_per_day = profile.bars_per_day(tf)
    bars_per_year = profile.days_per_year * bars_per_day
    sigma_bar = profile.annual_vol / np.sqrt(bars_per_year)
    sigma_day = profile.annual_vol / np.sqrt(profile.days_per_year)

    normals = np.random.Generator(np.random.PCG64(seed)).standard_normal((n, 5))
    z = np.random.Generator(np.random.PCG64(seed + 1)).standard_t(profile.tail_df, n)
    z /= np.sqrt(profile.tail_df / (profile.tail_df - 2.0))  # unit variance, tails stay fat
    uniforms = np.random.Generator(np.random.PCG64(seed + 2)).random((n, 2))

    stay = np.clip(1.0 - 1.0 / (_REGIME_DAYS * bars_per_day), 0.0, 1.0)
    regime = _regime_path(uniforms[:, 0], stay, int(seed % 3))
    variance = _garch_variance(z, 1.0 - _GARCH_ALPHA - _GARCH_BETA, _GARCH_ALPHA, _GARCH_BETA)
    vol_season, volume_season = _seasonality(profile, tf, times)

    sigma = sigma_bar * vol_season * _REGIME_VOL[regime] * np.sqrt(variance)
    # A jump is ~3 daily sigmas on a daily bar; on intraday bars it is rarer in size relative to the day
    # (a news spike is 15-20 minute-sigmas, not 100), hence the fourth-root scaling.
    jump_size = 3.0 * sigma_bar * bars_per_day**0.25
    jumps = (uniforms[:, 1] < profile.jumps_per_year / bars_per_year) * normals[:, 0] * jump_size
    # Regime drift scales with the market's volatility: a bull FX market trends less than a bull BTC one.
    drift = _REGIME_DRIFT[regime] * (profile.annual_vol / 0.25) / bars_per_year
    body = drift - 0.5 * sigma**2 + sigma * z + jumps
    gap = _gap_flags(profile, tf, times) * normals[:, 1] * profile.gap_vol * sigma_day

    # Newest close is the anchor price; each earlier close removes the later bar's body and gap.
    step_back = body + gap
    log_close = np.log(profile.price) - np.concatenate(([0.0], np.cumsum(step_back)[:-1]))
    close = np.exp(log_close)
    open_ = np.exp(log_close - body)
    high = np.maximum(open_, close) * np.exp(0.5 * sigma * np.abs(normals[:, 2]))
    low = np.minimum(open_, close) * np.exp(-0.5 * sigma * np.abs(normals[:, 3]))
    surprise = np.abs(z) + np.abs(jumps) / sigma_bar
    volume = (
        profile.daily_volume / bars_per_day * volume_season * _REGIME_VOL[regime] * np.sqrt(variance)
        * (0.5 + 0.5 * surprise) * np.exp(0.3 * normals[:, 4] - 0.045)
    )
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _seasonality(profile: MarketProfile, tf: Timeframe, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(volatility, volume) multipliers with mean about 1: time of day and day of week."""
    if tf.is_intraday:
        position = session_position(profile.calendar, times)
        if profile.calendar is Calendar.SESSION:
            vol = (0.75 + 1.2 * (2.0 * position - 1.0) ** 2) / 1.15  # busy open and close, quiet lunch
        else:
            peak = 14.5 / 24 if profile.kind == "fx" else 15.5 / 24  # London/New York overlap
            vol = 1.0 + 0.35 * np.cos(2.0 * np.pi * (position - peak))
    else:
        vol = np.ones(len(times))
    volume = vol**1.5 * (_WEEKDAY_VOLUME[weekday(times)] if tf is not Timeframe.W1 else 1.0)
    return vol, volume


def _gap_flags(profile: MarketProfile, tf: Timeframe, times: np.ndarray) -> np.ndarray:
    """1.0 where a bar opens after the market was closed (overnight, weekend), else 0.0."""
    if profile.gap_vol == 0.0:
        return np.zeros(len(times))
    if profile.calendar is Calendar.SESSION and not tf.is_intraday:
        return np.ones(len(times))  # every daily bar opens after an overnight close
    gaps = np.zeros(len(times))
    gaps[:-1] = (times[:-1] - times[1:]) > tf.seconds  # newest first: the next element is the previous bar
    return gaps


@njit(cache=True)
def _regime_path(uniform: np.ndarray, stay: np.ndarray, first: int) -> np.ndarray:  # pragma: no cover - numba
    """Markov chain over (bull, bear, range): leave with probability 1 - stay, to either other regime."""
    out = np.empty(len(uniform), dtype=np.int64)
    state = first
    for k in range(len(uniform)):
        if k > 0 and uniform[k] >= stay[state]:
            pick = (uniform[k] - stay[state]) / (1.0 - stay[state])
            state = (state + 1 + (pick >= 0.5)) % 3
        out[k] = state
    return out


@njit(cache=True)
def _garch_variance(z: np.ndarray, omega: float, alpha: float, beta: float) -> np.ndarray:  # pragma: no cover
    """GARCH(1,1) conditional variance (unconditional mean 1) driven by the innovations `z`."""
    out = np.empty(len(z))
    h = 1.0
    shock = 0.0
    for k in range(len(z)):
        if k > 0:
            h = omega + alpha * shock * shock + beta * h
        out[k] = h
        shock = np.sqrt(h) * z[k]
    return out


def _normalise(symbol: str) -> str:
    return str(symbol).strip().upper()


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")

