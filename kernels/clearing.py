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

Exactness: Picard stops on its step size, which on slowly contracting networks (almost everyone
defaults, little leaks out) can leave it ``step / (1 - rho)`` away from the fixed point. Both
methods therefore finish with up to two exact fictitious-default steps for the default set found
and, where the result is a fixed point of the clearing map more than ``tol`` (times the largest
obligation plus one) away from Picard's, return it instead; elsewhere the payments are Picard's,
bit for bit. ``converged`` still says whether Picard (or the exact iteration) met ``tol``.

Bad inputs: ``tol``, ``max_iter``, ``check_every`` and the default costs (NaN or outside [0, 1])
raise a ValueError naming the argument. Worlds whose liabilities are NaN, infinite or negative
(beyond rounding), or whose external assets are NaN or ``-inf``, are left at ``payments = owed``
and reported with ``converged`` False, as is any world whose results are not finite; this is
computed on the device, with no extra host synchronisation. External assets may be negative (a
net external debt) or ``+inf`` (never defaults). Integer and boolean arrays are cast to the first
floating dtype among the inputs, else float64; empty batches (or N = 0) give empty results.
"""

from __future__ import annotations

from math import prod
from typing import Any, NamedTuple

from kernels.backend import array_namespace, cast_inputs, default_check_every
from kernels.validation import (
    all_finite,
    batch_shape,
    check_fraction,
    check_limits,
    check_tol,
    float_dtype,
    square_batch,
    world_ok,
)

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
    tol = check_tol(tol)
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
    dtype = float_dtype(xp, liabilities, external_assets, alpha, beta)
    device = liabilities.device
    liabilities, external_assets, alpha, beta = cast_inputs(
        xp, dtype, liabilities, external_assets, alpha, beta
    )
    tol = max(tol, 64.0 * float(xp.finfo(dtype).eps))

    owed = xp.sum(liabilities, axis=-1) + xp.zeros((*batch, n), dtype=dtype, device=device)
    if n == 0 or prod(batch) == 0:  # nothing to clear
        empty = xp.zeros((*batch, n), dtype=dtype, device=device)
        return ClearingResult(
            payments=empty,
            defaulted=empty > 0.0,
            converged=xp.ones(batch, dtype=xp.bool, device=device),
            iterations=0,
            owed=owed,
            received=empty,
        )
    relative = liabilities / xp.where(owed > 0.0, owed, 1.0)[..., None]
    external = external_assets + xp.zeros_like(owed)
    scale = xp.max(owed, axis=-1, keepdims=True) + 1.0  # change that counts as movement
    # Worlds with NaN or infinite obligations, negative ones beyond rounding, or NaN (or -inf)
    # external assets are bad: frozen at once and reported as not converged (no host sync).
    # External assets may be negative (a net external debt) or +inf (never defaults).
    slack = 64.0 * float(xp.finfo(dtype).eps) * scale[..., None]
    ok = world_ok(
        xp,
        batch,
        device,
        [
            (liabilities, 2, xp.isfinite(liabilities) & (liabilities >= -slack)),
            (external_assets, 1, external_assets > -xp.inf),  # False for NaN and -inf
        ],
    )

    payments = owed
    done = ~ok
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

    payments = _finish_exactly(xp, relative, external, owed, alpha, beta, payments, scale, tol)
    received = (payments[..., None, :] @ relative)[..., 0, :]
    return ClearingResult(
        payments=payments,
        defaulted=external + received < owed,
        converged=all_finite(xp, done & ok, (payments, 1), (received, 1)),
        iterations=int(xp.max(count)),
        owed=owed,
        received=received,
    )


def _finish_exactly(
    xp: Any,
    relative: Any,
    external: Any,
    owed: Any,
    alpha: Any,
    beta: Any,
    payments: Any,
    scale: Any,
    tol: float,
) -> Any:
    """Replace payments that are more than ``tol * scale`` from the exact clearing vector by it.

    Picard stops on its step size, and on nearly closed cycles of defaulters (spectral radius
    rho close to 1) it stops up to ``step / (1 - rho)`` away from the fixed point. Since Picard
    decreases from above, ``payments >= p*``; the defaulters at ``payments`` are a subset of the
    true ones, and the exact payments for a subset are again an upper bound of ``p*`` (the
    fictitious default algorithm). Two such exact steps, each kept as ``min(current, exact)``,
    and a check that the result is a fixed point of the clearing map (then it is ``p*``, the
    greatest one): where it is, and where it lies more than ``tol * scale`` from ``payments``,
    it replaces them. Elsewhere (a singular system, an inconsistent default set, Picard already
    that close) ``payments`` stay as they are, bit for bit. No host synchronisation.
    """
    current = payments
    for _ in range(2):
        received = (current[..., None, :] @ relative)[..., 0, :]
        defaulters = external + received < owed
        exact = _exact_payments(xp, relative, external, owed, defaulters, alpha, beta)
        usable = xp.all(xp.isfinite(exact), axis=-1, keepdims=True)
        exact = xp.minimum(xp.maximum(xp.where(usable, exact, current), 0.0), owed)
        current = xp.minimum(current, exact)
    received = (current[..., None, :] @ relative)[..., 0, :]
    solvent = external + received >= owed
    image = xp.where(solvent, owed, xp.maximum(alpha * external + beta * received, 0.0))
    image = xp.minimum(image, owed)
    fixed = xp.max(xp.abs(image - current), axis=-1, keepdims=True) <= tol * scale
    far = xp.max(xp.abs(current - payments), axis=-1, keepdims=True) > tol * scale
    return xp.where(fixed & far, current, payments)


def _exact_payments(
    xp: Any, relative: Any, external: Any, owed: Any, defaulters: Any, alpha: Any, beta: Any
) -> Any:
    """Exact payments for the default set ``defaulters`` (unclipped); NaN where singular.

    Rows of defaulters read ``p_i - beta_i sum_j Pi_ji p_j = alpha_i e_i``; the others
    ``p_i = pbar_i``. NumPy raises when any world of a batch is singular: then each world is
    solved on its own, and singular ones get NaN.
    """
    n = owed.shape[-1]
    eye = xp.eye(n, dtype=owed.dtype, device=owed.device)
    beta_rows = beta[..., None] if hasattr(beta, "ndim") and beta.ndim else beta
    system = eye - xp.where(defaulters[..., None], beta_rows * xp.matrix_transpose(relative), 0.0)
    rhs = xp.where(defaulters, alpha * external, owed)
    system, rhs = xp.broadcast_to(system, (*rhs.shape, n)), rhs[..., None]
    try:
        exact = xp.linalg.solve(system, rhs)[..., 0]
    except Exception:  # NumPy raises LinAlgError if any world's system is singular
        if system.ndim == 2:
            return xp.full_like(owed, xp.nan)
        flat_system = xp.reshape(system, (-1, n, n))
        flat_rhs = xp.reshape(rhs, (-1, n, 1))
        rows = []
        for world in range(flat_system.shape[0]):
            try:
                rows.append(xp.linalg.solve(flat_system[world, ...], flat_rhs[world, ...])[:, 0])
            except Exception:
                rows.append(xp.full((n,), xp.nan, dtype=owed.dtype, device=owed.device))
        exact = xp.reshape(xp.stack(rows), owed.shape)
    return exact


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
