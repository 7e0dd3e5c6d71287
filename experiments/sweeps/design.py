"""Points of a sweep design: grids, random samples, and SALib's Latin hypercube, Sobol' and Morris.

:func:`expand` takes the checked ``[design]`` table and, per swept parameter, either a list of
values or a ``(low, high)`` range, and returns one row of values per point, in design order:

- ``grid``: every combination of the value lists (the last parameter varies fastest);
- ``random``: ``samples`` points, each value drawn independently, uniformly from its list or its
  range (integers: each integer in the range equally likely), from NumPy's PCG64 seeded with
  ``[design] seed``;
- ``lhs``, ``sobol``, ``morris``: the rows of :func:`experiments.sensitivity.sample` (the order
  SALib's analysis expects), integer parameters rounded to the nearest integer.

Every drawn value goes through the parameter's own check, so a range that crosses a lever's
limit is caught before anything runs. :func:`design_size` counts a design's points without
building them, so a design too big to hold is refused before it takes the memory.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from experiments.sweeps.parameters import Parameter, Value
from experiments.usage import UsageError


def _checked(parameter: Parameter, value: Any, path: Path) -> Value:
    if parameter.kind == "int":
        value = round(float(value))
    elif parameter.kind == "float":
        value = float(value)
    try:
        return parameter.coerce(value)
    except ValueError as err:
        raise UsageError(f"sweep file {path}: design value of {parameter.name}: {err}") from None


def design_size(design: Any, axes: list[list[Value] | tuple[float, float]]) -> tuple[int, str]:
    """How many points :func:`expand` would give, and how that number comes about (in words).

    Grid: the product of the value counts; random: ``samples``; lhs, sobol and morris: SALib's
    count (:func:`experiments.sensitivity.design_size`: sobol N(D+2), or N(2D+2) with
    second-order indices, morris N(D+1), lhs N, for D swept parameters).
    """
    d = len(axes)
    if d == 0:
        return 1, "no swept parameter"
    if design.kind == "grid":
        counts = [len(axis) for axis in axes]
        return math.prod(counts), " x ".join(f"{c:,}" for c in counts) + " values"
    n = int(design.samples or 0)
    if design.kind == "random":
        return n, f"{n:,} samples"
    from experiments.sensitivity import design_size as salib_size

    count = salib_size(design.kind, n, d, second_order=design.second_order)
    return count, f"{design.kind} design of {n:,} samples over {d} parameters"


def expand(
    design: Any,
    parameters: list[Parameter],
    axes: list[list[Value] | tuple[float, float]],
    path: Path,
) -> tuple[list[tuple[Value, ...]], dict[str, Any] | None]:
    """The points of ``design`` as rows of values, and the SALib problem (None for grid/random).

    Args:
        design: the checked :class:`experiments.sweeps.spec.DesignSpec`.
        parameters: the swept parameters, in file order.
        axes: per parameter, a list of values or a (low, high) range (see the module docstring).
        path: the sweep file, for messages.
    """
    if not parameters:
        return [()], None
    if design.kind == "grid":
        return list(itertools.product(*axes)), None
    if design.kind == "random":
        rng = np.random.default_rng(design.seed)
        rows = []
        for _ in range(design.samples):
            row = []
            for parameter, axis in zip(parameters, axes, strict=True):
                if isinstance(axis, list):
                    row.append(axis[int(rng.integers(len(axis)))])
                elif parameter.kind == "int":
                    row.append(_checked(parameter, rng.integers(axis[0], axis[1] + 1), path))
                else:
                    row.append(_checked(parameter, rng.uniform(axis[0], axis[1]), path))
            rows.append(tuple(row))
        return rows, None
    from experiments.sensitivity import problem, sample

    spec = problem([p.name for p in parameters], axes)
    matrix = sample(
        design.kind,
        spec,
        design.samples,
        seed=design.seed,
        second_order=design.second_order,
        levels=design.levels,
    )
    rows = [
        tuple(_checked(p, x, path) for p, x in zip(parameters, row, strict=True)) for row in matrix
    ]
    return rows, spec


__all__ = ["design_size", "expand"]
