"""Chart payload and build time: PineLab's downsampled price chart vs a naive full Plotly candlestick figure.

Both figures draw the same thing: candlesticks, a volume panel on a shared x axis and an SMA 50 line.
The peer ships every bar; PineLab merges bars into at most 3,000 exact OHLC candles and decimates the
line min/max-preserving. "Payload" is `len(fig.to_json())`, what Streamlit sends to the browser;
"time" is building the figure plus serialising it.

    python bench/bench_chart.py                 # 10k, 100k, 1M bars
    python bench/bench_chart.py --sizes 10000   # a quicker run
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import talib
from plotly.subplots import make_subplots

from pinelab_core.features.overlays import Overlay
from pinelab_core.viz import build_price_chart

RESULTS = Path(__file__).parent / "results" / "chart.md"


def minute_bars(n: int, seed: int = 7) -> pd.DataFrame:
    """A seeded geometric random walk of `n` one-minute bars (the shape of the data, not a market model)."""
    rng = np.random.default_rng(seed)
    close = 1.08 * np.exp(np.cumsum(rng.normal(0, 2e-4, n)))
    open_ = np.concatenate([[1.08], close[:-1]])
    wick = np.abs(rng.normal(0, 1e-4, n)) * close
    index = pd.date_range("2020-01-01", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + wick, "low": np.minimum(open_, close) - wick,
                         "close": close, "volume": rng.lognormal(8, 0.6, n)}, index=index)


def naive_figure(ohlcv: pd.DataFrame) -> go.Figure:
    """What a first Streamlit chart usually is: every bar into one candlestick trace, every volume bar too."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22])
    figure.add_trace(go.Candlestick(x=ohlcv.index, open=ohlcv["open"], high=ohlcv["high"], low=ohlcv["low"],
                                    close=ohlcv["close"], name="Price"), row=1, col=1)
    figure.add_trace(go.Bar(x=ohlcv.index, y=ohlcv["volume"], name="Volume"), row=2, col=1)
    sma = talib.SMA(ohlcv["close"].to_numpy(), timeperiod=50)
    figure.add_trace(go.Scatter(x=ohlcv.index, y=sma, mode="lines", name="SMA 50"), row=1, col=1)
    figure.update_xaxes(rangeslider_visible=False)
    return figure


def measure(build, repeats: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Best wall time of build + to_json over `repeats` runs, and the payload size in bytes."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        payload = build().to_json()
        best = min(best, time.perf_counter() - started)
        size = len(payload.encode())
    return best, size


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.2f} MB"


def run(sizes: list[int]) -> str:
    rows = [
        "| bars | PineLab payload | naive payload | payload ratio | PineLab time | naive time | speed-up |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        ohlcv = minute_bars(n)
        repeats = 3 if n <= 100_000 else 1
        ours_s, ours_b = measure(lambda o=ohlcv: build_price_chart(o, [Overlay("sma", 50)]).figure, repeats)
        peer_s, peer_b = measure(lambda o=ohlcv: naive_figure(o), repeats)
        rows.append(f"| {n:,} | {_megabytes(ours_b)} | {_megabytes(peer_b)} | {peer_b / ours_b:,.1f}x smaller "
                    f"| {ours_s:.2f} s | {peer_s:.2f} s | {peer_s / ours_s:,.1f}x |")
        print(rows[-1], flush=True)
    header = (f"Chart payload and build+serialise time, best of 3 (1 for 1M bars); one-minute bars, "
              f"candles + volume + SMA 50. Machine: {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}, measured {time.strftime('%Y-%m-%d')}.\n")
    return header + "\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    table = run(parser.parse_args().sizes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
