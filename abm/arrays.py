"""Small array helpers that place per-group values on the model's agent axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.backend import segment_sum


def add_at(xp: Any, target: Any, rows: slice, where: Any, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, R, K) added at rows ``rows``, columns ``where``.

    Every other entry is left as it is (:func:`add_rows`, in place). The rows are a slice (a
    family's block of the roster), so only (E, R, M) arrays are allocated; a scatter onto the
    whole agent axis would build several (E, N, M) temporaries and cost a pass over each.
    The values reach their columns by a product with a one-hot
    matrix: each entry is one value times 1 plus zeros, so it is exact.
    """
    buckets = xp.arange(target.shape[-1], dtype=where.dtype, device=target.device)
    one_hot = xp.astype(where[:, None] == buckets[None, :], target.dtype)
    return add_rows(xp, target, rows, values @ one_hot)


def add_rows(xp: Any, target: Any, rows: slice, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, R, M) added to rows ``rows`` (a slice of R rows).

    In place, and ``target`` is returned: only the (E, R, M) block is read and written, where a
    new (E, N, M) array would cost a pass over every agent's holdings (248 MB at 1,000 worlds and
    1,000 retail cohorts, seven times a week). ``target`` must be the state's own array (the
    balance sheets' ``holdings``, which nothing else keeps between rules).
    """
    target[:, rows, :] = target[:, rows, :] + values
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
