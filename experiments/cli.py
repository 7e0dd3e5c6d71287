"""The ``powderkeg`` command line: one subcommand per job, each registered in ``COMMANDS``.

Adding a subcommand (``run``, ``sweep``, ``report``, ``scenarios``, ``ui``...) takes one
``register(Command(...))`` call with two small functions: one that declares its arguments on an
``argparse`` parser and one that runs it and returns an exit status. Import heavy modules inside
the run function so that ``powderkeg --help`` stays instant.

Bad input never produces a traceback: argparse's usage errors and the ``UsageError`` a command
raises after parsing (an unwritable directory, a backend that does not answer) print one line,
``powderkeg <command>: error: ...``, to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

PROG = "powderkeg"
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input found after parsing; printed as one line, exit status 2.

    The message should name the flag or field and what is allowed, e.g.
    ``argument --out: /x is not writable (Permission denied); give a writable directory``.
    """


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (exit status 2), no usage block."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` as a single line and exit with status 2."""
        hint = f"; see '{self.prog} --help'" if "usage:" not in message else ""
        line = " ".join(f"{self.prog}: error: {message}{hint}".split())
        self.exit(EXIT_USAGE, line + "\n")


@dataclass(frozen=True)
class Command:
    """One subcommand of ``powderkeg``.

    Attributes:
        name: the word typed after ``powderkeg``.
        help: one line for the command list of ``powderkeg --help``.
        description: the paragraph at the top of ``powderkeg <name> --help``.
        epilog: examples shown at the end of ``powderkeg <name> --help``.
        arguments: declares the command's arguments on its parser.
        run: does the work and returns the exit status; raises ``UsageError`` for bad input.
    """

    name: str
    help: str
    description: str
    epilog: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: Registered subcommands, in the order ``powderkeg --help`` lists them.
COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add a subcommand to ``COMMANDS`` (a later registration of the same name replaces it)."""
    COMMANDS[command.name] = command
    return command


def delegated(module: str) -> dict[str, Callable]:
    """``arguments`` and ``run`` of a command whose module has ``add_arguments`` and ``command``.

    The module is imported only when the command is used, so ``powderkeg --help`` stays fast.
    """

    def arguments(parser: argparse.ArgumentParser) -> None:
        importlib.import_module(module).add_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        return importlib.import_module(module).command(args)

    return {"arguments": arguments, "run": run}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per registered command."""
    parser = _Parser(
        prog=PROG,
        description="powderkeg: an agent-based simulation of how the debt-financed "
        "AI-infrastructure boom could turn into a financial crisis.",
        epilog=f"Run '{PROG} <command> --help' for a command's options and examples.",
        allow_abbrev=False,
    )
    sub = parser.add_subparsers(
        dest="command", title="commands", metavar="<command>", parser_class=_Parser
    )
    for command in COMMANDS.values():
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        command.arguments(child)
        child.set_defaults(command_parser=child)  # for errors found after parsing
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``powderkeg`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    Returns:
        0 on success, 2 for bad input (one line on stderr, no traceback), 130 when interrupted.
    """
    parser = build_parser()
    name = None
    try:
        args, extras = parser.parse_known_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # for the record a run keeps
        name = args.command
        if extras:
            child = getattr(args, "command_parser", parser)
            usage = " ".join(child.format_usage().split())
            child.error(f"unrecognized arguments: {' '.join(extras)}; {usage}")
        if name is None:
            parser.error(f"choose a command from {', '.join(COMMANDS)}")
        return COMMANDS[name].run(args)
    except SystemExit as stop:  # argparse: --help (0) or a usage error (2)
        if stop.code is None:
            return 0
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    except UsageError as err:
        prog = f"{PROG} {name}" if name else PROG
        print(" ".join(f"{prog}: error: {err}".split()), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


# --- shared argument checks --------------------------------------------------------------------


def writable_directory(path: Path, flag: str) -> Path:
    """Create ``path`` if needed and check that a file can be written in it.

    Raises:
        UsageError: naming ``flag``, when the directory cannot be created or written to.
    """
    path = path.expanduser()
    try:
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
    except OSError as err:
        raise UsageError(
            f"argument {flag}: cannot create {path} ({err.strerror}); give a writable directory"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise UsageError(
            f"argument {flag}: {path} is not writable ({err.strerror}); give a writable directory"
        ) from None
    return path


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--backend auto|numpy|cupy`` flag every computing command shares."""
    parser.add_argument(
        "--backend",
        choices=("auto", "numpy", "cupy"),
        default="auto",
        help="array backend: auto follows $POWDERKEG_BACKEND, else CuPy when a GPU answers, "
        "else NumPy (default: %(default)s)",
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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text!r}")
    return value


# --- powderkeg bench ---------------------------------------------------------------------------


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few repeats (well under 30 s), for tests and smoke checks",
    )
    add_backend_argument(parser)
    parser.add_argument(
        "--out",
        type=Path,
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
        type=_non_negative_int,
        default=0,
        metavar="SEED",
        help="seed of every benchmark instance (default: %(default)s)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on stderr",
    )


def bench(args: argparse.Namespace) -> int:
    """``powderkeg bench``: run the kernel and model benchmarks, print the table, write the JSON."""
    from benchmarks.report import RESULTS_DIR

    check_backend(args.backend)
    out = writable_directory(args.out if args.out is not None else RESULTS_DIR, "--out")

    from benchmarks.report import format_table, write_results
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


register(
    Command(
        name="bench",
        help="measure the array kernels and the model's weekly step",
        description=(
            "kernels: the fire-sale kernel over E worlds (rounds/s, holder-asset updates/s),\n"
            "compared with the per-agent Python reference loop at E = 1, and Eisenberg-Noe\n"
            "clearing over N and E. model: weekly steps per second of the model for E worlds\n"
            "with 1,000 retail cohorts, the full baseline (E = 1, 260 weeks) against the 10 s\n"
            "target, the per-step Python overhead, and the time of each phase of a step.\n"
            "Prints a table and writes bench-<UTC timestamp>.json and latest.json.\n"
            "Timings are reported, never asserted."
        ),
        epilog="examples:\n"
        "  powderkeg bench                      both sections (a few minutes on a 2-core CPU)\n"
        "  powderkeg bench --quick              small sizes, seconds\n"
        "  powderkeg bench --only model         the model's step only\n"
        "  powderkeg bench --backend cupy       on the GPU (needs the gpu extra and a GPU)\n"
        "  powderkeg bench --dtype float32 --out /tmp/bench",
        arguments=_bench_arguments,
        run=bench,
    )
)


# --- powderkeg run -----------------------------------------------------------------------------


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    from experiments.run import DEFAULTS, SCENARIOS, flag_type

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


def run(args: argparse.Namespace) -> int:
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

    from experiments.run import execute, format_summary, write_outputs

    result = execute(config, backend, progress=not args.no_progress)
    write_outputs(result, out, argv=args.argv)
    print(format_summary(result, out))
    return 0


register(
    Command(
        name="run",
        help="run a scenario headless: Parquet series, an event log, a figure and a summary",
        description=(
            "Run a scenario for E worlds and write under --out: series.parquet (one row per\n"
            "week and world), events.parquet (defaults, fire sales, runs, financing, depegs),\n"
            "agents.parquet (final balance sheets), manifest.json (parameters, seed, backend,\n"
            "version, convergence, accounting) and overview.png; then print a summary table.\n"
            "Every input is checked before anything is written; files are replaced atomically."
        ),
        epilog="examples:\n"
        "  powderkeg run                                   baseline, 260 weeks, 1 world\n"
        "  powderkeg run --steps 260 --worlds 8 --seed 1 --out results/baseline\n"
        "  powderkeg run --scenario crypto_ai_crash       a preset (powderkeg scenarios)\n"
        '  powderkeg run --scenario my.toml                scenario = "baseline" + [model]\n'
        "\n"
        "scenario file (TOML):\n"
        '  scenario = "baseline"\n'
        "  [model]          # optional: n_cohorts, n_worlds, seed, steps; flags win\n"
        "  n_worlds = 8",
        arguments=_run_arguments,
        run=run,
    )
)

# --- powderkeg scenarios -----------------------------------------------------------------------


def _scenarios_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "show"),
        help="list the presets (default), or show one",
    )
    parser.add_argument(
        "name", nargs="?", metavar="NAME|FILE.toml", help="the preset or file to show"
    )


def scenarios(args: argparse.Namespace) -> int:
    """``powderkeg scenarios [list | show NAME]``: the presets, their stories, shocks, sources."""
    from pathlib import Path

    from experiments.scenarios import describe, load_file, load_preset, preset_names

    if args.action == "list":
        if args.name is not None:
            raise UsageError(f"argument action: 'list' takes no name; got {args.name!r}")
        for name in preset_names():
            preset = load_preset(name)
            print(
                f"{name:<28} {len(preset.shocks)} shock{'s' * (len(preset.shocks) != 1):<2} "
                f"{preset.title}"
            )
        return 0
    if args.name is None:
        raise UsageError(f"argument NAME: give a preset to show: {', '.join(preset_names())}")
    if args.name in preset_names() or not args.name.endswith(".toml"):
        print(describe(load_preset(args.name)))
    else:
        print(describe(load_file(Path(args.name))))
    return 0


register(
    Command(
        name="scenarios",
        help="list the scenario presets, or show one's story, shocks and sources",
        description=(
            "The scenario presets under experiments/scenarios/: each has a story, the source\n"
            "article and calibration.md section of its sizes, a shock schedule (week, size,\n"
            "per-world range, target), policy settings (abm.policy.Policy) and, for some, the\n"
            "counterfactual policy that powderkeg evidence compares it with ([compare])."
        ),
        epilog="examples:\n"
        "  powderkeg scenarios                          the presets\n"
        "  powderkeg scenarios show crypto_ai_crash     story, shocks, sources\n"
        "  powderkeg run --scenario crypto_ai_crash --steps 52 --worlds 8",
        arguments=_scenarios_arguments,
        run=scenarios,
    )
)

# --- powderkeg evidence ------------------------------------------------------------------------


register(
    Command(
        name="evidence",
        help="generate the scenario evidence table (and the channel ablation) for the docs",
        description=(
            "Run every preset (or --presets) for E worlds and N weeks and write a Markdown table\n"
            "(median [5%, 95%] over worlds) of peak AI-bond spread widening, AI equity drawdown,\n"
            "defaults by family, bank failures, the lowest stablecoin peg, fire-sale volume and\n"
            "retail losses, with the command, date, seed, version and git commit that made it;\n"
            "the raw per-world numbers go beside it as .csv and .json. --ablation adds a table of\n"
            "one preset with no channel, each contagion channel alone and all of them, and the\n"
            "amplification ratio (all together / sum of single-channel effects)."
        ),
        epilog="examples:\n"
        "  powderkeg evidence --ablation                  the docs' tables (about 20 minutes)\n"
        "  powderkeg evidence --worlds 4 --steps 52       a quick look\n"
        "  powderkeg evidence --presets baseline,crypto_ai_crash --out /tmp/ev.md",
        **delegated("experiments.evidence"),
    )
)

# --- powderkeg sweep ---------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE.toml", help="the sweep file")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="results directory (default: results/sweeps/<sweep name>)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep already in --out: skip its finished points",
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
        type=_positive_int,
        default=None,
        metavar="N",
        help="start a Dask LocalCluster of N worker processes here "
        "(default: one per CPU, at most one per point left)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "numpy", "cupy"),
        default=None,
        help="array backend of the workers (default: the file's, else auto: CuPy when a GPU "
        "answers, else NumPy)",
    )
    parser.add_argument(
        "--list-parameters",
        action="store_true",
        help="print the parameters a sweep of the file's scenario can set, and exit",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def sweep(args: argparse.Namespace) -> int:
    """``powderkeg sweep``: check the file, then run its unfinished points on Dask."""
    if args.list_parameters:
        from experiments.config import scenario_of
        from experiments.sweeps.parameters import describe_table, parameter_table

        print(describe_table(parameter_table(scenario_of(args.file))))
        return 0
    from experiments.config import load_sweep

    config = load_sweep(args.file)
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
        scheduler=args.scheduler,
        local_cluster=args.local_cluster,
        backend=args.backend,
        progress=not args.no_progress,
        argv=args.argv,
    )


register(
    Command(
        name="sweep",
        help="run a parameter sweep on Dask: one Parquet file per point, resumable",
        description=(
            "Run every point of a sweep file (grid, random, Latin hypercube, Sobol' or Morris\n"
            "design; E worlds per point in one vectorized model) on Dask workers: a local\n"
            "cluster of processes by default, or a running scheduler. Each point's results are\n"
            "written atomically to DIR/worlds/point-NNNNNN.parquet (one row per world) and\n"
            "DIR/series/ (one row per world and week); DIR/manifest.json records the plan, code\n"
            "version, backend, timings and convergence. Kill it at any moment and --resume\n"
            "finishes the same dataset; a second sweep on the same DIR is refused."
        ),
        epilog="examples:\n"
        "  powderkeg sweep experiments/sweeps/smoke.toml --out results/smoke\n"
        "  powderkeg sweep experiments/sweeps/smoke.toml --out results/smoke --resume\n"
        "  powderkeg sweep my.toml --local-cluster 8            8 worker processes here\n"
        "  powderkeg sweep my.toml --scheduler tcp://HOST:8786   an existing cluster\n"
        "  powderkeg sweep my.toml --list-parameters            what a sweep can set\n"
        "  powderkeg report results/smoke                       figures and report.html\n"
        "\n"
        "sweep file (TOML; experiments/sweeps/*.toml has more):\n"
        '  scenario = "hedge_fund_deleveraging"\n'
        "  steps = 13\n"
        "  worlds = 2\n"
        "  [design]\n"
        '  kind = "grid"            # grid | random | lhs | sobol | morris (+ samples = N)\n'
        "  [[parameters]]\n"
        '  name = "policy.hedge_fund_leverage_cap"\n'
        "  values = [4.0, 12.0]     # or low = ..., high = ... (num = ... for a grid)",
        arguments=_sweep_arguments,
        run=sweep,
    )
)

# --- powderkeg report --------------------------------------------------------------------------


def _report_arguments(parser: argparse.ArgumentParser) -> None:
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


def report(args: argparse.Namespace) -> int:
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


register(
    Command(
        name="report",
        help="figures and an HTML report from a sweep's results",
        description=(
            "Read a sweep's Parquet results and draw: fan charts over worlds (median, 5-95%),\n"
            "heat maps of an outcome over two parameters (e.g. the probability of a banking\n"
            "crisis over hedge-fund leverage cap x AI revenue shock), Sobol' or Morris indices\n"
            "with a tornado plot (sobol and morris designs), and the ablation table of the\n"
            "contagion channels (sweeps over 'channels'); PNGs and one report.html."
        ),
        epilog="examples:\n"
        "  powderkeg report results/smoke                   into results/smoke/report/\n"
        "  powderkeg report results/smoke --metric total_loss_usd_bn --out /tmp/r",
        arguments=_report_arguments,
        run=report,
    )
)

# --- powderkeg ui ------------------------------------------------------------------------------


register(
    Command(
        name="ui",
        help="serve the interactive app and classroom mode in the browser (offline)",
        description=(
            "Serve the interactive app (Mesa SolaraViz): a scenario picker and policy levers,\n"
            "shock buttons, charts (fan charts over several worlds), the network of circular\n"
            "deals and exposures, the event log, an institution inspector, and a guided tour of\n"
            "each preset (classroom mode). Solara's front-end assets come from the npm registry\n"
            "when they are missing, so the page works with no CDN. Ctrl-C stops the server."
        ),
        epilog="examples:\n"
        "  powderkeg ui                                  baseline at http://127.0.0.1:8765/\n"
        "  powderkeg ui --scenario crypto_ai_crash\n"
        "  powderkeg ui --host 0.0.0.0 --port 8000       for a classroom network",
        **delegated("experiments.ui"),
    )
)

# --- powderkeg validate ------------------------------------------------------------------------


register(
    Command(
        name="validate",
        help="replicate published stylized facts with our kernels; writes docs/validation.md",
        description=(
            "Run the replications under experiments/replications/ (overlapping portfolios,\n"
            "leverage and fat tails, system-wide fire sales on the EBA 2018 banks, clearing and\n"
            "DebtRank, runs), one by name or all, and write each one's figure (PNG) and numbers\n"
            "(JSON, CSV) under --out, then rebuild --out/validation.md from every record there."
        ),
        epilog="examples:\n"
        "  powderkeg validate                          all, full size, into docs/\n"
        "  powderkeg validate runs clearing_debtrank   two of them\n"
        "  powderkeg validate --size ci --out /tmp/v   all at CI size, seconds",
        **delegated("experiments.replications.command"),
    )
)

if __name__ == "__main__":
    sys.exit(main())
