"""Running a sweep on Dask: a local cluster of processes by default, or an existing scheduler.

:func:`run_sweep` takes the lock of the results directory, skips the points already finished
(``--resume``), sends the others to Dask workers as :class:`~experiments.sweeps.point.PointTask`
objects (``client.submit`` of :func:`~experiments.sweeps.point.run_point`), and writes each
point's files from this process as its result comes back (:class:`~.store.ResultsDir`), so the
workers need no shared disk: a cluster across machines works the same as a local one. A
progress bar on stderr counts finished points and estimates the time left.

The engine (dask.distributed):

- default: a ``LocalCluster`` of worker processes on this machine, one thread each, as many as
  CPUs (at most one per point left); ``--local-cluster N`` sets N;
- ``--scheduler tcp://HOST:PORT``: connect to a running scheduler (``dask scheduler`` and
  ``dask worker tcp://HOST:PORT`` on the machines; each needs powderkeg installed);
- ``--gpus N``: a local cluster of one worker process per GPU, each pinned to its GPU, whose
  points run on CuPy (:mod:`.gpus`, which also says how a scheduler's GPU workers take them).

Interrupting (Ctrl-C) stops at once; finished points stay, the manifest says ``interrupted``,
and ``--resume`` goes on from there. A point whose model raises, or one of whose worlds' state
became non-finite (:class:`~experiments.sweeps.point.PointFailed`), is recorded in the manifest's
``failed`` table and the sweep goes on; the exit status is then 1 and ``--resume`` retries it.

Each point's record (timing, worker, convergence, code) is written with its Parquet files
(:meth:`~.store.ResultsDir.write_point`), and ``--resume`` rebuilds the manifest's ``runs`` from
them, so a kill between a point's files and the manifest loses nothing.

``--resume`` refuses results made by other code or another calibration (:func:`code_identity`:
a hash of the model's source files and one of its calibration data, with the git commit
recorded beside them) unless ``--allow-mixed`` is given; the manifest's ``sessions`` then record
each session's code, and every point's record its own.

A ``--scheduler`` is checked (its address, then a connection) before the results directory is
locked or touched, so a bad one leaves nothing behind; the manifest says ``running`` only once
the workers are there.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from experiments.config import Sweep
from experiments.files import git_commit, json_safe
from experiments.sweeps.gpus import gpu_cluster, gpu_workers, placement
from experiments.sweeps.point import PointTask, run_point
from experiments.sweeps.store import SCHEMA, ResultsDir, now_utc
from experiments.usage import UsageError

ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/]+$")
#: How long to wait for a ``--scheduler`` to answer.
SCHEDULER_TIMEOUT = "10s"
ROOT = Path(__file__).resolve().parents[2]
#: Source files whose code decides a point's results (relative to the repository root; folders
#: are searched for ``*.py``).
CODE_SOURCES = (
    "abm",
    "kernels",
    "experiments/build.py",
    "experiments/metrics.py",
    "experiments/shock_entries.py",
    "experiments/sweeps/parameters.py",
    "experiments/sweeps/point.py",
)
#: The model's calibration data (every file, whatever its kind).
CALIBRATION_DATA = "abm/data"


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files):
        try:
            data = file.read_bytes()
        except OSError:
            continue
        digest.update(str(file.relative_to(ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def code_identity() -> dict[str, Any]:
    """What code and calibration make the results, read now (the workers import it afresh).

    Returns:
        ``source_sha256`` (the files of :data:`CODE_SOURCES`), ``calibration_sha256`` (every
        file of :data:`CALIBRATION_DATA`), both compared by ``--resume``, and ``git`` (the
        commit and whether the tree was dirty; recorded only, since a commit that changes
        neither leaves the results as they were).
    """
    sources: list[Path] = []
    for name in CODE_SOURCES:
        path = ROOT / name
        sources += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    data = ROOT / CALIBRATION_DATA
    calibration = [f for f in data.rglob("*") if f.is_file()] if data.is_dir() else []
    return {
        "source_sha256": _hash_files(sources),
        "calibration_sha256": _hash_files(calibration),
        "git": git_commit(),
    }


def _code_key(identity: dict[str, Any] | None) -> tuple[Any, Any]:
    identity = identity or {}
    return identity.get("source_sha256"), identity.get("calibration_sha256")


def worker_environment() -> dict[str, Any]:
    """Environment of local worker processes: Dask's, without ``MALLOC_TRIM_THRESHOLD_``.

    Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers to hand memory back to the system
    early; the model allocates and frees large arrays every step, so glibc then gives pages back
    and faults them in again, and a point runs about 1.6 times slower (measured: 8 points of
    10 worlds x 13 weeks in one process, 6.9 s with glibc's default, 11.3 s with 65536). The
    single-threaded BLAS settings (``OMP_NUM_THREADS=1`` ...) are kept.
    """
    import dask
    import distributed  # noqa: F401  (registers distributed's configuration defaults)

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


@contextmanager
def dask_client(
    scheduler: str | None, local_cluster: int | None, todo: int, gpus: list[str] | None = None
) -> Iterator[Any]:
    """A ``distributed.Client`` and a description of its cluster, closed after the block.

    Args:
        scheduler: a running scheduler's address; None starts a local cluster here.
        local_cluster: CPU worker processes of the local cluster (default: one per CPU, at
            most ``todo``).
        todo: points left to run.
        gpus: instead, a local cluster of one worker process per GPU, pinned to these
            ``CUDA_VISIBLE_DEVICES`` entries (:func:`experiments.sweeps.gpus.gpu_cluster`).

    Raises:
        UsageError: a scheduler address that is malformed or does not answer.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not ADDRESS.match(scheduler):
            raise UsageError(
                f"argument --scheduler: give a scheduler address like tcp://HOST:PORT; "
                f"got {scheduler!r}"
            )
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise UsageError(
                f"argument --scheduler: cannot connect to {scheduler} ({err}); start one "
                "with 'dask scheduler', or leave --scheduler out for a local cluster"
            ) from None
        with client:
            workers = len(client.scheduler_info().get("workers", {}))
            gpu = gpu_workers(client)
            started = f"{workers} workers when the sweep started" + (
                f", {gpu} with a GPU" if gpu else ""
            )
            yield client, f"scheduler {scheduler} ({started})"
        return
    environ = dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment()})
    if gpus:
        pinned = f"(CUDA_VISIBLE_DEVICES {', '.join(gpus)})"
        plural = "es" * (len(gpus) > 1)
        with environ, gpu_cluster(gpus) as cluster, Client(cluster) as client:
            yield client, f"local cluster, {len(gpus)} GPU worker process{plural} {pinned}"
        return
    n = local_cluster or max(1, min(os.cpu_count() or 1, todo))
    with (
        environ,
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client, f"local cluster, {n} worker process{'es' * (n > 1)}"


def _version() -> dict[str, Any]:
    import importlib.metadata

    try:
        version = importlib.metadata.version("powderkeg")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"version": version, "git": git_commit()}


