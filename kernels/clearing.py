"""Clearing of a network of nominal liabilities: Eisenberg–Noe and Rogers–Veraart, batched.

Given what each institution owes each other one, ``L[..., i, j]``, and its assets outside the
network, ``e[..., i]``, the clearing vector says what each one actually pays when some cannot pay
in full. With total obligations ``pbar_i = sum_j L_ij`` and relative liabilities
``Pi_ij = L_ij / pbar_i``, institution i receives ``(Pi^T p)_i = sum_j Pi_ji p_j`` and pays

- Eisenberg & Noe (2001), "Systemic risk in financial systems", Management Science 47(2):
  ``p_i = min(pbar_i, max(0, e_i + (Pi^T p)_i))`` (limited liability, absolute priority,
  proportional sharing among creditors);
- Rogers & Veraart (2013), "Failure and rescue in an interbank network", Management Science
  59(4): a solvent institution (``e_i + (Pi^T p)_i >= pbar_i``) pays ``pbar_i``; a defaulter pays
  only ``alpha * e_i + beta * (Pi^T p)_i`` (default costs ``1 - alpha`` on external assets and
  ``1 - beta`` on interbank claims). With ``alpha = beta = 1`` this is Eisenberg–Noe.

The map ``p -> Phi(p)`` is monotone, so Picard iteration from ``p = pbar`` decreases
monotonically to the **greatest** clearing vector (Eisenberg & Noe 2001, Thm 2; Rogers &
Veraart 2013, §3). Each iteration is one batched matrix–vector product, no linear solve, so it
runs unchanged on NumPy, CuPy or any array-API namespace. A world is converged when no payment
moved by more than ``tol`` times the largest obligation in that world; it is then frozen, so a
world's result does not depend on the batch around it. The host checks once every
``check_every`` iterations.

Picard converges geometrically at the spectral radius of ``beta * Pi`` restricted to the
defaulters, which is slow on nearly closed cycles of defaulters. ``method="fictitious_default"``
adds, at every iteration, the exact payments for the current default set — the linear system
``p_i = alpha e_i + beta (Pi^T p)_i`` for defaulters, ``p_i = pbar_i`` otherwise (Eisenberg & Noe
2001, §3 "fictitious default algorithm"; Rogers & Veraart 2013, Algorithm GA). Because the
default set only grows, each exact solution is an upper bound of the greatest clearing vector, so
the iteration keeps ``min(Picard step, exact step)`` and ends on the exact vector once the
default set is complete, after at most N + 1 distinct sets. Each step is a batched
``linalg.solve``, O(N^3) per world: use it for exact answers on networks of up to a few hundred
institutions. Where a system is singular (a closed ring of defaulters with ``beta = 1``) the
step is skipped and Picard carries on.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kernels.backend import array_namespace, cast_inputs, default_check_every
from kernels.validation import batch_shape, check_fraction, check_limits, square_batch

METHODS = ("picard", "fictitious_default")


class ClearingResult(NamedTuple):
    """Outcome of ``eisenberg_noe``.

    Attributes:
        payments: (..., N) what each institution pays in total (the greatest clearing vector).
        defaulted: (..., N) bool, pays less than it owes (``e + received < owed``).
        converged: (...) bool, the iteration reached ``tol`` in that world.
        iterations: iterations run until the last world converged (``max_iter`` if one never did).
        owed: (..., N) total nominal obligations ``pbar``.
        received: (..., N) what each institution receives from the others at ``payments``.
    """

    payments: Any
    defaulted: Any
    converged: Any
    iterations: int
    owed: Any
    received: Any


def eisenberg_noe(
    liabilities: Any,
    external_assets: Any,
    *,
    default_cost_external: float | Any = 1.0,
    default_cost_interbank: float | Any = 1.0,
    tol: float = 1e-10,
    max_iter: int | None = None,
    check_every: int | None = None,
    method: str = "picard",
) -> ClearingResult:
    """Greatest clearing vector of a liability network (Eisenberg–Noe / Rogers–Veraart).

    Args:
        liabilities: (..., N, N) with ``L[..., i, j]`` the nominal amount i owes j (>= 0).
        external_assets: (..., N) assets outside the network (>= 0).
        default_cost_external: alpha, the share of external assets a defaulter passes on
            (scalar or (..., N)); 1.0 means no default cost.
        default_cost_interbank: beta, the share of interbank claims a defaulter passes on.
        tol: relative tolerance on the change of payments between iterations.
        max_iter: most iterations; default ``max(1000, 20 * N)``.
        check_every: iterations between host-side convergence checks; default 1 on NumPy,
            8 on devices.
        method: ``"picard"`` (matrix–vector products only) or ``"fictitious_default"``
            (adds an exact solve per default set; see the module docstring).

    Returns:
        ClearingResult in the namespace and dtype of ``liabilities``.
    """
    check_limits(max_iter, check_every)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    alpha, beta = default_cost_external, default_cost_interbank
    xp = array_namespace(liabilities, external_assets, alpha, beta)
    n = square_batch("liabilities", liabilities)
    batch = batch_shape(
        ("liabilities", liabilities, 2),
        {
            "external_assets": (external_assets, n, "N", False),
            "default_cost_external": (alpha, n, "N", True),
            "default_cost_interbank": (beta, n, "N", True),
        },
    )
    check_fraction(xp, "default_cost_external", alpha)
    check_fraction(xp, "default_cost_interbank", beta)
    check_every = default_check_every(xp) if check_every is None else check_every
    max_iter = max(1000, 20 * n) if max_iter is None else max_iter
    dtype, device = liabilities.dtype, liabilities.device
    external_assets, alpha, beta = cast_inputs(xp, dtype, external_assets, alpha, beta)
    tol = max(float(tol), 64.0 * float(xp.finfo(dtype).eps))

    owed = xp.sum(liabilities, axis=-1) + xp.zeros((*batch, n), dtype=dtype, device=device)
    relative = liabilities / xp.where(owed > 0.0, owed, 1.0)[..., None]
    external = external_assets + xp.zeros_like(owed)
    scale = xp.max(owed, axis=-1, keepdims=True) + 1.0  # change that counts as movement

    payments = owed
    done = xp.zeros(batch, dtype=xp.bool, device=device)
    count = xp.zeros(batch, dtype=xp.int64, device=device)
    iterations = 0
    while iterations < max_iter:
        for _ in range(min(check_every, max_iter - iterations)):
            received = (payments[..., None, :] @ relative)[..., 0, :]
            solvent = external + received >= owed
            pays = xp.where(solvent, owed, xp.maximum(alpha * external + beta * received, 0.0))
            pays = xp.minimum(pays, owed)
            if method == "fictitious_default":
                pays = _exact_step(xp, relative, external, owed, ~solvent, alpha, beta, pays)
            moved = xp.max(xp.abs(pays - payments), axis=-1, keepdims=True) > tol * scale
            count = count + xp.astype(~done, xp.int64)
            done = done | ~moved[..., 0]
            payments = xp.where(done[..., None], payments, pays)
            iterations += 1
        if bool(xp.all(done)):
            break

    received = (payments[..., None, :] @ relative)[..., 0, :]
    return ClearingResult(
        payments=payments,
        defaulted=external + received < owed,
        converged=done,
        iterations=int(xp.max(count)),
        owed=owed,
        received=received,
    )


def _exact_step(
    xp: Any,
    relative: Any,
    external: Any,
    owed: Any,
    defaulters: Any,
    alpha: Any,
    beta: Any,
    picard: Any,
) -> Any:
    """``min(picard, exact payments for this default set)``, or ``picard`` where no exact step.

    Rows of defaulters read ``p_i - beta_i sum_j Pi_ji p_j = alpha_i e_i``; the others
    ``p_i = pbar_i``. Worlds whose system is singular (NaN or infinite solution) keep ``picard``.
    """
    n = owed.shape[-1]
    eye = xp.eye(n, dtype=owed.dtype, device=owed.device)
    beta_rows = beta[..., None] if hasattr(beta, "ndim") and beta.ndim else beta
    system = eye - xp.where(defaulters[..., None], beta_rows * xp.matrix_transpose(relative), 0.0)
    rhs = xp.where(defaulters, alpha * external, owed)
    try:
        exact = xp.linalg.solve(system, rhs[..., None])[..., 0]
    except Exception:  # NumPy raises LinAlgError if any world's system is singular
        return picard
    usable = xp.all(xp.isfinite(exact), axis=-1, keepdims=True)
    exact = xp.minimum(xp.maximum(xp.where(usable, exact, picard), 0.0), owed)
    return xp.minimum(picard, exact)
