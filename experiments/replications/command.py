"""``powderkeg validate``: run replications by name (or all) and write their document.

The files go under ``--out`` (default ``results/validation``, so a bare ``powderkeg validate``
never rewrites the tracked ``docs/``); ``--out docs`` rebuilds ``docs/validation.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.replications import REPLICATIONS
from experiments.replications.report import DOCUMENT, FIGURES, run_replications
from experiments.usage import (
    UsageError,
    add_backend_argument,
    check_backend,
    non_negative_int,
    path_argument,
    writable_directory,
)

#: Where a bare ``powderkeg validate`` writes; ``--out docs`` rebuilds the tracked document.
DEFAULT_OUT = Path("results") / "validation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg validate``."""
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"replications to run: {', '.join(REPLICATIONS)}, or all (default: all)",
    )
    parser.add_argument(
        "--size",
        choices=("ci", "full"),
        default="full",
        help="full: the document's sizes (a few minutes on a CPU); ci: seconds "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="S",
        help="seed of every draw (default: 0)",
    )
    parser.add_argument(
        "--out",
        type=path_argument,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="writes DIR/validation.md, DIR/figures/validation/*.png and "
        "DIR/validation/*.json|csv (default: %(default)s; --out docs rebuilds "
        "docs/validation.md)",
    )
    add_backend_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def resolve_names(names: list[str]) -> list[str]:
    """The replications to run, in document order; ``all`` or nothing means every one.

    Raises:
        UsageError: a name is not a replication (the message lists the allowed names).
    """
    if not names or names == ["all"]:
        return list(REPLICATIONS)
    unknown = [n for n in names if n not in REPLICATIONS]
    if unknown:
        raise UsageError(
            f"argument NAME: unknown replication {', '.join(repr(n) for n in unknown)}; "
            f"choose from {', '.join(REPLICATIONS)} or all"
        )
    return [n for n in REPLICATIONS if n in names]


def command(args: argparse.Namespace) -> int:
    """Check the inputs, run the replications, write the files, print one line per replication."""
    names = resolve_names(args.names)
    backend = check_backend(args.backend)
    out = writable_directory(args.out, "--out")

    def note(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    try:
        outcomes = run_replications(
            names,
            out,
            size=args.size,
            seed=args.seed,
            backend=backend,
            argv=getattr(args, "argv", None),
            progress=note,
        )
    except OSError as err:
        raise UsageError(
            f"argument --out: cannot write results to {out} ({err.strerror or err})"
        ) from None
    for outcome in outcomes:
        shown = sum(f.holds for f in outcome.facts)
        print(f"{outcome.name:<24} {shown} of {len(outcome.facts)} stylized facts shown")
    print(f"wrote {out / DOCUMENT} and {out / FIGURES}/")
    return 0
