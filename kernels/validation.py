"""Input checks shared by the kernels: shapes that name the argument, iteration limits, ranges.

Every message says which argument is wrong, what it got and what is allowed, in the manner of
scikit-learn's and SciPy's array-API helpers.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from kernels.backend import broadcast_shapes


def square_batch(name: str, matrix: Any) -> int:
    """Check that ``matrix`` has shape (..., N, N) and return N."""
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"{name} must have shape (..., N, N); got {matrix.shape}")
    return matrix.shape[-1]


def batch_shape(
    main: tuple[str, Any, int], vectors: dict[str, tuple[Any, int, str, bool]]
) -> tuple[int, ...]:
    """Validate the trailing axis of each vector argument and broadcast the leading (batch) axes.

    Args:
        main: (name, array, number of trailing core axes) of the argument that sets the shapes.
        vectors: name -> (value, expected trailing length, axis label such as "N", whether a
            scalar is allowed). ``None`` values are skipped.

    Returns:
        The broadcast batch shape of all arguments.

    Raises:
        ValueError: a trailing axis has the wrong length, or the batch axes do not broadcast.
    """
    main_name, main_array, core = main
    batches = {main_name: main_array.shape[: main_array.ndim - core]}
    for name, (value, length, label, scalar_ok) in vectors.items():
        if value is None or isinstance(value, (bool, int, float)):
            if value is None or scalar_ok:
                continue
        elif value.ndim == 0 and scalar_ok:
            continue
        elif value.ndim >= 1 and value.shape[-1] == length:
            batches[name] = value.shape[:-1]
            continue
        got = value.shape if hasattr(value, "shape") else type(value).__name__
        scalar = "a scalar or " if scalar_ok else ""
        raise ValueError(
            f"{name} must be {scalar}an array of shape (..., {label}) with {label} = {length} "
            f"to match {main_name} {main_array.shape}; got {got}"
        )
    return broadcast_shapes(*batches.values(), names=tuple(batches))


def check_limits(max_iter: int | None, check_every: int | None) -> None:
    """Reject iteration limits that are not integers >= 1 (``None`` means the kernel's default)."""
    for name, value in (("max_iter", max_iter), ("check_every", check_every)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (or None); got {value!r}")


def check_tol(tol: Any) -> float:
    """Return ``tol`` as a float, or reject one that is not a finite number > 0."""
    try:
        value = float(tol)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(tol, bool) or not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    return value


def check_scalar(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    positive: bool = False,
    below: float = math.inf,
) -> None:
    """Reject a Python scalar that is NaN, below ``low``, (``positive``) <= 0 or >= ``below``.

    Arrays pass unchecked: their bad values are found on the device, per world (``world_ok``).
    """
    if value is None or not isinstance(value, (bool, int, float)):
        return
    if math.isnan(value) or value < low or (positive and value <= 0.0) or value >= below:
        allowed = "> 0" if positive else f">= {low}" if low > -math.inf else "a number"
        allowed += f" and < {below}" if below < math.inf else ""
        raise ValueError(f"{name} must be {allowed} (not NaN); got {value!r}")


def float_dtype(xp: Any, *arrays: Any) -> Any:
    """The working dtype: that of the first real floating array among ``arrays``, else float64.

    Integer and boolean arrays are accepted and cast to it; ``None`` and Python scalars are skipped.
    """
    for a in arrays:
        if a is None or isinstance(a, (bool, int, float)):
            continue
        if xp.isdtype(a.dtype, "real floating"):
            return a.dtype
    return xp.float64


def world_ok(
    xp: Any, batch: tuple[int, ...], device: Any, checks: list[tuple[Any, int, Any]]
) -> Any:
    """Per-world flags (shape ``batch``): every value of every checked argument is acceptable.

    Each check is (argument, number of its trailing core axes, condition of the argument's shape);
    Python scalars and ``None`` are skipped (``check_scalar`` handles scalars on the host).

    Computed on the device without any host synchronisation, so the kernels fold it into
    ``converged`` rather than raising (a world with NaN, infinite or negative data where the
    contract forbids them is reported as not converged and left unchanged).
    """
    ok = xp.ones(batch, dtype=xp.bool, device=device)
    for value, core, good in checks:
        if value is None or isinstance(value, (bool, int, float)):
            continue
        core = min(core, value.ndim)  # a 0-d array holds one value for every world
        if core:
            good = xp.all(good, axis=tuple(range(-core, 0)))
        ok = ok & good
    return ok


def all_finite(xp: Any, ok: Any, *outputs: tuple[Any, int]) -> Any:
    """``ok`` and, per world, every value of each (array, core axes) output is finite."""
    for value, core in outputs:
        good = xp.isfinite(value)
        if core:
            good = xp.all(good, axis=tuple(range(-core, 0)))
        ok = ok & good
    return ok


def check_fraction(xp: Any, name: str, value: Any) -> None:
    """Reject a share outside [0, 1]; for arrays this costs one host synchronisation."""
    if value is None:
        return
    if isinstance(value, (bool, int, float)):
        bad = not 0.0 <= value <= 1.0  # NaN too
    else:
        bad = bool(xp.any(~((value >= 0.0) & (value <= 1.0))))  # NaN too
    if bad:
        raise ValueError(f"{name} must lie in [0, 1] (a share); got values outside it (or NaN)")
