"""A sweep's results directory: never lost, never interleaved.

Layout of ``--out DIR``::

    DIR/manifest.json            the plan (sweep file, scenario, every point's values and seed),
                                 code version, backend, sessions, per-point timings and
                                 convergence, and progress
    DIR/worlds/point-000123.parquet   one row per world of point 123 (the results dataset)
    DIR/series/point-000123.parquet   one row per world and week of point 123 (fan charts)
    DIR/runs/point-000123.json        point 123's record (timing, worker, backend, convergence,
                                      code version): the manifest's ``runs`` is rebuilt from these
    DIR/.lock                    held (``flock``) while a sweep writes here

Rules:

- A point's three files are each written to a temporary file beside it and then renamed
  (:func:`experiments.files.write_atomically`), the series and its record first: a point is
  finished when its ``worlds`` file exists, and a kill at any moment leaves finished points whole
  (with their records) and nothing else but temporary files, which the next sweep here removes.
  A kill between a point's files and the manifest loses nothing: ``--resume`` rebuilds the
  manifest's ``runs`` from the records (:meth:`ResultsDir.read_runs`).
- The files hold only what the model computed (no timings, no dates), so a point rerun gives the
  same bytes; timings and workers go to the manifest.
- ``.lock`` is an exclusive ``flock`` (released by the kernel when the process dies, even on
  SIGKILL): a second sweep on the same directory is refused while the first runs.
- ``--resume`` continues only the same plan (same fingerprint); without it a directory that
  already holds results is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.files import json_safe, write_atomically
from experiments.usage import UsageError

SCHEMA = "powderkeg.sweep/1"
MANIFEST = "manifest.json"
LOCK = ".lock"
WORLDS = "worlds"
SERIES = "series"
RUNS = "runs"


def point_file(index: int) -> str:
    """``point-000123.parquet``: one point's file name (sorts in point order)."""
    return f"point-{index:06d}.parquet"


def record_file(index: int) -> str:
    """``point-000123.json``: one point's record (see the module docstring)."""
    return f"point-{index:06d}.json"


def now_utc() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ResultsDir:
    """One sweep's results directory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.worlds_dir = self.path / WORLDS
        self.series_dir = self.path / SERIES
        self.runs_dir = self.path / RUNS
        self.manifest_path = self.path / MANIFEST

    # -- the lock ------------------------------------------------------------------------------

    @contextmanager
    def locked(self, flag: str = "--out") -> Iterator[None]:
        """Hold the directory's lock for the block; refuse if another sweep holds it.

        Raises:
            UsageError: another process holds the lock (the message names it).
        """
        lock = self.path / LOCK
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                raise UsageError(
                    f"argument {flag}: another sweep is writing to {self.path} ({holder}); "
                    "wait for it to finish or choose another directory"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} since {now_utc()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    # -- state ---------------------------------------------------------------------------------

    def finished(self) -> set[int]:
        """Points whose results are complete (their ``worlds`` file exists)."""
        if not self.worlds_dir.is_dir():
            return set()
        done = set()
        for file in self.worlds_dir.glob("point-*.parquet"):
            try:
                done.add(int(file.stem.removeprefix("point-")))
            except ValueError:
                continue
        return done

    def has_results(self) -> bool:
        """Whether a sweep has written here before (a manifest or any point)."""
        return self.manifest_path.exists() or bool(self.finished())

    def remove_temporaries(self) -> int:
        """Delete temporary files a killed sweep left behind; returns how many."""
        removed = 0
        for folder in (self.worlds_dir, self.series_dir, self.runs_dir, self.path):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, or a UsageError naming the directory when it is missing or broken."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise UsageError(
                f"argument RESULTS_DIR: {self.path} has no {MANIFEST}; give a directory "
                "written by powderkeg sweep"
            ) from None
        except (OSError, ValueError) as err:
            raise UsageError(
                f"argument RESULTS_DIR: cannot read {self.manifest_path} ({err})"
            ) from None
        if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
            raise UsageError(
                f"argument RESULTS_DIR: {self.manifest_path} is not a powderkeg sweep manifest "
                f"(schema {SCHEMA})"
            )
        return manifest

    # -- writing -------------------------------------------------------------------------------

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest atomically."""
        text = json.dumps(json_safe(manifest), indent=1, allow_nan=False) + "\n"
        write_atomically({self.manifest_path: lambda p: p.write_text(text)})

    def write_point(
        self, index: int, worlds: Any, series: Any, record: dict[str, Any] | None = None
    ) -> None:
        """Write one point's files: series and record first, then ``worlds``, which finishes it."""
        self.worlds_dir.mkdir(exist_ok=True)
        self.series_dir.mkdir(exist_ok=True)
        name = point_file(index)
        writers: dict[Path, Any] = {
            self.series_dir / name: lambda p: series.to_parquet(p, index=False)
        }
        if record is not None:
            self.runs_dir.mkdir(exist_ok=True)
            text = json.dumps(json_safe(record), indent=1, allow_nan=False) + "\n"
            writers[self.runs_dir / record_file(index)] = lambda p: p.write_text(text)
        writers[self.worlds_dir / name] = lambda p: worlds.to_parquet(p, index=False)
        write_atomically(writers)

    def read_runs(self) -> dict[str, dict[str, Any]]:
        """The records of the finished points, by point number as text (unreadable ones skipped).

        A record whose point has no ``worlds`` file (never finished) is left out.
        """
        done = self.finished()
        runs: dict[str, dict[str, Any]] = {}
        if not self.runs_dir.is_dir():
            return runs
        for file in sorted(self.runs_dir.glob("point-*.json")):
            try:
                index = int(file.stem.removeprefix("point-"))
                record = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if index in done and isinstance(record, dict):
                runs[str(index)] = record
        return runs

    # -- reading -------------------------------------------------------------------------------

    def read_worlds(self) -> Any:
        """The results dataset: every finished point's worlds, sorted by point and world."""
        return self._read(self.worlds_dir, ["point", "world"])

    def read_series(self) -> Any:
        """Every finished point's series, sorted by point, world and step."""
        return self._read(self.series_dir, ["point", "world", "step"])

    def _read(self, folder: Path, order: list[str]) -> Any:
        import pandas as pd

        files = sorted(folder.glob("point-*.parquet")) if folder.is_dir() else []
        if not files:
            return pd.DataFrame({c: pd.array([], dtype="int64") for c in order})
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        return frame.sort_values(order, kind="stable").reset_index(drop=True)


__all__ = [
    "LOCK",
    "MANIFEST",
    "RUNS",
    "SCHEMA",
    "SERIES",
    "WORLDS",
    "ResultsDir",
    "now_utc",
    "point_file",
    "record_file",
]
