"""Where models compute: CUDA first, then Apple MPS, then the CPU, with an explicit override.

`choose_device("auto")` picks the fastest device present; naming one (`"cuda"`, `"cuda:1"`, `"mps"`,
`"cpu"`) forces it and fails with a `ConfigError` when it is not there, rather than silently training on
another device than the trader asked for. torch is imported inside the functions so that importing
`pinelab_core.models` stays cheap for the CLI and the webhook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pinelab_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["DeviceSummary", "choose_device", "configure_cpu_threads", "cpu_threads", "device_summary",
           "xgboost_device"]

_VALID = "auto, cpu, cuda, cuda:<index> or mps"


@dataclass(frozen=True)
class DeviceSummary:
    """What a page or the CLI shows about the device a model will use."""

    device: str  # torch spelling: cpu, cuda:0, mps
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU model
    cuda_version: str | None = None
    memory_gb: float | None = None
    cpu_threads: int = 1

    def describe(self) -> str:
        parts = [f"{self.device} ({self.name})"]
        if self.cuda_version:
            parts.append(f"CUDA {self.cuda_version}")
        if self.memory_gb is not None:
            parts.append(f"{self.memory_gb:.1f} GB")
        parts.append(f"{self.cpu_threads} CPU threads")
        return ", ".join(parts)


def choose_device(preference: str = "auto") -> torch.device:
    """The torch device to train and predict on.

    Args:
        preference: "auto" (CUDA, then Apple MPS, then CPU), or an explicit "cpu", "cuda", "cuda:<n>", "mps".

    Returns:
        The chosen `torch.device`.

    Raises:
        ConfigError: the preference is not a device name, or names a device this machine does not have.
    """
    import torch

    wanted = (preference or "auto").strip().lower()
    if wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    if wanted == "mps":
        if not _mps_available():
            raise ConfigError("Device 'mps' was requested but Apple MPS is not available here. Use auto or cpu.")
        return torch.device("mps")
    if wanted == "cuda" or wanted.startswith("cuda:"):
        return _cuda_device(wanted)
    raise ConfigError(f"Device {preference!r} is not a device. Use {_VALID}.")


def _cuda_device(wanted: str) -> torch.device:
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            f"Device {wanted!r} was requested but no CUDA GPU is available (torch {torch.__version__}, "
            f"built for CUDA {torch.version.cuda or 'none'}). Use auto or cpu, or install a CUDA build of torch."
        )
    if wanted == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    index_text = wanted.split(":", 1)[1]
    if not index_text.isdigit():
        raise ConfigError(f"Device {wanted!r} is not a device. Use {_VALID}.")
    index = int(index_text)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"Device {wanted!r} was requested but this machine has {count} CUDA device(s).")
    return torch.device("cuda", index)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def xgboost_device(preference: str = "auto") -> str:
    """XGBoost's `device` parameter: "cuda[:n]" when a GPU is chosen, else "cpu" (XGBoost has no MPS)."""
    device = choose_device(preference)
    if device.type == "cuda":
        return f"cuda:{device.index}" if device.index is not None else "cuda"
    return "cpu"


def device_summary(preference: str = "auto") -> DeviceSummary:
    """Name, CUDA version and memory of the device `preference` resolves to, for display."""
    import torch

    device = choose_device(preference)
    threads = cpu_threads()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return DeviceSummary(
            device=str(device), name=props.name, cuda_version=torch.version.cuda,
            memory_gb=props.total_memory / 1024**3, cpu_threads=threads,
        )
    if device.type == "mps":
        return DeviceSummary(device="mps", name="Apple GPU (Metal)", cpu_threads=threads)
    return DeviceSummary(device="cpu", name=_cpu_model_name(), cpu_threads=threads)


@lru_cache(maxsize=1)
def cpu_threads() -> int:
    """Physical cores this process may use: more threads than cores only adds contention in BLAS/LSTM kernels."""
    allowed = _allowed_cpus()
    physical = _physical_cores(allowed)
    return max(1, physical or len(allowed))


def configure_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (default: physical cores) and return it."""
    import torch

    count = threads if threads is not None and threads > 0 else cpu_threads()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def _allowed_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def _physical_cores(allowed: set[int]) -> int:
    """Count distinct (package, core) pairs among the allowed CPUs; 0 when the topology is not readable."""
    cores: set[tuple[str, str]] = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return 0
        cores.add((package, core))
    return len(cores)


def _cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "CPU"
