"""How a tech firm fills its funding gap: Kedrosky's pecking order, channel by channel.

Each week a firm falls ``G = buffer + capex + contracts − cash`` short (USD bn; ``contracts`` is
the week's full-size contract payments beyond the capped commitments, ``firms.contract_due`` of
:mod:`abm.deals`, a cash need like capex; the buffer is
``[assumptions.firms].cash_buffer_weeks`` of its outgoings, less for a listed investment-grade
firm that held less at the start (:func:`abm.economy.cash_targets`), computed after it has paid
its operating costs, debt service and dividends); it finances what its cash cannot pay now and
closes the rest of ``G`` over ``buffer_restore_weeks`` (:func:`abm.economy.weekly_need`).
Hyperscalers sell their bonds in discrete deals of 2025's size, at most one a quarter, and let
their buffer bridge the weeks between (:meth:`Financing._bond_deals`). Seed 002 (Kedrosky, "six
funding channels", mechanism M09) lists the order in which the AI build-out is financed;
:meth:`Financing.fill` walks it:

1. **Internal cash** — cash above the buffer (already netted in ``G``).
2. **Bonds** — firms with a bond asset, while their bonds trade above a floor, sell new bonds in
   the primary market (:class:`abm.bond_market.BondMarket`: investor demand, oversubscription).
3. **Bank and private credit** — hyperscalers and chip vendors draw bank lines; SPVs, AI labs and
   neoclouds borrow from private-credit funds (which lean on bank NAV lines); only while solvent
   at book value.
4. **Equity** — listed firms sell shares while their price is above a floor, AI labs raise a
   funding round while AI sentiment has not collapsed; also when book equity runs thin
   (``equity_issue_trigger`` / ``equity_issue_target``).
5. **Vendor financing** — chip vendors lend to GPU buyers (neoclouds, AI labs, SPVs) out of their
   spare cash (Nvidia's financing of its customers, seeds 001 and 004): a receivable of the vendor
   and a liability of the buyer in the ledger pool ``vendor_financing``, paying the private-credit
   rate.
6. **Cloud commitments** — hyperscalers prepay capacity to neoclouds and SPVs (Microsoft for
   CoreWeave) out of their spare cash: pool ``prepaid_capacity``, delivered over the contract term
   as non-cash revenue of the seller and expense of the buyer.

Otherwise **capex is cut**: the firm pays only the capex its cash covers
(:attr:`abm.economy.Economy.last_capex_cut`).

New debt (steps 2–3) stops at a leverage limit: debt may not exceed
``[assumptions.financing].max_debt_to_ebitda`` turns of EBITDA (the Interagency Guidance on
Leveraged Lending, March 2013: total debt / EBITDA above 6× raises concerns for most
industries), so a firm without positive EBITDA borrows nothing there. SPVs are exempt: their
lenders lend against the data centre, and the loan-to-value covenants of :mod:`abm.spv` bind.
Spare cash (steps 5–6) is cash above the lender's own buffer; a lender commits at most a share
of it a week (``vendor_lending_share`` / ``prepayment_share``), and lenders and borrowers share
a step pro rata (to spare cash and to remaining gaps). What one firm owes its suppliers and
customers together stays below ``supplier_support_cap_years`` of its 2025 sales (Nvidia's
USD 6.3 bn capacity backstop for CoreWeave is about 1.2 years of CoreWeave's 2025 revenue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.bond_market import BondMarket
from abm.calibration import Calibration
from abm.opening_sheets import CAPACITY_BUYERS, CAPACITY_SELLERS, VENDOR_BORROWERS, VENDOR_LENDERS
from kernels.backend import segment_sum, segment_sum_at

#: firm kinds whose loans amortise (term loans, not revolving lines)
AMORTISING = ("neocloud", "ai_lab")

#: firm kinds that sell bonds in discrete benchmark deals (issue 17: deals of 15–30 bn in 2025)
DEAL_ISSUERS = ("hyperscaler",)

CHANNELS = ("bonds", "credit", "equity", "vendor", "cloud", "unfunded")
"""The pecking order, as the fields of :class:`FundingMix`."""


@dataclass
class FundingMix:
    """What each firm raised this week by channel, (E, F) USD bn each."""

    bonds: Any
    credit: Any
    equity: Any
    vendor: Any
    cloud: Any
    unfunded: Any


class Financing:
    """The firms' pecking order of funding channels (see the module docstring).

    Args:
        cal: the calibration (``[assumptions.financing]``, ``[assumptions.firms]``).
        economy: the firms' operations whose firms it finances (:class:`abm.economy.Economy`).
    """

    bond_floor = 0.5  # a firm whose bonds trade below half of par cannot sell new ones
    equity_floor = 0.3  # nor new shares below 30% of their starting price

    def __init__(self, cal: Calibration, economy: Any) -> None:
        self.economy = economy
        sheets = economy.sheets
        self.sheets = sheets
        xp = sheets.xp
        dev = sheets.prices.device
        roster = sheets.roster
        a = "assumptions.financing"
        self.max_leverage = float(cal.model_value(f"{a}.max_debt_to_ebitda"))
        self.vendor_share = float(cal.model_value(f"{a}.vendor_lending_share"))
        self.prepay_share = float(cal.model_value(f"{a}.prepayment_share"))
        years = float(cal.value("assumptions.deals.contract_years"))
        self.delivery_per_week = 1.0 / (52.0 * years)
        f = "assumptions.firms"
        self.equity_trigger = float(cal.value(f"{f}.equity_issue_trigger"))
        self.equity_target = float(cal.value(f"{f}.equity_issue_target"))
        self.issue_cap = float(cal.value(f"{a}.equity_issue_cap_per_year"))
        # suppliers' and customers' credit to one firm: at most this many weeks of its 2025 sales
        weeks = float(cal.value(f"{a}.supplier_support_cap_years")) * 52.0
        self.support_cap = economy.host(economy.firm.plan.revenue * weeks)
        # loans to neoclouds and AI labs amortise in equal parts over their term (SPVs have
        # their own schedule in abm.spv; hyperscalers' and chip vendors' bank lines revolve)
        term = float(cal.value(f"{a}.private_loan_term_years")) * 52.0
        names = [roster.names[i] for i in economy.firm_rows]
        amortising = [i for i in economy.firm_rows if roster.kind[i] in AMORTISING]
        self.amortising = xp.asarray(np.isin(np.arange(roster.size), amortising), device=dev)
        self.instalment_rate = 1.0 / term
        self.valuation0 = economy.host(
            np.array([float(cal.model_value(f"firms.{n}.equity_value")) for n in names])
        )
        self.recent_equity = economy.firm.revenue * 0.0  # (E, F) raised over about the last year
        kinds = [roster.kind[i] for i in economy.firm_rows]

        def mask(allowed: tuple[str, ...]) -> Any:
            return xp.asarray(np.array([k in allowed for k in kinds]), device=dev)

        self.asset_based = mask(("spv",))
        self.vendor_lenders, self.vendor_borrowers = mask(VENDOR_LENDERS), mask(VENDOR_BORROWERS)
        self.capacity_buyers = mask(CAPACITY_BUYERS)
        self.capacity_sellers = mask(CAPACITY_SELLERS)
        self.has_bonds = xp.asarray(sheets.bond_asset[economy.firm_rows] >= 0, device=dev)
        self.bond_market = BondMarket(cal, sheets, economy.firm_rows)
        b = "assumptions.bond_market"
        self.deal_min = float(cal.model_value(f"{b}.deal_min_size"))
        self.deal_max = float(cal.model_value(f"{b}.deal_max_size"))
        self.deal_spacing = float(cal.model_value(f"{b}.deal_spacing_weeks"))
        self.deal_issuer = mask(DEAL_ISSUERS) & self.has_bonds
        # weeks since each firm's last deal: free to come to market at the start
        self.weeks_since_deal = economy.firm.revenue * 0.0 + self.deal_spacing
        zeros = economy.firm.revenue * 0.0
        self.last = FundingMix(*(zeros for _ in CHANNELS))

    # -- the pecking order --------------------------------------------------------------------

    def fill(
        self, need: Any, outgoings: Any, on: Any, *, shortfall: Any = None, due: Any = None
    ) -> FundingMix:
        """Finance ``need`` (E, F) USD bn down the pecking order; returns what each step raised.

        Args:
            need: (E, F) what each firm finances this week (:meth:`abm.economy.Economy.run_firms`:
                what it must pay plus its buffer's shortfall spread over a quarter).
            outgoings: (E, F) each firm's weekly outgoings (its lenders' buffers use them).
            on: (E, F) 1.0 for firms that have not failed, else 0.0.
            shortfall: (E, F) a deal issuer's whole bond need: what takes its cash back to the
                buffer after this week's payments (default ``need``).
            due: (E, F) what a deal issuer must raise this week between deals because its cash
                does not cover its payments (default ``need``).
        """
        s, eco = self.sheets, self.economy
        xp = s.xp
        need = xp.maximum(need, 0.0) * on
        shortfall = need if shortfall is None else xp.maximum(shortfall, 0.0) * on
        due = need if due is None else xp.maximum(due, 0.0) * on
        held, owed = s.ledger.positions()  # one pass over the pools for the whole pecking order
        debt = xp.take(owed + s.bonds, eco.firms, axis=1)
        assets = xp.take(s.ledger.cash + s.market_value() + held + s.real_assets, eco.firms, axis=1)
        room = xp.where(
            self.asset_based, xp.inf, xp.maximum(self.max_leverage * eco.firm.ebitda - debt, 0.0)
        )
        price = xp.take(s.prices, eco.bond_assets, axis=1)
        open_market = self.has_bonds & (price > self.bond_floor) & (on > 0.0)
        wanted, need = self._bond_deals(need, shortfall, due, open_market, room)
        bonds = self.bond_market.issue(wanted, eco.spread(), eco.firm.hype, eco.firm.junk)
        self.weeks_since_deal = xp.where(bonds > 0.0, 0.0, self.weeks_since_deal)
        need, room = xp.maximum(need - bonds, 0.0), room - bonds
        solvent = assets - debt > 0.0  # at book value, before this week's financing
        credit = xp.where(solvent, xp.minimum(need, xp.maximum(room, 0.0)), 0.0) * on
        self._borrow(credit)
        need = need - credit
        borrowed = bonds + credit  # asset swaps: assets and debt grew by as much
        equity = self._issue_equity(need, on, assets + borrowed, debt + borrowed)
        need = xp.maximum(need - equity, 0.0)
        spare = xp.maximum(
            xp.take(s.ledger.cash, eco.firms, axis=1) - eco.buffer_weeks * outgoings, 0.0
        )
        ok = solvent & (on > 0.0)
        support = self._owed("vendor_financing") + self._owed("prepaid_capacity")
        cap = xp.maximum(self.support_cap - support, 0.0)
        vendor = self._lend(
            "vendor_financing",
            xp.where(self.vendor_borrowers & ok, xp.minimum(need, cap), 0.0),
            xp.where(self.vendor_lenders & ok, spare * self.vendor_share, 0.0),
        )
        need, cap = need - vendor, cap - vendor
        cloud = self._lend(
            "prepaid_capacity",
            xp.where(self.capacity_sellers & ok, xp.minimum(need, cap), 0.0),
            xp.where(self.capacity_buyers & ok, spare * self.prepay_share, 0.0),
        )
        self.last = FundingMix(bonds, credit, equity, vendor, cloud, xp.maximum(need - cloud, 0.0))
        return self.last

    def _bond_deals(
        self, need: Any, shortfall: Any, due: Any, open_market: Any, room: Any
    ) -> tuple[Any, Any]:
        """(E, F) bonds each firm offers this week, and (E, F) what it finances in all.

        A deal issuer (a hyperscaler whose bond market is open and whose leverage leaves room for
        a deal of at least ``deal_min_size``) comes to market in discrete deals: once its bond
        need (its whole ``shortfall``) reaches ``deal_min_size`` (Alphabet's EUR 6.5 bn deal of
        November 2025) and ``deal_spacing_weeks`` have passed since its last deal (one deal a
        quarter, in the window after its quarterly results), it offers one deal of its whole
        need, at most ``deal_max_size`` (Meta's 30 bn of October 2025; the largest
        corporate deal on record was Verizon's 49 bn of 2013) and its leverage room; the order
        book (:class:`abm.bond_market.BondMarket`) decides how much of it sells. Between deals
        its buffer is the bridge: it finances only what its cash cannot pay (``due``), further
        down the pecking order (its bank line, as commercial paper would). Every other firm
        offers bonds for its week's ``need`` up to its room, as it needs them; so does a
        hyperscaler near its leverage limit, which can no longer sell a benchmark deal (Oracle).
        """
        xp = self.sheets.xp
        self.weeks_since_deal = self.weeks_since_deal + 1.0
        dealing = self.deal_issuer & open_market & (room >= self.deal_min)
        ready = (
            dealing & (shortfall >= self.deal_min) & (self.weeks_since_deal >= self.deal_spacing)
        )
        deal = xp.minimum(xp.minimum(shortfall, room), self.deal_max)
        weekly = xp.where(open_market, xp.minimum(need, room), 0.0)
        wanted = xp.where(dealing, xp.where(ready, deal, 0.0), weekly)
        return wanted, xp.where(dealing & ~ready, due, need)

    def _borrow(self, credit: Any) -> None:
        """Bank lines for hyperscalers and chip vendors, private credit for everyone else."""
        s, eco = self.sheets, self.economy
        xp, ledger = s.xp, s.ledger
        per_agent = segment_sum(credit, eco.firms, ledger.cash.shape[-1])
        for name, lenders in (
            ("bank_loans", eco.bank_borrower),
            ("private_loans", ~eco.bank_borrower),
        ):
            pool = ledger.pools[name]
            wanted = xp.where(lenders[None, :], per_agent, 0.0)
            ledger.borrow(name, xp.take(wanted, pool.issuers, axis=1))

    def _issue_equity(self, need: Any, on: Any, assets: Any, debt: Any) -> Any:
        """New shares for what debt could not cover, and to restore thin book equity.

        Listed firms sell while their shares trade above a floor (the units add to the supply of
        their equity asset); AI labs raise a round while AI hype has not collapsed. Either raises
        at most ``equity_issue_cap_per_year`` of its equity's value a year — market value for a
        listed firm, for a lab its last round's valuation moved like an AI equity,
        ``V₀·exp(γ h)·R/R₀`` (the 20% rule of
        Nasdaq Listing Rule 5635(d) and NYSE Listed Company Manual 312.03: a larger issue below
        market needs the shareholders' vote). A solvent firm
        whose book equity is below ``equity_issue_trigger`` of its assets raises at least enough
        to restore ``equity_issue_target``. Cash comes from outside investors and adds to equity.
        ``assets`` and ``debt`` are the firms' (E, F) book values now.
        """
        s, eco = self.sheets, self.economy
        xp, ledger = s.xp, s.ledger
        equity = assets - debt
        solvent = equity > 0.0
        thin = (equity < self.equity_trigger * assets) & solvent
        recap = xp.where(thin, xp.maximum(self.equity_target * assets - equity, 0.0), 0.0)
        price = xp.take(s.prices, eco.share_asset, axis=1)  # (E, F) 1 where no listed share
        open_market = xp.where(eco.listed, price > self.equity_floor, eco.firm.hype > -0.5)
        wanted = xp.where(solvent, xp.maximum(need, recap), 0.0)
        # at most issue_cap of the equity's value a year: market value for a listed firm, book
        # equity for a lab (a rolling year, approximated by a sum that fades by 1/52 a week)
        supply = xp.take(s.supply, eco.share_asset, axis=1)
        revenue0 = eco.host(eco.firm.plan.revenue)
        earnings = xp.maximum(eco.firm.revenue / xp.where(revenue0 > 0.0, revenue0, 1.0), 1e-6)
        round_value = self.valuation0 * xp.exp(eco.gamma * eco.firm.hype) * earnings  # a lab's
        value = xp.where(eco.listed, price * supply, round_value)
        room = xp.maximum(self.issue_cap * value - self.recent_equity, 0.0)
        wanted = xp.minimum(wanted, room)
        raised = xp.where(open_market & eco.issuer & (on > 0.0), wanted, 0.0)
        self.recent_equity = self.recent_equity * (1.0 - 1.0 / 52.0) + raised
        units = xp.where(eco.listed, raised / xp.maximum(price, 1e-12), 0.0)
        s.supply = s.supply + segment_sum(units, eco.share_asset, s.supply.shape[-1])
        ledger.pay_outsider(eco.firms, "outside_investors", -raised)  # new capital: equity up
        return raised

    def repay_scheduled(self, on: Any) -> None:
        """Neoclouds and AI labs repay ``1 / term`` of their loans' face a week, cash or not.

        A firm whose cash does not cover its instalment goes below zero and must refinance it
        down the pecking order (:meth:`fill`); one that cannot has failed (the refinancing wall
        of a neocloud whose lenders will not roll its loans).
        """
        s, eco = self.sheets, self.economy
        xp, ledger = s.xp, s.ledger
        alive = segment_sum(on, eco.firms, ledger.cash.shape[-1]) > 0.0
        for name in ("private_loans", "bank_loans"):
            pool = ledger.pools[name]
            due = xp.take(self.amortising & alive, pool.issuers, axis=1)
            ledger.repay(name, xp.where(due, pool.face * self.instalment_rate, 0.0))

    def _owed(self, pool_name: str) -> Any:
        """(E, F) what each firm owes on pool ``pool_name``."""
        return self.sheets.ledger.owed_by(pool_name, self.economy.firms)

    def _lend(self, pool_name: str, wanted: Any, spare: Any) -> Any:
        """Lenders' spare cash ``spare`` (E, F) meets borrowers' gaps ``wanted`` (E, F), pro rata.

        Returns what each firm borrowed; books it through pool ``pool_name`` of the ledger.
        """
        s, eco = self.sheets, self.economy
        xp, ledger = s.xp, s.ledger
        total = xp.minimum(xp.sum(wanted, axis=-1), xp.sum(spare, axis=-1))  # (E,)
        got = wanted * (total / xp.maximum(xp.sum(wanted, axis=-1), 1e-12))[:, None]
        lent = spare * (total / xp.maximum(xp.sum(spare, axis=-1), 1e-12))[:, None]
        pool = ledger.pools[pool_name]
        ledger.lend(
            pool_name,
            segment_sum_at(got, eco.firms, pool.issuers),
            segment_sum_at(lent, eco.firms, pool.holders),
        )
        return got

    # -- servicing ----------------------------------------------------------------------------

    def pay_interest(self, rate: float) -> None:
        """Borrowers pay interest on vendor financing at ``rate`` per week to their vendors."""
        pool = self.sheets.ledger.pools["vendor_financing"]
        self.sheets.ledger.pay_interest("vendor_financing", rate + 0.0 * pool.face)

    def deliver_capacity(self) -> None:
        """Prepaid capacity is delivered evenly over the contract term.

        Delivery extinguishes the prepayment on both sides as a write-down does: the seller's
        liability falls (non-cash revenue, equity up), the buyer's claim falls (compute consumed,
        equity down), by ``1 / contract weeks`` of the face each week.
        """
        ledger = self.sheets.ledger
        prepaid = ledger.pools["prepaid_capacity"]
        ledger.write_down("prepaid_capacity", prepaid.face * self.delivery_per_week)
