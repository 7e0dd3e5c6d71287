"""Writing results so that a failure never leaves half a file, with the record every file keeps.

The commands that write results (``powderkeg run``, ``evidence``, ``sweep``, ``report`` and
``validate``) stage each file under a temporary name beside it and move them all into place
together (:func:`write_atomically`), write their JSON through :func:`json_safe` (no NaN, no NumPy
types) and record the source commit they ran (:func:`git_commit`). ``powderkeg run`` writes a
whole folder at once (:func:`write_directory`): every file into a temporary sibling folder, then
one rename. The generated Markdown tables escape their cells with :func:`markdown_cell`.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def markdown_cell(text: Any) -> str:
    """``text`` on one line, safe inside a Markdown table cell (``|`` escaped)."""
    return " ".join(str(text).replace("|", "\\|").split())


def json_safe(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, NumPy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def git_commit() -> dict[str, Any]:
    """The source tree's commit and whether it has uncommitted changes (None outside git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head or None, "dirty": bool(dirty)}


def write_atomically(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every file to a temporary name beside it, then move them all into place.

    A failure (``OSError``) leaves the files that were there before untouched and no temporary
    files behind.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    staged: dict[Path, Path] = {}
    try:
        for path, write in writers.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            staged[path] = Path(tmp)
            write(staged[path])
            os.chmod(staged[path], 0o666 & ~umask)  # mkstemp makes files private
        for path, tmp in staged.items():
            os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def write_page_table_record(
    page: Path,
    text: str,
    table: Path,
    write_table: Callable[[Path], None],
    record_path: Path,
    record: dict[str, Any],
) -> None:
    """A generated page, its table (CSV) and its JSON record, written together atomically."""
    write_atomically(
        {
            page: lambda path: path.write_text(text, encoding="utf-8"),
            table: write_table,
            record_path: lambda path: path.write_text(
                json.dumps(record, indent=1) + "\n", encoding="utf-8"
            ),
        }
    )


def _staging_prefix(out: Path) -> str:
    return f".{out.name}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_staging(out: Path) -> list[Path]:
    """Remove the staging folders of ``out`` left by a process that no longer runs (``kill -9``).

    A staging folder is ``.<name>.<pid>.<random>.tmp`` beside ``out``; one whose process still
    runs (another write in progress) is left alone. Returns the folders removed.
    """
    prefix = _staging_prefix(out)
    removed = []
    for path in out.parent.glob(glob.escape(prefix) + "*.tmp"):
        pid = path.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class _Terminated(KeyboardInterrupt):
    """SIGTERM while a folder is staged: unwound like Ctrl-C so the staging folder is removed."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


def write_directory(
    out: Path, writers: dict[str, Callable[[Path], None]], *, replace: bool, merge: bool = False
) -> None:
    """Write the files of ``writers`` (name to writer) as the folder ``out``, all appearing at once.

    Every file is written into a temporary sibling folder (``.<name>.<pid>.<random>.tmp``), which
    is then renamed to ``out``: when ``out`` is missing or empty; when ``replace`` (``out`` is an
    earlier result of the same kind, moved aside and removed only once the new folder is in
    place); or, with ``merge``, the files are moved into ``out`` one by one, replacing those of
    the same names and leaving the others. An error, Ctrl-C or SIGTERM leaves ``out`` as it was
    and no temporary folder behind; one left by ``kill -9`` is removed by the next write.

    Raises:
        FileExistsError: ``out`` holds files and neither ``replace`` nor ``merge`` is set.
        OSError: a file could not be written or moved.
    """
    out = Path(os.path.realpath(out.expanduser()))  # a link: the folder it names
    remove_stale_staging(out)
    umask = os.umask(0o022)
    os.umask(umask)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    staging = old = None
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f"{_staging_prefix(out)}{os.getpid()}.", suffix=".tmp",
                             dir=out.parent)
        )  # fmt: skip
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes folders private
        for name, write in writers.items():
            write(staging / name)
        if not out.exists() or (out.is_dir() and not any(out.iterdir())):
            os.replace(staging, out)  # onto an empty folder too
        elif merge:
            for name in writers:
                os.replace(staging / name, out / name)
        elif replace:
            old = staging.with_name(staging.name[: -len(".tmp")] + ".old.tmp")
            os.replace(out, old)
            try:
                os.replace(staging, out)
            except OSError:
                os.replace(old, out)
                old = None
                raise
        else:
            raise FileExistsError(17, "the folder holds files", str(out))
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


__all__ = [
    "git_commit",
    "json_safe",
    "remove_stale_staging",
    "write_atomically",
    "write_directory",
]
