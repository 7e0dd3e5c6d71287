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
- **Financing**: a firm whose cash falls below a buffer of weeks of outgoings issues bonds at the
  market price to outside investors while its bond trades above a floor; otherwise it borrows
  while it is solvent at book value — hyperscalers and chip vendors from banks, SPVs, AI labs and
  neoclouds from private-credit funds at the private-credit spread; a firm with negative cash has
  failed (the failure step clears it).
- **Valuation**: fundamentals — each AI firm's equity ``exp(γ h)·R/R₀`` on its own revenue, its
  bonds ``exp(−D·Δs)`` with its spread moving ``Δs = −k·h + a₁·max(0, lev − lev₀) +
  a₂·max(0, 1 − R/R₀)`` (new coupons pay the moved spread), crypto ``exp(c)``, the rest
  constant — and fire-sale price gaps decaying toward them with each asset's half-life
  (``kernels.impact.relax_toward``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
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
        self.equity_trigger = float(cal.value(f"{a}.firms.equity_issue_trigger"))
        self.equity_target = float(cal.value(f"{a}.firms.equity_issue_target"))
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
        self.ai_bonds = [
            m for m, c in enumerate(table.asset_class) if c == "corporate_bond" and table.issuer[m]
        ]
        self.crypto = table.index("crypto")
        firm_keys = [sheets.roster.names[i] for i in sheets.roster.indices("firm")]
        bond_firm = [firm_keys.index(table.issuer[m]) for m in self.ai_bonds]
        self.bond_firm = xp.asarray(np.array(bond_firm), device=sheets.prices.device)
        a = "assumptions.spreads"
        self.spread_leverage = float(cal.value(f"{a}.leverage_sensitivity"))
        self.spread_revenue = float(cal.value(f"{a}.revenue_sensitivity"))
        self.leverage0 = None  # debt / assets of each firm at the first valuation
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
        self.last_bonds_issued = self.revenue * 0.0
        self.last_equity_raised = self.revenue * 0.0
        self.spread_move = self.revenue * 0.0  # (E, F) spread change since the start, per year
        self.last_credit_drawn = self.revenue * 0.0
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
        """Revenue, costs, capex, depreciation, debt service and bond financing for one week.

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
        ledger.pay_outsider(firms, "rest_of_economy", costs - revenue)  # net operating cash flow
        ledger.pay_outsider(firms, "rest_of_economy", capex, income=False)
        real = s.real_assets
        used = xp.take(real, firms, axis=1)
        wear = used * self.depreciation * on * self.operating
        s.real_assets = real + _columns(xp, real, firms, capex - wear)
        ledger.book_equity(_columns(xp, real, firms, -wear))
        before = ledger.equity_flows
        self._pay_coupons(on)
        ledger.pay_interest("bank_loans", self._loan_rates())
        pool = ledger.pools["private_loans"]
        ledger.pay_interest("private_loans", self.risk_free + self.private_rate + 0.0 * pool.face)
        self._capitalize_interest(before)
        self._issue_bonds(costs + capex, on)

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

    def _issue_bonds(self, outgoings: Any, on: Any) -> None:
        """Firms short of their cash buffer raise funds: bonds first, then bank credit.

        Bonds are sold at the market price to outside investors while the firm's bonds trade
        above a floor (the bond market is open); otherwise, and for firms without listed bonds,
        the gap is drawn on bank credit lines while the firm is still solvent at book value.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        cash = xp.take(ledger.cash, self.firms, axis=1)
        gap = xp.maximum(self.buffer_weeks * outgoings - cash, 0.0) * on
        assets = self._bond_assets()
        price = xp.take(s.prices, assets, axis=1)
        has_bonds = xp.asarray(s.bond_asset[self.firm_rows] >= 0, device=s.prices.device)
        open_market = has_bonds & (price > self.bond_floor)
        raised = xp.where(open_market, gap, 0.0)
        self.last_bonds_issued = raised
        units = raised / price
        s.bonds = s.bonds + _columns(xp, s.bonds, self.firms, units)
        s.supply = s.supply + _columns(xp, s.supply, assets, units)
        ledger.pay_outsider(self.firms, "outside_investors", -raised, income=False)
        ledger.book_equity(_columns(xp, ledger.cash, self.firms, raised - units))
        solvent = xp.take(s.equity(), self.firms, axis=1) > 0.0
        credit = xp.where(open_market | ~solvent, 0.0, gap)
        self.last_credit_drawn = credit
        # listed hyperscalers and chip vendors draw bank lines; SPVs, AI labs and neoclouds
        # borrow from private-credit funds, which in turn lean on bank NAV lines
        self._issue_equity(on)
        per_agent = _columns(xp, ledger.cash, self.firms, credit)
        for name, lenders in (
            ("bank_loans", self.bank_borrower),
            ("private_loans", ~self.bank_borrower),
        ):
            pool = ledger.pools[name]
            wanted = xp.where(lenders[None, :], per_agent, 0.0)
            ledger.borrow(name, xp.take(wanted, pool.issuers, axis=1))

    bond_floor = 0.5  # a firm whose bonds trade below half of par cannot sell new ones
    equity_floor = 0.3  # nor new shares below 30% of their starting price

    def _issue_equity(self, on: Any) -> None:
        """Listed firms and AI labs whose book equity runs thin sell new shares to outsiders.

        Below ``equity_issue_trigger`` of assets (but still solvent), a firm raises enough to
        restore ``equity_issue_target``: listed firms while their shares trade above a floor
        (the new units add to the supply of their equity asset), AI labs while AI hype has not
        collapsed (a funding round). Cash comes in from outside investors and adds to equity.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        assets = xp.take(s.total_assets(), self.firms, axis=1)
        equity = assets - xp.take(s.liabilities(), self.firms, axis=1)
        thin = (equity < self.equity_trigger * assets) & (equity > 0.0)  # not yet insolvent
        wanted = xp.maximum(self.equity_target * assets - equity, 0.0)
        price = xp.take(s.prices, self.share_asset, axis=1)  # (E, F) 1 where no listed share
        open_market = xp.where(self.listed, price > self.equity_floor, self.hype > -0.5)
        raised = xp.where(thin & open_market & self.issuer & (on > 0.0), wanted, 0.0)
        self.last_equity_raised = raised
        units = xp.where(self.listed, raised / xp.maximum(price, 1e-12), 0.0)
        s.supply = s.supply + _columns(xp, s.supply, self.share_asset, units)
        ledger.pay_outsider(self.firms, "outside_investors", -raised)  # new capital: equity up

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
        new = _set_columns(xp, new, [self.crypto], xp.exp(sentiment.crypto)[:, None])
        new = new * s.impairment  # what defaults destroyed stays destroyed
        gap = relax_toward(s.prices / fundamental, xp.ones_like(fundamental), self.half_life)
        prices = new * gap
        s.ledger.book_equity((s.holdings @ (prices - s.prices)[:, :, None])[:, :, 0])
        s.prices = prices
        self.fundamental = new

    def _spread_move(self, sentiment: Sentiment) -> Any:
        """(E, F) change of each firm's credit spread since the start, a fraction per year.

        ``Δs = −k·h + a₁·max(0, lev − lev₀) + a₂·max(0, 1 − R/R₀)``: spreads tighten with hype and
        widen as a firm's debt / assets rises above its start and as its revenue falls short
        (notes/model-sheet.md, tech firms; coverage enters through revenue).
        """
        s = self.sheets
        xp = s.xp
        assets = xp.take(s.total_assets(), self.firms, axis=1)
        debt = xp.take(s.liabilities(), self.firms, axis=1)
        leverage = debt / xp.maximum(assets, 1e-12)
        if self.leverage0 is None:
            self.leverage0 = leverage * 1.0
        revenue0 = self.host(self.params.revenue) + 0.0 * self.revenue
        shortfall = xp.where(revenue0 > 0.0, 1.0 - self.revenue / xp.maximum(revenue0, 1e-12), 0.0)
        move = (
            -self.spread_k * sentiment.ai[:, None]
            + self.spread_leverage * xp.maximum(leverage - self.leverage0, 0.0)
            + self.spread_revenue * xp.maximum(shortfall, 0.0)
        )
        self.spread_move = move
        return move


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
