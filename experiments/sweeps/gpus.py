"""Sweeps on GPUs: one Dask worker per GPU, and points that ask for one.

A point's E worlds are one vectorized model, and on a GPU that model is the whole unit of work: at
E = 10,000 one point's step holds about 25 GiB of GPU memory, so two points sharing a GPU compete
for its memory and its kernels rather than run faster. Each GPU therefore gets one worker process
of one thread that sees that GPU alone (``CUDA_VISIBLE_DEVICES``, so CuPy's device 0 is it), and
declares the Dask resource ``GPU = 1``. A GPU point is submitted with ``resources={"GPU": 1}``:
the scheduler sends it only to a worker that declares a GPU, one point per GPU at a time, and
the point builds its model on CuPy (:func:`placement`). Dask's resources are counters the
scheduler matches, nothing more: pinning the device is the worker's environment's job.

- ``powderkeg sweep FILE --gpus N``: a local cluster of N such workers on the first N GPUs that
  answer here (:func:`check_gpus`, :func:`gpu_cluster`);
- ``--scheduler tcp://HOST:PORT``: the workers started with ``--resources GPU=1`` (one per GPU,
  each with its ``CUDA_VISIBLE_DEVICES``) take the points, on CuPy, when any is there as the sweep
  starts; workers without a GPU then take none (a CPU worker at E >= 100 would be the straggler
  the whole sweep waits for). With none, the points go to any worker as before.
- ``--backend numpy`` keeps every point on NumPy, GPU workers or not.

dask-cuda's ``LocalCUDACluster`` pins GPUs the same way and adds CPU affinity and RMM memory
pools; CuPy's own memory pool serves this model, dask-cuda is not a dependency, and one cluster
that the CPU test suite starts for real (``tests/test_sweep_gpu.py``) beats two paths of which
one is only ever run on a GPU machine. Each point's record says which backend it ran on
(``backend`` in ``runs/point-NNNNNN.json`` and the manifest's ``runs``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from experiments.usage import UsageError

#: The Dask resource a GPU worker declares and a GPU point asks for.
RESOURCE = "GPU"
#: Where the scheduler binds: this machine only (as Dask's ``LocalCluster`` does).
LOCALHOST = "127.0.0.1"


def visible_gpus() -> list[str]:
    """The GPUs CuPy answers on here, as ``CUDA_VISIBLE_DEVICES`` entries (none: empty).

    Entry i is what a worker must set to see the i-th of them alone: the i-th entry of this
    process's own ``CUDA_VISIBLE_DEVICES`` when that is set (an index, a ``GPU-...`` UUID or a
    ``MIG-...`` name), else ``str(i)``.
    """
    from kernels.backend import cupy_usable

    if not cupy_usable():
        return []
    import cupy

    count = int(cupy.cuda.runtime.getDeviceCount())
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [entry.strip() for entry in listed.split(",")][:count]


def check_gpus(n: int, backend: str | None) -> list[str]:
    """The devices of ``--gpus N``, checked before anything starts (one-line usage errors).

    Args:
        n: GPUs asked for (``--gpus``, already >= 1).
        backend: ``--backend`` when given.

    Returns:
        The first ``n`` entries of :func:`visible_gpus`.

    Raises:
        UsageError: ``--backend numpy`` beside it, no GPU answering through CuPy, or fewer
            GPUs than ``n``.
    """
    if backend == "numpy":
        raise UsageError(
            "argument --gpus: runs the points on CuPy, and --backend numpy asks for NumPy; "
            "drop one of them"
        )
    devices = visible_gpus()
    if not devices:
        raise UsageError(
            f"argument --gpus {n}: no CUDA GPU answers through CuPy here (CuPy missing, no "
            "driver, or CUDA_VISIBLE_DEVICES hides them; pip install 'powderkeg[gpu]' on a "
            "machine with a GPU); leave --gpus out to run on CPUs"
        )
    if n > len(devices):
        raise UsageError(
            f"argument --gpus {n}: only {len(devices)} GPU{'s' * (len(devices) > 1)} "
            f"answer{'s' * (len(devices) == 1)} here (CUDA_VISIBLE_DEVICES {','.join(devices)}); "
            f"give --gpus {len(devices)} or fewer"
        )
    return devices[:n]


def gpu_worker_specs(devices: list[str]) -> dict[str, dict[str, Any]]:
    """Dask ``SpecCluster`` worker specs: one single-threaded process per GPU, pinned to it.

    Worker ``gpu-i`` sees ``devices[i]`` alone and declares ``GPU = 1``; each may hold
    ``1 / len(devices)`` of the host's memory before its nanny restarts it, as Dask's
    ``LocalCluster`` shares memory among its workers.
    """
    from distributed import Nanny

    return {
        f"gpu-{i}": {
            "cls": Nanny,
            "options": {
                "host": LOCALHOST,
                "nthreads": 1,
                "resources": {RESOURCE: 1},
                "env": {"CUDA_VISIBLE_DEVICES": device},
                "memory_limit": 1 / len(devices),
                "dashboard": False,
                "silence_logs": logging.CRITICAL,
            },
        }
        for i, device in enumerate(devices)
    }


@contextmanager
def gpu_cluster(devices: list[str]) -> Iterator[Any]:
    """A local ``SpecCluster`` of :func:`gpu_worker_specs` workers, closed after the block."""
    from distributed import Scheduler, SpecCluster

    scheduler = {
        "cls": Scheduler,
        "options": {"host": LOCALHOST, "port": 0, "dashboard": False, "dashboard_address": None},
    }
    with SpecCluster(
        scheduler=scheduler,
        workers=gpu_worker_specs(devices),
        silence_logs=logging.CRITICAL,
        name="powderkeg-gpus",
    ) as cluster:
        yield cluster


def gpu_workers(client: Any) -> int:
    """How many of the cluster's workers declare a GPU (the resource ``GPU`` >= 1) now."""
    workers = client.scheduler_info().get("workers", {})
    return sum(
        1 for info in workers.values() if (info.get("resources") or {}).get(RESOURCE, 0) >= 1
    )


def placement(backend: str, n_gpu_workers: int) -> tuple[str, dict[str, int] | None]:
    """The backend a sweep's points build their model with, and the resources they ask for.

    Args:
        backend: the sweep's backend (``--backend``, else the file's): auto, numpy or cupy.
        n_gpu_workers: workers of the cluster that declare a GPU (:func:`gpu_workers`).

    Returns:
        ``("cupy", {"GPU": 1})`` when the cluster has GPU workers and NumPy was not asked for:
        the points run on those workers only, on CuPy; else ``(backend, None)``: any worker,
        the backend as asked (``auto`` resolved by each worker).
    """
    if n_gpu_workers and backend != "numpy":
        return "cupy", {RESOURCE: 1}
    return backend, None


__all__ = [
    "RESOURCE",
    "check_gpus",
    "gpu_cluster",
    "gpu_worker_specs",
    "gpu_workers",
    "placement",
    "visible_gpus",
]
