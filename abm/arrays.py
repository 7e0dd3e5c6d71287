"""Small array helpers that place per-group values on the model's agent axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.backend import segment_sum


def add_at(xp: Any, target: Any, rows: slice, where: Any, values: Any) -> Any:
    """(E, N, M) ``target`` with ``values`` (E, R, K) added at rows ``rows``, columns ``where``.

    Every other entry is copied unchanged. The rows are a slice (a family's block of the
    roster), so only one (E, N, M) array and two (E, R, M) ones are allocated; a scatter onto
    the whole agent axis would build several (E, N, M) temporaries and cost a pass over each.
    The values reach their columns by a product with a one-hot
    matrix: each entry is one value times 1 plus zeros, so it is exact.
    """
    buckets = xp.arange(target.shape[-1], dtype=where.dtype, device=target.device)
    one_hot = xp.astype(where[:, None] == buckets[None, :], target.dtype)
    block = target[:, rows, :] + values @ one_hot
    return xp.concat([target[:, : rows.start, :], block, target[:, rows.stop :, :]], axis=1)


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
