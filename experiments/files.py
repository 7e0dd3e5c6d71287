"""Writing results so that a failure never leaves half a file, with the record every file keeps.

The commands that write results (``powderkeg run``, ``evidence``, ``sweep``, ``report`` and
``validate``) stage each file under a temporary name beside it and move them all into place
together (:func:`write_atomically`), write their JSON through :func:`json_safe` (no NaN, no NumPy
types) and record the source commit they ran (:func:`git_commit`).
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


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


__all__ = ["git_commit", "json_safe", "write_atomically"]
