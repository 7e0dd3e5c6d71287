"""Usage errors and the argument checks every command shares; the bottom layer of ``experiments``.

A command (``experiments.cli``, and the ``add_arguments``/``command`` modules it delegates to)
checks its input with these helpers and raises :class:`UsageError` for bad input; the command
line prints it as one line, ``powderkeg <command>: error: ...``, and exits with status 2. This
module imports nothing of powderkeg's at module level, so any module may import it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Allowed range (inclusive) of every numeric setting, by its name in a scenario's ``[model]``.
LIMITS: dict[str, tuple[int, int]] = {
    "steps": (0, 5200),  # up to a century of weeks
    "n_worlds": (1, 1_000_000),
    "n_cohorts": (4, 10_000_000),
    "seed": (0, 2**63 - 1),  # world w uses seed + w, which must stay below 2**64
}


class UsageError(Exception):
    """Bad input found after parsing; printed as one line, exit status 2.

    The message should name the flag or field and what is allowed, e.g.
    ``argument --out: /x is not writable (Permission denied); give a writable directory``.
    """


def allowed(name: str) -> str:
    """``an integer from LO to HI`` for setting ``name`` of :data:`LIMITS`."""
    lo, hi = LIMITS[name]
    return f"an integer from {lo} to {hi}"


def flag_type(name: str) -> Callable[[str], int]:
    """An argparse ``type`` for setting ``name``: an int within :data:`LIMITS`."""
    lo, hi = LIMITS[name]

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {allowed(name)}; got {text!r}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1."""
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def check_world_seeds(seed: int, n_worlds: int) -> None:
    """World w draws from seed + w, a uint64: the last world's seed must fit.

    Raises:
        UsageError: ``seed + n_worlds - 1`` reaches 2**64.
    """
    if seed + n_worlds - 1 >= 2**64:
        raise UsageError("argument --seed: seed + worlds - 1 must stay below 2**64")


def path_argument(text: str) -> Path:
    """An argparse ``type``: a non-empty path (``--out ""`` would mean the current folder).

    A NUL character is refused too: no file name can hold one, and the operating system's calls
    would raise ``ValueError: embedded null byte`` only later, after the work.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty; give a path")
    if "\x00" in text:
        raise argparse.ArgumentTypeError("must not contain a NUL character; give a path")
    return Path(text)


def available_memory() -> int | None:
    """Bytes of memory this process may still take; None if unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (``os.sysconf`` where there is none), less where a
    cgroup (a container's limit) allows less.
    """
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            used = int((cgroup / "memory.current").read_text().strip())
            found.append(max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_memory(needed: int, flag: str, what: str, hint: str = "") -> None:
    """Refuse a run that needs more memory than is available (when that is known).

    Raises:
        UsageError: ``argument FLAG: WHAT needs X GiB, Y GiB available[; HINT]``.
    """
    available = available_memory()
    if available is not None and needed > available:
        gib = 2.0**30
        raise UsageError(
            f"argument {flag}: {what} needs {needed / gib:.1f} GiB, "
            f"{available / gib:.1f} GiB available" + (f"; {hint}" if hint else "")
        )


def _reason(err: Exception) -> str:
    """The short reason of an OSError (its ``strerror``), else the error's text."""
    return getattr(err, "strerror", None) or str(err)


def writable_directory(path: Path, flag: str) -> Path:
    """Create ``path`` if needed and check that a file can be written in it.

    Raises:
        UsageError: naming ``flag``, when the directory cannot be created or written to.
    """
    try:
        path = path.expanduser()
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(
            f"argument {flag}: {path} exists and is not a directory; give a writable directory"
        ) from None
    except NotADirectoryError:
        raise UsageError(
            f"argument {flag}: cannot create {path} (a parent is not a directory); "
            "give a writable directory"
        ) from None
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the path
        raise UsageError(
            f"argument {flag}: cannot create {path} ({_reason(err)}); give a writable directory"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except (OSError, ValueError) as err:
        raise UsageError(
            f"argument {flag}: {path} is not writable ({_reason(err)}); give a writable directory"
        ) from None
    return path


def add_ensemble_arguments(
    parser: argparse.ArgumentParser,
    defaults: dict[str, Any],
    *,
    worlds: str,
    steps: str,
    seed: str = "world w draws from seed S + w",
    cohorts: bool = False,
) -> None:
    """``--worlds E``, ``--steps N``, ``--seed S`` (and ``--cohorts C``) of an ensemble command.

    ``defaults`` holds ``worlds``, ``steps`` and ``seed`` (and ``cohorts``); the help texts say
    what each counts (the default is added to each).
    """
    parser.add_argument("--worlds", type=flag_type("n_worlds"), default=defaults["worlds"],
                        metavar="E", help=f"{worlds} (default: %(default)s)")  # fmt: skip
    parser.add_argument("--steps", type=flag_type("steps"), default=defaults["steps"],
                        metavar="N", help=f"{steps} (default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=flag_type("seed"), default=defaults["seed"],
                        metavar="S", help=f"{seed} (default: %(default)s)")  # fmt: skip
    if cohorts:
        parser.add_argument(
            "--cohorts",
            type=flag_type("n_cohorts"),
            default=defaults["cohorts"],
            metavar="C",
            help="retail cohorts per world (default: %(default)s)",
        )


def add_presets_argument(parser: argparse.ArgumentParser) -> None:
    """``--presets A,B,...``: which presets a command covers (default: all)."""
    parser.add_argument(
        "--presets",
        default=None,
        metavar="A,B,...",
        help="comma-separated presets (default: all; powderkeg scenarios lists them)",
    )


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--backend auto|numpy|cupy`` flag every computing command shares."""
    parser.add_argument(
        "--backend",
        choices=("auto", "numpy", "cupy"),
        default="auto",
        help="array backend: auto follows $POWDERKEG_BACKEND, else CuPy when a GPU answers, "
        "else NumPy (default: %(default)s)",
    )


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--dtype float64|float32`` flag of the state's floating-point type."""
    from kernels.backend import STATE_DTYPES

    parser.add_argument(
        "--dtype",
        choices=STATE_DTYPES,
        default=STATE_DTYPES[0],
        help="floating-point type of the model's state: float32 halves its memory, its "
        "accounting gap and outcome differences are in the README (default: %(default)s)",
    )


def check_backend(name: str, flag: str = "--backend") -> str:
    """Resolve a backend name now, so a missing GPU is a one-line usage error, not a traceback.

    Returns:
        ``"numpy"`` or ``"cupy"``.

    Raises:
        UsageError: the backend (or ``$POWDERKEG_BACKEND``) is unknown or does not answer.
    """
    from kernels.backend import backend_name

    try:
        return backend_name(name)
    except ValueError as err:  # an unknown name, e.g. in $POWDERKEG_BACKEND
        raise UsageError(f"argument {flag} {name}: {err}") from None
    except RuntimeError as err:  # cupy asked for, no GPU answers
        raise UsageError(f"argument {flag} {name}: {err}; use {flag} numpy or auto") from None


__all__ = [
    "LIMITS",
    "UsageError",
    "add_backend_argument",
    "add_dtype_argument",
    "allowed",
    "available_memory",
    "check_backend",
    "check_memory",
    "flag_type",
    "non_negative_int",
    "path_argument",
    "positive_int",
    "writable_directory",
]
