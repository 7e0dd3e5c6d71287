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
  ``dask worker tcp://HOST:PORT`` on the machines; each needs powderkeg installed).

Interrupting (Ctrl-C) stops at once; finished points stay, the manifest says ``interrupted``,
and ``--resume`` goes on from there. A point whose model raises is recorded in the manifest's
``failed`` table and the sweep goes on; the exit status is then 1 and ``--resume`` retries it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from experiments.config import Sweep
from experiments.files import git_commit
from experiments.sweeps.point import PointTask, run_point
from experiments.sweeps.store import SCHEMA, ResultsDir, now_utc
from experiments.usage import UsageError

ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx)://[^\s/]+$")


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
def dask_client(scheduler: str | None, local_cluster: int | None, todo: int) -> Iterator[Any]:
    """A ``distributed.Client`` and a description of its cluster, closed after the block.

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
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise UsageError(
                f"argument --scheduler: cannot connect to {scheduler} ({err}); start one "
                "with 'dask scheduler', or leave --scheduler out for a local cluster"
            ) from None
        with client:
            workers = len(client.scheduler_info().get("workers", {}))
            yield client, f"scheduler {scheduler} ({workers} workers when the sweep started)"
        return
    n = local_cluster or max(1, min(os.cpu_count() or 1, todo))
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment()}),
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


def _new_manifest(sweep: Sweep) -> dict[str, Any]:
    names = list(dict.fromkeys([*sweep.spec.fixed, *sweep.swept]))
    return {
        "schema": SCHEMA,
        "name": sweep.name,
        "description": sweep.spec.description,
        "sweep_file": str(sweep.path),
        "fingerprint": sweep.fingerprint(),
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


def _status(manifest: dict[str, Any], store: ResultsDir, total: int, state: str) -> None:
    finished = len(store.finished())
    manifest["status"] = {
        "state": "complete" if finished == total else state,
        "finished": finished,
        "total": total,
        "updated_utc": now_utc(),
    }
    runs = manifest["runs"].values()
    manifest["convergence"] = {
        "all_converged": all(r.get("clearing_converged", True) for r in runs),
        "not_converged_points": sorted(
            int(k) for k, r in manifest["runs"].items() if not r.get("clearing_converged", True)
        ),
        "largest_accounting_gap_usd_bn": max(
            (r.get("accounting_gap_usd_bn", 0.0) for r in runs), default=0.0
        ),
    }


def _open_manifest(sweep: Sweep, store: ResultsDir, resume: bool) -> dict[str, Any]:
    if not store.has_results():
        return _new_manifest(sweep)
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
    return manifest


def run_sweep(
    sweep: Sweep,
    out: Path,
    *,
    resume: bool = False,
    scheduler: str | None = None,
    local_cluster: int | None = None,
    backend: str | None = None,
    progress: bool = True,
    argv: list[str] | None = None,
) -> int:
    """Run every unfinished point of ``sweep`` into ``out``; returns the exit status.

    Returns:
        0 when every point is finished, 1 when some point failed (recorded in the manifest).

    Raises:
        UsageError: another sweep holds ``out``; ``out`` holds other results (or results
            without ``resume``); the scheduler does not answer.
    """
    store = ResultsDir(out)
    backend = backend or sweep.spec.backend
    with store.locked():
        manifest = _open_manifest(sweep, store, resume)
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
            **_version(),
        }
        manifest["sessions"].append(session)
        manifest["failed"] = {}
        _status(manifest, store, total, "running")
        store.write_manifest(manifest)
        if not todo:
            print(f"{sweep.name}: all {total} points already finished in {out}")
            return 0
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
                backend=backend,
                series=tuple(sweep.spec.output.series),
                columns=columns,
            )
            for p in todo
        ]
        try:
            with dask_client(scheduler, local_cluster, len(todo)) as (client, engine):
                session["engine"] = engine
                _execute(client, tasks, sweep, store, manifest, total, progress)
        except KeyboardInterrupt:
            _status(manifest, store, total, "interrupted")
            store.write_manifest(manifest)
            print(
                f"{sweep.name}: {manifest['status']['finished']}/{total} points finished in "
                f"{out}; add --resume to the same command to finish the rest",
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
    sweep: Sweep,
    store: ResultsDir,
    manifest: dict[str, Any],
    total: int,
    progress: bool,
) -> None:
    from distributed import as_completed
    from tqdm import tqdm

    tag = sweep.fingerprint()[:12]
    futures = [
        client.submit(run_point, task, key=f"powderkeg-{tag}-point-{task.point}", pure=False)
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
                store.write_point(result.point, result.worlds, result.series)
                manifest["runs"][str(index)] = {
                    **result.record,
                    "session": session,
                    "finished_utc": now_utc(),
                }
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
    wall = sum(r["wall_s"] for r in runs)
    cpu = sum(r.get("cpu_s", 0.0) for r in runs)
    print(
        f"{sweep.name}: {status['finished']}/{status['total']} points finished "
        f"({sweep.spec.worlds} world{'s' * (sweep.spec.worlds != 1)} x {sweep.spec.steps} "
        f"week{'s' * (sweep.spec.steps != 1)} each) on {session.get('engine')}"
    )
    if runs:
        backends = sorted({r["backend"] for r in runs})
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


__all__ = ["dask_client", "run_sweep"]
