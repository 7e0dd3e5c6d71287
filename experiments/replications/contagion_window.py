"""The analytic contagion window of the overlapping-portfolio model: a branching-process condition.

Caccioli, Shrestha, Moore & Farmer (2014), J. Banking & Finance 46: 233–245 (arXiv:1210.5987;
"CSMF" below) analyse the cascade as a *generalized branching process* on the bipartite graph of
banks and the assets they hold: a failed bank liquidates, the prices of its assets fall, a holder
that one such fall ruins is *vulnerable*, and contagion can reach a finite share of an infinite
system iff one failure causes on average more than one further failure. Their model, as
:mod:`experiments.replications.overlapping_portfolios` implements it: bank i holds ``Q_ij`` units
of asset j, assets ``A_i = sum_j Q_ij p_j``, equity ``E_i = A_i - L_i``, leverage
``lambda = A_i / E_i``, failure at ``E_i <= 0``, and the price after a share ``x_j`` of asset j is
liquidated ``p_j = exp(-alpha x_j)``. **Equation numbers:** the paper's text past its abstract
could not be read in this session (the stored copies reachable give the abstract only), so its
equations are not quoted by number; the condition below is derived from the model above and the
standard results it rests on, named at each step, and is the paper's *method* applied to our
set-up, not a copy of its formulas or of its plotted edges.

Set-up (N = M, a large system): each bank holds each asset with probability ``mu / M``, so bank
degrees and asset degrees are both Poisson(mu) (``mu = mu_b = mu_a``); a bank of degree d holds
``1/d`` of value in each asset (assets normalised to 1 at price 1), equity ``1 / lambda``.

1. *Size-biased degrees* (Newman, Strogatz & Watts 2001, Phys. Rev. E 64: 026118, on bipartite
   random graphs; for Poisson degrees the excess degree is again Poisson): a bank reached along
   a holding has degree ``d = 1 + K``, ``K ~ Poisson(mu)``, so
   ``P(d) = e^-mu mu^(d-1) / (d-1)!``; an asset reached along a holding has ``m ~ Poisson(mu)``
   *other* holders.
2. *Mean holding of another holder*:
   ``h = E[1/d] = sum_k e^-mu mu^k / (k+1)! = (1 - e^-mu) / mu``.
3. *Share of the asset liquidated* when a type-d bank fails and the asset has m other holders
   (mean field in the others' holdings): ``x(d, m) = (1/d) / (1/d + m h)``.
4. *Price fall* (CSMF's impact function): ``1 - p = 1 - exp(-alpha x(d, m))``.
5. *Vulnerability*: a holder of degree d' loses ``(1/d') (1 - p)`` of assets 1 and fails iff that
   is at least its equity ``1 / lambda``: ``v(d, m, d') = [lambda (1 - exp(-alpha x)) >= d']``.
6. *Mean-offspring matrix* (type = degree of the failed bank; it passes the fall on through its
   ``d - 1`` other assets): ``T[d, d'] = (d - 1) sum_m P(m) m P(d') v(d, m, d')``.
7. *Condition*: a multi-type Galton–Watson process survives with positive probability iff the
   spectral radius of its mean matrix exceeds 1 (Harris 1963, *The Theory of Branching
   Processes*, ch. II, for a positively regular T): contagion is possible iff ``rho(T) > 1``.

Its two ends are the two edges of CSMF's window:

- **lower edge (percolation)**: as ``lambda -> inf`` every holder is vulnerable, ``v = 1``, and
  ``T[d, d'] = (d - 1) mu P(d')`` has radius ``E[d - 1] mu = mu_b mu_a = mu^2``: no cascade
  spreads below ``mu_b mu_a = 1`` (the giant component of the bipartite graph, Newman et al.
  2001), so below ``mu = 1`` at any leverage;
- **upper edge (dilution)**: as mu grows, ``m h -> 1`` and ``x(d, m) -> 1 / (d + 1)`` with
  ``d ~ mu``, so the fall ``~ alpha / mu`` shrinks while the holders' degree d' grows like mu;
  (5) then needs ``lambda alpha / mu >~ mu``: the typical holder stops being vulnerable once mu
  passes about ``sqrt(alpha lambda)``. The edge itself lies further out, where the low-degree
  holders of the Poisson tail no longer keep ``rho(T)`` above 1; it has no closed form and is
  found numerically (``window``).

Only single-failure vulnerability counts (a first-order, linear condition); a bank that fails
after two or more devaluations is beyond it, so in a finite system the simulated window can
extend past the analytic edges where such paths are not rare.

``asset_cascade_radius`` relaxes step 5 within one asset: a holder that the failed bank's sale
kills also sells its slice of that same asset, so ``x`` grows to ``(1/d + s) / (1/d + u)``, with
u the units of the asset's other holders (a sampled sum of their ``1/d''``, not the mean field of
step 3) and s those of the holders that have failed; the fall deepens for the other holders, who
may fail in turn (the repeated hits that the first-order condition leaves out), until no further
holder of the asset fails. ``T[d, d']`` then counts every type-d' holder that this cascade inside
the asset kills, each passing the contagion on through its other ``d' - 1`` assets; across
assets it is still one branching generation per failure (a bank hit by two different assets is
not counted), and step 7 is unchanged. The cascade inside an asset has no closed form over
random holders, so its mean is taken over sampled assets (a fixed seed: the same radius at every
call).
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

    The steps are those of the module docstring.
    """
    k = _degrees(mu)
    d = k + 1  # (1) size-biased bank degree: 1 + Poisson(mu)
    p_d = poisson.pmf(k, mu)
    m = k  # (1) other holders of an asset: Poisson(mu)
    p_m = poisson.pmf(m, mu)
    mean_holding = (1.0 - np.exp(-mu)) / mu  # (2)
    units = 1.0 / d[:, None] + m[None, :] * mean_holding  # (3) the asset's units, (d, m)
    fall = 1.0 - np.exp(-alpha / (d[:, None] * units))  # (4) when a type-d bank sells
    vulnerable = leverage * fall[:, :, None] / d[None, None, :] >= 1.0  # (5), (d, m, d')
    weight = (p_m * m)[None, :, None] * p_d[None, None, :]
    t = (d - 1.0)[:, None] * (vulnerable * weight).sum(axis=1)  # (6), (d, d')
    return float(np.max(np.abs(np.linalg.eigvals(t))))  # (7)


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


def peak_radius(
    leverage: float,
    alpha: float,
    grid: np.ndarray,
    radius: Callable[[float, float, float], float] = offspring_radius,
) -> tuple[float, float]:
    """The largest radius over the mu_b grid at a leverage, and the mu_b where it is reached.

    Where there is no window (all radii at most 1) it says how far the leverage is from one.
    """
    radii = np.asarray([radius(mu, leverage, alpha) for mu in grid])
    i = int(radii.argmax())
    return float(radii[i]), float(grid[i])


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
