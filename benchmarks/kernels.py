"""Kernel benchmarks: the fire-sale fixed point, its per-agent reference loop, and clearing.

Measures, on the chosen backend (NumPy or CuPy via ``kernels.backend.get_namespace``):

1. ``kernels.firesale.fire_sale`` on a seeded cascade (``benchmarks.instances``) for E worlds of
   N holders and M assets, per dtype: rounds per second and holder-asset updates per second,
   ``E·N·M·rounds / time`` with ``rounds = result.iterations`` (kernels-and-performance.md §4);
2. the same E = 1 instance through the per-agent Python reference
   ``tests.reference.firesale.fire_sale_loop``: the kernel-vs-loop speed ratio per round (the
   design's target is >= 50× at N = 1,000; reported, never asserted) and the largest difference
   of their final prices (:mod:`benchmarks.loop`);
3. ``kernels.clearing.eisenberg_noe`` time and iterations over an N × E grid, float64.

Every timing is best-of-k with ``time.perf_counter`` after an untimed warm-up call, with a
device synchronization before the timer stops on CuPy. ``run`` returns a JSON-ready dict;
``benchmarks.report`` prints it as a table and writes it to ``benchmarks/results/``. The command
line is ``powderkeg bench`` (``experiments/cli.py``).
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from tqdm import tqdm

from benchmarks.environment import best_of, copy_bandwidth, load_average, metadata
from benchmarks.instances import ClearingSetup, FireSaleSetup, clearing_instance, firesale_instance
from benchmarks.loop import loop_comparison
from kernels.backend import get_namespace, to_numpy
from kernels.clearing import eisenberg_noe
from kernels.firesale import fire_sale

SCHEMA = "powderkeg.bench.kernels/1"
DTYPES = ("float64", "float32")


def _defaults(func: Any) -> dict[str, Any]:
    params = inspect.signature(func).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


FIRESALE_DEFAULTS = _defaults(fire_sale)
#: keyword arguments of fire_sale that the instance sets (the rest keep the kernel's defaults)
FIRESALE_INSTANCE_KEYS = (
    "depth", "other_assets", "cash_needed", "capital_min", "capital_buffer", "capital_target",
)  # fmt: skip
CLEARING_DEFAULTS = _defaults(eisenberg_noe)

DEFINITIONS = {
    "rounds": "result.iterations of fire_sale: rounds until the last world was quiet "
    "(the quiet round included)",
    "rounds_executed": "rounds the kernel actually computed: it checks for quiet only every "
    "check_every rounds, so up to check_every - 1 more than 'rounds' (timings include them)",
    "s_per_round": "best_s / rounds",
    "world_rounds_*": "rounds each world needed (result.rounds); the batch runs until the "
    "slowest world is quiet",
    "active_fraction": "sum of world rounds / (E * rounds): the share of computed world-rounds "
    "in which the world was not yet quiet",
    "updates_per_s": "E * N * M * rounds / best_s (holder-asset updates per second)",
    "compulsory_GB_per_s": "(2*E*N*M + 5*E*N) * bytes_per_value * rounds / best_s / 1e9 "
    "(two passes over holdings plus five per-holder vectors per round)",
    "bandwidth_fraction": "compulsory_GB_per_s / copy_bandwidth_GB_per_s (read + write of a "
    "large copy on the same device)",
    "loop.ratio_per_round": "(loop best_s / loop rounds) / (kernel best_s / kernel rounds), "
    "E = 1, same instance",
    "clearing.s_per_iteration": "best_s / iterations",
}


@dataclass(frozen=True)
class Plan:
    """Sizes and repeat counts of one benchmark run.

    Attributes:
        name: ``"full"`` or ``"quick"``.
        worlds: E values of the fire-sale rows.
        holders: N of the fire-sale rows and of the loop comparison.
        assets: M of the fire-sale rows.
        clearing_sizes: N values of the clearing grid.
        clearing_worlds: E values of the clearing grid.
        clearing_limit_bytes: skip clearing cells whose working set is larger.
        repeats: timed repeats at least (after the warm-up call).
        max_repeats: timed repeats at most, while a row stays within ``budget_s``.
        budget_s: time budget per row for the extra repeats.
        loop_repeats: timed repeats of the per-agent loop.
        bandwidth_megabytes: size of the copy that measures device bandwidth.
    """

    name: str
    worlds: tuple[int, ...]
    holders: int
    assets: int
    clearing_sizes: tuple[int, ...]
    clearing_worlds: tuple[int, ...]
    clearing_limit_bytes: int
    repeats: int
    max_repeats: int
    budget_s: float
    loop_repeats: int
    bandwidth_megabytes: int


FULL = Plan(
    name="full",
    worlds=(1, 10, 100, 1000),
    holders=1000,
    assets=27,
    clearing_sizes=(10, 100, 1000),
    clearing_worlds=(1, 10, 100),
    clearing_limit_bytes=2**30,
    repeats=3,
    max_repeats=20,
    budget_s=2.0,
    loop_repeats=5,
    bandwidth_megabytes=256,
)
QUICK = Plan(
    name="quick",
    worlds=(1, 10),
    holders=200,
    assets=27,
    clearing_sizes=(10, 100),
    clearing_worlds=(1, 10),
    clearing_limit_bytes=2**30,
    repeats=2,
    max_repeats=5,
    budget_s=0.2,
    loop_repeats=1,
    bandwidth_megabytes=32,
)


def _on_device(xp: ModuleType, arrays: dict[str, Any], dtype: str) -> dict[str, Any]:
    """Cast the host instance to ``dtype`` and move it into ``xp`` (scalars pass through)."""
    target = getattr(xp, dtype)
    return {
        k: xp.asarray(v, dtype=target) if isinstance(v, np.ndarray) else v
        for k, v in arrays.items()
    }


def _options(xp: ModuleType, defaults: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """The kernel's keyword defaults the benchmark relies on, ``check_every`` resolved."""
    options = {k: v for k, v in sorted(defaults.items()) if k not in skip}
    if "check_every" in options:
        options["check_every"] = _check_every(xp, defaults)
    return options


