"""``powderkeg report RESULTS_DIR``: figures and one HTML page from a sweep's results."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.usage import UsageError, writable_directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg report``."""
    parser.add_argument(
        "results", type=Path, metavar="RESULTS_DIR", help="a directory written by powderkeg sweep"
    )
    parser.add_argument(
        "--out",
        type=Path,
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


def command(args: argparse.Namespace) -> int:
    """``powderkeg report``: figures and one HTML page from a sweep's Parquet results."""
    from experiments.report import make_report

    out = args.out if args.out is not None else args.results / "report"
    if not args.results.is_dir():
        raise UsageError(
            f"argument RESULTS_DIR: {args.results} is not a directory; give one written by "
            "powderkeg sweep"
        )
    page = make_report(args.results, writable_directory(out, "--out"), metric=args.metric)
    print(f"wrote {page}")
    return 0


__all__ = ["add_arguments", "command"]
