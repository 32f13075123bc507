"""`TradingEnv`: a gymnasium trading environment whose reward is the execution engine's money.

Each step the agent sees, at bar t's close, a window of scale-free features (rows t-window+1..t), its exposure
(units x close / equity) and its open trade's return; it answers with a target position, which the engine fills
at bar t+1's open with the same fees, spread, slippage, stops and sizing as `run_backtest`. The reward is the log
change of equity from t's close to t+1's close, net of those costs, less optional turnover and drawdown
penalties. Episodes are random windows of the training bars (or one pass over them with `episode_bars=None`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import pandas as pd

from pinelab_core.backtest import ExecutionModel
from pinelab_core.backtest.kernel import N_TRADE
from pinelab_core.backtest.result import market_arrays, trade_table
from pinelab_core.backtest.run import check_market
from pinelab_core.errors import DataValidationError
from pinelab_core.rl.features import ObservationFeatures, observation_features
from pinelab_core.rl.stepping import (
    B_EQUITY,
    B_TARGET,
    E_DRAWDOWN_PENALTY,
    E_N,
    E_TURNOVER_PENALTY,
    N_ACCOUNT,
    OBS_LIMIT,
    account_views,
    begin_episode,
    step_episode,
)

__all__ = ["DEFAULT_POSITIONS", "TradingEnv"]

#: Discrete actions by default: short, flat, long (target positions as fractions of equity).
DEFAULT_POSITIONS: tuple[float, ...] = (-1.0, 0.0, 1.0)
ActionMode = Literal["discrete", "continuous"]


class TradingEnv(gym.Env):
    """Trade one market bar by bar through the execution engine.

    Args:
        ohlcv: the market (OHLCV frame contract).
        features: what is observed: None (a compact default), "scale_free" (all of them), catalog names, or a
            frame of your own causal columns on the OHLCV index.
        window: feature rows per observation.
        action_mode: "discrete" (one action per entry of `positions`) or "continuous" (a target in [-1, 1]).
        positions: the target positions of the discrete actions.
        episode_bars: steps per episode, drawn at a random start inside `bars`; None = one pass over `bars`.
        bars: (first, last) bar positions (ints, or timestamps of bars) episodes may use: the training period.
            The observation window may reach back before `first`: features are causal.
        turnover_penalty: subtracted per unit of target change (on top of the engine's costs).
        drawdown_penalty: subtracted per unit of new drawdown from the episode's peak equity.
        fees, slippage, init_cash, **execution: the engine's options (`ExecutionModel` fields).

    `info` at every step: equity, position (exposure), target, costs (cumulative, this episode), trades
    (closed this episode), bar (position in `ohlcv`) and time (epoch ns).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, ohlcv: pd.DataFrame, *, features: Sequence[str] | str | pd.DataFrame | None = None,
                 window: int = 16, action_mode: ActionMode = "discrete",
                 positions: Sequence[float] = DEFAULT_POSITIONS, episode_bars: int | None = 256,
                 bars: tuple[Any, Any] | None = None, turnover_penalty: float = 0.0, drawdown_penalty: float = 0.0,
                 fees: float = 0.0005, slippage: float = 0.0, init_cash: float = 10_000.0,
                 observed: ObservationFeatures | None = None, **execution: Any) -> None:
        super().__init__()
        check_market(ohlcv)
        if execution.get("rebalance_every", 0):
            raise DataValidationError("rebalance_every does not apply to an agent: it decides at every bar.")
        self.execution = ExecutionModel.from_options(fees=fees, slippage=slippage, init_cash=init_cash, **execution)
        self.options: dict[str, Any] = {
            "window": int(window), "action_mode": action_mode, "positions": [float(p) for p in positions],
            "episode_bars": episode_bars, "turnover_penalty": float(turnover_penalty),
            "drawdown_penalty": float(drawdown_penalty)}
        self._check_options()
        self.index = ohlcv.index
        self._times = ohlcv.index.asi8.copy()
        self.observed = observed if observed is not None else observation_features(ohlcv, features)
        if self.observed.values.shape[0] != len(ohlcv):
            raise DataValidationError("The observed features must have one row per bar of the OHLCV frame.")
        arrays = market_arrays(ohlcv, self.execution)
        self._market = np.ascontiguousarray(np.vstack([arrays.open, arrays.high, arrays.low, arrays.close, arrays.atr,
                                                       arrays.scale]))
        self._params = self.execution.pack()
        self.first_bar, self.last_bar = self._bar_range(bars)
        self._build_spaces()
        self._allocate()

    # --- gymnasium ----------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode at a random bar of the training range (or `options={"start": bar}`)."""
        super().reset(seed=seed)
        start = (options or {}).get("start")
        if start is None:
            span = self.last_bar - self.first_bar - self._length
            start = self.first_bar + (int(self.np_random.integers(0, span + 1)) if span > 0 else 0)
        start = int(start)
        if not self.first_bar <= start < self.last_bar:
            raise DataValidationError(f"Episode start {start} is outside the bars {self.first_bar}..{self.last_bar}.")
        self._start, self._bar = start, start
        self._end = min(start + self._length, self.last_bar)
        self._episode[E_TURNOVER_PENALTY] = self.options["turnover_penalty"]
        self._episode[E_DRAWDOWN_PENALTY] = self.options["drawdown_penalty"]
        begin_episode(self._market, self._book, self._params, self._account, self._trades, self._features,
                      self._window, self._obs, start)
        return self._obs.copy(), self._info(0.0)[0]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Decide `action` at this close; the engine fills it at the next open and marks the next close."""
        target = self.action_target(action)
        reward = step_episode(self._market, self._book, self._params, self._account, self._trades, self._features,
                              self._window, self._obs, self._bar, target)
        self._bar += 1
        info, bust = self._info(target)
        truncated = not bust and self._bar >= self._end
        return self._obs.copy(), reward, bust, truncated, info

    def action_target(self, action: Any) -> float:
        """The target position an action stands for."""
        if self._discrete:
            return self._positions[action]  # numpy integers index a tuple as they are
        return float(min(max(float(np.asarray(action).reshape(-1)[0]), -1.0), 1.0))

    # --- the episode as the backtester sees it --------------------------------------------------------

    @property
    def bar(self) -> int:
        """The bar whose close the agent is deciding at (a position in `ohlcv`)."""
        return self._bar

    @property
    def equity(self) -> float:
        return float(self._book[B_EQUITY, self._bar])

    def episode_positions(self) -> pd.Series:
        """The targets decided so far this episode, on the OHLCV index (NaN elsewhere): the agent's backtest input.

        `run_backtest(ohlcv.iloc[:env.bar + 1], positions.iloc[:env.bar + 1], execution=env.execution)` ends
        with this episode's equity and trades.
        """
        values = np.full(len(self.index), np.nan)
        values[self._start:self._bar] = self._book[B_TARGET, self._start:self._bar]
        return pd.Series(values, index=self.index, name="position")

    def episode_trades(self) -> pd.DataFrame:
        """Trades closed so far this episode, as the backtester's trade table lists them."""
        return trade_table(self._trades[:int(self._episode[E_N])], self.index, ("",))

    def episode_equity(self) -> pd.Series:
        """Equity at each close of this episode so far."""
        span = slice(self._start, self._bar + 1)
        return pd.Series(self._book[B_EQUITY, span].copy(), index=self.index[span], name="equity")

    # --- internals ------------------------------------------------------------------------------------

    def _check_options(self) -> None:
        options = self.options
        if options["window"] < 1:
            raise DataValidationError(f"window={options['window']} must be at least 1 bar.")
        if options["action_mode"] not in ("discrete", "continuous"):
            raise DataValidationError(f"action_mode={options['action_mode']!r}: use 'discrete' or 'continuous'.")
        positions = options["positions"]
        if len(positions) < 2 or any(not -1.0 <= p <= 1.0 for p in positions) or len(set(positions)) != len(positions):
            raise DataValidationError(f"positions={positions} must be two or more distinct targets in [-1, 1].")
        bars = options["episode_bars"]
        if bars is not None and int(bars) < 1:
            raise DataValidationError(f"episode_bars={bars} must be at least 1 (or None for one pass).")
        if options["turnover_penalty"] < 0 or options["drawdown_penalty"] < 0:
            raise DataValidationError("turnover_penalty and drawdown_penalty must be >= 0.")

    def _bar_range(self, bars: tuple[Any, Any] | None) -> tuple[int, int]:
        n = len(self.index)
        first, last = (0, n - 1) if bars is None else (self._position(bars[0]), self._position(bars[1]))
        warm = self.observed.first_valid + self.options["window"] - 1
        first = max(first, warm)
        if last - first < 1:
            raise DataValidationError(
                f"Too few bars to trade: features need {warm} bars of warm-up, and the range ends at bar {last} "
                f"of {n}. Load more history or shorten the window.")
        return first, last

    def _position(self, value: Any) -> int:
        if isinstance(value, int | np.integer):
            position = int(value) if value >= 0 else len(self.index) + int(value)
        else:
            position = int(self.index.get_indexer([pd.Timestamp(value)])[0])
            if position < 0:
                raise DataValidationError(f"{value} is not a bar of the OHLCV frame.")
        if not 0 <= position < len(self.index):
            raise DataValidationError(f"Bar {value} is outside the {len(self.index)} bars.")
        return position

    def _build_spaces(self) -> None:
        self._width = int(self.options["window"] * self.observed.values.shape[1] + 2)
        self.observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, shape=(self._width,), dtype=np.float32)
        self._discrete = self.options["action_mode"] == "discrete"
        self._positions = tuple(self.options["positions"])
        self.action_space = gym.spaces.Discrete(len(self._positions)) if self._discrete else gym.spaces.Box(
            -1.0, 1.0, shape=(1,), dtype=np.float32)
        bars = self.options["episode_bars"]
        self._length = self.last_bar - self.first_bar if bars is None else min(int(bars),
                                                                             self.last_bar - self.first_bar)

    def _allocate(self) -> None:
        n = len(self.index)
        self._book = np.zeros((4, n))
        self._book[B_TARGET] = np.nan
        self._account = np.zeros(N_ACCOUNT)
        self._state, self._ledger, self._episode, self._status = account_views(self._account)
        self._trades = np.empty((2 * self._length + 4, N_TRADE))
        self._obs = np.zeros(self._width, dtype=np.float32)
        self._features, self._window = self.observed.values, int(self.options["window"])
        self._start = self._bar = self._end = self.first_bar

    def _info(self, target: float) -> tuple[dict[str, Any], bool]:
        equity, position, costs, trades, peak, bust = self._status.tolist()
        return ({"equity": equity, "target": target, "position": position, "costs": costs, "trades": int(trades),
                 "peak_equity": peak, "bar": self._bar, "time": int(self._times[self._bar])}, bust != 0.0)
