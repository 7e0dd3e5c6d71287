"""``powderkeg sweep FILE.toml``: check a sweep file, then run its unfinished points on Dask."""

from __future__ import annotations

import argparse
from pathlib import Path

from experiments.usage import check_backend, path_argument, positive_int, writable_directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``powderkeg sweep``."""
    parser.add_argument("file", type=path_argument, metavar="FILE.toml", help="the sweep file")
    parser.add_argument(
        "--out",
        type=path_argument,
        default=None,
        metavar="DIR",
        help="results directory (default: results/sweeps/<sweep name>)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep already in --out: skip its finished points",
    )
    parser.add_argument(
        "--allow-mixed",
        action="store_true",
        help="with --resume: go on even though the model's code or calibration changed since "
        "the results in --out were made (each point's record says which code made it)",
    )
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the points on this running Dask scheduler's workers",
    )
    engine.add_argument(
        "--local-cluster",
        type=positive_int,
        default=None,
        metavar="N",
        help="start a Dask LocalCluster of N worker processes here "
        "(default: one per CPU, at most one per point left)",
    )
    engine.add_argument(
        "--gpus",
        type=positive_int,
        default=None,
        metavar="N",
        help="start a local Dask cluster of N worker processes, one per GPU (each sees its own "
        "through CUDA_VISIBLE_DEVICES), and run every point on CuPy",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "numpy", "cupy"),
        default=None,
        help="array backend of the workers (default: the file's, else auto: CuPy when a GPU "
        "answers, else NumPy); GPU workers (--gpus, or a scheduler's workers started with "
        "--resources GPU=1) run CuPy unless numpy is asked for",
    )
    parser.add_argument(
        "--list-parameters",
        action="store_true",
        help="print the parameters a sweep of the file's scenario can set, and exit",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def command(args: argparse.Namespace) -> int:
    """``powderkeg sweep``: check the file, then run its unfinished points on Dask."""
    if args.list_parameters:
        from experiments.config import scenario_of
        from experiments.sweeps.parameters import describe_table, parameter_table

        print(describe_table(parameter_table(scenario_of(args.file))))
        return 0
    from experiments.config import load_sweep

    config = load_sweep(args.file)
    gpus = None
    if args.gpus is not None:
        from experiments.sweeps.gpus import check_gpus

        gpus = check_gpus(args.gpus, args.backend)
    if args.backend is not None and args.scheduler is None:
        check_backend(args.backend)
    elif args.scheduler is None and config.spec.backend == "cupy":
        check_backend("cupy", "backend (sweep file)")
    out = args.out if args.out is not None else Path("results") / "sweeps" / config.name
    out = writable_directory(out, "--out")

    from experiments.sweeps.engine import run_sweep

    return run_sweep(
        config,
        out,
        resume=args.resume,
        allow_mixed=args.allow_mixed,
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
        gpus=gpus,
        backend=args.backend if gpus is None else "cupy",
        progress=not args.no_progress,
        argv=args.argv,
    )


__all__ = ["add_arguments", "command"]
