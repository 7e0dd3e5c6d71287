"""DebtRank: how distress spreads through exposures before anyone defaults, batched.

Institution i holds exposures ``W[..., i, j]`` (USD bn it loses if j defaults) against equity
``E_i``. Its distress ``h_i`` in [0, 1] is the share of its equity lost; the impact of j on i is
``Lambda_ij = W_ij / E_i``.

- Linear DebtRank (Bardoscia, Battiston, Caccioli & Caldarelli 2015, "DebtRank: a microscopic
  foundation for shock propagation", PLoS ONE 10(6): e0130406, eq. 3): a creditor loses in
  proportion to the *increase* of its debtor's distress,
  ``h(t+1) = min(1, h(t) + Lambda (h(t) - h(t-1)))`` with ``h(1) = shock`` and ``h(0) = 0``.
  Shocks are amplified without bound (until saturation) when the spectral radius of ``Lambda``
  exceeds 1 (Bardoscia et al. 2017, "Pathways towards instability in financial networks",
  Nature Communications 8: 14416).
- Original DebtRank (Battiston, Puliga, Kaushik, Tasca & Caldarelli 2012, "DebtRank: too
  central to fail?", Scientific Reports 2: 541): impacts ``min(1, W_ij / E_i)``; a node that
  became distressed propagates its whole distress once and then turns inactive,
  ``h_i(t) = min(1, h_i(t-1) + sum_{j distressed at t-1} Lambda_ij h_j(t-1))``. It ends in at
  most N + 1 rounds.

Institutions with non-positive equity are already failed: their distress starts at 1 and their
own row of impacts is zero. ``loss = sum_i h_i E_i`` counts the initial shock too (equity at
non-positive rows counts as zero).

As in the other kernels, a world is frozen once converged and the host checks once every
``check_every`` rounds.

Bad inputs: ``tol``, ``max_iter`` and ``check_every`` raise a ValueError naming the argument. A
world with NaN or infinite exposures, equity or shock, or negative exposures, is left at its
initial distress and reported with ``converged`` False (checked on the device, no extra host
synchronisation), as is any world whose results are not finite. Integer and boolean arrays are
cast to the first floating dtype among the inputs, else float64; empty batches give empty results.
"""

from __future__ import annotations

from math import prod
from typing import Any, NamedTuple

from kernels.backend import array_namespace, cast_inputs, default_check_every
from kernels.validation import (
    all_finite,
    batch_shape,
    check_limits,
    check_tol,
    float_dtype,
    square_batch,
    world_ok,
)


class DebtRankResult(NamedTuple):
    """Outcome of ``debtrank``.

    Attributes:
        distress: (..., N) final relative equity loss in [0, 1].
        loss: (...) equity lost in total, ``sum_i distress_i * equity_i``, the shock included.
        converged: (...) bool.
        iterations: rounds run until the last world converged (``max_iter`` if one never did).
    """

    distress: Any
    loss: Any
    converged: Any
    iterations: int


def debtrank(
    exposures: Any,
    equity: Any,
    shock: Any,
    *,
    linear: bool = True,
    max_iter: int | None = None,
    tol: float = 1e-12,
    check_every: int | None = None,
) -> DebtRankResult:
    """Propagate an initial distress ``shock`` through ``exposures`` (DebtRank).

    Args:
        exposures: (..., N, N) with ``W[..., i, j]`` what i loses if j defaults (>= 0).
        equity: (..., N) equity of each institution.
        shock: (..., N) initial distress, relative equity loss in [0, 1].
        linear: linear DebtRank (Bardoscia et al. 2015) or the original (Battiston et al. 2012).
        max_iter: most rounds; default ``max(1000, 20 * N)`` (linear) or ``N + 2`` (original).
        tol: linear only: a round in which no distress rises by more than ``tol`` is the last.
        check_every: rounds between host-side convergence checks; default 1 on NumPy,
            8 on devices.

    Returns:
        DebtRankResult in the namespace and dtype of ``exposures``.
    """
    check_limits(max_iter, check_every)
    tol = check_tol(tol)
    xp = array_namespace(exposures, equity, shock)
    n = square_batch("exposures", exposures)
    batch = batch_shape(
        ("exposures", exposures, 2),
        {"equity": (equity, n, "N", False), "shock": (shock, n, "N", False)},
    )
    check_every = default_check_every(xp) if check_every is None else check_every
    if max_iter is None:
        max_iter = max(1000, 20 * n) if linear else n + 2
    dtype, device = float_dtype(xp, exposures, equity, shock), exposures.device
    exposures, equity, shock = cast_inputs(xp, dtype, exposures, equity, shock)
    tol = max(tol, 64.0 * float(xp.finfo(dtype).eps))
    # Worlds with NaN or infinite values, or negative exposures, are bad: frozen at once and
    # reported as not converged (no host sync). Shocks outside [0, 1] are clipped as before.
    ok = world_ok(
        xp,
        batch,
        device,
        [
            (exposures, 2, xp.isfinite(exposures) & (exposures >= 0.0)),
            (equity, 1, xp.isfinite(equity)),
            (shock, 1, xp.isfinite(shock)),
        ],
    )

    solvent = (equity + xp.zeros((*batch, n), dtype=dtype, device=device)) > 0.0
    buffer = xp.where(solvent, equity, 1.0)
    impact = xp.where(solvent[..., None], exposures / buffer[..., None], 0.0)
    if not linear:
        impact = xp.minimum(impact, 1.0)
    distress = xp.where(solvent, xp.minimum(xp.maximum(shock, 0.0), 1.0), 1.0)
    previous = xp.zeros_like(distress)  # h(0) = 0 (linear)
    distressed = distress > 0.0  # original: state D
    inactive = xp.zeros_like(distressed)  # original: state I

    done = ~ok
    count = xp.zeros(batch, dtype=xp.int64, device=device)
    iterations = 0
    while iterations < max_iter:
        for _ in range(min(check_every, max_iter - iterations)):
            count = count + xp.astype(~done, xp.int64)
            if linear:
                spread = distress - previous
                done = done | ~xp.any(spread > tol, axis=-1)
            else:
                spread = xp.where(distressed, distress, 0.0)
                done = done | ~xp.any(distressed, axis=-1)
            keep = done[..., None]
            step = xp.minimum(distress + (impact @ spread[..., None])[..., 0], 1.0)
            previous = xp.where(keep, previous, distress)
            if not linear:
                inactive = xp.where(keep, inactive, inactive | distressed)
                distressed = xp.where(keep, distressed, (step > 0.0) & ~inactive)
            distress = xp.where(keep, distress, step)
            iterations += 1
        if bool(xp.all(done)):
            break

    loss = xp.sum(distress * xp.where(solvent, equity, 0.0), axis=-1)
    return DebtRankResult(
        distress=distress,
        loss=loss,
        converged=all_finite(xp, done & ok, (distress, 1), (loss, 0)),
        iterations=int(xp.max(count)) if prod(batch) else 0,
    )
