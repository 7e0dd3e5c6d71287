"""The real side of a week: sentiment, the tech firms' cash flows, and what assets are worth.

Vectorized over all firms and all E worlds; every cash movement goes through the ledger, so it
has a payer and a payee (the rest of the economy for customers, staff and suppliers; the bond
holders for coupons), and every change of value is booked as an equity flow.

Rules (notes/model-sheet.md §2; parameters in ``calibration.toml`` ``[assumptions.sentiment]``):

- **Sentiment**: AI hype ``h`` and crypto sentiment ``c`` are mean-reverting log indices,
  ``h' = (1 − κ) h + σ_h ε₁`` and ``c' = (1 − κ) c + σ_c (ρ ε₁ + √(1 − ρ²) ε₂)``; the AI–crypto
  correlation ρ is the calm value until AI equity falls more than a threshold from its start, then
  the panic value (regime-dependent correlation; the stablecoin-contagion estimates 0.09 → 0.53).
- **Revenue** ``R = R₀ ((1 − a) + a·(1 + g)^(t/52)·exp(b h))`` with AI share ``a`` (2025
  reports), the adoption path ``g`` a year and elasticity ``b``; profitable firms keep their 2025
  operating margin, loss-makers (the AI labs) keep their 2025 operating costs, so growth narrows
  their burn; capex follows the 2026 plan scaled by
  ``exp(b_c h)`` (the race speeds up with hype) and adds to real assets, which depreciate once
  they earn revenue (an SPV's data centre under construction does not wear out yet).
- **Debt service**: coupons of ``risk-free + spread`` on bond face, paid to the bond's holders in
  proportion to units held (outsiders hold the rest); the same rate on bank loans, paid pro rata.
  Firms still building (no revenue yet) capitalize the interest into the asset (IAS 23).
- **Financing**: a firm short of its cash buffer (weeks of outgoings) plus this week's capex fills
  the gap in Kedrosky's pecking order (:mod:`abm.financing`: bonds sold to investors who reach
  for yield, :mod:`abm.bond_market`; bank and private credit; equity; vendor financing; cloud
  prepayments); what no channel covers is cut from capex (``last_capex_cut``). A firm with
  negative cash has failed (the failure step clears it).
- **Valuation**: fundamentals — each AI firm's equity ``exp(γ h)·R/R₀`` on its own revenue, its
  bonds ``exp(−D·Δs)`` with its spread moving
  ``Δs = −k·h + a₁·max(0, x − x₀) + a₃·P`` with ``x`` debt / EBITDA and ``P`` selling pressure
  (:meth:`Economy._spread_move`; new coupons pay the moved spread), crypto ``exp(c)``, the rest
  constant — and fire-sale price gaps decaying toward them with each asset's half-life
  (``kernels.impact.relax_toward``). Ratings read the same debt / EBITDA (:mod:`abm.ratings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.financing import Financing
from abm.ratings import LAST_IG, debt_to_ebitda, parse_rating
from kernels.backend import segment_sum, to_numpy
from kernels.impact import relax_toward

STREAM_AI, STREAM_CRYPTO = 0, 1


@dataclass
class Sentiment:
    """AI hype and crypto sentiment per world (log indices; 0 at the start)."""

    ai: Any
    crypto: Any


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


class Economy:
    """The weekly real-economy rules of one model (sentiment, firms, valuation)."""

    def __init__(self, cal: Calibration, sheets: BalanceSheets) -> None:
        self.sheets = sheets
        xp = sheets.xp
        a = "assumptions"
        self.kappa = float(cal.model_value(f"{a}.sentiment.mean_reversion_per_week"))
        self.sigma_ai = float(cal.model_value(f"{a}.sentiment.ai_volatility_per_week"))
        self.sigma_crypto = float(cal.model_value(f"{a}.sentiment.crypto_volatility_per_week"))
        self.rho_calm = float(cal.model_value("sentiment.crypto_correlation_calm"))
        self.rho_panic = float(cal.model_value("sentiment.crypto_correlation_panic"))
        self.panic_drawdown = float(cal.model_value(f"{a}.sentiment.panic_ai_drawdown"))
        self.surprise_feedback = float(cal.model_value(f"{a}.sentiment.revenue_surprise_feedback"))
        self.momentum = float(cal.model_value(f"{a}.sentiment.return_momentum"))
        self.b_revenue = float(cal.model_value(f"{a}.sentiment.ai_revenue_elasticity"))
        self.b_capex = float(cal.model_value(f"{a}.sentiment.capex_elasticity"))
        self.gamma = float(cal.model_value(f"{a}.sentiment.equity_valuation_elasticity"))
        self.spread_k = float(cal.value(f"{a}.sentiment.spread_sensitivity"))
        self.depreciation = float(cal.model_value(f"{a}.firms.depreciation"))
        self.buffer_weeks = float(cal.model_value(f"{a}.firms.cash_buffer_weeks"))
        self.risk_free = float(cal.model_value(f"{a}.firms.coupon_over_spread"))
        self.ai_growth = float(cal.value(f"{a}.firms.ai_revenue_growth"))  # per year
        self.week = 0
        self.params = FirmParameters.from_calibration(cal, sheets)
        self.plan = self.params  # the 2025 plan; shocks swap ``params``, never this
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
                    0.0
                    if self.params.revenue[f] > 0
                    else cal.model_value(f"firms.{name}.lease_start")
                )
                built = float(real[sheets.roster.index(name)])
                budget[f] = max(float(cal.model_value(f"firms.{name}.total_cost")) - built, 0.0)
        self.operating_from = start
        self.operating = self.host((start <= 0.0).astype(float))
        self.build_left = self.host(budget) + 0.0 * sheets.prices[:, :1]  # (E, F) USD bn
        self.firms = xp.asarray(sheets.roster.indices("firm"), device=sheets.ledger.cash.device)
        self.firm_rows = sheets.roster.indices("firm")
        table = sheets.assets
        self.ai_equity = [
            m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]
        ]
        # private AI credit marked to model: spread duration and the AI share of each market
        marks = "assumptions.spreads"
        self.marks_years = float(cal.value(f"{marks}.private_marks_duration"))
        pc_share = float(cal.model_value(f"{marks}.ai_share_of_private_credit"))
        self.marked = [table.index(k) for k in ("ai_spv_debt", "dc_abs", "private_credit")]
        self.marked_share = sheets.xp.asarray(
            np.array([1.0, 1.0, pc_share]), dtype=sheets.prices.dtype, device=sheets.prices.device
        )
        self.ai_bonds = [
            m for m, c in enumerate(table.asset_class) if c == "corporate_bond" and table.issuer[m]
        ]
        self.crypto = table.index("crypto")
        firm_keys = [sheets.roster.names[i] for i in sheets.roster.indices("firm")]
        bond_firm = [firm_keys.index(table.issuer[m]) for m in self.ai_bonds]
        self.bond_firm = xp.asarray(np.array(bond_firm), device=sheets.prices.device)
        a = "assumptions.spreads"
        self.spread_leverage = float(cal.model_value(f"{a}.debt_to_ebitda_sensitivity"))
        self.ebitda_keep = 1.0 - 1.0 / float(cal.model_value(f"{a}.ebitda_smoothing_weeks"))
        self.spread_selling = float(cal.model_value(f"{a}.selling_pressure_sensitivity"))
        pressure_half_life = float(cal.model_value(f"{a}.selling_pressure_half_life"))
        self.pressure_keep = 0.5 ** (1.0 / pressure_half_life)
        depth = np.asarray(table.depth, dtype=float)
        self.depth = xp.asarray(
            np.where(depth > 0.0, depth, np.inf),
            dtype=sheets.prices.dtype,
            device=sheets.prices.device,
        )
        firm_names = [sheets.roster.names[i] for i in self.firm_rows]
        position = [firm_names.index(table.issuer[m]) for m in self.ai_equity]
        self.equity_firm = xp.asarray(np.array(position), device=sheets.prices.device)
        self.equity_revenue0 = self.host(self.params.revenue[position])
        listed = self.params.equity_asset >= 0
        share_asset = np.maximum(self.params.equity_asset, 0)
        kinds = [sheets.roster.kind[i] for i in sheets.roster.indices("firm")]
        issuer = listed | np.array([k == "ai_lab" for k in kinds])
        self.listed = xp.asarray(listed, device=sheets.prices.device)
        self.issuer = xp.asarray(issuer, device=sheets.prices.device)
        self.share_asset = xp.asarray(share_asset, device=sheets.prices.device)
        self.hype = xp.zeros(
            (sheets.prices.shape[0], 1), dtype=sheets.prices.dtype, device=sheets.prices.device
        )
        dtype = sheets.prices.dtype
        dev = sheets.prices.device
        self.half_life = xp.asarray(table.half_life, dtype=dtype, device=dev)
        self.duration_years = xp.asarray(
            [d / 52.0 for d in table.duration], dtype=dtype, device=dev
        )
        self.fundamental = sheets.prices * 1.0
        self.last_ai_index = xp.mean(
            xp.take(sheets.prices, xp.asarray(self.ai_equity), axis=1), axis=1
        )
        self.planned_ai_revenue = xp.zeros_like(self.last_ai_index)  # (E,) last week's plan
        self.ai_revenue = xp.zeros_like(self.last_ai_index)  # (E,) last week's AI revenue
        self.revenue = xp.zeros(
            (sheets.prices.shape[0], len(self.firm_rows)), dtype=dtype, device=dev
        )
        p = self.params
        self.revenue = self.revenue + self.host(p.revenue)  # 2025 revenue until the first week
        self.ebitda = self.revenue * 0.0 + self.host(52.0 * (p.revenue * p.margin + p.burn))
        debt0 = xp.take(sheets.liabilities(), self.firms, axis=1)
        self.leverage0 = debt_to_ebitda(xp, debt0, self.ebitda)  # (E, F) debt / EBITDA at start
        self.leverage = self.leverage0
        ratings = [
            parse_rating(str(cal.value(f"firms.{sheets.roster.names[i]}.rating")))
            for i in self.firm_rows
        ]
        junk = xp.asarray(np.array(ratings) > LAST_IG, device=dev)  # below BBB- (abm.ratings)
        self.junk = xp.broadcast_to(junk, self.revenue.shape)
        self.pressure = xp.zeros_like(sheets.prices)  # (E, M) decayed selling / depth
        self.last_capex_cut = self.revenue * 0.0
        self.spread_move = self.revenue * 0.0  # (E, F) spread change since the start, per year
        self.financing = Financing(cal, self)
        spread = np.full(sheets.roster.size, float(np.mean(self.params.spread)))
        spread[self.firm_rows] = np.where(self.params.spread > 0, self.params.spread, spread[0])
        issuers = to_numpy(sheets.ledger.pools["bank_loans"].issuers)
        self.loan_spread = self.host(spread[issuers])

    def host(self, values: np.ndarray) -> Any:
        """A per-firm host array on the model's device and dtype."""
        s = self.sheets
        return s.xp.asarray(values, dtype=s.prices.dtype, device=s.prices.device)

    # -- sentiment ----------------------------------------------------------------------------

    def update_sentiment(self, sentiment: Sentiment, streams: Any, step: int) -> Sentiment:
        """One week of AI hype and crypto sentiment, correlated more strongly in a panic.

        Reflexivity: hype also moves with last week's AI revenue surprise (actual AI revenue of
        the firms against the plan at the same hype, :meth:`revenue_surprise`; post-earnings
        drift) and with last week's AI equity return (time-series momentum), so a revenue miss
        or a drawdown feeds on itself.
        """
        xp = self.sheets.xp
        e1 = streams.normal(step, STREAM_AI)
        e2 = streams.normal(step, STREAM_CRYPTO)
        ai_index = xp.mean(xp.take(self.sheets.prices, xp.asarray(self.ai_equity), axis=1), axis=1)
        rho = xp.where(ai_index < 1.0 - self.panic_drawdown, self.rho_panic, self.rho_calm)
        keep = 1.0 - self.kappa
        ai_return = ai_index / self.last_ai_index - 1.0
        self.last_ai_index = ai_index
        feedback = self.surprise_feedback * self.revenue_surprise() + self.momentum * ai_return
        return Sentiment(
            ai=keep * sentiment.ai + self.sigma_ai * e1 + feedback,
            crypto=keep * sentiment.crypto
            + self.sigma_crypto * (rho * e1 + xp.sqrt(1.0 - rho * rho) * e2),
        )

    def revenue_surprise(self) -> Any:
        """(E,) last week's AI revenue over the plan at the same hype, less one (0 before any).

        The AI part of every operating firm's revenue (SPVs' rent excluded): shortfalls of
        revenue (:mod:`abm.shocks`) and failed firms make it negative.
        """
        xp = self.sheets.xp
        plan = self.planned_ai_revenue
        return xp.where(plan > 0.0, self.ai_revenue / xp.where(plan > 0.0, plan, 1.0) - 1.0, 0.0)

    # -- firms --------------------------------------------------------------------------------

    def run_firms(self, hype: Any, active: Any) -> None:
        """Revenue, costs, debt service, financing, capex and depreciation for one week.

        Operating flows and debt service are paid first; the firm then finances its buffer and
        this week's capex down the pecking order (:class:`abm.financing.Financing`) and pays the
        capex its cash covers: the rest is cut (``last_capex_cut``, USD bn this week).

        Args:
            hype: (E,) AI hype index.
            active: (E, F) bool, firms that have not failed.
        """
        s, p = self.sheets, self.params
        xp, ledger, firms = s.xp, s.ledger, self.firms
        on = xp.astype(active, s.prices.dtype)
        self.hype = hype[:, None]
        adoption = (1.0 + self.ai_growth) ** (self.week / 52.0)  # the AI revenue path
        self.operating = self.host((self.operating_from <= self.week).astype(float))
        self.week += 1
        lift = adoption * xp.exp(self.b_revenue * hype)[:, None]
        revenue = self.host(p.revenue) * (
            (1.0 - self.host(p.ai_share)) + self.host(p.ai_share) * lift
        )
        revenue = xp.where(self.lessor, 0.0, revenue * on)
        # the AI part of revenue against the plan at the same hype (for the revenue surprise)
        planned = xp.where(self.lessor, 0.0, self.host(self.plan.revenue * self.plan.ai_share))
        actual = xp.where(self.lessor, 0.0, self.host(p.revenue * p.ai_share))
        self.planned_ai_revenue = xp.sum(planned * lift * on, axis=-1)
        self.ai_revenue = xp.sum(actual * lift * on, axis=-1)
        margin = self.host(p.margin)
        base = self.host(p.revenue) * (1.0 - margin)  # 2025 operating costs
        costs = (xp.where(margin >= 0.0, revenue * (1.0 - margin), base) - self.host(p.burn)) * on
        capex = self.host(p.capex) * xp.exp(self.b_capex * hype)[:, None] * on
        capex = xp.minimum(capex, self.build_left)
        self.build_left = self.build_left - capex
        self.revenue = revenue
        # EBITDA as creditors read it: operating cash flow before interest, a year, averaged
        # over recent quarters (run rate smoothed with a mean age of ebitda_smoothing_weeks)
        self.ebitda = self.ebitda_keep * self.ebitda + (1.0 - self.ebitda_keep) * 52.0 * (
            revenue - costs
        )
        ledger.pay_outsider(firms, "rest_of_economy", costs - revenue)  # net operating cash flow
        before = ledger.equity_flows
        self._pay_coupons(on)
        ledger.pay_interest("bank_loans", self._loan_rates())
        pool = ledger.pools["private_loans"]
        private = self.risk_free + self.private_rate
        ledger.pay_interest("private_loans", private + 0.0 * pool.face)
        self.financing.pay_interest(private)
        self._capitalize_interest(before)
        self.financing.deliver_capacity()
        self.financing.repay_scheduled(on)
        outgoings = costs + capex
        cash = xp.take(ledger.cash, firms, axis=1)
        self.financing.fill(self.buffer_weeks * outgoings + capex - cash, outgoings, on)
        cash = xp.take(ledger.cash, firms, axis=1)
        spent = xp.minimum(capex, xp.maximum(cash, 0.0))  # no cash, no capex
        self.last_capex_cut = capex - spent
        ledger.pay_outsider(firms, "rest_of_economy", spent, income=False)
        real = s.real_assets
        used = xp.take(real, firms, axis=1)
        wear = used * self.depreciation * on * self.operating
        s.real_assets = real + _columns(xp, real, firms, spent - wear)
        ledger.book_equity(_columns(xp, real, firms, -wear))

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
        added = _columns(xp, s.real_assets, self.firms, capitalized)
        s.real_assets = s.real_assets + added
        s.ledger.book_equity(added)

    def _coupon_rate(self) -> Any:
        """(E, F) weekly coupon rate of each firm's bonds: risk-free + current spread."""
        spread = self.host(self.params.spread)[None, :] + self.spread_move / 52.0
        return self.risk_free + self.sheets.xp.maximum(spread, 0.0) + 0.0 * self.revenue

    def _pay_coupons(self, on: Any) -> None:
        """Each firm pays its coupon to the holders of its bond asset (outsiders: the rest)."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        bonds = xp.take(s.bonds, self.firms, axis=1)
        coupon = bonds * self._coupon_rate() * on  # (E, F)
        assets = self._bond_assets()
        per_asset = _columns(xp, s.prices, assets, coupon)  # (E, M)
        units = s.supply
        rate = per_asset / xp.where(units > 0.0, units, 1.0)  # coupon per unit
        received = (s.holdings @ rate[:, :, None])[:, :, 0]  # (E, N)
        outside = xp.sum(per_asset, axis=-1) - xp.sum(received, axis=-1)
        paid = _columns(xp, ledger.cash, self.firms, coupon)
        ledger.cash = ledger.cash + received - paid
        ledger.book_equity(received - paid)
        ledger.outsiders.book("outside_investors", -outside)

    def _loan_rates(self) -> Any:
        """(E, I) weekly rate on each bank-loan issuer: risk-free + the borrower's spread.

        Firms pay their own bond spread; funds borrowing from banks pay the firms' average.
        """
        pool = self.sheets.ledger.pools["bank_loans"]
        return self.risk_free + self.loan_spread[None, :] + 0.0 * pool.face

    def _bond_assets(self) -> Any:
        """(F,) market index of each firm's bond asset (firms without bonds point at 0, face 0)."""
        s = self.sheets
        idx = np.maximum(s.bond_asset[self.firm_rows], 0)
        return s.xp.asarray(idx, device=s.prices.device)

    # -- valuation ----------------------------------------------------------------------------

    def revalue(self, sentiment: Sentiment) -> None:
        """Move fundamentals with sentiment and let prices follow, fire-sale gaps decaying."""
        s = self.sheets
        xp = s.xp
        fundamental = self.fundamental
        earnings = xp.take(self.revenue, self.equity_firm, axis=1) / self.equity_revenue0
        earnings = xp.maximum(earnings, 1e-6)  # a firm without revenue keeps a sliver of value
        equity_value = xp.exp(self.gamma * sentiment.ai)[:, None] * earnings  # each its own firm
        spread_move = self._spread_move(sentiment)  # (E, F) per year
        new = xp.ones_like(fundamental)
        new = _set_columns(xp, new, self.ai_equity, equity_value)
        bond_value = xp.exp(
            -xp.take(self.duration_years, xp.asarray(self.ai_bonds))
            * xp.take(spread_move, self.bond_firm, axis=1)
        )
        new = _set_columns(xp, new, self.ai_bonds, bond_value)
        marked = xp.exp(-self.marks_years * self.marked_share * self._ai_credit_index()[:, None])
        new = _set_columns(xp, new, self.marked, marked)
        new = _set_columns(xp, new, [self.crypto], xp.exp(sentiment.crypto)[:, None])
        new = new * s.impairment  # what defaults destroyed stays destroyed
        gap = relax_toward(s.prices / fundamental, xp.ones_like(fundamental), self.half_life)
        prices = new * gap
        s.ledger.book_equity((s.holdings @ (prices - s.prices)[:, :, None])[:, :, 0])
        s.prices = prices
        self.fundamental = new

    def _ai_credit_index(self) -> Any:
        """(E,) widening of AI credit spreads: each firm's spread rise weighted by its debt.

        Private AI loans (``ai_spv_debt``), data-centre ABS and the AI part of private credit
        have no quoted price; their managers mark them to model (notes/model-sheet.md: "mark to
        model, lagged"), here ``exp(−D·a·Δs_AI)`` with spread duration ``D``, AI share ``a`` and
        this index ``Δs_AI``; the prices follow with the markets' half-lives.
        """
        xp = self.sheets.xp
        debt = xp.maximum(self.debt, 0.0)
        widening = xp.maximum(self.spread_move, 0.0)
        return xp.sum(widening * debt, axis=-1) / xp.maximum(xp.sum(debt, axis=-1), 1e-12)

    def _spread_move(self, sentiment: Sentiment) -> Any:
        """(E, F) change of each firm's credit spread since the start, a fraction per year.

        ``Δs = −k·h + a₁·max(0, x − x₀) + a₃·P``: spreads tighten with hype, widen as debt /
        EBITDA ``x`` (turns; :func:`abm.ratings.debt_to_ebitda`) rises above its start, and widen
        with selling pressure ``P`` on the firm's bonds (units sold in fire sales and forced
        sales over the market depth, fading with ``selling_pressure_half_life``;
        :meth:`absorb_selling`). ``x`` carries both leverage and interest cover (for a firm
        paying rate r, cover is 1 / (r·x)), and revenue shortfalls reach it through EBITDA, which
        creditors read as a smoothed run rate (``ebitda_smoothing_weeks``). ``a₁`` is fitted to
        the autumn-2025 moves (``[assumptions.spreads]``): the bond issues of Oracle (18 bn),
        Meta (30 bn) and Alphabet (25 bn) raised their debt / EBITDA by 0.87, 0.26 and 0.15
        turns while their spreads widened by 48, 15 and 10 bp (seed 000); ``a₁`` is the
        geometric mean of the three ratios (59.5 bp a turn), which gives back 51, 15 and 9 bp
        (tests/test_bond_market.py runs it through the model).
        """
        s = self.sheets
        xp = s.xp
        debt = xp.take(s.liabilities(), self.firms, axis=1)
        self.debt = debt  # (E, F) weights of the AI credit index
        leverage = debt_to_ebitda(xp, debt, self.ebitda)
        self.leverage = leverage  # (E, F) debt / EBITDA now, read by the rating agency
        self.pressure = self.pressure * self.pressure_keep
        pressure = xp.take(self.pressure, self._bond_assets(), axis=1)
        has_bonds = xp.asarray(s.bond_asset[self.firm_rows] >= 0, device=s.prices.device)
        move = (
            -self.spread_k * sentiment.ai[:, None]
            + self.spread_leverage * xp.maximum(leverage - self.leverage0, 0.0)
            + self.spread_selling * xp.where(has_bonds, pressure, 0.0)
        )
        self.spread_move = move
        return move

    def spread(self) -> Any:
        """(E, F) each firm's credit spread now, a fraction per year (start + move, at least 0)."""
        start = self.host(self.params.spread * 52.0)[None, :]
        return self.sheets.xp.maximum(start + self.spread_move, 0.0)

    def absorb_selling(self, sold: Any) -> None:
        """Add forced selling ``sold`` (E, M) units to the decaying pressure on each asset.

        Called with the fire sale's units sold each week and with fallen angels' forced sales;
        the pressure is units over market depth, so selling one depth adds 1; it fades once a
        week, when the spreads move.
        """
        self.pressure = self.pressure + sold / self.depth


def _columns(xp: Any, like: Any, index: Any, values: Any) -> Any:
    """(E, K) zeros shaped like ``like`` with ``values`` (E, k) added at columns ``index``."""
    return segment_sum(values, index, like.shape[-1])


def _set_columns(xp: Any, target: Any, columns: list[int], values: Any) -> Any:
    """``target`` with columns ``columns`` replaced by ``values`` (broadcast over them)."""
    mask = np.zeros(target.shape[-1], dtype=bool)
    mask[columns] = True
    keep = xp.asarray(mask, device=target.device)
    filled = (
        xp.zeros_like(target) + values
        if values.shape[-1] == 1
        else _columns(xp, target, xp.asarray(columns, device=target.device), values)
    )
    return xp.where(keep, filled, target)