def _check_every(xp: ModuleType, defaults: dict[str, Any]) -> int | None:
    """Rounds between the kernel's convergence checks, or None when it cannot be known."""
    if "check_every" not in defaults:
        return None
    value = defaults["check_every"]
    if value is not None:
        return int(value)
    try:  # the kernels pick a default per namespace
        from kernels.backend import default_check_every
    except ImportError:
        return None
    return int(default_check_every(xp))


def _rounds_executed(
    rounds: int, converged: bool, check_every: int | None, max_iter: int | None
) -> int | None:
    """Rounds computed: the kernel only stops at the end of a block of ``check_every``."""
    if check_every is None or max_iter is None:
        return None
    if not converged:
        return max_iter
    return min(max_iter, math.ceil(rounds / check_every) * check_every)


def firesale_row(
    xp: ModuleType, instance: dict[str, Any], dtype: str, plan: Plan, bandwidth: float
) -> tuple[dict[str, Any], Any]:
    """Time ``fire_sale`` on one instance and dtype; return the row and the kernel's result."""
    args = _on_device(xp, instance, dtype)
    e, n, m = instance["holdings"].shape
    timing = best_of(
        lambda: fire_sale(**args),
        xp,
        repeats=plan.repeats,
        max_repeats=plan.max_repeats,
        budget_s=plan.budget_s,
    )
    res = timing.result
    rounds = int(res.iterations)
    converged = bool(np.all(to_numpy(res.converged)))
    per_world = getattr(res, "rounds", None)  # extra field beyond the DESIGN contract
    world_rounds = np.asarray([rounds]) if per_world is None else to_numpy(per_world)
    drop = 1.0 - to_numpy(res.prices) / to_numpy(args["prices"])
    itemsize = np.dtype(dtype).itemsize
    # Work counts world-rounds that did something: settled worlds are frozen, and on NumPy and
    # CuPy they leave the working set, so a batch's cost follows its active worlds.
    world_round_total = int(world_rounds.sum())
    world_round_bytes = (2 * n * m + 5 * n) * itemsize
    best = timing.best_s
    gbps = world_round_bytes * world_round_total / best / 1e9
    row = {
        "kernel": "fire_sale",
        "dtype": dtype,
        "E": e,
        "N": n,
        "M": m,
        "rounds": rounds,
        "rounds_executed": _rounds_executed(
            rounds,
            converged,
            _check_every(xp, FIRESALE_DEFAULTS),
            FIRESALE_DEFAULTS.get("max_iter"),
        ),
        "world_rounds_min": int(world_rounds.min()),
        "world_rounds_median": float(np.median(world_rounds)),
        "world_rounds_max": int(world_rounds.max()),
        "active_fraction": float(world_rounds.sum() / (world_rounds.size * max(rounds, 1))),
        "converged": converged,
        "defaulted_share": float(np.mean(to_numpy(res.defaulted))),
        "max_price_drop": float(drop.max()),
        "repeats": len(timing.times_s),
        "best_s": best,
        "median_s": timing.median_s,
        "s_per_round": best / rounds,
        "rounds_per_s": rounds / best,
        "world_rounds": world_round_total,
        "world_rounds_per_s": world_round_total / best,
        "updates_per_s": n * m * world_round_total / best,
        "compulsory_GB_per_s": gbps,
        "bandwidth_fraction": gbps / bandwidth if bandwidth > 0 else None,
    }
    return row, res


