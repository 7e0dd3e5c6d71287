"""``powderkeg bench``: run the kernel and model benchmarks, print the table, write the JSON.

``experiments.cli`` registers the command and delegates to :func:`add_arguments` and
:func:`command` here (by module name), so the benchmarks depend on ``experiments`` and not the
other way round.
"""

from __future__ import annotations

import argparse

from benchmarks.report import RESULTS_DIR, format_table, write_results
from experiments.usage import (
    UsageError,
    add_backend_argument,
    check_backend,
    non_negative_int,
    path_argument,
    writable_directory,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few repeats (well under 30 s), for tests and smoke checks",
    )
    add_backend_argument(parser)
    parser.add_argument(
        "--out",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="directory for bench-<UTC timestamp>.json and latest.json "
        "(default: benchmarks/results/ in the source tree)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64", "both"),
        default="both",
        help="dtype(s) of the fire-sale rows; clearing and the model always run in float64 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        choices=("kernels", "model", "all"),
        default="all",
        help="which section to run: the array kernels, the model's weekly step, or both "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="SEED",
        help="seed of every benchmark instance (default: %(default)s)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on stderr",
    )


def command(args: argparse.Namespace) -> int:
    """``powderkeg bench``: run the kernel and model benchmarks, print the table, write the JSON."""
    check_backend(args.backend)
    out = writable_directory(args.out if args.out is not None else RESULTS_DIR, "--out")

    from benchmarks.suite import SECTIONS, run

    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    results = run(
        sections=SECTIONS if args.only == "all" else (args.only,),
        quick=args.quick,
        backend=args.backend,
        dtypes=dtypes,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(format_table(results))
    try:
        written, latest = write_results(results, out)
    except OSError as err:  # the directory went away or filled up during the run
        raise UsageError(
            f"argument --out: cannot write results to {out} ({err.strerror or err})"
        ) from None
    print(f"\nresults: {written} (also {latest.name})")
    return 0


__all__ = ["add_arguments", "command"]
