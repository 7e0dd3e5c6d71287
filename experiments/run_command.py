"""``powderkeg run``: the flags of a headless run, and the run from the flags to the printed table.

Every input is checked (:func:`experiments.run.resolve_config`, the backend, a writable ``--out``)
before anything is written; then the run (:func:`experiments.run.execute`), its files
(:func:`experiments.run_outputs.write_outputs`) and its summary table
(:func:`experiments.run_summary.format_summary`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.usage import add_backend_argument, check_backend, flag_type, writable_directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg run``."""
    from experiments.run import DEFAULTS, SCENARIOS

    parser.add_argument(
        "--scenario",
        default="baseline",
        metavar="NAME|FILE.toml",
        help=f"a scenario preset ({', '.join(SCENARIOS)}) or a TOML scenario file "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=flag_type("steps"),
        default=None,
        metavar="N",
        help=f"weeks to simulate (default: the file's, else {DEFAULTS['steps']}: five years)",
    )
    parser.add_argument(
        "--worlds",
        type=flag_type("n_worlds"),
        default=None,
        metavar="E",
        help=f"worlds simulated together (default: the file's, else {DEFAULTS['n_worlds']})",
    )
    parser.add_argument(
        "--seed",
        type=flag_type("seed"),
        default=None,
        metavar="S",
        help=f"world w draws from seed S + w (default: the file's, else {DEFAULTS['seed']})",
    )
    add_backend_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output directory (default: results/<scenario>, or results/<file stem>)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on stderr",
    )


def command(args: argparse.Namespace) -> int:
    """``powderkeg run``: check every input, run the scenario, write the outputs, print a table."""
    from experiments.run import resolve_config

    config = resolve_config(
        args.scenario,
        steps=args.steps,
        n_worlds=args.worlds,
        seed=args.seed,
        backend=args.backend,
        out=args.out,
    )
    backend = check_backend(args.backend)
    out = writable_directory(config.out, "--out")  # the first thing that touches the disk

    from experiments.run import execute
    from experiments.run_outputs import write_outputs
    from experiments.run_summary import format_summary

    result = execute(config, backend, progress=not args.no_progress)
    write_outputs(result, out, argv=args.argv)
    print(format_summary(result, out))
    return 0


__all__ = ["add_arguments", "command"]