def _new_manifest(sweep: Sweep, code: dict[str, Any]) -> dict[str, Any]:
    names = list(dict.fromkeys([*sweep.spec.fixed, *sweep.swept]))
    return {
        "schema": SCHEMA,
        "name": sweep.name,
        "description": sweep.spec.description,
        "sweep_file": str(sweep.path),
        "fingerprint": sweep.fingerprint(),
        "code": code,
        "created_utc": now_utc(),
        "parameters": {
            n: {
                "kind": sweep.table[n].kind,
                "default": sweep.table[n].default,
                "doc": sweep.table[n].doc,
                "swept": n in sweep.swept,
            }
            for n in names
        },
        "plan": sweep.plan(),
        "sessions": [],
        "runs": {},
        "failed": {},
        "status": {},
    }


def _number(value: Any) -> float:
    """A record's number as a float: NaN where it is missing, None (JSON's non-finite) or text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _status(manifest: dict[str, Any], store: ResultsDir, total: int, state: str) -> None:
    finished = len(store.finished())
    manifest["status"] = {
        "state": "complete" if finished == total and not manifest["failed"] else state,
        "finished": finished,
        "total": total,
        "updated_utc": now_utc(),
    }
    runs = manifest["runs"]
    not_converged = sorted(
        int(k) for k, r in runs.items() if r.get("clearing_converged", True) is not True
    )
    gaps = [_number(r.get("accounting_gap_usd_bn", 0.0)) for r in runs.values()]
    manifest["convergence"] = {
        "all_converged": not not_converged,
        "not_converged_points": not_converged,
        "largest_accounting_gap_usd_bn": max((g for g in gaps if math.isfinite(g)), default=0.0),
        "non_finite_accounting_gap_points": sorted(
            int(k) for k, g in zip(runs, gaps, strict=True) if not math.isfinite(g)
        ),
    }


def _open_manifest(
    sweep: Sweep, store: ResultsDir, code: dict[str, Any], resume: bool, allow_mixed: bool
) -> dict[str, Any]:
    if not store.has_results():
        return _new_manifest(sweep, code)
    if not resume:
        raise UsageError(
            f"argument --out: {store.path} already holds sweep results; pass --resume to "
            "finish them, or choose an empty directory"
        )
    manifest = store.read_manifest()
    if manifest.get("fingerprint") != sweep.fingerprint():
        raise UsageError(
            f"argument --resume: {store.path} holds a different sweep "
            f"({manifest.get('name')!r} from {manifest.get('sweep_file')}); give the same sweep "
            "file with the same settings, or another --out"
        )
    if not allow_mixed and _code_key(manifest.get("code")) != _code_key(code):
        ours, theirs = _code_key(code), _code_key(manifest.get("code"))
        what = " and ".join(
            name for name, a, b in zip(("code", "calibration"), ours, theirs, strict=True) if a != b
        )
        raise UsageError(
            f"argument --resume: the results in {store.path} were made with other {what} "
            "than this one (model source or calibration changed since); pass --allow-mixed to "
            "add points from this code to them, or choose another --out"
        )
    done = store.finished()
    runs = {k: r for k, r in manifest.get("runs", {}).items() if k.isdigit() and int(k) in done}
    manifest["runs"] = {**runs, **store.read_runs()}  # a point's own record wins
    return manifest


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    resume: bool = False,
    allow_mixed: bool = False,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    gpus: list[str] | None = None,
    backend: str | None = None,
    progress: bool = True,
    argv: list[str] | None = None,
) -> int:
    """Run every unfinished point of ``sweep`` into ``out``; returns the exit status.

    The points run where :func:`~experiments.sweeps.gpus.placement` says: on the cluster's GPU
    workers, on CuPy, when it has any (``gpus``: a local one of one worker per GPU), else on
    any worker with ``backend`` (else the file's).

    Returns:
        0 when every point is finished, 1 when some point failed (recorded in the manifest).

    Raises:
        UsageError: another sweep holds ``out``; ``out`` holds other results (or results
            without ``resume``, or results of other code without ``allow_mixed``); the
            scheduler does not answer (checked before ``out`` is locked or written).
    """
    store = ResultsDir(out)
    backend = backend or sweep.spec.backend
    code = code_identity()
    with ExitStack() as stack:
        remote = None
        if scheduler is not None:  # before the lock: a bad address leaves nothing behind
            remote = stack.enter_context(dask_client(scheduler, None, 0))
        stack.enter_context(store.locked())
        manifest = _open_manifest(sweep, store, code, resume, allow_mixed)
        store.remove_temporaries()
        total = len(sweep.points)
        done = store.finished()
        todo = [p for p in sweep.points if p.index not in done]
        session = {
            "started_utc": now_utc(),
            "command": ["powderkeg", *(argv or ["sweep"])],
            "resumed": bool(done),
            "skipped_finished_points": len(done),
            "backend_requested": backend,
            "allow_mixed": allow_mixed,
            **_version(),
            "code": code,
        }
        manifest["sessions"].append(session)
        manifest["failed"] = {}
        if not todo:
            _status(manifest, store, total, "stopped")
            store.write_manifest(manifest)
            print(f"{sweep.name}: all {total} points already finished in {out}")
            return 0
        client, engine = remote or stack.enter_context(
            dask_client(None, local_cluster, len(todo), gpus)
        )
        points_backend, resources = placement(backend, gpu_workers(client))
        session["engine"] = engine
        session["point_resources"] = resources
        columns = tuple(
            (n, sweep.table[n].kind) for n in dict.fromkeys([*sweep.spec.fixed, *sweep.swept])
        )
        tasks = [
            PointTask(
                point=p.index,
                values=p.values,
                scenario=sweep.scenario,
                seed=p.seed,
                worlds=sweep.spec.worlds,
                steps=sweep.spec.steps,
                backend=points_backend,
                series=tuple(sweep.spec.output.series),
                columns=columns,
            )
            for p in todo
        ]
        _status(manifest, store, total, "running")
        store.write_manifest(manifest)
        try:
            _execute(client, tasks, resources, sweep, store, manifest, total, progress, code)
        except BaseException as err:  # the manifest never stays "running" after this process
            interrupted = isinstance(err, KeyboardInterrupt)
            _status(manifest, store, total, "interrupted" if interrupted else "stopped")
            store.write_manifest(manifest)
            if interrupted:
                print(
                    f"{sweep.name}: {manifest['status']['finished']}/{total} points finished "
                    f"in {out}; add --resume to the same command to finish the rest",
                    file=sys.stderr,
                )
            raise
        _status(manifest, store, total, "stopped")
        session["finished_utc"] = now_utc()
        store.write_manifest(manifest)
    return _print_summary(sweep, manifest, session, out)


def _execute(
    client: Any,
    tasks: list[PointTask],
    resources: dict[str, int] | None,
    sweep: Sweep,
    store: ResultsDir,
    manifest: dict[str, Any],
    total: int,
    progress: bool,
    code: dict[str, Any],
) -> None:
    from distributed import as_completed
    from tqdm import tqdm

    tag = sweep.fingerprint()[:12]
    futures = [
        client.submit(
            run_point,
            task,
            key=f"powderkeg-{tag}-point-{task.point}",
            pure=False,
            resources=resources,
        )
        for task in tasks
    ]
    session = len(manifest["sessions"]) - 1
    bar = tqdm(
        total=total,
        initial=total - len(tasks),
        desc=f"{sweep.name} ({sweep.spec.worlds} world{'s' * (sweep.spec.worlds > 1)}/point)",
        unit="point",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.5,
    )
    with bar:
        for future in as_completed(futures):
            index = int(str(future.key).rsplit("-", 1)[1])
            if future.status == "error":
                error = future.exception()
                manifest["failed"][str(index)] = f"{type(error).__name__}: {error}"
            else:
                result = future.result()
                record = {
                    **result.record,
                    "session": session,
                    "finished_utc": now_utc(),
                    "code_sha256": code["source_sha256"],
                    "calibration_sha256": code["calibration_sha256"],
                }
                store.write_point(result.point, result.worlds, result.series, record)
                manifest["runs"][str(index)] = json_safe(record)
            future.release()
            _status(manifest, store, total, "running")
            store.write_manifest(manifest)
            bar.update(1)


def _print_summary(
    sweep: Sweep, manifest: dict[str, Any], session: dict[str, Any], out: Path
) -> int:
    """Print what the sweep did (points, time, convergence, where); 1 if a point failed."""
    status = manifest["status"]
    runs = [
        manifest["runs"][str(p.index)] for p in sweep.points if str(p.index) in manifest["runs"]
    ]
    wall = sum(w for r in runs if math.isfinite(w := _number(r.get("wall_s"))))
    cpu = sum(c for r in runs if math.isfinite(c := _number(r.get("cpu_s", 0.0))))
    print(
        f"{sweep.name}: {status['finished']}/{status['total']} points finished "
        f"({sweep.spec.worlds} world{'s' * (sweep.spec.worlds != 1)} x {sweep.spec.steps} "
        f"week{'s' * (sweep.spec.steps != 1)} each) on {session.get('engine')}"
    )
    if runs:
        backends = sorted({str(r.get("backend")) for r in runs})
        print(
            f"  point time: {wall:.1f} s in all, {wall / len(runs):.2f} s per point "
            f"({cpu / len(runs):.2f} s of CPU); backend {', '.join(backends)}"
        )
    convergence = manifest["convergence"]
    print(
        "  clearing converged everywhere: "
        + (
            "yes"
            if convergence["all_converged"]
            else f"NO (points {convergence['not_converged_points'][:10]})"
        )
        + f"; largest accounting gap {convergence['largest_accounting_gap_usd_bn']:.1e} USD bn"
    )
    print(f"  results: {out}/worlds/ (Parquet, one file per point), {out}/manifest.json")
    if manifest["failed"]:
        first = next(iter(manifest["failed"].items()))
        print(
            f"{len(manifest['failed'])} point(s) failed (first: point {first[0]}: {first[1]}); "
            "see manifest.json 'failed'; --resume retries them",
            file=sys.stderr,
        )
        return 1
    return 0


__all__ = ["code_identity", "dask_client", "run_sweep"]
