"""Input checks shared by the kernels: shapes that name the argument, iteration limits, ranges.

Every message says which argument is wrong, what it got and what is allowed, in the manner of
scikit-learn's and SciPy's array-API helpers.
"""

from __future__ import annotations

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
    """Reject iteration limits below 1 (``None`` means the kernel's default)."""
    for name, value in (("max_iter", max_iter), ("check_every", check_every)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be an integer >= 1 (or None); got {value}")


def check_fraction(xp: Any, name: str, value: Any) -> None:
    """Reject a share outside [0, 1]; for arrays this costs one host synchronisation."""
    if value is None:
        return
    if isinstance(value, (bool, int, float)):
        bad = not 0.0 <= value <= 1.0
    else:
        bad = bool(xp.any((value < 0.0) | (value > 1.0)))
    if bad:
        raise ValueError(f"{name} must lie in [0, 1] (a share); got values outside it")
