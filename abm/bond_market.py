"""The primary bond market: new AI bonds meet the demand of investors who reach for yield.

When a firm sells new bonds (:mod:`abm.financing`), an order book forms (issue 4, item 2; the
seeds' mechanism M03, "pension funds, investment funds and insurers are the pillars of this
financing avalanche"):

- **Demand.** Orders are a multiple of the issue size,
  ``D = Q · m₀ · exp(θ·(s − s_IG) + β·h) · (1 − c_IG·junk)``: investors bid more for a wider
  spread over investment-grade bonds (``θ``, the pension funds' yield-chasing sensitivity, the
  same reach for yield as :class:`abm.flows.YieldChasing`), more while AI sentiment ``h`` runs
  hot (FOMO, ``β``), and the investment-grade-only part of the book ``c_IG`` stays away from an
  issuer rated below BBB− (:mod:`abm.ratings`). ``m₀`` is fitted to the four large AI issues of
  autumn 2025 — Amazon 15 bn with 80 bn of orders (seed 000, ≈5.3×), Oracle 18 bn with 88 bn,
  Meta 30 bn with 125 bn, Alphabet 17.5 bn with about 90 bn — as the geometric mean of
  ``(D/Q) / exp(θ·(s − s_IG))`` (``[assumptions.bond_market]``). The oversubscription ``D/Q`` of
  every issue is an output (:attr:`BondMarket.last_oversubscription`).
- **Fill.** An issue sells in full while ``D ≥ Q``; an undersubscribed one sells only ``D`` and
  the firm must look further down its pecking order.
- **Allocation.** Each modelled bidder — pension funds, insurers and bond mutual funds — bids in
  proportion to its footprint in the issuer's bonds (its share of the units outstanding: the
  investors who hold a name are the ones who bid for its new paper), times its liquidity (its
  cash now against its cash at the start; a fund whose cash has run down bids less), less the
  IG-only part for a junk issuer; outside investors bid the rest. Bonds are allotted pro rata to
  bids, as in an oversubscribed book; a bidder never pays more than its cash. Bidders pay the
  issuer from their cash for units at the market price (an asset swap); outside investors pay in
  from outside the system (``outside_investors``).

All arrays lead with the world axis E; F is the firm axis (firm order of the roster).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_rows
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from kernels.backend import segment_sum

#: fund kinds that bid for new AI bonds (the yield-chasing investors of the seeds)
BIDDERS = ("pension", "insurer_life", "insurer_pc", "mutual_bond")


class BondMarket:
    """New-issue demand, allocation and oversubscription for the firms' bonds.

    Args:
        cal: the calibration (``[assumptions.bond_market]``, ``[assumptions.ratings]``).
        sheets: the balance sheets.
        firms: (F,) global row of each firm.
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets, firms: Any) -> None:
        self.sheets = sheets
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        a = "assumptions.bond_market"
        self.multiple0 = float(cal.model_value(f"{a}.demand_multiple"))
        self.theta = float(cal.value("funds.pension.yield_chasing_sensitivity"))
        self.beta = float(cal.model_value(f"{a}.sentiment_elasticity"))
        self.spread_ig = float(cal.model_value("markets.ig_bonds_non_ai.spread"))  # per year
        rows, constrained = [], []
        for kind in BIDDERS:
            share = float(cal.model_value(f"assumptions.ratings.ig_constrained_{kind}"))
            for i in roster.indices("fund", kind):
                rows.append(int(i))
                constrained.append(share)
        if rows != list(range(rows[0], rows[0] + len(rows))):
            raise ValueError(f"the bidders must be one block of the roster; got rows {rows}")
        self.block = slice(rows[0], rows[0] + len(rows))  # bidders, in roster order
        self.bidders = xp.asarray(np.array(rows), device=dev)
        self.constrained = xp.asarray(np.array(constrained), dtype=dtype, device=dev)
        self.ig_share = float(cal.model_value(f"{a}.ig_only_demand_share"))
        firm_rows = np.asarray(firms if isinstance(firms, np.ndarray) else np.array(firms))
        self.firm_rows = firm_rows
        self.firms = xp.asarray(firm_rows, device=dev)
        self.assets = xp.asarray(np.maximum(sheets.bond_asset[firm_rows], 0), device=dev)
        n_b, n_f = len(rows), len(firm_rows)
        self.payers = xp.asarray(np.repeat(np.array(rows), n_f), device=dev)
        self.payees = xp.asarray(np.tile(firm_rows, n_b), device=dev)
        self.cash0 = xp.maximum(xp.take(sheets.ledger.cash, self.bidders, axis=1), 1e-9)
        e = sheets.prices.shape[0]
        self.last_oversubscription = xp.zeros((e, n_f), dtype=dtype, device=dev)
        self.last_bought = xp.zeros((e, n_f), dtype=dtype, device=dev)  # by modelled bidders

    def demand_multiple(self, spread: Any, hype: Any, junk: Any) -> Any:
        """(E, F) orders per unit of issue size, ``m₀·exp(θ·(s − s_IG) + β·h)·(1 − c_IG·junk)``.

        Args:
            spread: (E, F) each issuer's credit spread now, a fraction per year.
            hype: (E, 1) AI sentiment (log index).
            junk: (E, F) bool, issuer rated below investment grade.
        """
        xp = self.sheets.xp
        pickup = spread - self.spread_ig
        tilt = xp.exp(self.theta * pickup + self.beta * hype)
        return self.multiple0 * tilt * (1.0 - self.ig_share * xp.astype(junk, tilt.dtype))

    def issue(self, wanted: Any, spread: Any, hype: Any, junk: Any) -> Any:
        """Sell new bonds worth up to ``wanted`` (E, F) USD bn; returns what each firm raised.

        Books the whole sale through the ledger: modelled bidders pay cash for units of the
        issuer's bond asset at its market price, outside investors pay in the rest, the issuer
        owes the face of the units sold (one unit is USD 1 bn of face) and books the difference
        between face and proceeds as an equity flow.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        wanted = xp.maximum(wanted, 0.0)
        multiple = self.demand_multiple(spread, hype, junk)
        raised = xp.minimum(wanted, multiple * wanted)  # an undersubscribed book sells its demand
        self.last_oversubscription = xp.where(wanted > 0.0, multiple, 0.0)
        price = xp.take(s.prices, self.assets, axis=1)  # (E, F)
        units = raised / xp.maximum(price, 1e-12)
        # bids of the modelled investors, relative to the book: footprint x liquidity x mandate
        held = xp.take(xp.take(s.holdings, self.bidders, axis=1), self.assets, axis=2)  # (E,B,F)
        supply = xp.take(s.supply, self.assets, axis=1)
        footprint = held / xp.where(supply > 0.0, supply, 1.0)[:, None, :]
        cash = xp.take(ledger.cash, self.bidders, axis=1)  # (E, B)
        liquidity = xp.clip(cash / self.cash0, 0.0, 1.0)
        junk_x = xp.astype(junk, s.prices.dtype)[:, None, :]
        mandate = 1.0 - self.constrained[None, :, None] * junk_x
        share = footprint * liquidity[:, :, None] * mandate  # (E, B, F)
        alloc = share * raised[:, None, :]  # USD bn each bidder buys
        spend = xp.sum(alloc, axis=-1)  # (E, B)
        afford = xp.minimum(1.0, xp.maximum(cash, 0.0) / xp.maximum(spend, 1e-12))
        alloc = alloc * afford[:, :, None]
        bought = xp.sum(alloc, axis=1)  # (E, F)
        self.last_bought = bought
        e = alloc.shape[0]
        ledger.pay(self.payers, self.payees, xp.reshape(alloc, (e, -1)), income=False)
        ledger.pay_outsider(self.firms, "outside_investors", -(raised - bought), income=False)
        n, m = s.ledger.cash.shape[-1], s.prices.shape[-1]
        bidder_units = alloc / xp.maximum(price, 1e-12)[:, None, :]  # (E, B, F)
        s.holdings = add_rows(xp, s.holdings, self.block, segment_sum(bidder_units, self.assets, m))
        s.supply = s.supply + segment_sum(units, self.assets, m)
        s.bonds = s.bonds + segment_sum(units, self.firms, n)
        ledger.book_equity(segment_sum(raised - units, self.firms, n))
        return raised
