"""Per-world order statistics on the device: medians, minima and percentiles.

The series of :mod:`abm.reporting` summarise each world's agents (the median bank's capital, the
10th percentile, the worst tenth of savers) and are computed where the state lives, so a GPU
copies E numbers per series to the host, not E × N per quantity (docs/design.md, "Reporting").
The array API has no median or percentile, so they are built here from ``sort`` and
``take_along_axis``, and reproduce NumPy's ``nanmedian``, ``nanmin`` and ``nanpercentile``
(method "linear") bit for bit: the same order statistics, combined by the same arithmetic.

Every function takes (E, K) ``values`` and an (E, K) boolean ``keep`` (which agents count, e.g.
banks still alive) and returns (E,) results, NaN for a world where nothing is kept. NaN values are
never kept (NumPy's nan-functions skip them too).
"""

from __future__ import annotations

import math
from typing import Any

from kernels.backend import array_namespace


def _sorted_kept(values: Any, keep: Any) -> tuple[Any, Any, Any]:
    """Each row sorted with the values not kept moved to its end; the count kept per row.

    Values not kept become +inf, so they sort after every kept value; a kept +inf ties with
    them, which leaves every order statistic of the kept values in place.
    """
    xp = array_namespace(values)
    keep = keep & ~xp.isnan(values)
    ordered = xp.sort(
        xp.where(keep, values, xp.asarray(math.inf, dtype=values.dtype, device=values.device)),
        axis=1,
    )
    count = xp.sum(xp.astype(keep, xp.int64), axis=1)
    return xp, ordered, count


def _at(xp: Any, ordered: Any, index: Any) -> Any:
    """(E,) the element of each row of ``ordered`` at its own ``index`` (clipped into range)."""
    last = max(ordered.shape[1] - 1, 0)
    index = xp.clip(index, 0, last)
    return xp.take_along_axis(ordered, index[:, None], axis=1)[:, 0]


def masked_median(values: Any, keep: Any) -> Any:
    """(E,) median of the kept values of each row, as ``numpy.nanmedian``; NaN if none."""
    xp = array_namespace(values)
    if values.shape[1] == 0:
        return xp.full(values.shape[0], math.nan, dtype=values.dtype, device=values.device)
    xp, ordered, count = _sorted_kept(values, keep)
    high = _at(xp, ordered, count // 2)
    low = _at(xp, ordered, (count - 1) // 2)
    # numpy.ma.median (behind nanmedian) halves the sum of the two middle values, the one
    # middle value twice when the count is odd: (h + h) / 2 == h exactly
    median = (low + high) / 2.0
    return xp.where(
        count > 0, median, xp.asarray(math.nan, dtype=values.dtype, device=values.device)
    )


def masked_min(values: Any, keep: Any) -> Any:
    """(E,) smallest kept value of each row, as ``numpy.nanmin``; NaN if none."""
    xp = array_namespace(values)
    if values.shape[1] == 0:
        return xp.full(values.shape[0], math.nan, dtype=values.dtype, device=values.device)
    keep = keep & ~xp.isnan(values)
    smallest = xp.min(
        xp.where(keep, values, xp.asarray(math.inf, dtype=values.dtype, device=values.device)),
        axis=1,
    )
    return xp.where(
        xp.any(keep, axis=1),
        smallest,
        xp.asarray(math.nan, dtype=values.dtype, device=values.device),
    )


def masked_percentile(values: Any, keep: Any, percent: float) -> Any:
    """(E,) the ``percent`` percentile of the kept values, as ``numpy.nanpercentile`` (linear).

    NumPy's "linear" method (Hyndman and Fan's type 7): the position ``(n − 1)·q`` (in float64)
    between the order statistics below and above it, interpolated as NumPy's ``_lerp`` does
    for a Python-float ``percent``: in the input's precision, from the value below when the
    weight is under one half and from the value above from one half on (``q = 1`` gives the
    maximum exactly).
    """
    xp = array_namespace(values)
    if values.shape[1] == 0:
        return xp.full(values.shape[0], math.nan, dtype=values.dtype, device=values.device)
    xp, ordered, count = _sorted_kept(values, keep)
    q = percent / 100.0
    virtual = xp.astype(count - 1, xp.float64) * q  # the position, in float64 as NumPy's
    below = xp.floor(virtual)
    gamma = virtual - below
    # the weights round to the input's precision and the interpolation runs in it
    weight_up = xp.astype(gamma, values.dtype)
    weight_down = xp.astype(1.0 - gamma, values.dtype)
    below = xp.astype(below, xp.int64)
    lower = _at(xp, ordered, below)
    upper = _at(xp, ordered, xp.minimum(below + 1, count - 1))
    step = upper - lower
    value = xp.where(gamma >= 0.5, upper - step * weight_down, lower + step * weight_up)
    nan = xp.asarray(math.nan, dtype=values.dtype, device=values.device)
    return xp.where(count > 0, value, nan)


__all__ = ["masked_median", "masked_min", "masked_percentile"]
