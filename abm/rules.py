"""The week of the model: an ordered list of rules, each reading and writing the world state.

:meth:`abm.model.Powderkeg.step` runs :attr:`Week.rules` in this order; each entry names the rule,
the mechanism it belongs to and why it comes where it does. Every rule takes the
:class:`abm.state.WorldState` and returns nothing; mechanisms never call each other
(docs/design.md, "The week").

====  =======================  ==========================================================
 #    rule                     why here
====  =======================  ==========================================================
 1    sentiment                hype and crypto sentiment move first: everything this week
                               reads them
 2    new projects             last week's new data-centre capacity is let to its sponsor;
                               this week's projects start with the developers' equity,
                               before the vehicles finance their capex
 3    firms operate            revenue, costs, coupons, financing and capex at this
                               week's hype, for the firms alive when the week began
 4    circular deals           commitments (capped and full-size excess) are paid out of
                               what the firms just earned; payers four weeks in arrears
                               fail (cause ``arrears``)
 5    SPV covenants            sponsors pay rent out of their cash; breaches fail (cause
                               ``covenant``) before valuation sees them
 6    credit lines             private-credit funds that lent this week draw their bank
                               lines
 7    macro                    GDP, jobs, inflation, rates and property prices move with
                               this week's AI capex, last week's equities and bank credit
 8    valuation                fundamentals move with sentiment, revenue, leverage and the
                               new yields; fire-sale gaps decay
 9    equity stakes            private stakes follow their investees' new value
10    warrant vesting          AMD's warrants vest on the GW OpenAI has paid for and this
                               week's AMD price; new shares dilute the old ones
11    ratings                  the agency reads the leverage the valuation just measured;
                               fallen angels are sold at once
12    reach for yield          pensions and insurers tilt toward the new spreads
13    saving                   households' weekly saving arrives as deposits
14    loan books               write-offs and provisions at the new macro state, then
                               repayments and new lending as capital and cash allow
15    bank earnings            interest, fees, costs, taxes and payouts, with this week's
                               provisions; before the runs, which read the losses
16    securities income        funds and issuers earn coupons, dividends and interest;
                               hedge funds pay repo; pensions accrue: before redemptions
                               and the fire sale read their cash
17    retail behaviour         FOMO buying and panic selling on this week's prices
18    token issuance           pegs before redemptions; issuers grow while pegs hold
19    reserve rule             the policy's reserve transition, before anyone redeems
20    reserve-bank stress      stablecoin holders look at last week's runs on the banks
21    redemptions              what funds and issuers owe their holders this week
22    stablecoin backstop      the central bank stops runs past its trigger
23    deposit draws            issuers draw their bank deposits first: a run on a coin is
                               a run on its banks
24    reserve waterfall        then sell Treasuries, gold, bitcoin in order
25    bank runs                uninsured depositors and wholesale creditors leave banks
                               whose own condition worsens
26    lender of last resort    solvent banks short of cash borrow instead of selling
27    bailouts (before sale)   systemic banks below their minimum are recapitalised
28    separate accounts        life insurers' equity-linked reserves follow this week's
      (before sale)            prices, so the clearing tests their own capital only
29    fire sale                every constraint and cash need cleared with price impact;
                               failures (cause ``market``); selling pressure on spreads
30    bailouts (after sale)    systemic banks that failed in the clearing are rescued
31    market maker             the central bank lifts bond prices back to its trigger
32    separate accounts        and follow the prices the sale and the market maker left,
      (after sale)             before failures are cleared
33    payouts                  funds and issuers pay what was due from the cash raised
34    failures                 Eisenberg–Noe clearing passes losses to creditors (cause
                               ``clearing``)
35    fund shares              fund shares marked to the net asset value that is left
====  =======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from abm.state import WorldState


@dataclass(frozen=True)
class Rule:
    """One step of the week.

    Attributes:
        name: the rule's name in the table above.
        mechanism: the model attribute that holds the mechanism (``"economy"``, ``"flows"``...).
        run: the mechanism's entry point, called with the world state.
    """

    name: str
    mechanism: str
    run: Callable[[WorldState], None]


#: the week in order: (rule name, mechanism attribute of the model, entry point method)
WEEK = (
    ("sentiment", "sentiment_factors", "update"),
    ("new projects", "spv", "build_projects"),
    ("firms operate", "economy", "run_firms"),
    ("circular deals", "deals", "settle"),
    ("SPV covenants", "spv", "test"),
    ("credit lines", "flows", "draw_credit_lines"),
    ("macro", "macro", "update"),
    ("valuation", "valuation", "revalue"),
    ("equity stakes", "stakes", "revalue"),
    ("warrant vesting", "warrants", "vest"),
    ("ratings", "ratings", "review"),
    ("reach for yield", "yield_chasing", "rebalance"),
    ("saving", "flows", "save"),
    ("loan books", "credit_risk", "step"),
    ("bank earnings", "bank_earnings", "book"),
    ("securities income", "securities_income", "earn"),
    ("retail behaviour", "retail", "act"),
    ("token issuance", "flows", "issue_tokens"),
    ("reserve rule", "stablecoins", "apply_reserve_rule"),
    ("reserve-bank stress", "stablecoins", "reserve_bank_stress"),
    ("redemptions", "flows", "redemptions"),
    ("stablecoin backstop", "stablecoins", "backstop_run"),
    ("deposit draws", "flows", "draw_deposits"),
    ("reserve waterfall", "stablecoins", "sell_reserves"),
    ("bank runs", "bank_runs", "step"),
    ("lender of last resort", "lender", "step"),
    ("bailouts (before sale)", "bailouts", "step"),
    ("separate accounts (before sale)", "separate_accounts", "mark"),
    ("fire sale", "fire_sales", "step"),
    ("bailouts (after sale)", "bailouts", "step"),
    ("market maker", "market_maker", "step"),
    ("separate accounts (after sale)", "separate_accounts", "mark"),
    ("payouts", "flows", "pay_out"),
    ("failures", "failures", "step"),
    ("fund shares", "flows", "mark_fund_shares"),
)


def week_rules(model: Any) -> tuple[Rule, ...]:
    """The rules of :data:`WEEK`, bound to ``model``'s mechanisms."""
    return tuple(
        Rule(name, mechanism, getattr(getattr(model, mechanism), method))
        for name, mechanism, method in WEEK
    )
