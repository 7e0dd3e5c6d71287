"""Small array helpers that place per-group values on the model's agent axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels.backend import segment_sum


def at_rows(xp: Any, like: Any, rows: Any, values: Any) -> Any:
    """(E, N, M) zeros like ``like`` with ``values`` (E, R, M) added at agent rows ``rows``."""
    moved = xp.permute_dims(values, (0, 2, 1))  # (E, M, R)
    return xp.permute_dims(segment_sum(moved, rows, like.shape[1]), (0, 2, 1))


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
