"""The per-agent Python reference loop against the vectorized fire-sale kernel.

The design asks the kernel to beat a per-agent loop (``tests.reference.firesale.fire_sale_loop``:
every holder a small Python object, every round a loop over holders and assets) by at least
:data:`LOOP_TARGET` times per round at N = :data:`LOOP_TARGET_HOLDERS` holders and E = 1
(reported, never asserted). :func:`loop_comparison` times the loop on world 0 of the kernel's
instance and reports the ratio and the largest difference of their final prices.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from benchmarks.environment import REPO_ROOT, best_of
from kernels.backend import to_numpy

LOOP_TARGET = 50.0  # docs/design.md, "Quality bars": kernel >= 50x a Python loop (N=1,000)
LOOP_TARGET_HOLDERS = 1000
LOOP_MODULE = "tests.reference.firesale"


def _import_loop() -> tuple[Any, str | None]:
    """The reference loop function, or None and a note saying why it is unavailable."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(LOOP_MODULE)
    except ModuleNotFoundError as err:
        missing = REPO_ROOT.joinpath(*LOOP_MODULE.split(".")).with_suffix(".py")
        if err.name is not None and LOOP_MODULE.startswith(err.name):
            return None, f"{LOOP_MODULE} not found ({missing} is missing); loop row skipped"
        return None, f"{LOOP_MODULE} failed to import: {err}; loop row skipped"
    except Exception as err:  # the reference is someone else's code: report, don't crash
        return None, f"{LOOP_MODULE} failed to import: {type(err).__name__}: {err}"
    func = getattr(module, "fire_sale_loop", None)
    if func is None:
        return None, f"{LOOP_MODULE} has no fire_sale_loop; loop row skipped"
    return func, None


def loop_comparison(
    instance: dict[str, Any],
    kernel_row: dict[str, Any] | None,
    kernel_prices: Any,
    *,
    repeats: int,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Time the per-agent reference loop on world 0 of ``instance`` and compare with the kernel.

    Args:
        instance: the host (NumPy, float64) fire-sale instance with E = 1.
        kernel_row: the kernel's E = 1 row on the same instance (its time per round).
        kernel_prices: the kernel's final prices on that instance, (1, M).
        repeats: timed repeats of the loop.
        options: the kernel's keyword defaults the loop takes too (tolerance, round limit).

    Returns:
        A JSON-ready dict: ``status`` "ok" or "skipped" (with ``note``), the loop's rounds and
        times, ``ratio_per_round`` and ``max_abs_price_diff``.
    """
    _, n, m = instance["holdings"].shape
    out: dict[str, Any] = {
        "reference": f"{LOOP_MODULE}.fire_sale_loop",
        "E": 1,
        "N": n,
        "M": m,
        "target_ratio": LOOP_TARGET,
        "target_holders": LOOP_TARGET_HOLDERS,
        "kernel_dtype": kernel_row["dtype"] if kernel_row else None,
    }
    func, note = _import_loop()
    if func is None:
        return {**out, "status": "skipped", "note": note}
    world = {k: v[0] if isinstance(v, np.ndarray) else v for k, v in instance.items()}
    holdings = world.pop("holdings")
    prices = world.pop("prices")
    cash = world.pop("cash")
    liabilities = world.pop("liabilities")
    try:
        timing = best_of(
            lambda: func(holdings, prices, cash, liabilities, **world, **options),
            np,
            repeats=repeats,
        )
        res = timing.result
        loop_prices = np.asarray(res["prices"], dtype=np.float64)
        loop_rounds = int(res["iterations"])
        loop_converged = bool(res["converged"])
    except Exception as err:  # report a broken reference instead of losing the whole run
        return {**out, "status": "skipped", "note": f"fire_sale_loop failed: {err!r}"}
    loop_per_round = timing.best_s / max(loop_rounds, 1)
    out.update(
        status="ok",
        rounds=loop_rounds,
        converged=loop_converged,
        repeats=len(timing.times_s),
        best_s=timing.best_s,
        median_s=timing.median_s,
        s_per_round=loop_per_round,
    )
    if kernel_row is None:
        return {**out, "note": "no kernel row at E = 1 to compare with"}
    diff = np.abs(loop_prices - np.asarray(to_numpy(kernel_prices), dtype=np.float64)[0])
    ratio = loop_per_round / kernel_row["s_per_round"]
    out.update(
        kernel_rounds=kernel_row["rounds"],
        kernel_s_per_round=kernel_row["s_per_round"],
        ratio_per_round=ratio,
        ratio_per_call=timing.best_s / kernel_row["best_s"],
        meets_target=ratio >= LOOP_TARGET if n == LOOP_TARGET_HOLDERS else None,
        max_abs_price_diff=float(diff.max()),
        max_rel_price_diff=float((diff / np.abs(instance["prices"][0])).max()),
    )
    return out


__all__ = ["LOOP_MODULE", "LOOP_TARGET", "LOOP_TARGET_HOLDERS", "loop_comparison"]
