"""The writers of the multi-process store test, one role per process (`python -m tests.multiwriter ROLE ...`).

Settings come from the environment (PINELAB_DATA_DIR, PINELAB_DATABASE_URL), as for every PineLab process.
"""

from __future__ import annotations

import sys

import pandas as pd

from pinelab_core.config import Settings
from pinelab_core.models.ensemble import Prediction
from pinelab_core.models.tracking import log_prediction
from pinelab_core.signals.desk import run_signal_desk
from pinelab_core.store import get_engine
from pinelab_core.training.jobs import write_log
from pinelab_core.types import Action
from tests.conftest import random_walk_ohlcv

MARKET = random_walk_ohlcv(600, seed=31)
SOURCES = ["rsi", "macd", "bollinger", "candlestick"]
ROUND_ENDS = range(300, 601, 50)  # a dashboard tab refreshing as bars arrive
LOG_LINES = 100


def dashboard_rounds(settings: Settings) -> None:
    """Signal rounds as a dashboard tab runs them, each also logging the live prediction of its bar."""
    engine = get_engine(settings)
    for end in ROUND_ENDS:
        frame = MARKET.iloc[:end]
        run_signal_desk(frame, "X", "1h", engine=engine, settings=settings, sources=SOURCES, horizon=5)
        log_prediction(settings, prediction_at(frame.index[-1]), {"kind": "direction", "horizon": 3})


def prediction_at(bar: pd.Timestamp) -> Prediction:
    return Prediction(symbol="X", timeframe="1h", bar_time=bar, horizon=3, signal=Action.BUY, confidence=0.6,
                      probabilities={"DOWN": 0.2, "SIDEWAYS": 0.2, "UP": 0.6}, models={}, weights={}, agreement=1.0,
                      model_versions=["m/v1"], close=1.0, source="test")


def training_logs(settings: Settings, job_id: int, worker: int) -> None:
    """A training worker writing its log lines, one commit each."""
    for line in range(LOG_LINES):
        write_log(settings, job_id, f"worker {worker} line {line}", fold=line % 5, epoch=line)


def main(argv: list[str]) -> int:
    settings = Settings.from_env()
    role = argv[0]
    if role == "dashboard":
        dashboard_rounds(settings)
    elif role == "training":
        training_logs(settings, int(argv[1]), int(argv[2]))
    else:
        raise SystemExit(f"unknown role {role}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
