"""Timing helpers and the machine description every benchmark result carries.

Timers use ``time.perf_counter``. On CuPy, work is asynchronous: ``synchronize`` waits for the
current stream before a timer starts and before it stops, so a timing covers the device work.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import array_api_compat

REPO_ROOT = Path(__file__).resolve().parents[1]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POWDERKEG_BACKEND")


def is_cupy(xp: ModuleType) -> bool:
    """Whether ``xp`` is CuPy's namespace (plain or array-api-compat wrapped)."""
    return array_api_compat.is_cupy_namespace(xp)


def synchronize(xp: ModuleType) -> None:
    """Wait until the device has finished queued work (no-op off CuPy)."""
    if is_cupy(xp):
        import cupy

        cupy.cuda.get_current_stream().synchronize()


@dataclass
class Timing:
    """Wall-clock times of the timed repeats of one call (the warm-up call excluded).

    Attributes:
        times_s: seconds of each timed repeat.
        result: what the warm-up call returned (used for iteration counts and checks).
    """

    times_s: list[float]
    result: Any

    @property
    def best_s(self) -> float:
        """Fastest repeat, the figure benchmarks report (least disturbed by noise)."""
        return min(self.times_s)

    @property
    def median_s(self) -> float:
        """Median repeat, for a sense of the noise."""
        return statistics.median(self.times_s)


def best_of(
    call: Callable[[], Any],
    xp: ModuleType,
    *,
    repeats: int,
    max_repeats: int | None = None,
    budget_s: float = 0.0,
    warmup: bool = True,
) -> Timing:
    """Time ``call`` best-of-k: one warm-up call, then at least ``repeats`` timed calls.

    Args:
        call: the work to time; its return value from the warm-up call is kept.
        xp: namespace the work runs in (for device synchronization).
        repeats: timed calls to make at least.
        max_repeats: timed calls to make at most while their total stays under ``budget_s``.
        budget_s: time budget for the extra repeats beyond ``repeats``.
        warmup: make an untimed first call (lazy imports, caches, allocator warm-up).

    Returns:
        The repeat times and the warm-up call's result (the first timed call's without warm-up).
    """
    result = None
    if warmup:
        result = call()
        synchronize(xp)
    times: list[float] = []
    limit = max(repeats, max_repeats or repeats)
    while len(times) < limit:
        if len(times) >= repeats and sum(times) + min(times) > budget_s:
            break
        synchronize(xp)
        start = time.perf_counter()
        out = call()
        synchronize(xp)
        times.append(time.perf_counter() - start)
        if result is None:
            result = out
    return Timing(times, result)


def copy_bandwidth(xp: ModuleType, *, megabytes: int = 256, repeats: int = 5) -> float:
    """Measured device copy bandwidth in GB/s, counting read + write (2 × bytes per copy)."""
    n = megabytes * 2**20 // 8
    src = xp.ones(n, dtype=xp.float64)
    timing = best_of(lambda: xp.asarray(src, copy=True), xp, repeats=repeats)
    return 2 * n * 8 / timing.best_s / 1e9


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _blas() -> str | None:
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}".strip()
    except Exception:  # the layout of show_config is not a stable API
        return None


def _cpu_name() -> str | None:
    """The CPU model, from /proc/cpuinfo on Linux, else whatever ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def device_description(xp: ModuleType) -> dict[str, Any]:
    """Backend and device of ``xp``: name, and for CuPy the GPU and CUDA versions."""
    if not is_cupy(xp):
        return {"backend": "numpy", "device": "cpu", "device_name": _cpu_name()}
    import cupy

    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"]
    return {
        "backend": "cupy",
        "device": f"cuda:{dev.id}",
        "device_name": name.decode() if isinstance(name, bytes) else str(name),
        "device_memory_GiB": round(props["totalGlobalMem"] / 2**30, 1),
        "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cupy.cuda.runtime.driverGetVersion(),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def metadata(xp: ModuleType) -> dict[str, Any]:
    """Everything a reader needs to compare this run with another: machine, libraries, backend."""
    import numpy as np

    versions = {
        "python": platform.python_version(),
        "powderkeg": _version("powderkeg"),
        "numpy": np.__version__,
        "array_api_compat": array_api_compat.__version__,
        "blas": _blas(),
    }
    if is_cupy(xp):
        import cupy

        versions["cupy"] = cupy.__version__
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        **device_description(xp),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "load_average_at_start": load_average(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python_executable": sys.executable,
        "environment": {k: os.environ[k] for k in _THREAD_VARS if k in os.environ},
        "git_commit": _git_commit(),
    }
