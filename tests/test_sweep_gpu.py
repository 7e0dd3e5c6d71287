"""Sweeps on GPUs: ``--gpus N`` pins one worker per GPU, GPU points ask Dask for one and build
their model on CuPy, and every bad ``--gpus`` is one line with exit status 2.

The wiring runs for real on the CPU: a cluster of GPU workers whose ``CUDA_VISIBLE_DEVICES``
names no device (so CuPy answers on none of them, on a GPU machine too), and an in-process
cluster with one GPU worker and one CPU worker. The sweep on a real GPU is skipped where CuPy
has none.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from experiments.cli import main
from experiments.sweeps import engine, gpus
from experiments.sweeps.point import PointResult, PointTask
from kernels.backend import cupy_usable

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "sweeps" / "smoke.toml"
SMOKE_POINTS = 8
#: ``CUDA_VISIBLE_DEVICES`` entries that match no device: CUDA then shows none to the worker.
NO_SUCH_GPUS = ["no-such-gpu-0", "no-such-gpu-1"]


def sweep(*args: str) -> int:
    return main(["sweep", str(SMOKE), "--no-progress", *args])


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text())


def fake_cupy(monkeypatch: pytest.MonkeyPatch, devices: int) -> None:
    """CuPy answering with ``devices`` GPUs (``cupy_usable`` and the device count only)."""
    runtime = SimpleNamespace(getDeviceCount=lambda: devices)
    monkeypatch.setitem(sys.modules, "cupy", SimpleNamespace(cuda=SimpleNamespace(runtime=runtime)))
    monkeypatch.setattr("kernels.backend.cupy_usable", lambda: devices > 0)


# --- which GPUs, and bad --gpus -----------------------------------------------------------------


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cupy(monkeypatch, 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpus.visible_gpus() == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5, GPU-ab12,7")  # CUDA shows the first two
    assert gpus.visible_gpus() == ["5", "GPU-ab12"]
    fake_cupy(monkeypatch, 0)
    assert gpus.visible_gpus() == []


def test_check_gpus_takes_the_first_n(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cupy(monkeypatch, 3)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    assert gpus.check_gpus(2, None) == ["4", "5"]
    assert gpus.check_gpus(3, "cupy") == ["4", "5", "6"]


@pytest.mark.parametrize(
    ("args", "devices", "says"),
    [
        (["--gpus", "-1"], 1, "argument --gpus: must be a non-negative integer; got '-1'"),
        (["--gpus", "0"], 1, "argument --gpus: must be a positive integer; got '0'"),
        (["--gpus", "1", "--local-cluster", "2"], 1, "not allowed with argument --gpus"),
        (["--gpus", "1", "--scheduler", "tcp://h:1"], 1, "not allowed with argument --gpus"),
        (["--gpus", "1"], 0, "argument --gpus 1: no CUDA GPU answers through CuPy here"),
        (["--gpus", "3"], 2, "argument --gpus 3: only 2 GPUs answer here"),
        (["--gpus", "2"], 1, "only 1 GPU answers here (CUDA_VISIBLE_DEVICES 0); give --gpus 1"),
        (["--gpus", "1", "--backend", "numpy"], 1, "--backend numpy asks for NumPy"),
    ],
)
def test_bad_gpus_is_one_line_and_touches_nothing(
    args: list[str],
    devices: int,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_cupy(monkeypatch, devices)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    out = tmp_path / "out"
    assert sweep("--out", str(out), *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("powderkeg sweep: error:") and says in err
    assert not out.exists()


# --- where points go, and on which backend -----------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "n_gpu_workers", "placed"),
    [
        ("auto", 0, ("auto", None)),
        ("cupy", 0, ("cupy", None)),
        ("numpy", 0, ("numpy", None)),
        ("auto", 2, ("cupy", {"GPU": 1})),
        ("cupy", 1, ("cupy", {"GPU": 1})),
        ("numpy", 2, ("numpy", None)),
    ],
)
def test_points_go_to_gpu_workers_on_cupy_unless_numpy_is_asked(
    backend: str, n_gpu_workers: int, placed: tuple[str, dict[str, int] | None]
) -> None:
    assert gpus.placement(backend, n_gpu_workers) == placed


def test_gpu_cluster_pins_one_gpu_per_worker() -> None:
    with engine.dask_client(None, None, 0, NO_SUCH_GPUS) as (client, described):
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        malloc = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        workers = client.scheduler_info()["workers"].values()
        assert gpus.gpu_workers(client) == 2
    assert sorted(seen.values()) == NO_SUCH_GPUS
    assert set(malloc.values()) == {None}  # engine.worker_environment, as on CPU workers
    assert sorted(w["name"] for w in workers) == ["gpu-0", "gpu-1"]
    assert all(w["nthreads"] == 1 and w["resources"] == {"GPU": 1} for w in workers)
    assert described == (
        "local cluster, 2 GPU worker processes (CUDA_VISIBLE_DEVICES no-such-gpu-0, no-such-gpu-1)"
    )


def test_gpus_sweep_runs_every_point_on_cupy_on_its_gpu_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path on workers that see no GPU: every point built on CuPy, and failed."""
    monkeypatch.setattr(gpus, "visible_gpus", lambda: NO_SUCH_GPUS)
    assert sweep("--out", str(tmp_path), "--gpus", "2") == 1
    record = manifest(tmp_path)
    session = record["sessions"][0]
    assert session["engine"].startswith("local cluster, 2 GPU worker processes")
    assert session["point_resources"] == {"GPU": 1} and session["backend_requested"] == "cupy"
    assert sorted(map(int, record["failed"])) == list(range(SMOKE_POINTS))
    reasons = record["failed"].values()
    assert all("'cupy'" in why and "no CUDA GPU answers" in why for why in reasons)
    assert "8 point(s) failed" in capsys.readouterr().err


