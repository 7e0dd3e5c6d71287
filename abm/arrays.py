"""Small array helpers that place per-group values on the model's agent axis."""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import is_cupy_namespace

from kernels.backend import segment_sum

#: the relative margin by which an accounting identity may miss in float64 (the model's own
#: slack for rounding: a USD bn book may be off by a dollar); a float32 state rounds at about
#: 1.2e-7 a sum, so there the margin is 1,000 float32 ulps of 1 (about 1.2e-4).
FLOAT64_MARGIN = 1e-9
ULPS_OF_SLACK = 1000


def rounding_margin(xp: Any, dtype: Any) -> float:
    """The relative slack an identity's check allows in ``dtype`` (1e-9 in float64).

    A check like "cash below zero" or "claims above face" must not fire on rounding alone: the
    margin is the larger of :data:`FLOAT64_MARGIN` and :data:`ULPS_OF_SLACK` machine epsilons of
    ``dtype``, so float64 keeps 1e-9 and float32 gets about 1.2e-4.
    """
    return max(FLOAT64_MARGIN, ULPS_OF_SLACK * float(xp.finfo(dtype).eps))


#: the floor of a denominator in units or USD bn in float64 (``max(wanted, 1e-12)``)
FLOAT64_FLOOR = 1e-12


def denominator_floor(xp: Any, dtype: Any) -> float:
    """The floor of a quantity's denominator: 1e-12 in float64, as many ulps wider in float32.

    Outsiders' units (the supply less the agents' units) can round a hair below zero: about
    1e-15 in float64, 1e-6 in float32. A share ``outside / max(wanted, floor)`` then stays as
    small in float32 as in float64 when the floor grows with the machine epsilon
    (``1e-12 · eps / eps64``: 5.4e-4 in float32); a fixed 1e-12 would make it -10^6.
    """
    return FLOAT64_FLOOR * float(xp.finfo(dtype).eps) / float(np.finfo(np.float64).eps)


#: the most bytes one chunk of a world-chunked temporary may take on the host (NumPy): a rule
#: that builds an array of shape (worlds, rows, assets) builds it a chunk of worlds at a time
#: (:func:`world_chunks`), so that its peak memory does not grow with the worlds (one (E, R, M)
#: array in float64 is 206 MiB at 1,000 worlds, 1,000 retail cohorts and 27 assets). 8 MiB keeps
#: a chunk near the CPU's caches: on this 2-core machine E=1,000 ran at 213 world-weeks/s with
#: 8 MiB against 201 with 32 MiB (README, "Speed and memory"); tests lower it to force chunks
CHUNK_BYTES = 8 * 2**20
#: the same bound on a GPU (CuPy), where every chunk costs its kernels' launches: larger chunks
DEVICE_CHUNK_BYTES = 32 * 2**20


def world_chunks(n_worlds: int, bytes_per_world: int, xp: Any = None) -> list[slice]:
    """Slices of the world axis, each of as many worlds as the chunk budget holds (at least 1).

    ``bytes_per_world`` is the size of one world's share of the largest temporary built per chunk;
    the budget is :data:`DEVICE_CHUNK_BYTES` when ``xp`` is CuPy, else :data:`CHUNK_BYTES`.
    Worlds are independent in every rule that chunks, so a chunk's results are those of the whole
    batch, bit for bit.
    """
    budget = DEVICE_CHUNK_BYTES if xp is not None and is_cupy_namespace(xp) else CHUNK_BYTES
    size = max(1, budget // max(bytes_per_world, 1))
    return [slice(lo, min(lo + size, n_worlds)) for lo in range(0, n_worlds, size)]


def itemsize(xp: Any, dtype: Any) -> int:
    """Bytes of one element of the floating-point ``dtype``."""
    return xp.finfo(dtype).bits // 8


def add_at(xp: Any, target: Any, rows: slice, where: Any, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, R, K) added at rows ``rows``, columns ``where``.

    Every other entry is left as it is (:func:`add_rows`, in place). The rows are a slice (a
    family's block of the roster), so only (E, R, M) arrays are allocated, a chunk of worlds at a
    time (:func:`world_chunks`); a scatter onto the whole agent axis would build several
    (E, N, M) temporaries and cost a pass over each.
    The values reach their columns by a product with a one-hot
    matrix: each entry is one value times 1 plus zeros, so it is exact.
    """
    buckets = xp.arange(target.shape[-1], dtype=where.dtype, device=target.device)
    one_hot = xp.astype(where[:, None] == buckets[None, :], target.dtype)
    per_world = values.shape[-2] * target.shape[-1] * itemsize(xp, target.dtype)
    for worlds in world_chunks(target.shape[0], per_world, xp):
        add_rows(xp, target[worlds, ...], rows, values[worlds, ...] @ one_hot)
    return target


def add_rows(xp: Any, target: Any, rows: slice, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, R, M) added to rows ``rows`` (a slice of R rows).

    In place, and ``target`` is returned: only the (E, R, M) block is read and written, where a
    new (E, N, M) array would cost a pass over every agent's holdings (248 MB at 1,000 worlds and
    1,000 retail cohorts, seven times a week). ``target`` must be the state's own array (the
    balance sheets' ``holdings``, which nothing else keeps between rules).
    """
    target[:, rows, :] += values  # in place: no (E, R, M) temporary for the sum
    return target


def add_column(xp: Any, target: Any, column: int, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, N) added to column ``column`` of its last axis.

    In place, and ``target`` is returned, as :func:`add_rows` and on the same array (the
    balance sheets' ``holdings``): only the (E, N) column is read and written, where a new
    (E, N, M) array costs a pass over every holding (issue 18: a warrant issue took 189 ms a
    step at 1,000 worlds against 6.5 ms at 100, measured in the scale6 branch).
    """
    target[:, :, column] += values  # the same sum as ``column + values`` in a new array
    return target


def columns(xp: Any, like: Any, index: Any, values: Any) -> Any:
    """(E, K) zeros shaped like ``like`` with ``values`` (E, k) added at columns ``index``."""
    return segment_sum(values, index, like.shape[-1])


def set_columns(xp: Any, target: Any, where: list[int], values: Any) -> Any:
    """``target`` with columns ``where`` replaced by ``values`` (broadcast over them)."""
    mask = np.zeros(target.shape[-1], dtype=bool)
    mask[where] = True
    keep = xp.asarray(mask, device=target.device)
    filled = (
        xp.zeros_like(target) + values
        if values.shape[-1] == 1
        else columns(xp, target, xp.asarray(where, device=target.device), values)
    )
    return xp.where(keep, filled, target)
