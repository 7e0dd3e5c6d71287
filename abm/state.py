"""The world state: everything that changes during a run, in one object that rules read and write.

A week of the model is an ordered list of rules (:mod:`abm.rules`); each rule reads and writes
this state and never another rule. What a rule keeps only for itself from week to week (a rating
agency's smoothed metric, a covenant's trailing window) stays on the rule; whatever a second rule
reads lives here (docs/design.md, "The state"):

- ``sheets``: the balance sheets and the double-entry ledger (cash, pools, holdings, prices,
  real assets, bonds, supply, impairment), :mod:`abm.balance_sheets`.
- ``week``: weeks completed (0 during the first step); the one clock every rule reads.
- ``sentiment``: the AI hype and crypto sentiment indices.
- ``defaulted``: who has failed, one (E, N) array with one writer per cause
  (:meth:`WorldState.fail`, :meth:`WorldState.rescue`; :data:`CAUSES`), and ``default_cause``:
  (E, N) the cause of each failure (0 none, else 1 + its position in :data:`CAUSES`; the first
  cause of a week wins).
- ``stopped`` and ``stopped_week``: (E,) host arrays, worlds whose state became non-finite and
  the week it happened (-1 while running), and ``stop_reasons`` (world -> what became
  non-finite); such a world's numbers are not results (:meth:`abm.model.Powderkeg.take_snapshot`
  finds them).
- ``firms``: the firms' shared quantities (revenue, EBITDA, leverage, spreads, junk status) that
  the firms' operations, valuation, ratings, stakes and financing read (:class:`FirmState`).
- ``backstop_bought``: (E,) the central bank's purchases so far, shared by the market maker of
  last resort and its stablecoin facility (one capacity).
- ``withdrawals``: (E, N) the latest run on each bank by outside depositors (this week's once
  :mod:`abm.bank_runs` has run; stablecoin holders read last week's before it).
- ``macro``: the macro-financial state of each world's two regions (:class:`MacroState`):
  output gap, GDP growth, unemployment, inflation, the policy rate, the 10-year yield and its
  term premium, house and commercial property prices, bank credit growth (:mod:`abm.macro`).
- ``banks``: what the banks' rules share (:class:`BankState`): loan books to the economy outside
  the model and their loss allowances, held-to-maturity securities, this week's earnings,
  provisions, lending and payouts (:mod:`abm.credit_risk`, :mod:`abm.bank_earnings`).
- ``flows``: this week's flows between rules (:class:`WeekFlows`), reset when the week begins.

Arrays lead with the world axis E and live on the model's device (NumPy or CuPy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: causes of failure, each written by one rule: an uncured SPV covenant breach (abm.spv), a
#: default in the market clearing (abm.clearing: equity below zero or cash short of what is due),
#: and a payment shortfall in the Eisenberg–Noe clearing of failures (abm.failures)
CAUSES = ("covenant", "market", "clearing", "arrears")
#: the macro block's regions (abm.macro): US banks live in the first, EU banks in the second
REGIONS = ("us", "euro_area")
#: the banks' loan books to the economy outside the model (abm.credit_risk); the loans to the
#: AI complex and to funds are the ledger's ``bank_loans`` pool, written down when they fail
LOAN_BOOKS = ("mortgages", "consumer", "corporate", "commercial_real_estate")


@dataclass
class Sentiment:
    """AI hype and crypto sentiment per world (log indices; 0 at the start)."""

    ai: Any
    crypto: Any


@dataclass(slots=True)
class FirmState:
    """What the firms' rules share, per world and firm (E, F) unless noted; USD bn.

    Attributes:
        params: the firms' parameters now (:class:`abm.firms.FirmParameters`); shocks swap them.
        plan: the calibrated 2025 plan (never swapped).
        revenue: last week's revenue (an SPV's is its sponsor's rent).
        ebitda: operating cash flow before interest, a year, smoothed as creditors read it.
        leverage: debt / EBITDA as the valuation last read it (turns).
        spread_move: change of each firm's credit spread since the start, a fraction a year.
        junk: bool, rated below BBB− (the rating agency writes it, bond investors read it).
        hype: (E, 1) the AI hype the firms ran on this week.
        ai_revenue: (E,) AI revenue of the operating firms last week.
        planned_ai_revenue: (E,) the plan's AI revenue at the same hype.
        selling_pressure: (E, M) forced selling over market depth, fading weekly: the fire sale
            and fallen-angel sales add to it (:meth:`WorldState.absorb_selling`), the valuation
            reads it into the issuers' spreads.
        contract_due: contract payments each firm owes this week beyond the capped commitments
            (the excess of :mod:`abm.contract_schedule`): :class:`abm.deals.CircularDeals`
            writes it for the coming week, the firms' financing raises cash for it.
        project_capex: the SPVs' capex on new data-centre projects (:mod:`abm.projects`): the
            SPVs' mechanism writes this week's plan, the firms' operations replace it with what
            the vehicles spent on them (their capex cut falls on new projects first), and the
            SPVs let that capacity the next week.
    """

    params: Any
    plan: Any
    revenue: Any
    ebitda: Any
    leverage: Any
    spread_move: Any
    junk: Any
    hype: Any
    ai_revenue: Any
    planned_ai_revenue: Any
    selling_pressure: Any
    contract_due: Any
    project_capex: Any


@dataclass(slots=True)
class MacroState:
    """The macro-financial state, (E, R) per world and region of :data:`REGIONS` (abm.macro).

    Rates and growth are fractions a year; indices are 1 at the start.

    Attributes:
        output_gap: real GDP over its potential, minus 1.
        gdp_growth: real GDP growth over the last quarter, annualised.
        unemployment: the unemployment rate.
        inflation: consumer-price inflation over a year.
        policy_rate: the central bank's policy rate.
        yield_10y: the 10-year government bond yield.
        term_premium: the part of the 10-year yield above the expected short rates.
        house_prices: residential property prices (index).
        cre_prices: commercial property prices (index).
        credit_growth: growth of bank loans to the economy outside the model, annualised.
    """

    output_gap: Any
    gdp_growth: Any
    unemployment: Any
    inflation: Any
    policy_rate: Any
    yield_10y: Any
    term_premium: Any
    house_prices: Any
    cre_prices: Any
    credit_growth: Any


@dataclass(slots=True)
class BankState:
    """What the banks' rules share, per world and bank (E, B) in bank order; USD bn.

    Attributes:
        region: (B,) host, each bank's position in :data:`REGIONS`.
        loans: (E, B, K) gross loans to the economy outside the model by book of
            :data:`LOAN_BOOKS`; with the allowance subtracted they are part of the banks'
            real assets (``sheets.real_assets``).
        allowance: (E, B, K) the expected-credit-loss allowance (IFRS 9 / CECL) on those loans.
        htm_units: (E, B) Treasury units held to maturity: carried at cost for capital, so
            their unrealised losses count only once they are sold.
        provisions: this week's loan-loss provisions (write-offs plus the change of the
            allowance; negative: a release).
        write_offs: this week's loans written off.
        write_offs_by_book: (E, B, K) the same by book of :data:`LOAN_BOOKS`.
        lending: this week's new lending net of repayments.
        net_interest: this week's net interest income.
        net_income: this week's net income after tax.
        payouts: this week's dividends and buybacks.
        funding_spread: the bank's wholesale spread over the policy rate now, a fraction a year.
    """

    region: np.ndarray
    loans: Any
    allowance: Any
    htm_units: Any
    provisions: Any
    write_offs: Any
    write_offs_by_book: Any
    lending: Any
    net_interest: Any
    net_income: Any
    payouts: Any
    funding_spread: Any

    @classmethod
    def start(cls, region: np.ndarray, loans: Any, allowance: Any, htm_units: Any) -> BankState:
        """The banks at the start: their books as calibrated, no flows yet."""
        zeros = htm_units * 0.0
        by_book = None if loans is None else loans * 0.0  # no books yet: set with the loans
        return cls(
            region=region, loans=loans, allowance=allowance, htm_units=htm_units,
            provisions=zeros, write_offs=zeros, write_offs_by_book=by_book, lending=zeros,
            net_interest=zeros, net_income=zeros, payouts=zeros, funding_spread=zeros,
        )  # fmt: skip


@dataclass(slots=True)
class WeekFlows:
    """This week's flows from one rule to a later one (reset when the week begins).

    Attributes:
        defaulted_before: (E, N) bool, agents that had failed when the week began.
        firms_alive: (E, F) bool, firms that had not failed when the week began.
        pegs: (E, N) stablecoins' recoverable value per token before redemptions (1 elsewhere).
        reserve_stress: (E, N) share of each issuer's reserves at banks in trouble.
        due: (E, N) cash fund and stablecoin issuers must pay out this week (redemptions).
        panic_sales: (E, N) cash panicking households raise by selling.
        sold: (E, M) units sold to the market makers this week (fire sale and reserve sales).
        proceeds: (E, N) cash those sales raised for each seller.
        converged: (E,) bool, this week's fire sale converged.
        bailout_injection: (E, N) public capital injected into banks this week.
        ai_capex: (E,) what the tech firms spent on capex this week (USD bn).
        interest_received: (E, N) coupons and loan interest the firms paid each holder this
            week (the banks count it in their net interest income).
    """

    defaulted_before: Any = None
    firms_alive: Any = None
    pegs: Any = None
    reserve_stress: Any = None
    due: Any = None
    panic_sales: Any = None
    sold: Any = None
    proceeds: Any = None
    converged: Any = None
    bailout_injection: Any = None
    ai_capex: Any = None
    interest_received: Any = None


@dataclass(slots=True)
class WorldState:
    """Everything a run changes, for E worlds in lockstep (see the module docstring)."""

    sheets: Any
    sentiment: Sentiment
    firms: FirmState
    defaulted: Any
    backstop_bought: Any
    withdrawals: Any
    default_cause: Any
    stopped: np.ndarray
    stopped_week: np.ndarray
    macro: MacroState
    banks: BankState
    week: int = 0
    stop_reasons: dict[int, str] = field(default_factory=dict)
    flows: WeekFlows = field(default_factory=WeekFlows)

    @classmethod
    def start(
        cls, sheets: Any, firms: FirmState, macro: MacroState, banks: BankState
    ) -> WorldState:
        """The state at the calibrated start: nobody has failed, no flows yet, calm sentiment."""
        xp = sheets.xp
        dev = sheets.prices.device
        worlds = sheets.prices.shape[0]
        zeros = xp.zeros((worlds,), dtype=sheets.prices.dtype, device=dev)
        return cls(
            sheets=sheets,
            sentiment=Sentiment(ai=zeros, crypto=zeros),
            firms=firms,
            defaulted=xp.zeros(sheets.ledger.cash.shape, dtype=xp.bool, device=dev),
            backstop_bought=xp.zeros_like(sheets.prices[:, 0]),
            withdrawals=xp.zeros_like(sheets.ledger.cash),
            default_cause=xp.zeros(sheets.ledger.cash.shape, dtype=xp.int8, device=dev),
            stopped=np.zeros(worlds, dtype=bool),
            stopped_week=np.full(worlds, -1, dtype=np.int64),
            macro=macro,
            banks=banks,
            flows=WeekFlows(
                sold=xp.zeros_like(sheets.prices),
                proceeds=xp.zeros_like(sheets.ledger.cash),
                converged=xp.ones((worlds,), dtype=xp.bool, device=dev),
                bailout_injection=xp.zeros_like(sheets.ledger.cash),
                interest_received=xp.zeros_like(sheets.ledger.cash),
            ),
        )

    @property
    def xp(self) -> Any:
        """The array namespace of the state's arrays."""
        return self.sheets.xp

    def fail(self, cause: str, mask: Any) -> None:
        """Record the failures ``mask`` (E, N) of one cause of :data:`CAUSES`."""
        if cause not in CAUSES:
            raise ValueError(f"unknown cause of failure {cause!r}; causes are {CAUSES}")
        xp = self.xp
        code = CAUSES.index(cause) + 1
        self.default_cause = xp.where(
            mask & ~self.defaulted,
            xp.asarray(code, dtype=xp.int8, device=mask.device),
            self.default_cause,
        )
        self.defaulted = self.defaulted | mask

    def rescue(self, mask: Any) -> None:
        """Banks ``mask`` (E, N) recapitalised by the government have not failed after all."""
        self.defaulted = self.defaulted & ~mask
        self.default_cause = self.xp.where(mask, 0, self.default_cause)

    def absorb_selling(self, sold: Any, depth: Any) -> None:
        """Add forced selling ``sold`` (E, M) units, over market ``depth`` (M,), to the pressure.

        Selling one depth of an asset adds 1; the valuation lets the pressure fade once a week
        when it moves the spreads (:mod:`abm.valuation`).
        """
        self.firms.selling_pressure = self.firms.selling_pressure + sold / depth

    def begin_week(self, firm_index: Any) -> None:
        """Reset this week's flows; remember which firms were alive when the week began."""
        xp = self.xp
        sheets = self.sheets
        self.flows = WeekFlows(
            defaulted_before=self.defaulted,
            firms_alive=~xp.take(self.defaulted, firm_index, axis=1),
            sold=xp.zeros_like(sheets.prices),
            proceeds=xp.zeros_like(sheets.ledger.cash),
            converged=self.flows.converged,
            bailout_injection=xp.zeros_like(sheets.ledger.cash),
            interest_received=xp.zeros_like(sheets.ledger.cash),
        )
