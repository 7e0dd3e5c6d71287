"""The analytic contagion window of the overlapping-portfolio model: a branching-process condition.

Caccioli, Shrestha, Moore & Farmer (2014), J. Banking & Finance 46: 233–245 (arXiv:1210.5987),
analyse the cascade as a generalized branching process on the bipartite holdings graph: a failed
bank devalues its assets, each devalued asset can fail further holders, and contagion can spread
to a finite share of an infinite system iff one failure causes on average more than one further
failure (the mean-offspring condition of a branching process; in random networks the condition of
Watts 2002, PNAS 99(9): 5766, and Gai & Kapadia 2010, Proc. R. Soc. A 466: 2401). The paper's
own equations were not at hand when this module was written, so the condition is derived below
for our set-up rather than copied. Its two ends are the two edges of the paper's window:

- **lower edge (percolation)**: with few holdings the graph falls apart; even if every bank were
  vulnerable, one failure reaches on average ``mu_b * mu_a`` further banks (for Poisson degrees),
  so no cascade spreads below ``mu_b mu_a = 1`` (``mu_b = 1`` when N = M);
- **upper edge (dilution)**: with many holdings each bank owns a small slice of each asset and
  each asset has many holders, so one bank's sale moves a price by little and costs each holder
  too little to exhaust its equity: banks stop being *vulnerable* to a single failure.

Derived here for our set-up (``overlapping_portfolios``: N = M, each bank holds each asset with
probability ``mu / M``, splits assets of 1 equally over its d holdings, equity ``1 / leverage``,
exponential impact ``p = exp(-alpha x)`` on the share x of an asset sold), in the limit of a large
system:

- following a holding from an asset to a bank, the bank's degree is ``d = 1 + Poisson(mu)``
  (size-biased); from a bank to an asset, the asset's other holders number ``m ~ Poisson(mu)``;
- a failed bank of degree d sells its ``1/d`` units of each asset; the asset's units are
  ``Q = 1/d + m h`` with ``h = E[1/d] = (1 - exp(-mu)) / mu`` the mean holding of the others
  (mean field in the others' holdings); the price falls by ``1 - exp(-alpha / (d Q))``;
- a holder of degree d' loses ``(1 - exp(-alpha / (d Q))) / d'`` and fails (equity <= 0) iff that
  is at least ``1 / leverage``;
- with the failed bank's degree as its type, one type-d failure causes on average
  ``T[d, d'] = (d - 1) sum_m P(m) m P(d') [vulnerable(d, m, d')]`` failures of type d'
  (a multi-type branching process; ``d - 1`` assets besides the one it was reached through), and
  contagion is possible iff the spectral radius of T exceeds 1.

Only single-failure vulnerability counts (a first-order, linear condition, as in the papers); a
bank that fails after two or more devaluations is beyond it, so in a finite system the simulated
window can extend past the analytic edges where such paths are not rare.

``asset_cascade_radius`` relaxes the first-order step within one asset: a holder that the failed
bank's sale kills also sells its slice of that same asset, which deepens the fall for the other
holders, who may fail in turn (the repeated hits that the first-order condition leaves out). The
offspring of a type-d failure are then all the holders that the cascade inside the asset kills,
each passing the contagion on through its other d' - 1 assets; across assets it is still one
branching generation per failure (a bank hit by two different assets is not counted). The
cascade inside an asset has no closed form over random holders, so its mean is taken over sampled
assets (a fixed seed: the same radius at every call).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import poisson


def _degrees(mu: float) -> np.ndarray:
    """Degrees 0..K covering all but a negligible tail of Poisson(mu) (K >= 30)."""
    return np.arange(int(mu + 12.0 * np.sqrt(mu) + 30.0))


def offspring_radius(mu: float, leverage: float, alpha: float) -> float:
    """Spectral radius of the mean-offspring matrix T at diversification mu and a leverage.

    Args:
        mu: mean holdings per bank mu_b (= mean holders per asset mu_a, as N = M).
        leverage: assets / equity of every bank.
        alpha: exponential price-impact coefficient.
    """
    k = _degrees(mu)
    d = k + 1  # size-biased bank degree: 1 + Poisson(mu)
    p_d = poisson.pmf(k, mu)
    m = k  # other holders of an asset: Poisson(mu)
    p_m = poisson.pmf(m, mu)
    mean_holding = (1.0 - np.exp(-mu)) / mu
    units = 1.0 / d[:, None] + m[None, :] * mean_holding  # (d, m)
    fall = 1.0 - np.exp(-alpha / (d[:, None] * units))  # price fall when a type-d bank sells
    vulnerable = leverage * fall[:, :, None] / d[None, None, :] >= 1.0  # (d, m, d')
    weight = (p_m * m)[None, :, None] * p_d[None, None, :]
    t = (d - 1.0)[:, None] * (vulnerable * weight).sum(axis=1)  # (d, d')
    return float(np.max(np.abs(np.linalg.eigvals(t))))


def asset_cascade_radius(
    mu: float, leverage: float, alpha: float, samples: int = 2000, seed: int = 0
) -> float:
    """Spectral radius of the mean-offspring matrix with the cascade inside each asset.

    Args:
        mu: mean holdings per bank mu_b (= mean holders per asset mu_a, as N = M).
        leverage: assets / equity of every bank.
        alpha: exponential price-impact coefficient.
        samples: sampled assets (each with Poisson(mu) other holders of size-biased degrees).
        seed: seed of the sampled assets.
    """
    rng = np.random.default_rng(seed)
    k = _degrees(mu)
    d = k + 1
    others = rng.poisson(mu, samples)  # other holders of the asset
    width = max(int(others.max()), 1)
    held = np.arange(width)[None, :] < others[:, None]  # (S, H)
    degree = np.minimum(1 + rng.poisson(mu, (samples, width)), d[-1])  # size-biased, (S, H)
    holding = np.where(held, 1.0 / degree, 0.0)
    units = holding.sum(axis=1)
    t = np.zeros((d.size, d.size))
    for row, seller in enumerate(d):
        failed = np.zeros_like(held)
        while True:  # failures only grow with the sale, so this ends within H rounds
            sold = 1.0 / seller + (holding * failed).sum(axis=1)
            fall = 1.0 - np.exp(-alpha * sold / (1.0 / seller + units))
            now = held & (leverage * fall[:, None] / degree >= 1.0)
            if np.array_equal(now, failed):
                break
            failed = now
        t[row] = (seller - 1.0) * np.bincount(degree[failed] - 1, minlength=d.size) / samples
    return float(np.max(np.abs(np.linalg.eigvals(t))))


def window(
    leverage: float,
    alpha: float,
    grid: np.ndarray | None = None,
    radius: Callable[[float, float, float], float] = offspring_radius,
) -> tuple[float, float] | None:
    """The analytic window (lower edge, upper edge) in mu_b, or None when there is none.

    The edges are the crossings of ``radius = 1`` on a log grid (by default 0.2 to 100, 2%
    steps), located by linear interpolation of the radius between grid points; ``radius`` is
    ``offspring_radius`` (first order) or ``asset_cascade_radius``.
    """
    mus = np.exp(np.arange(np.log(0.2), np.log(100.0), 0.02)) if grid is None else grid
    radii = np.asarray([radius(mu, leverage, alpha) for mu in mus])
    above = np.flatnonzero(radii > 1.0)
    if above.size == 0:
        return None

    def crossing(i: int, j: int) -> float:
        r0, r1 = radii[i] - 1.0, radii[j] - 1.0
        t = r0 / (r0 - r1)
        return float(np.exp(np.log(mus[i]) + t * (np.log(mus[j]) - np.log(mus[i]))))

    first, last = int(above[0]), int(above[-1])
    lower = crossing(first - 1, first) if first > 0 else float(mus[0])
    upper = crossing(last, last + 1) if last + 1 < mus.size else float(mus[-1])
    return lower, upper


def critical_leverage(
    alpha: float,
    low: float = 1.0,
    high: float = 100.0,
    grid: np.ndarray | None = None,
    radius: Callable[[float, float, float], float] = offspring_radius,
    precision: float = 0.005,
) -> float:
    """The smallest leverage with a window, by bisection to ``precision`` relative.

    The largest radius over mu (by default on a 5%-step grid from 0.5 to 30) grows with
    leverage, since a higher leverage only makes more banks vulnerable, so bisection on leverage
    is valid.
    """
    mus = np.exp(np.arange(np.log(0.5), np.log(30.0), 0.05)) if grid is None else grid

    def unstable(leverage: float) -> bool:
        return any(radius(mu, leverage, alpha) > 1.0 for mu in mus)

    if not unstable(high):
        return float("inf")
    while high / low > 1.0 + precision:
        mid = float(np.sqrt(low * high))
        if unstable(mid):
            high = mid
        else:
            low = mid
    return high
