"""``powderkeg run``: the flags of a headless run, and the run from the flags to the printed table.

Every input is checked (:func:`experiments.run.resolve_config`, the backend, ``--out``: not a
file, and new, empty or an earlier run's unless ``--force``
(:func:`experiments.run_outputs.check_out`), the memory the worlds need
(:func:`experiments.run.check_run_memory`), a writable parent folder) before anything is written
or allocated; then the run (:func:`experiments.run.execute`), its files, all appearing at once
(:func:`experiments.run_outputs.write_outputs`) and its summary table
(:func:`experiments.run_summary.format_summary`).

A replay file (``replay = 1``: a run exported by the app, :mod:`experiments.replay`) is read by
:func:`experiments.replay.resolve_replay`, which also gives the function that builds its model
(its calibration and its shock schedules in order); every other ``--scenario`` as before.
"""

from __future__ import annotations

import argparse
import sys

from experiments.usage import (
    add_backend_argument,
    add_dtype_argument,
    flag_type,
    path_argument,
    writable_directory,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg run``."""
    from experiments.run import DEFAULTS, SCENARIOS

    parser.add_argument(
        "--scenario",
        default="baseline",
        metavar="NAME|FILE.toml",
        help=f"a scenario preset ({', '.join(SCENARIOS)}), a TOML scenario file, or a replay "
        "file exported by the app (default: %(default)s)",
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
    add_dtype_argument(parser)
    parser.add_argument(
        "--out",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="output directory, new, empty or an earlier run's, which is replaced "
        "(default: results/<scenario>, or results/<file stem>)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds other files (a sweep's results, notes): the "
        "run's files replace those of the same names, the others are kept",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on stderr",
    )


def command(args: argparse.Namespace) -> int:
    """``powderkeg run``: check every input, run the scenario, write the outputs, print a table."""
    from experiments.replay import is_replay_file, resolve_replay
    from experiments.run import build_run_model, check_run_memory, resolve_config
    from experiments.run_outputs import check_out

    settings = {
        "steps": args.steps,
        "n_worlds": args.worlds,
        "seed": args.seed,
        "backend": args.backend,
        "out": args.out,
        "dtype": args.dtype,
    }
    if is_replay_file(args.scenario):  # a run exported by the app, with its own schedules
        config, build = resolve_replay(args.scenario, **settings)
    else:
        config, build = resolve_config(args.scenario, **settings), build_run_model
    from experiments.run import choose_run_backend

    backend, reason = choose_run_backend(config)
    out = check_out(config.out, force=args.force)
    check_run_memory(config.n_worlds, config.n_cohorts, config.steps, backend)
    writable_directory(out.parent, "--out")  # the first thing that touches the disk

    from experiments.run import execute
    from experiments.run_outputs import write_outputs
    from experiments.run_summary import format_summary, summary_numbers

    result = execute(
        config, backend, progress=not args.no_progress, backend_reason=reason, build=build
    )
    write_outputs(result, out, argv=args.argv, force=args.force)
    print(format_summary(result, out))
    stopped = summary_numbers(result)["stopped"]
    if stopped:  # the files are written (they show the broken worlds), but this run failed
        first = stopped[0]
        print(
            f"powderkeg run: error: {len(stopped)} of {config.n_worlds} world(s) stopped: "
            f"world {first['world']} in week {first['week']} ({first['cause']})",
            file=sys.stderr,
        )
        return 1
    return 0


__all__ = ["add_arguments", "command"]
