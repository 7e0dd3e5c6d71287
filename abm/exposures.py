"""Who is exposed to whom: the named counterparties of bank loans, deposits and fund shares.

The opening balance sheets (:mod:`abm.opening_sheets`) say how much each borrower owes the banks
and how much each depositor holds; this module says *at which bank*, as edge lists for the
ledger's bilateral pools (:class:`abm.ledger.BilateralPool`; docs/design.md, "Who is exposed to
whom"). Every rule is deterministic (the same edges in every world and run) and each share has
its source in ``[exposures]`` of the calibration:

- **Syndicated loans to firms and SPVs**: a named syndicate where deal reports name the lenders
  (``[exposures.syndicates.<firm>]``: each named bank's share, the rest held by lenders outside
  the model); otherwise :func:`market_share_syndicate`: ``syndicate_size`` banks drawn by total
  assets, each holding a share in proportion to its assets.
- **Private-credit funds' NAV and subscription lines**: the same market-share rule, per fund.
- **Prime brokerage** (:func:`prime_brokers`): each hedge fund borrows from
  ``prime_brokers_per_fund`` of the prime brokers of ``[exposures.prime_brokerage]``, drawn by
  market share, in proportion to their shares (Archegos had six; most funds use one to three).
- **Hedge funds' and private-credit funds' shares**
  (:meth:`abm.opening_sheets.OpeningSheets.place_fund_investors`): each investor type's share of
  every fund from ``[exposures.fund_investors]``; within a type ``investors_per_fund`` pension
  funds or insurers drawn by the market-share rule, or every cohort of a wealth group.
- **Deposits** (:func:`place_deposits`): households' deposits sit at the US banks in proportion
  to their deposit bases (a retail cohort is a slice of a wealth group and banks everywhere);
  a stablecoin issuer's bank deposits sit at the largest US G-SIBs (:data:`RESERVE_BANKS`),
  at most ``stablecoin_deposit_cap`` of them at any one bank (Circle's USD 3.3 bn at SVB was
  8% of USDC's reserves in March 2023).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

#: where stablecoin issuers keep their bank deposits: the US G-SIBs of the model (FSB list of
#: global systemically important banks, November 2024); Circle's reserve reports of 2024-25 put
#: USDC's cash at G-SIBs (BNY Mellon, outside the model, among them)
RESERVE_BANKS = (
    "jpmorgan", "bank_of_america", "citigroup", "wells_fargo", "goldman_sachs", "morgan_stanley",
)  # fmt: skip

#: the deterministic draws of the allocation rules (the edges are the same in every run)
ALLOCATION_SEED = 20251231


@dataclass(frozen=True)
class ExposureRules:
    """The levers of market structure that shape the network (from :class:`abm.policy.Policy`).

    Attributes:
        named: whether loans and deposits name their counterparties (off: every holder owns a
            pro-rata share of the whole pool, the model before the exposure network).
        syndicate_size: banks sharing a loan whose lenders are not named, and each private-credit
            fund's line (1 to the number of banks).
        prime_brokers_per_fund: prime brokers each hedge fund borrows from.
        stablecoin_deposit_cap: the most of an issuer's bank deposits at any one bank (share).
        eu_ai_debt_share: the EU banks' share of every listed AI issuer's bonds outstanding at
            the start, split over them by assets (``None``: the calibration's
            ``banks.eu.us_ai_debt_share``; :meth:`abm.opening_sheets.OpeningSheets.place_ai_bonds`).
        investors_per_fund: pension funds (and life insurers, and P&C insurers) owning shares
            of each hedge fund and private-credit fund
            (:meth:`abm.opening_sheets.OpeningSheets.place_fund_investors`).
    """

    named: bool = True
    syndicate_size: int = 5
    prime_brokers_per_fund: int = 2
    stablecoin_deposit_cap: float = 0.25
    eu_ai_debt_share: float | None = None
    investors_per_fund: int = 3


def stable_id(name: str) -> int:
    """A number for ``name`` that does not depend on where it sits in any list."""
    return zlib.crc32(name.encode())


def draw_without_replacement(
    weights: np.ndarray, count: int, key: int, ids: np.ndarray | None = None
) -> np.ndarray:
    """Indices of ``count`` distinct entries drawn with probabilities ∝ ``weights``.

    Efraimidis–Spirakis (2006): keys ``u^(1/w)``, the ``count`` largest kept, returned in
    order of weight. Deterministic: each candidate's ``u`` comes from a stream seeded by the
    borrower's ``key`` and the candidate's ``ids`` entry (its :func:`stable_id`; default its
    position), so listing the banks in another order draws the same banks.
    """
    ids = np.arange(weights.size) if ids is None else ids
    u = np.array([np.random.default_rng([ALLOCATION_SEED, key, int(b)]).random() for b in ids])
    keys = np.where(weights > 0.0, np.log(u) / np.where(weights > 0.0, weights, 1.0), -np.inf)
    chosen = np.argsort(-keys, kind="stable")[: min(count, int(np.count_nonzero(weights)))]
    return chosen[np.argsort(-weights[chosen], kind="stable")]


def market_share_syndicate(
    bank_assets: np.ndarray, size: int, key: int, ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, shares) of the banks lending to one borrower by the market-share rule.

    ``size`` banks drawn by total assets (the large banks arrange and hold most syndicated
    loans: the top ten US banks held most of the shared national credits; Fed/FDIC/OCC SNC
    reviews), each holding a share in proportion to its assets; the shares sum to one.
    """
    chosen = draw_without_replacement(bank_assets, size, key, ids)
    weight = bank_assets[chosen]
    return chosen, weight / weight.sum()


