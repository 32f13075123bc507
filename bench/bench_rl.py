"""The RL environment against gym-anytrading and Gym-Trading-Env on the same bars, and PPO's speed around it.

    env      random actions for the same number of steps (resetting at episode ends) on one random-walk market.
             PineLab: TradingEnv (16 scale-free features x 16-bar window + position + unrealised return, fills
             at the next open through the execution engine with fees, spread and slippage; 1,000-bar episodes).
             gym-anytrading: StocksEnv (its own 2 features x 16-bar window, fees at its defaults; its episodes run
             to the end of the frame). Gym-Trading-Env: the same 16 feature columns, 16-bar windows,
             positions (-1, 0, 1), 0.05% fees, 1,000-bar episodes.
    ppo      PPO timesteps/s in 4 DummyVecEnv copies of TradingEnv with 1 and 2 torch threads (2 cores), and
             the share of PPO's time spent inside TradingEnv.step/reset (target: under 20%).
    gpu      the same PPO run with device="cuda" when a GPU is present (this script says so when it is not).

    python bench/bench_rl.py            # writes bench/results/rl.md
Install the peers with `pip install 'pinelab[bench]'` (gym-anytrading) and `pip install --no-deps
gym-trading-env` (its metadata pins ccxt==3.0.59, which conflicts with PineLab's ccxt>=4.2; the environment
itself does not use ccxt).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).parent / "results" / "rl.md"
BARS, STEPS, WINDOW, FEES = 20_000, 50_000, 16, 0.0005


def market(bars: int = BARS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, bars)))
    open_ = np.concatenate([[100.0], close[:-1] * np.exp(rng.normal(0, 0.0005, bars - 1))])
    spread = np.abs(rng.normal(0, 0.002, bars)) * close
    index = pd.date_range("2020-01-01", periods=bars, freq="h", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) + spread,
                         "low": np.minimum(open_, close) - spread, "close": close,
                         "volume": rng.lognormal(10, 0.5, bars)}, index=index)


def steps_per_second(env, steps: int = STEPS) -> float:  # type: ignore[no-untyped-def]
    """Random actions (drawn beforehand), resetting at episode ends."""
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    started = time.perf_counter()
    for action in actions:
        result = env.step(action)
        if result[2] or result[3]:
            env.reset()
    return steps / (time.perf_counter() - started)


def best_of(envs: dict, rounds: int = 3) -> dict[str, float]:  # type: ignore[type-arg]
    """Best steps/s of `rounds` interleaved runs per environment: on a shared machine, load spikes hit one run,
    not one library."""
    best = dict.fromkeys(envs, 0.0)
    for _ in range(rounds):
        for name, env in envs.items():
            best[name] = max(best[name], steps_per_second(env))
    return best


def env_case(ohlcv: pd.DataFrame) -> list[tuple[str, float, str]]:
    from pinelab_core.rl import TradingEnv
    from pinelab_core.rl.features import observation_features

    envs, notes = {}, {}
    envs["pinelab TradingEnv"] = TradingEnv(ohlcv, window=WINDOW, episode_bars=1_000, fees=FEES, half_spread=0.0001,
                                            slippage=0.0001)
    notes["pinelab TradingEnv"] = "16 features x 16 bars, engine fills and costs"
    steps_per_second(envs["pinelab TradingEnv"], 2_000)  # JIT warm-up (cached on disk after the first run)
    try:
        from gym_anytrading.envs import StocksEnv

        frame = ohlcv.rename(columns=str.capitalize).reset_index(drop=True)
        envs["gym-anytrading StocksEnv"] = StocksEnv(frame, window_size=WINDOW, frame_bound=(WINDOW, len(frame)))
        notes["gym-anytrading StocksEnv"] = "2 features x 16 bars (a view, not a copy), its fees"
    except ImportError as exc:
        notes["gym-anytrading StocksEnv"] = f"not installed: {exc}"
    try:
        from gym_trading_env.environments import TradingEnv as GTE

        observed = observation_features(ohlcv)
        frame = ohlcv.copy()
        for number, name in enumerate(observed.names):
            frame[f"feature_{number}_{name}"] = observed.values[:, number]
        frame = frame.iloc[observed.first_valid:]
        frame.index = frame.index.tz_convert(None)  # its history keeps index.values (naive datetimes)
        envs["Gym-Trading-Env TradingEnv"] = GTE(frame, positions=[-1, 0, 1], windows=WINDOW, trading_fees=FEES,
                                                 max_episode_duration=1_000, verbose=0)
        notes["Gym-Trading-Env TradingEnv"] = "the same 16 features x 16 bars, its fees"
    except ImportError as exc:
        notes["Gym-Trading-Env TradingEnv"] = f"not installed: {exc}"
    rates = best_of(envs)
    return [(name, rates.get(name, float("nan")), note) for name, note in notes.items()]


def ppo_case(ohlcv: pd.DataFrame, threads: int, device: str = "auto", timesteps: int = 20_480) -> dict[str, float]:
    """PPO timesteps/s and the share of the time inside TradingEnv.step/reset."""
    import torch

    from pinelab_core.rl import env as env_module
    from pinelab_core.rl.agents import PPOAgent

    spent = [0.0]
    step, reset = env_module.TradingEnv.step, env_module.TradingEnv.reset

    def timed(method):  # type: ignore[no-untyped-def]
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started
        return wrapper

    env_module.TradingEnv.step, env_module.TradingEnv.reset = timed(step), timed(reset)
    try:
        agent = PPOAgent(seed=0, device=device, timesteps=timesteps, n_envs=4, episode_bars=1_000)
        torch.set_num_threads(threads)
        original = torch.set_num_threads
        torch.set_num_threads = lambda n: original(threads)  # hold the thread count the case measures
        try:
            started = time.perf_counter()
            agent.learn(ohlcv, bars=(0, len(ohlcv) - 1))
            elapsed = time.perf_counter() - started
        finally:
            torch.set_num_threads = original
    finally:
        env_module.TradingEnv.step, env_module.TradingEnv.reset = step, reset
    learn_s = float(agent.training_summary["seconds"])
    return {"timesteps_per_second": timesteps / learn_s, "env_share": spent[0] / learn_s, "seconds": learn_s,
            "setup_s": elapsed - learn_s, "device": agent.fitted_device_}


def main() -> None:
    import torch

    load_before = os.getloadavg()
    ohlcv = market()
    envs = env_case(ohlcv)
    ppo = {threads: ppo_case(ohlcv, threads) for threads in (1, 2)}
    gpu = ppo_case(ohlcv, 1, device="cuda") if torch.cuda.is_available() else None
    load_after = os.getloadavg()
    base = envs[0][1]
    lines = [
        "## RL environment and PPO (bench/bench_rl.py)", "",
        f"Random-walk hourly bars ({BARS:,}), {STEPS:,} random-action steps per environment, best of 3 interleaved "
        f"runs, one process. Machine: "
        f"{platform.machine()}, {os.cpu_count()} cores shared, Python {platform.python_version()}, torch "
        f"{torch.__version__}, measured {time.strftime('%Y-%m-%d')}, load average {load_before[0]:.1f} before / "
        f"{load_after[0]:.1f} after.", "",
        "| environment | steps/s | vs PineLab | observation and costs |", "|---|---:|---:|---|",
    ]
    lines += [f"| {name} | {rate:,.0f} | {rate / base:.2f}x | {note} |" for name, rate, note in envs]
    lines += ["", "PPO (MlpPolicy 64x64, 4 DummyVecEnv copies, n_steps 512, batch 128, 10 epochs), 20,480 timesteps:",
              "", "| torch threads | device | timesteps/s | TradingEnv share of PPO's time |", "|---:|---|---:|---:|"]
    lines += [f"| {t} | {r['device']} | {r['timesteps_per_second']:,.0f} | {r['env_share']:.1%} |"
              for t, r in ppo.items()]
    if gpu is not None:
        lines.append(f"| 1 | {gpu['device']} | {gpu['timesteps_per_second']:,.0f} | {gpu['env_share']:.1%} |")
    else:
        lines += ["", "GPU: not run (no CUDA device on this machine). The device path is `device=\"cuda\"` "
                  "(`--device cuda`); `auto` keeps MLP policies on the CPU."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
