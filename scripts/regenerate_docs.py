"""Regenerate every document a model change moves, a few commands at a time.

A model change regenerates, in the same submission, the documents it changes (docs/design.md,
"Changing the code"). Run one after another they take about three hours on two cores; each is one
process, so this runs them as a small job graph, ``--jobs`` at a time (two by default), each with
one BLAS thread so that the jobs do not share cores with each other's threads:

- ``evidence``: the scenario table, ``docs/scenarios.md`` (100 worlds × 260 weeks);
- ``audit``: the calibration audit, ``docs/calibration-audit.md``, beside ``evidence``; its runs
  do not read the scenario table, only its page sets the bands beside the table's numbers (read
  from ``docs/scenarios.json``), so ``audit-table`` (``powderkeg audit --rerender``: no run)
  writes the page again after both;
- ``ablation``, ``backtests``, ``systemic``, ``seed-targets``: their own pages;
- ``classroom``: the tours' claims measured again, ``docs/classroom.md``;
- ``validate``: the one replication that runs the presets (``channel_interaction``; the others run
  the kernels alone and a model change leaves them as they are), ``docs/validation.md``;
- ``tail``: ``scripts/bank_run_tail_sensitivity.py``, whose table docs/design.md shows ("Bank
  failures in the tail"): it prints to its log, and the table is copied from there by hand;
- ``income``: ``scripts/stress_income_statement.py``, likewise ("What the banks earn over the
  stress horizon").

Each step's output goes to ``--logs``/<step>.log; a line on stdout says when each starts and ends.
A step whose prerequisite failed is skipped. Exit status 0 when every step ran and succeeded, 1
otherwise, 2 for a bad argument. Run from the repository root::

    python scripts/regenerate_docs.py                   # everything, two at a time
    python scripts/regenerate_docs.py --only backtests,classroom
    python scripts/regenerate_docs.py --dry-run         # the commands, in the order they start
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
#: one BLAS/OpenMP thread per job: the jobs are the parallelism
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Step:
    """One command; it starts once every step named in ``after`` has succeeded."""

    name: str
    command: tuple[str, ...]
    after: tuple[str, ...] = ()


def _powderkeg(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "experiments.cli", *args)


#: in the order they are started when they are ready: the longest first
STEPS: tuple[Step, ...] = (
    Step("evidence", _powderkeg(
        "evidence", "--worlds", "100", "--steps", "260", "--seed", "0",
        "--out", "docs/scenarios.md", "--no-progress")),
    Step("audit", _powderkeg("audit", "--trajectories", "2", "--samples", "8", "--no-progress")),
    Step("ablation", _powderkeg(
        "evidence", "--worlds", "50", "--steps", "260", "--seed", "0",
        "--presets", "ai_revenue_disappointment", "--ablation", "--out", "docs/ablation.md",
        "--no-progress")),
    Step("tail", (sys.executable, "scripts/bank_run_tail_sensitivity.py", "--worlds", "100",
                  "--weeks", "260")),
    Step("validate", _powderkeg("validate", "channel_interaction", "--out", "docs", "--quiet")),
    Step("seed-targets", _powderkeg(
        "seed-targets", "--worlds", "100", "--steps", "260", "--seed", "0",
        "--out", "docs/seed-targets.md", "--no-progress")),
    Step("systemic", _powderkeg(
        "systemic", "--worlds", "20", "--steps", "52", "--seed", "0",
        "--out", "docs/systemic.md", "--no-progress")),
    Step("backtests", _powderkeg(
        "backtests", "--worlds", "50", "--seed", "0", "--out", "docs/backtests.md",
        "--no-progress")),
    Step("classroom", (sys.executable, "-m", "app.classroom_doc")),
    Step("income", (sys.executable, "scripts/stress_income_statement.py", "--worlds", "20")),
    Step("audit-table", _powderkeg("audit", "--rerender"), after=("evidence", "audit")),
)  # fmt: skip


#: steps whose table docs/design.md shows, copied from the step's log: the section it goes in
COPIED_BY_HAND = {
    "tail": "Bank failures in the tail",
    "income": "What the banks earn over the stress horizon",
}


def plan(steps: Sequence[Step], only: Sequence[str] | None) -> list[Step]:
    """The steps to run: all, or those named (a named step's prerequisites are not added)."""
    if not only:
        return list(steps)
    known = {s.name for s in steps}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise ValueError(f"--only: unknown step {', '.join(unknown)}; allowed: {', '.join(known)}")
    chosen = set(only)
    return [
        Step(s.name, s.command, tuple(a for a in s.after if a in chosen))
        for s in steps
        if s.name in chosen
    ]


def run_steps(
    steps: Sequence[Step], jobs: int, logs: Path, out: TextIO = sys.stdout, poll_s: float = 0.5
) -> dict[str, str]:
    """Run ``steps`` ``jobs`` at a time; each step's status: ``ok``, ``failed`` or ``skipped``."""
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **ONE_THREAD}
    status: dict[str, str] = {}
    pending = list(steps)
    running: dict[str, tuple[subprocess.Popen[bytes], float, TextIO]] = {}

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=out, flush=True)

    while pending or running:
        for step in list(pending):
            if any(status.get(a) in ("failed", "skipped") for a in step.after):
                pending.remove(step)
                status[step.name] = "skipped"
                say(f"skip  {step.name} (a prerequisite failed)")
            elif len(running) < jobs and all(status.get(a) == "ok" for a in step.after):
                pending.remove(step)
                log = (logs / f"{step.name}.log").open("w")
                proc = subprocess.Popen(step.command, cwd=ROOT, env=env, stdout=log, stderr=log)
                running[step.name] = (proc, time.perf_counter(), log)
                say(f"start {step.name}: {' '.join(step.command)}")
        for name, (proc, start, log) in list(running.items()):
            code = proc.poll()
            if code is None:
                continue
            log.close()
            del running[name]
            status[name] = "ok" if code == 0 else "failed"
            minutes = (time.perf_counter() - start) / 60.0
            say(
                f"{'done ' if code == 0 else 'FAIL '} {name} in {minutes:.1f} min"
                + ("" if code == 0 else f" (exit {code}; see {logs / (name + '.log')})")
            )
        if pending or running:
            time.sleep(poll_s)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the plan, say what to copy by hand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="commands at once (default 2)")
    parser.add_argument("--only", help="comma-separated steps to run (default: all)")
    parser.add_argument(
        "--logs",
        type=Path,
        default=ROOT / "results" / "regenerate",
        help="folder of the steps' logs (default results/regenerate)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"--jobs: {args.jobs} is not allowed; give 1 or more", file=sys.stderr)
        return 2
    try:
        steps = plan(STEPS, args.only.split(",") if args.only else None)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    if args.dry_run:
        for s in steps:
            after = f"  (after {', '.join(s.after)})" if s.after else ""
            print(f"{s.name}: {' '.join(s.command)}{after}")
        return 0
    status = run_steps(steps, args.jobs, args.logs)
    for name, section in COPIED_BY_HAND.items():
        if status.get(name) == "ok":
            log = args.logs / f"{name}.log"
            print(f'copy the table in {log} into docs/design.md, "{section}"')
    return 0 if all(v == "ok" for v in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
