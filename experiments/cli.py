"""The ``powderkeg`` command line: one subcommand per job, each registered in ``COMMANDS``.

Adding a subcommand takes one ``register(Command(...))`` call: its help texts and the module
that does the work (:func:`delegated`), which has two functions: ``add_arguments`` declares the
command's arguments on an ``argparse`` parser and ``command`` runs it and returns an exit status
(``run``: :mod:`experiments.run_command`; ``scenarios``: :mod:`experiments.scenarios_command`;
``evidence``: :mod:`experiments.evidence_command`; ``sweep``: :mod:`experiments.sweeps.command`;
``report``: :mod:`experiments.report_command`; ``validate``:
:mod:`experiments.replications.command`; ``seed-targets``: :mod:`experiments.seed_targets`;
``systemic``: :mod:`experiments.systemic`; ``backtests``: :mod:`experiments.backtests_command`).
Import heavy modules inside ``command`` so that ``powderkeg --help`` stays instant.

This module is the top layer of ``experiments``: nothing imports it but the ``powderkeg`` entry
point. It names the command modules instead of importing them, and loads each when the command
line is built; the commands of the packages built on ``experiments`` (``bench``:
:mod:`benchmarks.command`; ``ui``: :mod:`app.command`) come in the same way, so no module of
``experiments`` imports ``app`` or ``benchmarks`` and the packages import each other in one
direction only (``tests/test_import_layers.py``).

Bad input never produces a traceback: argparse's usage errors and the
:class:`~experiments.usage.UsageError` a command raises after parsing (an unwritable directory, a
backend that does not answer) print one line, ``powderkeg <command>: error: ...``, to stderr and
exit with status 2. The argument checks commands share live in :mod:`experiments.usage`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from experiments.usage import UsageError

PROG = "powderkeg"
EXIT_USAGE = 2


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


# --- powderkeg bench ---------------------------------------------------------------------------


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
        **delegated("benchmarks.command"),
    )
)


# --- powderkeg run -----------------------------------------------------------------------------

register(
    Command(
        name="run",
        help="run a scenario headless: Parquet series, an event log, a figure and a summary",
        description=(
            "Run a scenario for E worlds and write under --out: series.parquet (one row per\n"
            "week and world), events.parquet (defaults, fire sales, runs, financing, depegs),\n"
            "agents.parquet (final balance sheets), manifest.json (parameters, seed, backend,\n"
            "version, convergence, accounting) and overview.png; then print a summary table.\n"
            "Every input is checked before anything is written; files are replaced atomically.\n"
            "--backend auto runs small ensembles on NumPy, which outruns the GPU there, and\n"
            "large ones on CuPy when a GPU answers; the choice and its reason go to stderr."
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
        **delegated("experiments.run_command"),
    )
)

# --- powderkeg scenarios -----------------------------------------------------------------------

register(
    Command(
        name="scenarios",
        help="list the scenario presets, or show one's story, shocks and sources",
        description=(
            "The scenario presets under experiments/scenarios/: each has a story, the source\n"
            "article and calibration section of its sizes, a shock schedule (week, size,\n"
            "per-world range, target), policy settings (abm.policy.Policy) and, for some, the\n"
            "counterfactual policy that powderkeg evidence compares it with ([compare])."
        ),
        epilog="examples:\n"
        "  powderkeg scenarios                          the presets\n"
        "  powderkeg scenarios show crypto_ai_crash     story, shocks, sources\n"
        "  powderkeg run --scenario crypto_ai_crash --steps 52 --worlds 8",
        **delegated("experiments.scenarios_command"),
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
        **delegated("experiments.evidence_command"),
    )
)

# --- powderkeg sweep ---------------------------------------------------------------------------

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
        **delegated("experiments.sweeps.command"),
    )
)
# --- powderkeg report --------------------------------------------------------------------------

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
        **delegated("experiments.report_command"),
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
        "  powderkeg ui --host 0.0.0.0 --port 8000 --allow-host 192.0.2.10\n"
        "                                                for a classroom network (the address\n"
        "                                                students open)",
        **delegated("app.command"),
    )
)

# --- powderkeg validate ------------------------------------------------------------------------


register(
    Command(
        name="validate",
        help="replicate published stylized facts with our kernels; --out docs rebuilds "
        "docs/validation.md",
        description=(
            "Run the replications under experiments/replications/ (overlapping portfolios,\n"
            "leverage and fat tails, system-wide fire sales on the EBA 2018 banks, clearing and\n"
            "DebtRank, runs), one by name or all, and write each one's figure (PNG) and numbers\n"
            "(JSON, CSV) under --out, then rebuild --out/validation.md from every record there."
        ),
        epilog="examples:\n"
        "  powderkeg validate                          all, full size, into results/validation/\n"
        "  powderkeg validate --out docs               the same, rebuilding the tracked docs/\n"
        "  powderkeg validate runs clearing_debtrank   two of them\n"
        "  powderkeg validate --size ci --out /tmp/v   all at CI size, seconds",
        **delegated("experiments.replications.command"),
    )
)

# --- powderkeg seed-targets --------------------------------------------------------------------


register(
    Command(
        name="seed-targets",
        help="generate docs/seed-targets.md: the articles' numbers as targets for the baseline",
        description=(
            "Run the baseline preset on NumPy for E worlds and N weeks and compare each\n"
            "quantitative fact Q01-Q40 of the seed articles that the model can speak to with\n"
            "the median over worlds (and its 5-95% range), within a tolerance stated with its\n"
            "reason in experiments/seed_facts.toml: PASS or FAIL. The facts the model cannot\n"
            "speak to are listed with why. The file records the command, date, seed and commit."
        ),
        epilog="examples:\n"
        "  powderkeg seed-targets                         docs/seed-targets.md, 100 worlds\n"
        "  powderkeg seed-targets --worlds 4 --steps 156 --cohorts 100 --out /tmp/st.md",
        **delegated("experiments.seed_targets"),
    )
)

# --- powderkeg systemic ------------------------------------------------------------------------


register(
    Command(
        name="systemic",
        help="generate docs/systemic.md: the institutions ranked by DebtRank per preset",
        description=(
            "Run each preset (or --presets) on NumPy for E worlds and N weeks and, at each\n"
            "--week, rank the institutions (all agents but the retail cohorts) by DebtRank:\n"
            "the share of the institutions' equity the others lose when one alone is fully\n"
            "distressed (Battiston et al. 2012; linear DebtRank, Bardoscia et al. 2015), on\n"
            "each debt pool, on the bonds and on the combined network. The median over worlds\n"
            "and its 5-95% range; the file records the command, date, seed and commit."
        ),
        epilog="examples:\n"
        "  powderkeg systemic                             docs/systemic.md, week 0, 100 worlds\n"
        "  powderkeg systemic --worlds 20 --steps 52      weeks 0 and 52\n"
        "  powderkeg systemic --worlds 2 --steps 4 --week 4 --presets baseline --out /tmp/s.md",
        **delegated("experiments.systemic"),
    )
)

# --- powderkeg backtests -----------------------------------------------------------------------


register(
    Command(
        name="backtests",
        help="generate docs/backtests.md: historical crises re-run and judged against data",
        description=(
            "Run each historical episode of experiments/backtests/ (dot-com 2000-02, the\n"
            "2007-09 crisis, March 2020, the 2022 rate rises, SVB and USDC in March 2023, Terra\n"
            "in May 2022) on NumPy for E worlds over its own weeks, with its year's calibration\n"
            "and shocks, and compare each target moment's median over worlds (and its 5-95%\n"
            "range) with the data, within a tolerance stated with its reason in the episode\n"
            "file: PASS or FAIL. The file records the command, date, worlds, seed and commit."
        ),
        epilog="examples:\n"
        "  powderkeg backtests                              docs/backtests.md, 50 worlds\n"
        "  powderkeg backtests --worlds 4 --episodes 2000_dotcom --out /tmp/bt.md",
        **delegated("experiments.backtests_command"),
    )
)

# --- powderkeg audit ---------------------------------------------------------------------------


register(
    Command(
        name="audit",
        help="generate docs/calibration-audit.md: the estimated values ranked by influence",
        description=(
            "Vary the calibration's estimated values that a preset's model reads, each over a\n"
            "bound (experiments/audit_bounds.toml, the leaf's range, or its value +-50%), one\n"
            "world with the same seed per run: screen them all by Morris elementary effects,\n"
            "then compute Sobol' first-order and total indices of the --top K with bootstrap\n"
            "intervals, per outcome. Writes the ranking, the bounds and their sources, and each\n"
            "outcome's sensitivity band beside the scenario table; the file records the\n"
            "command, date, sizes, seed, seconds per run and commit."
        ),
        epilog="examples:\n"
        "  powderkeg audit                                  docs/calibration-audit.md\n"
        "  powderkeg audit --steps 8 --cohorts 4 --trajectories 1 --samples 2 --top 3 \\\n"
        "      --values banks.liquidity --out /tmp/audit.md",
        **delegated("experiments.audit_command"),
    )
)

if __name__ == "__main__":
    sys.exit(main())
