"""The tech firms' week: revenue, costs, debt service, financing, capex and depreciation.

Vectorized over all firms and all E worlds; every cash movement goes through the ledger, so it
has a payer and a payee (the rest of the economy for customers, staff and suppliers; the bond
holders for coupons), and every change of value is booked as an equity flow.

Rules (docs/design.md, "The economy"; parameters in ``calibration.toml`` ``[assumptions.firms]``
and ``[firms.*]``; sentiment is :mod:`abm.sentiment`, valuation :mod:`abm.valuation`):

- **Revenue** ``R = R₀ ((1 − a) + a·(1 + g)^(t/52)·exp(b h))`` with AI share ``a`` (2025
  reports), the adoption path ``g`` a year and elasticity ``b``; profitable firms keep their 2025
  operating margin, loss-makers (the AI labs) keep their 2025 operating costs, so growth narrows
  their burn; capex follows the 2026 plan scaled by
  ``exp(b_c h)`` (the race speeds up with hype) and adds to real assets, which depreciate once
  they earn revenue (an SPV's data centre under construction does not wear out yet).
- **Debt service**: coupons of ``risk-free + spread`` on bond face, paid to the bond's holders in
  proportion to units held (outsiders hold the rest); the same rate on bank loans, paid pro rata
  (hedge funds' prime-brokerage loans float at the short rate plus a spread instead).
  Firms still building (no revenue yet) capitalize the interest into the asset (IAS 23).
- **Shareholder payouts** (:mod:`abm.firm_payouts`): listed firms pay dividends at their 2025
  rate before financing (cut in distress) and buy back shares out of cash above their buffer.
- **Financing**: a firm short of its cash buffer (weeks of outgoings, :func:`cash_targets`) plus
  this week's capex and this week's full-size contract payments beyond the capped commitments
  (``firms.contract_due``, written by :mod:`abm.deals`; paid before capex) replaces the week's
  outflow and closes the rest over a quarter
  (:func:`weekly_need`), filling the gap in Kedrosky's pecking order (:mod:`abm.financing`:
  bonds sold to investors who reach for yield, :mod:`abm.bond_market`, hyperscalers' in
  discrete deals; bank and private credit; equity; vendor financing; cloud prepayments); what
  no channel covers is cut from capex (``last_capex_cut``). A firm with negative cash has
  failed (the failure step clears it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.arrays import columns
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.financing import Financing
from abm.firm_payouts import ShareholderPayouts
from abm.ratings import LAST_IG, SCALE, debt_to_ebitda, parse_rating
from abm.state import FirmState, WorldState
from kernels.backend import to_numpy


@dataclass(frozen=True)
class FirmParameters:
    """Per-firm constants (host arrays in firm order), weekly units."""

    revenue: np.ndarray
    ai_share: np.ndarray
    margin: np.ndarray  # operating cash flow / revenue (burn per week where revenue is 0)
    burn: np.ndarray
    capex: np.ndarray
    spread: np.ndarray  # per week
    equity_asset: np.ndarray  # market index of the listed equity, -1 if none

    @classmethod
    def from_calibration(cls, cal: Calibration, sheets: BalanceSheets) -> FirmParameters:
        """Read the firms' 2025 flows and 2026 capex plans (USD bn per week)."""
        rows = []
        for name in (sheets.roster.names[i] for i in sheets.roster.indices("firm")):
            node = f"firms.{name}"
            revenue = float(cal.model_value(f"{node}.revenue_2025"))
            ocf = float(cal.model_value(f"{node}.operating_cash_flow_2025"))
            spread_bp = (
                float(cal.value(f"{node}.bond_spread")) if "bond_spread" in cal.node(node) else 0.0
            )
            rows.append(
                (
                    revenue,
                    float(cal.model_value(f"{node}.ai_revenue_share")),
                    ocf / revenue if revenue > 0 else 0.0,
                    ocf if revenue <= 0 else 0.0,
                    float(cal.model_value(f"{node}.capex_plan_2026")),
                    spread_bp / 1e4 / 52.0,
                    sheets.assets.equity_of(name),
                )
            )
        cols = list(zip(*rows, strict=True))
        return cls(*(np.array(c) for c in cols))


