"""``powderkeg report RESULTS_DIR``: figures and one HTML page from a sweep's results."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.usage import UsageError, path_argument, writable_directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg report``."""
    parser.add_argument(
        "results",
        type=path_argument,
        metavar="RESULTS_DIR",
        help="a directory written by powderkeg sweep",
    )
    parser.add_argument(
        "--out",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="where the PNGs and report.html go (default: RESULTS_DIR/report)",
    )
    parser.add_argument(
        "--metric",
        default=None,
        metavar="NAME",
        help="the outcome of the heat maps and sensitivity indices "
        "(default: banking_crisis, the probability that a bank fails)",
    )


def _missing_ancestor(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet, if any."""
    try:
        path = path.expanduser().absolute()
        missing = None
        for folder in (path, *path.parents):
            if folder.exists():
                return missing
            missing = folder
    except (OSError, ValueError):
        pass
    return None


def _remove_empty(path: Path, top: Path) -> None:
    """Remove ``path`` and its parents up to ``top`` while they are empty (folders we made)."""
    path = path.expanduser().absolute()
    for folder in (path, *path.parents):
        try:
            folder.rmdir()  # only an empty folder goes
        except OSError:
            return
        if folder == top:
            return


def command(args: argparse.Namespace) -> int:
    """``powderkeg report``: figures and one HTML page from a sweep's Parquet results."""
    from experiments.report import make_report
    from experiments.sweeps.store import ResultsDir

    out = args.out if args.out is not None else args.results / "report"
    try:
        is_dir = args.results.is_dir()
        reason = "is not a directory"
    except OSError as err:  # e.g. File name too long
        is_dir, reason = False, f"cannot be read ({err.strerror or err})"
    if not is_dir:
        raise UsageError(
            f"argument RESULTS_DIR: {args.results} {reason}; give one written by powderkeg sweep"
        )
    ResultsDir(args.results).read_manifest()  # a bad RESULTS_DIR creates no --out folder
    created = _missing_ancestor(out)
    try:
        page = make_report(args.results, writable_directory(out, "--out"), metric=args.metric)
    except UsageError:  # e.g. no finished point, an unknown --metric: leave no empty folder
        if created is not None:
            _remove_empty(out, created)
        raise
    print(f"wrote {page}")
    return 0


__all__ = ["add_arguments", "command"]
