"""One timed model run: build a model, step it under the timers, and read where the time went.

:func:`step_run` builds a fresh model (:func:`build`, timed), optionally steps it once untimed
(week 0), then times up to a number of steps within a time budget, counting the kernels'
iterations; with ``phases`` it also wraps the model's components
(:data:`benchmarks.instrument.PHASES`) and the kernels in timers, and :func:`phase_table` turns
those into seconds per step per phase.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from abm.rules import week_rules
from benchmarks.environment import synchronize
from benchmarks.instrument import KERNELS, PHASES, Iterations, Phases, instrument_kernels


@dataclass
class StepRun:
    """Timed steps of one model."""

    worlds: int
    agents: int
    assets: int
    cohorts: int
    build_s: float
    warmup_s: float | None
    wall_s: list[float]
    cpu_s: list[float]
    iterations: dict[str, Any]
    complete: bool


def build(
    worlds: int, cohorts: int, backend: str, seed: int, dtype: str = "float64"
) -> tuple[Any, float]:
    """A fresh baseline model of ``worlds`` worlds (state in ``dtype``) and its build's seconds."""
    import abm.model  # noqa: F401  (imported before the clock starts: build_s is the build alone)
    from experiments.build import build_model

    start = time.perf_counter()
    model = build_model(
        None, n_worlds=worlds, seed=seed, backend=backend, n_cohorts=cohorts, dtype=dtype
    )
    synchronize(model.xp)
    return model, time.perf_counter() - start


def step_run(
    worlds: int,
    cohorts: int,
    *,
    backend: str,
    seed: int,
    steps: int,
    min_steps: int,
    budget_s: float,
    warmup: bool,
    phases: bool = False,
    bar: tqdm | None = None,
) -> tuple[StepRun, Phases | None]:
    """Build a model, optionally step it once untimed, then time up to ``steps`` steps."""
    model, build_s = build(worlds, cohorts, backend, seed)
    xp = model.xp
    counter = Iterations()
    timer = Phases(xp) if phases else None
    if timer is not None:
        for label, owner, method in PHASES:
            target = model if owner is None else getattr(model, owner, None)
            func = getattr(target, method, None) if target is not None else None
            if callable(func):  # an instance attribute shadows the method for this model only
                setattr(target, method, timer.wrap(label, func))
        model.rules = week_rules(model)  # the week's rules bound to the timed methods
    wall: list[float] = []
    cpu: list[float] = []
    warmup_s = None
    with instrument_kernels(counter, timer):
        if warmup:
            start = time.perf_counter()
            model.step()
            synchronize(xp)
            warmup_s = time.perf_counter() - start
            counter.end_step(record=False)
            if timer is not None:  # phases count the timed steps only
                timer.totals.clear()
                timer.calls.clear()
        while len(wall) < steps:
            if len(wall) >= min_steps and sum(wall) > budget_s:
                break
            synchronize(xp)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            model.step()
            synchronize(xp)
            wall.append(time.perf_counter() - wall0)
            cpu.append(time.process_time() - cpu0)
            counter.end_step(record=True)
            if bar is not None and len(wall) % 10 == 0:
                bar.set_postfix_str(f"model E={worlds} N={model.roster.size} step {len(wall)}")
    run = StepRun(
        worlds=worlds,
        agents=int(model.roster.size),
        assets=int(model.sheets.prices.shape[-1]),
        cohorts=cohorts,
        build_s=build_s,
        warmup_s=warmup_s,
        wall_s=wall,
        cpu_s=cpu,
        iterations=counter.summary(),
        complete=len(wall) >= steps,
    )
    return run, timer


def phase_table(run: StepRun, timer: Phases) -> dict[str, Any]:
    """Per-step seconds in each phase: top-level calls in step order, nested calls after them."""
    steps = len(run.wall_s)
    step_s = statistics.fmean(run.wall_s)
    calls = {label: f"{owner or 'model'}.{method}" for label, owner, method in PHASES}
    calls.update({name: f"{module}.{attr}" for name, (module, attr) in KERNELS.items()})
    rank = {label: i for i, label in enumerate(calls)}
    keys = sorted(timer.totals, key=lambda k: (k[1] is not None, rank[k[0]], rank.get(k[1], -1)))
    rows = [
        {
            "phase": label,
            "call": calls[label],
            "parent": parent,
            "calls_per_step": timer.calls[(label, parent)] / steps,
            "s_per_step": timer.totals[(label, parent)] / steps,
            "share": timer.totals[(label, parent)] / steps / step_s,
        }
        for label, parent in keys
    ]
    covered = sum(r["s_per_step"] for r in rows if r["parent"] is None)
    rows.append(
        {
            "phase": "other",
            "call": "the rest of model.step",
            "parent": None,
            "calls_per_step": 1.0,
            "s_per_step": step_s - covered,
            "share": (step_s - covered) / step_s,
        }
    )
    seen = {label for label, _ in timer.totals}
    return {
        "E": run.worlds,
        "N": run.agents,
        "steps": steps,
        "s_per_step": step_s,
        "rows": rows,
        "not_found": [calls[label] for label, _, _ in PHASES if label not in timer.wrapped],
        "not_called": [
            calls[label] for label, _, _ in PHASES if label in timer.wrapped and label not in seen
        ],
    }


__all__ = ["StepRun", "build", "phase_table", "step_run"]