def cash_targets(
    cash: np.ndarray, outgoings: np.ndarray, rated: np.ndarray, weeks: float
) -> np.ndarray:
    """(F,) each firm's cash buffer in weeks of its outgoings.

    ``weeks`` (``[assumptions.firms].cash_buffer_weeks``) for every firm, except that a listed
    firm rated single-A or better (``rated``: A− and above) that held less at the end of 2025
    keeps its own end-2025 cash in weeks of its outgoings (``cash / outgoings``, USD bn and USD
    bn a week): its observed holding is its target. Firms with sure access to the bond market
    hold less cash (Opler, Pinkowitz, Stulz & Williamson 1999, JFE 52(1): rated firms hold
    less); a BBB issuer, a downgrade or two from losing its investment-grade buyers, keeps the
    precautionary buffer (Harford, Klasa & Maxwell 2014, J. Finance 69(3): refinancing risk
    raises cash holdings), so Oracle, near its leverage limit, keeps 13 weeks. A
    retailer whose suppliers finance its operations needs less (Amazon's payables), so Amazon
    (8.2 weeks at the start) does not borrow up to 13 weeks at once. A firm with
    more cash than ``weeks`` runs the rest down first (the articles' "data centres financed from
    big-tech cash reserves", seed fact Q36).
    """
    own = cash / np.where(outgoings > 0.0, outgoings, np.inf)
    return np.where(rated & (own < weeks), own, weeks)


def weekly_need(xp: Any, shortfall: Any, due: Any, drain: Any, restore_weeks: float) -> Any:
    """(E, F) what a firm finances this week: its payments, and its buffer over a quarter.

    ``shortfall`` is what takes its cash back to its buffer after this week's payments, ``due``
    the part of it that cash cannot pay now, ``drain`` this week's net outflow (operating flows,
    debt service, dividends and capex). A firm always raises ``due`` and replaces this week's
    drain (up to its shortfall), so its cash does not sink further below its buffer; the rest
    of the shortfall it closes in equal parts over ``restore_weeks``
    (``[assumptions.firms].buffer_restore_weeks``: cash reverts to its target rather than
    jumping to it, Opler, Pinkowitz, Stulz & Williamson 1999), so a firm that opens or is
    knocked below its buffer does not borrow the whole gap in one week.
    """
    base = xp.maximum(due, xp.minimum(xp.maximum(shortfall, 0.0), drain))
    return base + xp.maximum(shortfall - base, 0.0) / restore_weeks


#: the lowest rating whose issuers keep their own end-2025 cash as buffer (:func:`cash_targets`)
SINGLE_A = SCALE.index("A-")


