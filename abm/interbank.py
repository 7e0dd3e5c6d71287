"""The interbank network: who lends to whom among the banks (issue 14).

Public data stop at aggregates: each bank's interbank assets and liabilities
(``banks.exposures.interbank_share`` of its total assets, Fed H.8 and ECB BSI) but not the
bilateral exposures. The rule fills in the blanks with the structure found wherever the
bilateral data are known: a **core-periphery** network (Craig & von Peter 2014, "Interbank
tiering and money center banks", Journal of Financial Intermediation 23(3): in the German
interbank market a core of about 45 of 1,800 banks lends to each other densely, and every
periphery bank trades with one or a few core banks and not with other periphery banks; Anand,
Craig & von Peter 2015, "Filling in the blanks: network structure and interbank contagion",
Quantitative Finance 15(4): the minimum-density fill of the same marginals reproduces that
sparse tiered structure, whereas the maximum-entropy fill spreads every bank's exposures over
all others and understates contagion).

The rule (parameters in ``[banks.exposures]``; each bank's marginal ``m`` is its interbank
share times its assets, owed and owned alike):

1. the ``interbank_core_banks`` largest banks by assets form the core (extended by the next
   largest while the core holds less than half of all banks' assets, so that it can carry the
   periphery's flows); core banks may lend to every other core bank;
2. every other bank (the periphery) lends to and borrows from ``interbank_links_per_periphery``
   core banks and no periphery bank. Each core bank takes periphery business up to a load in
   proportion to its own marginal; periphery banks, largest first, pick the core banks with the
   largest remaining load times home weight and split their marginal over them in proportion
   to it, the same amount each way. The home weight is ``interbank_home_bias`` for a core bank
   of the bank's own region (US, EU) and ``1 - interbank_home_bias`` for one of the other;
3. what each core bank's marginal leaves is lent among the core: the prior ``r_i r_j w_ij``
   (residuals times home weight, zero diagonal) scaled by iterative proportional fitting (RAS;
   Bacharach 1970, the fill of Upper 2011, J. Financial Stability 7(3)) until every core bank's
   row sum (borrowing) and column sum (lending) meet its residual.

Every bank's interbank assets and liabilities stay at today's marginals, so the opening balance
sheets keep their totals; a failed bank's loss falls on its own lenders through the clearing of
:mod:`abm.failures` (the ledger's bilateral pool, :class:`abm.ledger.BilateralPool`).
"""

from __future__ import annotations

import numpy as np

#: RAS stops when every marginal is met to this share of the bank's marginal
RAS_TOLERANCE = 1e-12
RAS_MAX_SWEEPS = 10_000


def core_of(assets: np.ndarray, core_banks: int) -> np.ndarray:
    """Positions of the core banks (rule 1 of the module docstring).

    The ``core_banks`` largest, extended by the next largest while the core holds less than
    half of all banks' assets (it must carry the periphery).
    """
    order = np.argsort(-assets, kind="stable")
    core = order[: min(max(core_banks, 3), len(assets))]
    while 2.0 * assets[core].sum() < assets.sum():
        core = order[: len(core) + 1]
    return core


def periphery_links(
    marginal: np.ndarray, core: np.ndarray, home: np.ndarray, links: int
) -> np.ndarray:
    """(B, B) the periphery's symmetric exposures to the core, USD bn: ``x[i, j]`` = ``x[j, i]``.

    Each core bank takes periphery business up to a load in proportion to its own marginal
    (``marginal`` (B,), USD bn): the periphery's total over the core's. Periphery banks, largest
    first, each split their marginal over the ``links`` core banks with the largest remaining
    load x home weight, in proportion to it.
    """
    b = len(marginal)
    x = np.zeros((b, b))
    periphery = np.setdiff1d(np.arange(b), core)
    load = marginal[core] * marginal[periphery].sum() / marginal[core].sum()
    for i in periphery[np.argsort(-marginal[periphery], kind="stable")]:
        score = np.maximum(load, 0.0) * home[i, core] + 1e-12 * marginal[core]
        pick = np.argsort(-score, kind="stable")[: min(max(links, 1), len(core))]
        amount = marginal[i] * score[pick] / score[pick].sum()
        load[pick] -= amount
        x[i, core[pick]] = x[core[pick], i] = amount
    return x


def core_links(residual: np.ndarray, core: np.ndarray, home: np.ndarray) -> np.ndarray:
    """(C, C) the core's exposures to each other, USD bn: row and column sums ``residual`` (C,).

    Iterative proportional fitting (RAS; Bacharach 1970, the fill of Upper 2011) of the prior
    ``r_i r_j w_ij`` with a zero diagonal; raises if the residuals cannot be met.
    """
    if residual.min() < 0.0 or 2.0 * residual.max() > residual.sum():
        raise ValueError("the interbank core cannot carry the banks' marginals")
    x = np.outer(residual, residual) * home[np.ix_(core, core)]
    np.fill_diagonal(x, 0.0)
    scale = residual.max() + 1e-300
    for _ in range(RAS_MAX_SWEEPS):
        x *= (residual / np.maximum(x.sum(axis=1), 1e-300))[:, None]
        x *= (residual / np.maximum(x.sum(axis=0), 1e-300))[None, :]
        if np.abs(x.sum(axis=1) - residual).max() < RAS_TOLERANCE * scale:
            return x
    raise ValueError("the interbank core cannot carry the banks' marginals")


def interbank_network(
    assets: np.ndarray,
    regions: list[str],
    share: float,
    core_banks: int,
    links: int,
    home_bias: float,
) -> list[tuple[int, int, float]]:
    """Edges ``(borrower, lender, USD bn)`` in bank order, the rule of the module docstring.

    Each bank owes and owns ``share`` of its assets (``assets`` (B,), USD bn).
    """
    assets = np.asarray(assets, dtype=float)
    region = np.array(regions)
    home = np.where(region[:, None] == region[None, :], home_bias, 1.0 - home_bias)
    marginal = share * assets
    core = core_of(assets, core_banks)
    x = periphery_links(marginal, core, home, links)
    x[np.ix_(core, core)] = core_links(marginal[core] - x[core].sum(axis=1), core, home)
    rows, cols = np.nonzero(x)
    return [(int(i), int(j), float(x[i, j])) for i, j in zip(rows, cols, strict=True)]