def clearing_row(xp: ModuleType, n: int, e: int, seed: int, plan: Plan) -> dict[str, Any]:
    """Time ``eisenberg_noe`` on a sparse random network of N institutions in E worlds."""
    row: dict[str, Any] = {"kernel": "eisenberg_noe", "dtype": "float64", "E": e, "N": n}
    working_set = 2 * e * n * n * 8  # liabilities and the kernel's relative-liability matrix
    row["working_set_bytes"] = working_set
    if working_set > plan.clearing_limit_bytes:
        row["skipped"] = (
            f"working set {working_set / 1e9:.1f} GB (liabilities + relative liabilities) "
            f"exceeds the {plan.clearing_limit_bytes / 2**30:.0f} GiB limit"
        )
        return row
    instance = clearing_instance(e, n, seed=seed)
    args = _on_device(xp, instance, "float64")
    timing = best_of(
        lambda: eisenberg_noe(args["liabilities"], args["external_assets"]),
        xp,
        repeats=plan.repeats,
        max_repeats=plan.max_repeats,
        budget_s=plan.budget_s,
    )
    res = timing.result
    iterations = int(res.iterations)
    row.update(
        iterations=iterations,
        converged=bool(np.all(to_numpy(res.converged))),
        defaulted_share=float(np.mean(to_numpy(res.defaulted))),
        repeats=len(timing.times_s),
        best_s=timing.best_s,
        median_s=timing.median_s,
        s_per_iteration=timing.best_s / max(iterations, 1),
    )
    return row


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[tqdm]:
    bar = tqdm(
        total=total, desc="powderkeg bench", unit="row", file=sys.stderr, disable=not enabled
    )
    try:
        yield bar
    finally:
        bar.close()


def run(
    *,
    quick: bool = False,
    backend: str = "auto",
    dtypes: Sequence[str] = DTYPES,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the kernel benchmarks and return the results as a JSON-ready dict.

    Args:
        quick: the small plan (``QUICK``, well under 30 s) instead of ``FULL``.
        backend: ``"auto"``, ``"numpy"`` or ``"cupy"`` (``kernels.backend.get_namespace``).
        dtypes: fire-sale dtypes, from ``"float64"`` and ``"float32"``; clearing is float64.
        seed: seed of every instance.
        progress: show a progress bar on stderr.

    Returns:
        ``{"schema", "mode", "seed", "metadata", "definitions", "firesale", "loop",
        "clearing", "loop_ratio_per_round"}``; see ``DEFINITIONS`` for the derived figures.

    Raises:
        ValueError: an unknown backend or dtype.
        RuntimeError: CuPy was asked for and no GPU answers.
    """
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise ValueError(f"dtypes must be among {', '.join(DTYPES)}; got {list(dtypes)}")
    plan = QUICK if quick else FULL
    xp = get_namespace(backend)
    meta = metadata(xp)
    meta["copy_bandwidth_GB_per_s"] = copy_bandwidth(xp, megabytes=plan.bandwidth_megabytes)
    clearing_cells = [(n, e) for n in plan.clearing_sizes for e in plan.clearing_worlds]
    total = len(plan.worlds) * len(dtypes) + 1 + len(clearing_cells)

    firesale_rows: list[dict[str, Any]] = []
    loop_kernel: tuple[dict[str, Any], Any] | None = None
    loop_instance = None
    with _progress(total, progress) as bar:
        for e in plan.worlds:
            instance = firesale_instance(e, plan.holders, plan.assets, seed=seed)
            for dtype in dtypes:
                bar.set_postfix_str(f"fire_sale {dtype} E={e}")
                row, res = firesale_row(xp, instance, dtype, plan, meta["copy_bandwidth_GB_per_s"])
                firesale_rows.append(row)
                if e == 1 and (loop_kernel is None or dtype == "float64"):
                    loop_kernel, loop_instance = (row, res.prices), instance
                bar.update()
        bar.set_postfix_str("per-agent loop")
        if loop_instance is None:
            loop_instance = firesale_instance(1, plan.holders, plan.assets, seed=seed)
        kernel_row, kernel_prices = loop_kernel if loop_kernel else (None, None)
        loop = loop_comparison(
            loop_instance,
            kernel_row,
            kernel_prices,
            repeats=plan.loop_repeats,
            options={
                k: FIRESALE_DEFAULTS[k] for k in ("tol", "max_iter") if k in FIRESALE_DEFAULTS
            },
        )
        bar.update()
        clearing_rows = []
        for n, e in clearing_cells:
            bar.set_postfix_str(f"eisenberg_noe N={n} E={e}")
            clearing_rows.append(clearing_row(xp, n, e, seed, plan))
            bar.update()

    meta["load_average_at_end"] = load_average()
    return {
        "schema": SCHEMA,
        "mode": plan.name,
        "seed": seed,
        "metadata": meta,
        "definitions": DEFINITIONS,
        "firesale": {
            "kernel": "kernels.firesale.fire_sale",
            "instance": FireSaleSetup().as_dict(),
            "kernel_options": _options(xp, FIRESALE_DEFAULTS, skip=set(FIRESALE_INSTANCE_KEYS)),
            "rows": firesale_rows,
        },
        "loop": loop,
        "clearing": {
            "kernel": "kernels.clearing.eisenberg_noe",
            "instance": ClearingSetup().as_dict(),
            "kernel_options": _options(xp, CLEARING_DEFAULTS, skip=set()),
            "rows": clearing_rows,
        },
        "loop_ratio_per_round": loop.get("ratio_per_round"),
    }