class Economy:
    """The firms' weekly operations (rule ``run_firms``) and the shared firm state they start.

    Args:
        cal: the calibration.
        sheets: the balance sheets.

    Attributes:
        firm: the firms' shared state (:class:`abm.state.FirmState`), built here at the start
            and handed to the world state.
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets) -> None:
        self.sheets = sheets
        xp = sheets.xp
        a = "assumptions"
        self.b_revenue = float(cal.model_value(f"{a}.sentiment.ai_revenue_elasticity"))
        self.b_capex = float(cal.model_value(f"{a}.sentiment.capex_elasticity"))
        self.gamma = float(cal.model_value(f"{a}.sentiment.equity_valuation_elasticity"))
        buffer_weeks = float(cal.model_value(f"{a}.firms.cash_buffer_weeks"))
        self.restore_weeks = float(cal.model_value(f"{a}.firms.buffer_restore_weeks"))
        self.risk_free = float(cal.model_value(f"{a}.firms.coupon_over_spread"))
        self.ai_growth = float(cal.value(f"{a}.firms.ai_revenue_growth"))  # per year
        params = FirmParameters.from_calibration(cal, sheets)
        bank_kinds = ("hyperscaler", "chip_vendor")
        borrower = np.zeros(sheets.roster.size, dtype=bool)
        firm_rows = sheets.roster.indices("firm")
        borrower[[i for i in firm_rows if sheets.roster.kind[i] in bank_kinds]] = True
        self.bank_borrower = sheets.xp.asarray(borrower, device=sheets.prices.device)
        self.private_rate = float(cal.model_value("markets.private_credit.spread")) / 52.0
        # a data-centre SPV is a landlord: its income is its sponsor's rent (abm.spv), not sales;
        # it builds until its total cost is spent, and one still being built (no rent yet) does
        # not wear out and capitalises its interest until its lease starts
        kinds = [sheets.roster.kind[i] for i in sheets.roster.indices("firm")]
        names = [sheets.roster.names[i] for i in sheets.roster.indices("firm")]
        self.lessor = xp.asarray(np.array([k == "spv" for k in kinds]), device=sheets.prices.device)
        start = np.zeros(len(kinds))
        budget = np.full(len(kinds), np.inf)
        real = to_numpy(sheets.real_assets[0, ...])
        for f, (kind, name) in enumerate(zip(kinds, names, strict=True)):
            if kind == "spv":
                start[f] = (
                    0.0 if params.revenue[f] > 0 else cal.model_value(f"firms.{name}.lease_start")
                )
                built = float(real[sheets.roster.index(name)])
                budget[f] = max(float(cal.model_value(f"firms.{name}.total_cost")) - built, 0.0)
        # book depreciation a week: the firms' blended rate (mostly servers and GPUs); an SPV
        # that owns a building and power shell (the tenant's GPUs are not its own) writes it
        # off over the shell's life, its ``collateral_depreciation`` where that is slower
        rate = float(cal.model_value(f"{a}.firms.depreciation"))
        self.depreciation = self.host(
            np.array([
                min(rate, float(cal.model_value(f"firms.{name}.collateral_depreciation")))
                if kind == "spv" else rate
                for kind, name in zip(kinds, names, strict=True)
            ])
        )  # fmt: skip
        self.operating_from = start
        self.operating = self.host((start <= 0.0).astype(float))
        self.build_left = self.host(budget) + 0.0 * sheets.prices[:, :1]  # (E, F) USD bn
        self.firms = xp.asarray(sheets.roster.indices("firm"), device=sheets.ledger.cash.device)
        self.firm_rows = sheets.roster.indices("firm")
        idx = np.maximum(sheets.bond_asset[self.firm_rows], 0)  # firms without bonds: 0, face 0
        self.bond_assets = xp.asarray(idx, device=sheets.prices.device)  # (F,) bond asset
        self.ebitda_keep = 1.0 - 1.0 / float(
            cal.model_value("assumptions.spreads.ebitda_smoothing_weeks")
        )
        # what one week's operating cash flow adds to the smoothed annual EBITDA, per USD bn
        self.ebitda_weight = (1.0 - self.ebitda_keep) * 52.0
        listed = params.equity_asset >= 0
        share_asset = np.maximum(params.equity_asset, 0)
        issuer = listed | np.array([k == "ai_lab" for k in kinds])
        self.listed = xp.asarray(listed, device=sheets.prices.device)
        self.issuer = xp.asarray(issuer, device=sheets.prices.device)
        self.share_asset = xp.asarray(share_asset, device=sheets.prices.device)
        dtype = sheets.prices.dtype
        dev = sheets.prices.device
        hype = xp.zeros((sheets.prices.shape[0], 1), dtype=dtype, device=dev)
        planned_ai_revenue = xp.zeros(sheets.prices.shape[:1], dtype=dtype, device=dev)
        ai_revenue = xp.zeros(sheets.prices.shape[:1], dtype=dtype, device=dev)
        revenue = xp.zeros((sheets.prices.shape[0], len(self.firm_rows)), dtype=dtype, device=dev)
        p = params
        revenue = revenue + self.host(p.revenue)  # 2025 revenue until the first week
        ebitda = revenue * 0.0 + self.host(52.0 * (p.revenue * p.margin + p.burn))
        debt0 = xp.take(sheets.liabilities(), self.firms, axis=1)
        ratings = [
            parse_rating(str(cal.value(f"firms.{sheets.roster.names[i]}.rating")))
            for i in self.firm_rows
        ]
        junk = xp.asarray(np.array(ratings) > LAST_IG, device=dev)  # below BBB- (abm.ratings)
        self.buffer_weeks = self.host(
            cash_targets(
                to_numpy(sheets.ledger.cash[0, ...])[self.firm_rows],
                p.revenue * (1.0 - p.margin) - p.burn + p.capex,
                (np.array(ratings) <= SINGLE_A) & listed,
                buffer_weeks,
            )
        )  # (F,) weeks of outgoings
        self.firm = FirmState(
            params=params,
            plan=params,  # the 2025 plan; shocks swap ``params``, never this
            revenue=revenue,
            ebitda=ebitda,
            leverage=debt_to_ebitda(xp, debt0, ebitda),  # debt / EBITDA at the start
            spread_move=revenue * 0.0,  # (E, F) spread change since the start, per year
            junk=xp.broadcast_to(junk, revenue.shape),
            hype=hype,
            ai_revenue=ai_revenue,
            planned_ai_revenue=planned_ai_revenue,
            selling_pressure=xp.zeros_like(sheets.prices),  # (E, M) decayed selling / depth
            contract_due=revenue * 0.0,  # (E, F) set by abm.deals for the coming week
            project_capex=revenue * 0.0,  # (E, F) the vehicles' new projects (abm.projects)
        )
        self.last_capex_cut = revenue * 0.0
        self.financing = Financing(cal, self)
        self.payouts = ShareholderPayouts(cal, sheets, self.firms, self.share_asset, self.listed)
        spread = np.full(sheets.roster.size, float(np.mean(params.spread)))
        spread[self.firm_rows] = np.where(params.spread > 0, params.spread, spread[0])
        issuers = to_numpy(sheets.ledger.pools["bank_loans"].issuers)
        self.loan_spread = self.host(spread[issuers])
        roster = sheets.roster
        on_margin = [roster.family[i] == "fund" and roster.kind[i] == "hedge" for i in issuers]
        self.on_margin = xp.asarray(np.array(on_margin, dtype=bool), device=sheets.prices.device)
        # prime-brokerage margin loans float over the short rate (a year, fraction)
        self.prime_spread = float(cal.model_value("assumptions.income.prime_brokerage_spread"))

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot of the firms' financing this week (USD bn, per firm).

        Bonds issued, credit drawn, the bond order book's oversubscription, equity raised, vendor
        financing, prepaid capacity and capex cut.
        """
        financing = self.financing
        return {
            "bonds_issued": books.per_agent(self.last_bonds_issued),
            "credit_drawn": books.per_agent(self.last_credit_drawn),
            "oversubscription": books.per_agent(financing.bond_market.last_oversubscription),
            "equity_raised": books.per_agent(self.last_equity_raised),
            "vendor_financed": books.per_agent(financing.last.vendor),
            "capacity_prepaid": books.per_agent(financing.last.cloud),
            "capex_cut": books.per_agent(self.last_capex_cut),
        } | self.payouts.report(books)

    def delay_operation(self, weeks: np.ndarray, week: int) -> None:
        """Firms not yet operating in week ``week`` start ``weeks`` (E, F) later (power delays).

        Until they operate their data centres do not wear out and capitalise their interest.
        """
        start = np.broadcast_to(self.operating_from, weeks.shape)
        self.operating_from = np.where(start > week, start + weeks, start)

    def host(self, values: np.ndarray) -> Any:
        """A per-firm host array on the model's device and dtype."""
        s = self.sheets
        return s.xp.asarray(values, dtype=s.prices.dtype, device=s.prices.device)

    # -- firms --------------------------------------------------------------------------------

    def run_firms(self, state: WorldState) -> None:
        """Revenue, costs, debt service, financing, capex and depreciation for one week.

        Operating flows and debt service are paid first; the firm then finances its buffer and
        this week's capex down the pecking order (:class:`abm.financing.Financing`) and pays the
        capex its cash covers: the rest is cut (``last_capex_cut``, USD bn this week).

        Firms that had failed when the week began (``flows.firms_alive``) stand still.
        """
        s, firm = self.sheets, self.firm
        p = firm.params
        xp, ledger, firms = s.xp, s.ledger, self.firms
        hype = state.sentiment.ai
        on = xp.astype(state.flows.firms_alive, s.prices.dtype)
        firm.hype = hype[:, None]
        week = state.week
        adoption = (1.0 + self.ai_growth) ** (week / 52.0)  # the AI revenue path
        self.operating = self.host((self.operating_from <= week).astype(float))
        lift = adoption * xp.exp(self.b_revenue * hype)[:, None]
        revenue = self.host(p.revenue) * (
            (1.0 - self.host(p.ai_share)) + self.host(p.ai_share) * lift
        )
        revenue = xp.where(self.lessor, 0.0, revenue * on)
        # the AI part of revenue against the plan at the same hype (for the revenue surprise)
        planned = xp.where(self.lessor, 0.0, self.host(firm.plan.revenue * firm.plan.ai_share))
        actual = xp.where(self.lessor, 0.0, self.host(p.revenue * p.ai_share))
        firm.planned_ai_revenue = xp.sum(planned * lift * on, axis=-1)
        firm.ai_revenue = xp.sum(actual * lift * on, axis=-1)
        margin = self.host(p.margin)
        base = self.host(p.revenue) * (1.0 - margin)  # 2025 operating costs
        costs = (xp.where(margin >= 0.0, revenue * (1.0 - margin), base) - self.host(p.burn)) * on
        capex = self.host(p.capex) * xp.exp(self.b_capex * hype)[:, None] * on
        capex = xp.minimum(capex, self.build_left)
        self.build_left = self.build_left - capex
        capex = capex + firm.project_capex  # the vehicles' new projects (abm.projects)
        firm.revenue = revenue
        # EBITDA as creditors read it: operating cash flow before interest, a year, averaged
        # over recent quarters (run rate smoothed with a mean age of ebitda_smoothing_weeks)
        firm.ebitda = self.ebitda_keep * firm.ebitda + self.ebitda_weight * (revenue - costs)
        cash_start = xp.take(ledger.cash, firms, axis=1)
        ledger.pay_outsider(firms, "rest_of_economy", costs - revenue)  # net operating cash flow
        before = ledger.equity_flows
        self._pay_coupons(on)
        ledger.pay_interest("bank_loans", self.loan_rates(state.macro.policy_rate[:, 0]))
        pool = ledger.pools["private_loans"]
        private = self.risk_free + self.private_rate
        ledger.pay_interest("private_loans", private + 0.0 * pool.face)
        self.financing.pay_interest(private)
        state.flows.interest_received = xp.maximum(ledger.equity_flows - before, 0.0)
        self._capitalize_interest(before)
        self.financing.deliver_capacity()
        self.financing.repay_scheduled(on)
        distressed = firm.junk | (self.last_capex_cut > 0.0)
        self.payouts.pay_dividends(on, distressed)
        outgoings = costs + capex
        buffer = self.buffer_weeks * outgoings
        cash = xp.take(ledger.cash, firms, axis=1)
        contract = firm.contract_due * on  # this week's contract payments beyond the caps
        # to pay this week's capex and contract payments and end at the buffer
        shortfall = buffer + capex + contract - cash
        due = xp.maximum(capex + contract - cash, 0.0)  # what cash cannot pay this week
        drain = xp.maximum(cash_start - cash, 0.0) + capex + contract  # this week's net outflow
        need = weekly_need(xp, shortfall, due, drain, self.restore_weeks)
        self.financing.fill(need, outgoings, on, shortfall=shortfall, due=due)
        cash = xp.take(ledger.cash, firms, axis=1)
        # contract payments are obligations (paid in the circular-deals rule): capex comes after
        spent = xp.minimum(capex, xp.maximum(cash - contract, 0.0))  # no cash, no capex
        self.last_capex_cut = capex - spent
        # a vehicle short of money cuts its new projects first; what it spent is let next week
        firm.project_capex = xp.maximum(firm.project_capex - self.last_capex_cut, 0.0)
        ledger.pay_outsider(firms, "rest_of_economy", spent, income=False)
        self.payouts.buy_back(on, cash - spent - contract - buffer, distressed)
        state.flows.ai_capex = xp.sum(spent, axis=-1)  # investment the macro block counts
        real = s.real_assets
        used = xp.take(real, firms, axis=1)
        wear = used * self.depreciation * on * self.operating
        s.real_assets = real + columns(xp, real, firms, spent - wear)
        ledger.book_equity(columns(xp, real, firms, -wear))

    @property
    def last_bonds_issued(self) -> Any:
        """(E, F) USD bn each firm raised in new bonds this week."""
        return self.financing.last.bonds

    @property
    def last_credit_drawn(self) -> Any:
        """(E, F) USD bn each firm drew on bank or private credit this week."""
        return self.financing.last.credit

    @property
    def last_equity_raised(self) -> Any:
        """(E, F) USD bn each firm raised in new equity this week."""
        return self.financing.last.equity

    def _capitalize_interest(self, before: Any) -> None:
        """Interest paid by firms still building is part of the cost of the data centre.

        Borrowing costs of an asset under construction are capitalized (IAS 23; ASC 835-20):
        the SPV's real assets grow by the interest it paid instead of its equity falling.
        """
        s = self.sheets
        xp = s.xp
        paid = xp.take(s.ledger.equity_flows - before, self.firms, axis=1)
        capitalized = xp.maximum(-paid, 0.0) * (1.0 - self.operating)
        added = columns(xp, s.real_assets, self.firms, capitalized)
        s.real_assets = s.real_assets + added
        s.ledger.book_equity(added)

    def _coupon_rate(self) -> Any:
        """(E, F) weekly coupon rate of each firm's bonds: risk-free + current spread."""
        firm = self.firm
        spread = self.host(firm.params.spread)[None, :] + firm.spread_move / 52.0
        return self.risk_free + self.sheets.xp.maximum(spread, 0.0) + 0.0 * firm.revenue

    def _pay_coupons(self, on: Any) -> None:
        """Each firm pays its coupon to the holders of its bond asset (outsiders: the rest)."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        bonds = xp.take(s.bonds, self.firms, axis=1)
        coupon = bonds * self._coupon_rate() * on  # (E, F)
        assets = self.bond_assets
        per_asset = columns(xp, s.prices, assets, coupon)  # (E, M)
        received = s.paid_to_holders(per_asset)  # (E, N)
        outside = xp.sum(per_asset, axis=-1) - xp.sum(received, axis=-1)
        paid = columns(xp, ledger.cash, self.firms, coupon)
        ledger.cash = ledger.cash + received - paid
        ledger.book_equity(received - paid)
        ledger.outsiders.book("outside_investors", -outside)

    def loan_rates(self, short_rate: Any) -> Any:
        """(E, I) weekly rate on each bank-loan issuer.

        Firms pay risk-free + their own bond spread; private-credit funds' NAV lines the firms'
        average. Hedge funds' loans are prime-brokerage margin loans, which float at the short
        rate plus a spread (``[assumptions.income] prime_brokerage_spread``), not a firm's rate.

        Args:
            short_rate: (E,) the US policy rate, a year (the bills' and SOFR's anchor).
        """
        pool = self.sheets.ledger.pools["bank_loans"]
        firm_rate = self.risk_free + self.loan_spread[None, :] + 0.0 * pool.face
        margin = (short_rate[:, None] + self.prime_spread) / 52.0 + 0.0 * pool.face
        return self.sheets.xp.where(self.on_margin, margin, firm_rate)

    def spread(self) -> Any:
        """(E, F) each firm's credit spread now, a fraction per year (start + move, at least 0)."""
        start = self.host(self.firm.params.spread * 52.0)[None, :]
        return self.sheets.xp.maximum(start + self.firm.spread_move, 0.0)