def prime_brokers(
    shares: np.ndarray, count: int, key: int, ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, shares) of one hedge fund's prime brokers in the prime-broker universe.

    ``count`` brokers drawn by market share ``shares``; the fund's borrowing splits in
    proportion to their shares.
    """
    chosen = draw_without_replacement(shares, count, key, ids)
    weight = shares[chosen]
    return chosen, weight / weight.sum()


def fill_in_proportion(
    amount: float, weights: np.ndarray, room: np.ndarray, lenders: np.ndarray, others: list[int]
) -> np.ndarray:
    """(B,) a hedge fund's ``amount`` split over its ``lenders`` by ``weights``, within room.

    Each prime broker lends at most its ``room`` (B,), which shrinks (modified in place): a
    broker at its limit passes the rest to the fund's other brokers, and once all of them are
    full, to the brokers in ``others`` with the most room (the fund takes on another broker).
    """
    lent = np.zeros_like(room)
    left = amount
    active = [int(b) for b in lenders]
    weight = {int(b): float(w) for b, w in zip(lenders, weights, strict=True)}
    while left > 1e-9 * max(amount, 1.0):
        open_ = [b for b in active if room[b] > 1e-12]
        if not open_:
            spare = [b for b in others if b not in active and room[b] > 1e-12]
            if not spare:
                raise ValueError(f"prime brokers cannot lend {left:.1f} bn more: no room left")
            b = max(spare, key=lambda k: room[k])
            active.append(b)
            weight[b] = 1.0
            continue
        total = sum(weight[b] for b in open_)
        step = left
        for b in open_:
            put = min(step * weight[b] / total, room[b])
            lent[b] += put
            room[b] -= put
            left -= put
    return lent


def place_deposits(
    holders: list[int],
    claims: list[float],
    is_retail: list[bool],
    bank_deposits: np.ndarray,
    us_banks: np.ndarray,
    gsibs: np.ndarray,
    stablecoin_cap: float,
) -> list[tuple[int, int, float]]:
    """Edges (holder, bank position, USD bn) of every modelled depositor.

    Stablecoin issuers first: their bank deposits in equal parts at the ``ceil(1/cap)``
    largest US G-SIBs by deposits (``gsibs``, bool (B,)), at most ``stablecoin_cap`` at one.
    Then every retail cohort splits its deposits over the US banks in proportion to the room
    left in their deposit bases (households bank everywhere; a cohort is a slice of a wealth
    group, not one household, so it holds at every bank), and over the other banks for what the
    US banks cannot hold.

    Raises:
        ValueError: the deposits do not fit in all the banks' deposit bases.
    """
    room = bank_deposits.astype(float).copy()
    edges: list[tuple[int, int, float]] = []
    by_size = np.argsort(-np.where(gsibs, bank_deposits, -1.0), kind="stable")
    count = min(max(1, math.ceil(1.0 / stablecoin_cap - 1e-12)), int(np.sum(gsibs)))
    for h, c, r in zip(holders, claims, is_retail, strict=True):
        if not r:
            for b in by_size[:count]:
                edges.append((h, int(b), c / count))
                room[b] -= c / count
    retail = sum(c for c, r in zip(claims, is_retail, strict=True) if r)
    us = np.asarray(us_banks, dtype=bool)
    us_room = float(np.sum(np.where(us, room, 0.0)))
    at_us = min(retail, us_room)
    if retail - at_us > 1e-9 * max(retail, 1.0) + float(np.sum(np.where(us, 0.0, room))):
        raise ValueError(
            f"deposits of {retail:.1f} bn do not fit in the banks' deposit bases ({room.sum():.1f})"
        )
    split = np.where(us, room * at_us / max(us_room, 1e-300), 0.0)
    if retail > at_us:  # what the US banks cannot hold, at the others by their room
        rest = np.where(us, 0.0, room)
        split = split + rest * (retail - at_us) / rest.sum()
    split = split / max(retail, 1e-300)  # (B,) each bank's share of every cohort's deposits
    for h, c, r in zip(holders, claims, is_retail, strict=True):
        if r:
            for b in np.nonzero(split)[0]:
                edges.append((h, int(b), c * float(split[b])))
    return edges
