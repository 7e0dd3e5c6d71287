"""Model benchmarks: weekly steps of ``abm.model.Powderkeg`` over E worlds, and where the time goes.

Measures, on the chosen backend (NumPy or CuPy), in float64 with 1,000 retail cohorts:

1. **Steps per second for E worlds** (E = 1, 10, 100, and 1,000 in the full plan when it fits
   the time budget): a fresh model, one untimed warm-up step (week 0), then timed steps, each
   with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU, all threads); the device is
   synchronized before a timer starts and before it stops on CuPy. Derived: worlds·steps per
   second, the step time relative to E = 1 over the same weeks, and that ratio divided by E.
2. **The full baseline** of the quality bars (docs/design.md, "Quality bars"): a fresh model with
   E = 1 and 1,000 cohorts built and run for 260 weekly steps with no warm-up, as a real run does;
   best of k, compared with the 10 s target (reported, never asserted).
3. **Python time per step, profiler-free**: the step time of a model with almost no array work
   (E = 1 and the fewest retail cohorts the model allows) is the per-step Python and dispatch
   cost, an upper bound; it does not grow with E unless the iterative kernels run more rounds.
   Every row therefore also counts the rounds of ``fire_sale`` and the iterations of
   ``eisenberg_noe`` per step (the batch iterates until its slowest world is done).
4. **Memory** at a few values of E, the state in float64 and in float32 (:mod:`benchmarks.memory`):
   the bytes of every array the model holds, and the peak temporaries of one step (tracemalloc on
   NumPy, the memory pool on CuPy), each also per 1,000 worlds, with the largest arrays and the
   hungriest rules by name.
5. **Phases of a step** at two values of E: wrappers on the model's components
   (:data:`benchmarks.instrument.PHASES`: sentiment, firms, valuation, the savers' and funds'
   flows, market clearing, failures, snapshot) and on the kernels they call accumulate inclusive
   wall time; "other" is the step time outside them. A component the model does not have is
   listed, not an error.

One timed run is :func:`benchmarks.model_steps.step_run`. ``run`` returns a JSON-ready dict;
``benchmarks.suite`` merges it with the kernel benchmarks and ``benchmarks.report`` prints it.
The command line is ``powderkeg bench --only model``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from tqdm import tqdm

from benchmarks.memory import PeakMeter, step_memory
from benchmarks.model_steps import StepRun, build, phase_table, step_run
from kernels.backend import STATE_DTYPES, get_namespace

SCHEMA = "powderkeg.bench.model/1"
TARGET_S = 10.0  # docs/design.md, "Quality bars": full baseline in under 10 s on 2 cores
TARGET_STEPS = 260  # five years of weekly steps
TARGET_COHORTS = 1000

DEFINITIONS = {
    "s_per_step": "mean wall time of the timed steps (after one untimed warm-up step, week 0)",
    "cpu_s_per_step": "mean time.process_time of the timed steps (all threads; on CuPy host "
    "time, waits included)",
    "steps_per_s": "1 / s_per_step",
    "world_steps_per_s": "E / s_per_step",
    "vs_E1": "s_per_step(E) / s_per_step(E=1), both averaged over the same weeks",
    "vs_E1_per_world": "vs_E1 / E: 1 when nothing is shared between worlds, 1/E when the step "
    "time does not grow with E",
    "overhead_s_per_step": "s_per_step of a model with E=1 and the fewest retail cohorts: a step "
    "with almost no array work, i.e. the per-step Python and dispatch cost (upper bound)",
    "array_s_per_step": "s_per_step - overhead_s_per_step: time that grows with the arrays",
    "overhead_share": "overhead_s_per_step / s_per_step",
    "kernel_iterations": "fire_sale result.iterations and eisenberg_noe result.iterations summed "
    "per step, mean and max over the timed steps; each iteration costs a fixed number of array "
    "operations, so Python time per step grows with them",
    "baseline": "a fresh model (E=1, 1,000 cohorts) built and stepped 260 weeks with no warm-up, "
    "best of k; total_s = build_s + steps_s; the 10 s target is reported, never asserted",
    "memory": "one row per E and dtype (the state's floating-point type, float64 or float32); "
    "state_bytes: every array buffer reachable from the model after a warm-up step "
    "(views counted once); step_peak_bytes: the most memory one weekly step held beyond it "
    "(tracemalloc on NumPy, tracing from before the build, so state arrays a rule replaces count "
    "as freed; on CuPy the default pool's size after the step, its cached blocks "
    "freed before); call_peak_bytes: the same per rule of the week and the snapshot; "
    "*_gib_per_1000_worlds: bytes / E * 1000 in GiB (the target is at most 1 GiB for state and "
    "temporaries together); reported, never asserted",
    "phases": "inclusive wall time in each component per step (wrappers on the model's instance "
    "methods and on the kernels as abm calls them; on CuPy each wrapper synchronizes before and "
    "after); other = step time - top-level phases (step glue, Mesa's clock)",
}


@dataclass(frozen=True)
class ModelPlan:
    """Sizes, step counts and time budgets of one model benchmark run.

    Attributes:
        name: ``"full"`` or ``"quick"``.
        worlds: E values of the step-rate rows.
        cohorts: retail cohorts of every row (the design's 1,000).
        small_cohorts: retail cohorts of the overhead row (the fewest the model allows).
        steps: timed steps per row at most.
        min_steps: timed steps per row at least.
        row_budget_s: a row stops after ``min_steps`` once its timed steps took this long.
        max_row_s: skip a row whose predicted time (warm-up + ``min_steps``) is longer.
        baseline_steps: weeks of the baseline run.
        baseline_repeats: fresh baseline runs (best of them is reported).
        baseline_budget_s: a baseline repeat stops early past this (and is extrapolated).
        phase_worlds: E values of the phase breakdown.
        phase_steps: timed steps of the phase breakdown.
        memory_worlds: E values of the memory figures.
    """

    name: str
    worlds: tuple[int, ...]
    cohorts: int
    small_cohorts: int
    steps: int
    min_steps: int
    row_budget_s: float
    max_row_s: float
    baseline_steps: int
    baseline_repeats: int
    baseline_budget_s: float
    phase_worlds: tuple[int, ...]
    phase_steps: int
    memory_worlds: tuple[int, ...]


FULL = ModelPlan(
    name="full",
    worlds=(1, 10, 100, 1000),
    cohorts=TARGET_COHORTS,
    small_cohorts=4,
    steps=52,
    min_steps=3,
    row_budget_s=20.0,
    max_row_s=60.0,
    baseline_steps=TARGET_STEPS,
    baseline_repeats=3,
    baseline_budget_s=60.0,
    phase_worlds=(1, 100),
    phase_steps=26,
    memory_worlds=(100, 1000),
)
QUICK = ModelPlan(
    name="quick",
    worlds=(1, 10),
    cohorts=TARGET_COHORTS,
    small_cohorts=4,
    steps=13,
    min_steps=2,
    row_budget_s=2.0,
    max_row_s=10.0,
    baseline_steps=TARGET_STEPS,
    baseline_repeats=1,
    baseline_budget_s=10.0,
    phase_worlds=(1, 10),
    phase_steps=8,
    memory_worlds=(10,),
)


def _mean(values: list[float], n: int | None = None) -> float:
    return statistics.fmean(values[:n] if n else values)


def _row(run: StepRun, reference: StepRun | None, overhead: float | None) -> dict[str, Any]:
    """A step-rate row; ratios against ``reference`` (E = 1) over the weeks both ran."""
    s = _mean(run.wall_s)
    row: dict[str, Any] = {
        "E": run.worlds,
        "N": run.agents,
        "M": run.assets,
        "cohorts": run.cohorts,
        "dtype": "float64",
        "steps": len(run.wall_s),
        "weeks": [1, len(run.wall_s)],
        "build_s": run.build_s,
        "warmup_s": run.warmup_s,
        "s_per_step": s,
        "median_s_per_step": statistics.median(run.wall_s),
        "min_s_per_step": min(run.wall_s),
        "max_s_per_step": max(run.wall_s),
        "cpu_s_per_step": _mean(run.cpu_s),
        "cpu_per_wall": _mean(run.cpu_s) / s,
        "steps_per_s": 1.0 / s,
        "world_steps_per_s": run.worlds / s,
        "kernel_iterations": run.iterations,
        "step_wall_s": run.wall_s,
    }
    if reference is not None and reference.wall_s:
        n = min(len(run.wall_s), len(reference.wall_s))
        ratio = _mean(run.wall_s, n) / _mean(reference.wall_s, n)
        row.update(vs_E1=ratio, vs_E1_per_world=ratio / run.worlds, vs_E1_weeks=[1, n])
    if overhead is not None:
        row.update(
            overhead_s_per_step=overhead,
            array_s_per_step=s - overhead,
            overhead_share=overhead / s,
        )
    return row


def _baseline(plan: ModelPlan, backend: str, seed: int, bar: tqdm) -> dict[str, Any]:
    """The full baseline: fresh model, ``baseline_steps`` weeks, no warm-up, best of k."""
    repeats = []
    for _ in range(plan.baseline_repeats):
        run, _ = step_run(
            1,
            plan.cohorts,
            backend=backend,
            seed=seed,
            steps=plan.baseline_steps,
            min_steps=1,
            budget_s=plan.baseline_budget_s,
            warmup=False,
            bar=bar,
        )
        steps_s = sum(run.wall_s)
        done = len(run.wall_s)
        # a repeat cut short by the budget is extrapolated to the full run
        full_steps_s = steps_s * plan.baseline_steps / done
        repeats.append(
            {
                "build_s": run.build_s,
                "steps_run": done,
                "steps_s": steps_s,
                "cpu_s": sum(run.cpu_s),
                "total_s": run.build_s + full_steps_s,
                "complete": run.complete,
                "agents": run.agents,
                "iterations": run.iterations,
            }
        )
        bar.update()
    best = min(repeats, key=lambda r: r["total_s"])
    return {
        "E": 1,
        "N": best["agents"],
        "cohorts": plan.cohorts,
        "steps": plan.baseline_steps,
        "dtype": "float64",
        "repeats": len(repeats),
        "build_s": best["build_s"],
        "steps_s": best["steps_s"],
        "cpu_s": best["cpu_s"],
        "total_s": best["total_s"],
        "totals_s": [r["total_s"] for r in repeats],
        "s_per_step": best["steps_s"] / best["steps_run"],
        "steps_per_s": best["steps_run"] / best["steps_s"],
        "complete": best["complete"],
        "steps_run": best["steps_run"],
        "kernel_iterations": best["iterations"],
        "target_s": TARGET_S,
        "meets_target": best["total_s"] < TARGET_S,
    }


def _memory(worlds: int, cohorts: int, backend: str, seed: int, dtype: str) -> dict[str, Any]:
    """The memory figures of a fresh model of ``worlds`` worlds after one warm-up step.

    On NumPy, allocations are traced from before the build: a state array that a rule replaces
    is then seen to be freed, so the step's peak counts what the step adds, not the replacements
    as well (tracemalloc ignores the release of a buffer it did not see allocated).
    """
    meter = PeakMeter(get_namespace(backend))
    with meter.active():
        model, _ = build(worlds, cohorts, backend, seed, dtype)
        model.step()  # week 0: the snapshot's declared arrays exist from here on
        return {"dtype": dtype, **step_memory(model, worlds)}


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[tqdm]:
    bar = tqdm(
        total=total, desc="powderkeg bench model", unit="run", file=sys.stderr, disable=not enabled
    )
    try:
        yield bar
    finally:
        bar.close()


def run(
    *, quick: bool = False, backend: str = "auto", seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Run the model benchmarks and return the results as a JSON-ready dict.

    A model that fails to build or step is reported in the row (``error``), not raised, so the
    rest of the benchmark still runs.

    Args:
        quick: the small plan (``QUICK``, a few seconds) instead of ``FULL``.
        backend: ``"auto"``, ``"numpy"`` or ``"cupy"``.
        seed: the models' seed.
        progress: show a progress bar on stderr.

    Returns:
        ``{"schema", "mode", "seed", "plan", "definitions", "baseline", "overhead", "rows",
        "phases", "memory", "notes"}``; see ``DEFINITIONS``.
    """
    plan = QUICK if quick else FULL
    notes: list[str] = []
    total = (
        plan.baseline_repeats
        + 1
        + len(plan.worlds)
        + len(plan.phase_worlds)
        + len(plan.memory_worlds) * len(STATE_DTYPES)
    )
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "mode": plan.name,
        "seed": seed,
        "plan": asdict(plan),
        "definitions": DEFINITIONS,
    }
    with _progress(total, progress) as bar:
        bar.set_postfix_str("model baseline")
        try:
            out["baseline"] = _baseline(plan, backend, seed, bar)
        except Exception as err:  # the model is someone else's moving code: report, go on
            out["baseline"] = {"error": _error(err)}

        bar.set_postfix_str(f"model overhead (E=1, {plan.small_cohorts} cohorts)")
        overhead = None
        try:
            small, _ = step_run(
                1,
                plan.small_cohorts,
                backend=backend,
                seed=seed,
                steps=plan.steps,
                min_steps=plan.min_steps,
                budget_s=plan.row_budget_s,
                warmup=True,
            )
            overhead = _mean(small.wall_s)
            out["overhead"] = _row(small, None, None)
        except Exception as err:
            out["overhead"] = {"error": _error(err)}
        bar.update()

        rows: list[dict[str, Any]] = []
        reference: StepRun | None = None
        last: dict[str, Any] | None = None
        for e in plan.worlds:
            bar.set_postfix_str(f"model E={e}")
            if last is not None and "s_per_step" in last:  # linear in E from the last row
                predicted = last["s_per_step"] * e / last["E"] * (1 + plan.min_steps)
                if predicted > plan.max_row_s:
                    rows.append(
                        {
                            "E": e,
                            "skipped": f"predicted {predicted:.0f} s for a warm-up and "
                            f"{plan.min_steps} steps exceeds the {plan.max_row_s:.0f} s limit",
                        }
                    )
                    bar.update()
                    continue
            try:
                result, _ = step_run(
                    e,
                    plan.cohorts,
                    backend=backend,
                    seed=seed,
                    steps=plan.steps,
                    min_steps=plan.min_steps,
                    budget_s=plan.row_budget_s,
                    warmup=True,
                    bar=bar,
                )
                if e == 1:
                    reference = result
                last = _row(result, reference, overhead)
            except Exception as err:
                last = {"E": e, "error": _error(err)}
            rows.append(last)
            bar.update()
        if reference is None:
            notes.append("no E=1 row: ratios against E=1 are missing")
        out["rows"] = rows

        phases = []
        for e in plan.phase_worlds:
            bar.set_postfix_str(f"model phases E={e}")
            try:
                result, timer = step_run(
                    e,
                    plan.cohorts,
                    backend=backend,
                    seed=seed,
                    steps=plan.phase_steps,
                    min_steps=1,
                    budget_s=plan.row_budget_s,
                    warmup=True,
                    phases=True,
                )
                assert timer is not None
                phases.append(phase_table(result, timer))
            except Exception as err:
                phases.append({"E": e, "error": _error(err)})
            bar.update()
        out["phases"] = phases

        memory = []
        for e in plan.memory_worlds:
            for dtype in STATE_DTYPES:  # the state in float64, then in float32
                bar.set_postfix_str(f"model memory E={e} {dtype}")
                try:
                    memory.append(_memory(e, plan.cohorts, backend, seed, dtype))
                except Exception as err:
                    memory.append({"E": e, "dtype": dtype, "error": _error(err)})
                bar.update()
        out["memory"] = memory
    out["notes"] = notes
    return out
