"""Per-node reference for DebtRank (linear and original), one world, plain Python loops.

- Linear DebtRank (Bardoscia et al. 2015, eq. 3): ``Lambda_ij = W_ij / E_i``, ``h(0) = 0``,
  ``h(1) = shock``, ``h_i(t+1) = min(1, h_i(t) + sum_j Lambda_ij (h_j(t) - h_j(t-1)))``, run
  until no distress rises by more than ``tol``.
- Original DebtRank (Battiston et al. 2012): impacts ``min(1, W_ij / E_i)``; states
  Undistressed / Distressed / Inactive; nodes with positive initial distress start Distressed;
  ``h_i(t) = min(1, h_i(t-1) + sum_{j Distressed at t-1} impact_ij h_j(t-1))``; a Distressed
  node turns Inactive after one round; an Undistressed node whose distress became positive turns
  Distressed. Ends when no node is Distressed.

Institutions with non-positive equity are already failed: distress 1 from the start, no impacts
on them (their row is zero), and their equity counts as zero in the loss. ``loss`` is
``sum_i h_i * max(E_i, 0)``, the initial shock included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

UNDISTRESSED, DISTRESSED, INACTIVE = "U", "D", "I"


def debtrank_loop(
    exposures: Any,
    equity: Any,
    shock: Any,
    *,
    linear: bool = True,
    tol: float = 1e-15,
    max_rounds: int = 100_000,
) -> dict[str, Any]:
    """DebtRank of one network, node by node.

    Args:
        exposures: (N, N), ``W[i, j]`` what i loses if j defaults.
        equity: (N,).
        shock: (N,) initial relative equity loss (clipped to [0, 1]).
        linear: linear DebtRank or the original.
        tol: linear only: stop after a round in which no distress rose by more than ``tol``.
        max_rounds: safety bound.

    Returns:
        dict with ``distress`` (N,) float64, ``loss`` float and ``iterations`` (rounds in which
        distress was propagated).
    """
    W = np.asarray(exposures, dtype=np.float64)
    n = W.shape[0]
    assert W.shape == (n, n), W.shape
    E = [float(v) for v in np.asarray(equity, dtype=np.float64)]
    s = [float(v) for v in np.asarray(shock, dtype=np.float64)]
    assert len(E) == n and len(s) == n

    failed = [E[i] <= 0.0 for i in range(n)]
    impact = [[0.0] * n for _ in range(n)]
    for i in range(n):
        if failed[i]:
            continue
        for j in range(n):
            value = float(W[i, j]) / E[i]
            impact[i][j] = value if linear else min(1.0, value)
    h = [1.0 if failed[i] else min(max(s[i], 0.0), 1.0) for i in range(n)]

    iterations = 0
    if linear:
        previous = [0.0] * n
        while iterations < max_rounds:
            increase = [h[j] - previous[j] for j in range(n)]
            if max(increase, default=0.0) <= tol:
                break
            new = [
                min(1.0, h[i] + sum(impact[i][j] * increase[j] for j in range(n))) for i in range(n)
            ]
            previous, h = h, new
            iterations += 1
    else:
        state = [DISTRESSED if h[i] > 0.0 else UNDISTRESSED for i in range(n)]
        while any(st == DISTRESSED for st in state) and iterations < max_rounds:
            new = [
                min(
                    1.0,
                    h[i] + sum(impact[i][j] * h[j] for j in range(n) if state[j] == DISTRESSED),
                )
                for i in range(n)
            ]
            next_state = []
            for i in range(n):
                if state[i] == DISTRESSED or state[i] == INACTIVE:
                    next_state.append(INACTIVE)
                elif new[i] > 0.0:
                    next_state.append(DISTRESSED)
                else:
                    next_state.append(UNDISTRESSED)
            h, state = new, next_state
            iterations += 1

    loss = sum(h[i] * max(E[i], 0.0) for i in range(n))
    return {"distress": np.array(h), "loss": loss, "iterations": iterations}