def where_it_ran(task: PointTask) -> PointResult:
    """Stands in for ``run_point`` on in-process workers: records the worker and the backend."""
    from distributed import get_worker

    worker = get_worker()
    frame = pd.DataFrame({"point": [task.point], "world": [0]})
    record = {
        "backend": task.backend,
        "worker": worker.name,
        "gpus": worker.state.total_resources.get("GPU", 0),
        "wall_s": 0.0,
        "clearing_converged": True,
        "accounting_gap_usd_bn": 0.0,
    }
    return PointResult(point=task.point, worlds=frame, series=frame, record=record)


@pytest.fixture(scope="module")
def mixed_scheduler() -> Any:
    """A scheduler with one GPU worker and one CPU worker, in this process (no GPU needed)."""
    from distributed import Scheduler, SpecCluster, Worker

    host = {"host": "127.0.0.1", "nthreads": 1}
    with SpecCluster(
        scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": False}},
        workers={
            "gpu": {"cls": Worker, "options": {**host, "resources": {"GPU": 1}}},
            "cpu": {"cls": Worker, "options": host},
        },
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize(
    ("backend", "backends", "resources"),
    [([], {"cupy"}, {"GPU": 1}), (["--backend", "numpy"], {"numpy"}, None)],
)
def test_scheduler_sends_gpu_points_to_its_gpu_workers(
    mixed_scheduler: str,
    backend: list[str],
    backends: set[str],
    resources: dict[str, int] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "run_point", where_it_ran)
    assert sweep("--out", str(tmp_path), "--scheduler", mixed_scheduler, *backend) == 0
    record = manifest(tmp_path)
    session = record["sessions"][0]
    started = "2 workers when the sweep started, 1 with a GPU"
    assert session["engine"] == f"scheduler {mixed_scheduler} ({started})"
    assert session["point_resources"] == resources
    runs = record["runs"].values()
    assert len(runs) == SMOKE_POINTS and {r["backend"] for r in runs} == backends
    if resources:  # a GPU point never lands on the CPU worker
        assert {(r["worker"], r["gpus"]) for r in runs} == {("gpu", 1)}


def test_gpu_workers_counts_only_workers_that_declare_a_gpu() -> None:
    info = {
        "workers": {
            "a": {"resources": {"GPU": 1}},
            "b": {"resources": {}},
            "c": {},
            "d": {"resources": {"GPU": 2, "MEM": 1}},
        }
    }
    assert gpus.gpu_workers(SimpleNamespace(scheduler_info=lambda: info)) == 2


# --- on a real GPU ------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="no CUDA GPU answers through CuPy")
def test_gpus_sweep_on_a_real_gpu(tmp_path: Path) -> None:
    assert sweep("--out", str(tmp_path), "--gpus", "1") == 0
    record = manifest(tmp_path)
    assert record["status"]["state"] == "complete" and not record["failed"]
    assert record["sessions"][0]["engine"].startswith("local cluster, 1 GPU worker process (")
    assert {r["backend"] for r in record["runs"].values()} == {"cupy"}
    worlds = pd.read_parquet(tmp_path / "worlds")
    assert len(worlds) == SMOKE_POINTS * 2 and worlds["clearing_converged"].all()
