"""Data-centre SPVs: GPU and building collateral that wears out, loan-to-value covenants, recourse.

An SPV (``kind = "spv"`` in the calibration) holds a data centre financed mostly with debt. Its
lenders look at the collateral, not at the book value (notes/peers-and-equations.md §5.4, the
"silicon subprime" idea; issue 4 item 3):

- **Collateral value** ``V = real assets × g + cash``, where the market-value factor ``g`` falls
  each week by the SPV's obsolescence rate beyond its book depreciation (``collateral_depreciation``
  of an operating data centre: GPUs lose value faster than the books say; one still being built
  keeps its value) and with efficiency shocks (:meth:`SpvCovenants.impair`: cheaper models that
  strand older hardware).
- **Covenant** ``debt / V ≤ LTV_max``, with ``LTV_max`` a headroom above the loan-to-value at
  book value, ``debt / (real assets + cash)`` (``[assumptions.spv]``): borrowing to build does
  not breach it, a fall of the collateral's market value below its book value does. A breach
  needs a cure payment that brings debt back to ``LTV_max × V``; the sponsor pays it as long as
  its cumulative support stays within its ``recourse_share`` of the SPV's debt and it has the
  cash (an expense for the sponsor: support for an off-balance-sheet vehicle), and the SPV uses
  it to repay its loans pro rata.
- **Default** when the cure is not paid in full: the SPV's real assets are marked down to the
  collateral's market value and the failure step (``MarketStep.resolve_failures``) passes the
  loss to its lenders — private-credit funds, banks and bond holders — at the recovery the
  collateral allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from kernels.backend import segment_sum

#: pools an SPV's cure payment repays, in order
LOAN_POOLS = ("private_loans", "bank_loans")


class SpvCovenants:
    """The weekly covenant test of every SPV, vectorized over SPVs and worlds."""

    def __init__(self, cal: Calibration, sheets: BalanceSheets, book_wear: Any = 0.0) -> None:
        """Read the SPVs, their sponsors, recourse and obsolescence.

        Args:
            cal: the calibration.
            sheets: the balance sheets.
            book_wear: (N,) weekly book depreciation of each firm (0 while it is being built);
                the collateral's market value falls only by the obsolescence beyond it.
        """
        self.sheets = sheets
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        spvs = [i for i in roster.indices("firm") if roster.kind[i] == "spv"]
        self.rows = np.array(spvs, dtype=np.int64)
        self.index = xp.asarray(self.rows, device=dev)
        sponsors = [
            roster.index(str(cal.node(f"firms.{roster.names[i]}")["sponsor"])) for i in spvs
        ]
        self.sponsors = xp.asarray(np.array(sponsors, dtype=np.int64), device=dev)

        def per_spv(key: str) -> Any:
            values = [float(cal.model_value(f"firms.{roster.names[i]}.{key}")) for i in spvs]
            return xp.asarray(np.array(values), dtype=dtype, device=dev)

        self.recourse = per_spv("recourse_share")
        wear = xp.take(xp.asarray(book_wear, dtype=dtype, device=dev) + xp.zeros(
            (roster.size,), dtype=dtype, device=dev), self.index, axis=0)  # fmt: skip
        # market value falls by the obsolescence the books do not already show (per week); a
        # data centre still being built (no book wear yet) keeps its value until a shock hits
        excess = xp.maximum(per_spv("collateral_depreciation") - wear, 0.0)
        self.obsolescence = xp.where(wear > 0.0, excess, 0.0)
        headroom = float(cal.model_value("assumptions.spv.covenant_headroom"))
        e = sheets.prices.shape[0]
        self.factor = xp.ones((e, len(spvs)), dtype=dtype, device=dev)
        self.support = xp.zeros_like(self.factor)  # cumulative cure payments by the sponsor
        self.breached = self.factor > 2.0  # (E, S) bool: failed its covenant uncured
        self.last_cure = xp.zeros_like(self.factor)
        self.headroom = headroom

    def impair(self, share: Any) -> None:
        """An efficiency shock: the collateral loses ``share`` (scalar or (E,)) of its value."""
        xp = self.sheets.xp
        self.factor = self.factor * (1.0 - xp.reshape(xp.asarray(share) * 1.0, (-1, 1)))

    def _collateral(self, at_book: bool = False) -> Any:
        """(E, S) collateral: real assets at the market-value factor (or at book) plus cash."""
        s = self.sheets
        xp = s.xp
        real = xp.take(s.real_assets, self.index, axis=1)
        factor = 1.0 if at_book else self.factor
        return real * factor + xp.maximum(xp.take(s.ledger.cash, self.index, axis=1), 0.0)

    def debt(self) -> Any:
        """(E, S) what each SPV owes: loans and bonds."""
        s = self.sheets
        xp = s.xp
        owed = xp.take(s.bonds, self.index, axis=1)
        for name in LOAN_POOLS:
            pool = s.ledger.pools[name]
            owed = owed + xp.take(segment_sum(pool.face, pool.issuers, s.bonds.shape[-1]),
                                  self.index, axis=1)  # fmt: skip
        return owed

    def test(self, alive: Any) -> Any:
        """Age the collateral, test the covenant, collect cures; return (E, N) uncured breaches.

        Args:
            alive: (E, N) bool, agents that have not failed.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = s.bonds.shape[-1]
        self.factor = self.factor * (1.0 - self.obsolescence)
        value = self._collateral()
        debt = self.debt()
        book = self._collateral(at_book=True)
        max_ltv = xp.minimum(debt / xp.maximum(book, 1e-12) + self.headroom, 0.999)
        spv_alive = xp.take(alive, self.index, axis=1)
        gap = xp.where(spv_alive, xp.maximum(debt - max_ltv * value, 0.0), 0.0)
        sponsor_cash = xp.maximum(xp.take(ledger.cash, self.sponsors, axis=1), 0.0)
        sponsor_alive = xp.take(alive, self.sponsors, axis=1)
        room = xp.maximum(self.recourse * debt - self.support, 0.0)
        cure = xp.where(sponsor_alive, xp.minimum(xp.minimum(gap, room), sponsor_cash), 0.0)
        ledger.pay(self.sponsors, self.index, cure)  # support: the sponsor's expense
        left = cure
        for name in LOAN_POOLS:  # the SPV repays its lenders with the cure
            pool = ledger.pools[name]
            owed = xp.take(segment_sum(pool.face, pool.issuers, n), self.index, axis=1)
            pay = xp.minimum(left, owed)
            ledger.repay(name, xp.take(segment_sum(pay, self.index, n), pool.issuers, axis=1))
            left = left - pay
        self.support = self.support + cure
        self.last_cure = cure
        breach = (gap - cure > 1e-9 * (debt + 1.0)) & spv_alive
        # an uncured SPV is worth its collateral: mark its books down before the clearing
        real = xp.take(s.real_assets, self.index, axis=1)
        write_down = xp.where(breach, real * (1.0 - self.factor), 0.0)
        cut = segment_sum(xp.maximum(write_down, 0.0), self.index, n)
        s.real_assets = s.real_assets - cut
        ledger.book_equity(-cut)
        self.breached = self.breached | breach
        return segment_sum(xp.astype(breach, s.prices.dtype), self.index, n) > 0.0
