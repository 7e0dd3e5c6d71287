"""Per-agent reference for clearing: the fictitious-default (greatest clearing vector) algorithm.

Written independently of ``kernels.clearing`` (which runs a batched Picard iteration): for ONE
world, start with nobody in default, solve *exactly* for the payments given the current default
set, recompute who defaults at those payments, and repeat until the set stops growing
(Eisenberg & Noe 2001, §3 "fictitious default algorithm"; Rogers & Veraart 2013, §3.2, the
"Greatest Clearing Vector Algorithm"). With ``alpha = beta = 1`` it is Eisenberg–Noe.

Given a default set D, a solvent institution pays what it owes, ``pbar_i``; a defaulter pays
``alpha_i * e_i + beta_i * sum_j Pi_ji p_j``. Writing the defaulters' equations out,

    p_i - beta_i * sum_{j in D} Pi_ji p_j = alpha_i e_i + beta_i * sum_{j not in D} Pi_ji pbar_j

is a |D| x |D| linear system, built here with Python loops and solved with
``numpy.linalg.solve``. The default set only grows, so there are at most N + 1 rounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _per_node(value: Any, n: int, name: str) -> list[float]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return [float(arr)] * n
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},); got {arr.shape}")
    return [float(v) for v in arr]


def clearing_loop(
    liabilities: Any,
    external_assets: Any,
    *,
    default_cost_external: Any = 1.0,
    default_cost_interbank: Any = 1.0,
) -> dict[str, np.ndarray]:
    """Greatest clearing vector of one network (Eisenberg–Noe / Rogers–Veraart), per agent.

    Args:
        liabilities: (N, N), ``L[i, j]`` what i owes j.
        external_assets: (N,).
        default_cost_external: alpha, scalar or (N,).
        default_cost_interbank: beta, scalar or (N,).

    Returns:
        dict with float64 ``payments``, bool ``defaulted`` (``e + received < owed``),
        ``owed`` and ``received`` (all shape (N,)) and ``rounds`` (default-set updates).
    """
    L = np.asarray(liabilities, dtype=np.float64)
    n = L.shape[0]
    assert L.shape == (n, n), L.shape
    e = [float(v) for v in np.asarray(external_assets, dtype=np.float64)]
    assert len(e) == n
    alpha = _per_node(default_cost_external, n, "default_cost_external")
    beta = _per_node(default_cost_interbank, n, "default_cost_interbank")

    owed = [sum(float(L[i, j]) for j in range(n)) for i in range(n)]
    # share[j][i]: the share of j's payments that goes to i (Pi_ji)
    share = [
        [float(L[j, i]) / owed[j] if owed[j] > 0.0 else 0.0 for i in range(n)] for j in range(n)
    ]

    def receipts(pay: list[float]) -> list[float]:
        return [sum(share[j][i] * pay[j] for j in range(n)) for i in range(n)]

    defaulted: set[int] = set()
    payments = list(owed)
    rounds = 0
    while True:
        rounds += 1
        # solve for the payments given the default set
        members = sorted(defaulted)
        payments = list(owed)
        if members:
            index = {i: k for k, i in enumerate(members)}
            m = len(members)
            a = np.zeros((m, m))
            b = np.zeros(m)
            for i in members:
                row = index[i]
                a[row, row] += 1.0
                b[row] = alpha[i] * e[i]
                for j in range(n):
                    if share[j][i] == 0.0:
                        continue
                    if j in index:
                        a[row, index[j]] -= beta[i] * share[j][i]
                    else:
                        b[row] += beta[i] * share[j][i] * owed[j]
            solution = np.linalg.solve(a, b)
            for i in members:
                payments[i] = min(max(float(solution[index[i]]), 0.0), owed[i])
        received = receipts(payments)
        new = {i for i in range(n) if e[i] + received[i] < owed[i]}
        if new <= defaulted:
            break
        defaulted |= new
        if rounds > n + 1:  # cannot happen: the set grows by at least one each round
            raise RuntimeError("fictitious default did not terminate")

    received = receipts(payments)
    return {
        "payments": np.array(payments),
        "defaulted": np.array([e[i] + received[i] < owed[i] for i in range(n)], dtype=bool),
        "owed": np.array(owed),
        "received": np.array(received),
        "rounds": rounds,
    }
