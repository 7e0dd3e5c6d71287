"""Banks' weekly profit and loss (abm.bank_earnings): interest, fees, costs, taxes and payouts.

Each test builds a small model and checks one part of the P&L against a per-bank computation or a
property that could fail: the margin set at the start returns the data's net interest income,
depositors receive exactly the interest the banks pay, payouts stop below the buffer, no tax is
paid on a loss, the wholesale spread widens as capital falls, a failed bank stands still, and the
books balance.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.bank_earnings import PAYOUT_INCOME_WEEKS, REGION_NODES
from abm.calibration import load_calibration
from abm.model import Powderkeg


@pytest.fixture(scope="module")
def cal():
    return load_calibration()


def _model(**kwargs) -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20, collect_agents=False, **kwargs)


def _banks(model: Powderkeg) -> np.ndarray:
    return np.asarray(model.roster.indices("bank"))


def test_margin_returns_the_data_net_interest_income(cal) -> None:
    """At the start's rates, each region's net interest income / assets is the data's."""
    model = _model()
    model.step()
    snap = model.snapshot
    banks = _banks(model)
    for region, node in enumerate(REGION_NODES):
        mine = banks[model.capital.regions == region]
        nii = 52.0 * snap["net_interest_income"][0, mine].sum()
        share = nii / snap["total_assets"][0, mine].sum()
        target = float(cal.value(f"{node}.net_interest_income_share"))
        assert share == pytest.approx(target, rel=0.1), node


@pytest.mark.parametrize("policy_rate", [None, -0.005])
def test_depositors_receive_what_the_banks_pay(policy_rate) -> None:
    """A retail cohort's deposit interest is beta x rate on its deposits at each of its banks.

    At a negative policy rate (the ECB's −0.5% of 2019–22) nobody pays: deposit rates stop at
    zero, the banks' interest on deposits as well.
    """
    model = _model()
    state, ledger = model.state, model.sheets.ledger
    earnings = model.bank_earnings
    if policy_rate is not None:
        state.macro.policy_rate = state.macro.policy_rate * 0.0 + policy_rate
    rate = np.asarray(earnings.capital.at_banks(state.macro.policy_rate))
    beta = np.asarray(earnings.deposit_beta)
    banks = _banks(model)
    paid = np.zeros((2, model.roster.size))
    paid[:, banks] = np.maximum(beta * rate, 0.0) / 52.0
    cohort = int(model.roster.indices("retail")[0])
    edges = ledger.edges("deposits")  # per edge: the cohort's deposit at one bank
    mine = np.asarray(edges.holder) == cohort
    at = np.asarray(edges.issuer)[mine]
    expected = (np.asarray(edges.amount)[:, mine] * paid[:, at]).sum(axis=-1)
    state.banks.provisions = state.banks.provisions * 0.0
    before = np.asarray(ledger.equity_flows)[:, cohort].copy()
    earnings.book(state)
    received = np.asarray(ledger.equity_flows)[:, cohort] - before
    if policy_rate is None:
        assert expected.min() > 0.0
        np.testing.assert_allclose(received, expected, rtol=1e-10)
    else:
        assert np.all(received == 0.0)
        deposits = earnings._components(
            earnings.capital.at_banks(state.macro.policy_rate),
            state.banks.loans - state.banks.allowance,
            earnings.spread0,
        )["deposits"]
        assert np.all(np.asarray(deposits) == 0.0)


def _weaken(model: Powderkeg, bank: int, cet1: float) -> None:
    """Write the bank's real assets down until its CET1 ratio is ``cet1`` (a loss, booked)."""
    s = model.sheets
    xp = model.xp
    rwa = float(np.asarray(model.capital.risk_weighted_assets())[0, bank])
    equity = float(np.asarray(s.equity())[0, bank])
    weight = float(np.asarray(model.capital.book_weight)[0, bank])
    # real assets weigh w: (E - x) / (RWA - w x) = cet1  =>  x = (E - cet1 RWA) / (1 - cet1 w)
    loss = (equity - cet1 * rwa) / (1.0 - cet1 * weight)
    hit = np.zeros(s.real_assets.shape)
    hit[:, bank] = loss
    s.real_assets = s.real_assets - xp.asarray(hit)
    s.ledger.book_equity(-xp.asarray(hit))


def test_payouts_stop_below_the_buffer(cal) -> None:
    """A bank between its minimum and its buffer pays nothing out; a bank at target does."""
    model = _model()
    banks = _banks(model)
    weak = int(banks[0])
    buffer = float(cal.value("regulation.us.cet1_buffer"))
    _weaken(model, weak, buffer - 0.01)
    model.state.banks.provisions = model.state.banks.provisions * 0.0
    model.bank_earnings.book(model.state)
    payouts = np.asarray(model.state.banks.payouts)
    assert np.all(payouts[:, 0] == 0.0)
    assert np.all(payouts[:, 1] > 0.0)
    assert np.asarray(model.state.banks.net_income)[:, 1].min() > 0.0


def test_payouts_stay_within_the_past_years_net_income() -> None:
    """Two banks far above their target: after a year of losses one pays nothing out, the other,
    which earned little, pays exactly its average net income (the Fed's limit of 2020-21)."""
    model = _model()
    earnings, state = model.bank_earnings, model.state
    banks = _banks(model)
    for b in banks[:2]:
        _weaken(model, int(b), 0.25)  # capital far above the target: large buybacks wanted
    state.banks.provisions = state.banks.provisions * 0.0
    year = np.zeros(np.asarray(earnings.year_income.total).shape)
    year[:, 0], year[:, 1:] = -1.0, 0.01  # USD bn a week over the past year
    earnings.year_income.total = model.xp.asarray(year)
    earnings.year_income.weight = 1.0
    earnings.book(state)
    income = np.asarray(state.banks.net_income)
    payouts = np.asarray(state.banks.payouts)
    assert income[:, :2].min() > 0.0  # this week both earn
    assert np.all(payouts[:, 0] == 0.0)  # ... but over the year bank 0 lost
    limit = earnings.payout_cap * (0.01 + (income[:, 1] - 0.01) / PAYOUT_INCOME_WEEKS)
    np.testing.assert_allclose(payouts[:, 1], limit, rtol=1e-12)


def test_no_tax_on_a_loss_and_the_rate_on_a_profit() -> None:
    """Provisions above a bank's earnings make a pre-tax loss: no tax; a profit pays the rate."""
    model = _model()
    state, earnings = model.state, model.bank_earnings
    provisions = np.zeros(np.asarray(state.banks.provisions).shape)
    provisions[:, 0] = 50.0  # USD bn this week, far above any bank's weekly earnings
    state.banks.provisions = model.xp.asarray(provisions)
    assets = np.asarray(model.sheets.total_assets())[:, _banks(model)]
    earnings.book(state)
    fees = np.asarray(earnings.fee_rate) * assets / 52.0
    costs = np.asarray(earnings.cost_rate) * assets / 52.0
    pretax = np.asarray(state.banks.net_interest) + fees - costs - provisions
    income = np.asarray(state.banks.net_income)
    assert np.all(pretax[:, 0] < 0.0) and np.all(pretax[:, 1] > 0.0)
    np.testing.assert_allclose(income[:, 0], pretax[:, 0], rtol=1e-12)
    tax_rate = np.asarray(earnings.tax_rate)[1]
    np.testing.assert_allclose(income[:, 1], pretax[:, 1] * (1.0 - tax_rate), rtol=1e-12)


def test_wholesale_spread_widens_as_capital_falls(cal) -> None:
    model = _model()
    banks = _banks(model)
    _weaken(model, int(banks[0]), 0.08)
    model.bank_earnings.book(model.state)
    spread = np.asarray(model.state.banks.funding_spread)
    base = float(cal.value("banks.earnings.us.wholesale_spread"))
    slope = float(cal.value("banks.earnings.wholesale_spread_per_shortfall"))
    target = float(cal.value("regulation.us.cet1_target"))
    np.testing.assert_allclose(spread[:, 0], base + slope * (1.0 - 0.08 / target), rtol=1e-6)
    assert spread[:, 1].max() == pytest.approx(base, abs=1e-6)


def test_a_failed_bank_stands_still() -> None:
    model = _model()
    bank = int(_banks(model)[2])
    mask = np.zeros(np.asarray(model.state.defaulted).shape, dtype=bool)
    mask[:, bank] = True
    model.state.fail("market", model.xp.asarray(mask))
    cash = np.asarray(model.sheets.ledger.cash)[:, bank].copy()
    model.bank_earnings.book(model.state)
    assert np.asarray(model.state.banks.net_income)[:, 2].max() == 0.0
    # it pays no interest, fees or payouts; only what it is owed on pools it holds still arrives
    moved = np.asarray(model.sheets.ledger.cash)[:, bank] - cash
    assert np.all(moved >= 0.0)


def test_books_balance_and_capital_stays_near_target_over_a_year() -> None:
    model = _model()
    banks = _banks(model)
    start = model.snapshot["cet1_ratio"][:, banks].copy()
    for _ in range(52):
        model.step()
    gap = model.accounting_gap()
    for key in ("money", "pools", "equity"):
        assert float(np.max(np.abs(np.asarray(gap[key])))) < 1e-6, key
    moved = model.snapshot["cet1_ratio"][:, banks] - start
    assert np.median(np.abs(moved)) < 0.015
    roe = model.snapshot["return_on_equity"][:, banks]
    assert 0.05 < float(np.median(roe)) < 0.2


def _interest_by_hand(model: Powderkeg, shift: float, weeks: int) -> np.ndarray:
    """World 0's net interest of each bank over ``weeks``, rates moved by ``shift``, week by week.

    The per-bank reference of :meth:`BankEarnings.net_interest_ahead`: every instrument at its
    rate, the fixed-rate coupon stepped towards the shifted yield as ``book`` steps it, the swaps
    receiving it and paying the policy rate; the AI
    loans' and bonds' interest from the firms' formula (``_paid_by_firms``).
    """
    e, s, state = model.bank_earnings, model.sheets, model.state
    row = lambda a: np.asarray(a)[0]  # noqa: E731
    bank = lambda a: np.broadcast_to(np.asarray(a), state.banks.loans.shape[:2])[0]  # noqa: E731
    banks = _banks(model)
    rates = row(state.macro.policy_rate)
    yields = row(state.macro.yield_10y)
    loans = row(state.banks.loans - state.banks.allowance).sum(axis=-1)
    real = row(s.real_assets)[banks]
    held = row(s.holdings)[banks]
    cash = np.maximum(row(s.ledger.cash)[banks], 0.0)
    owed = {p: row(e._owed(p)) for p in ("deposits", "wholesale", "interbank",
                                         "central_bank_loans")}  # fmt: skip
    owned = row(e._owned("interbank"))
    hedges = row(e.hedge_notional)
    firms = row(e._paid_by_firms(model.economy, state.macro.policy_rate[:, 0] + shift))
    total = np.zeros(len(banks))
    for b in range(len(banks)):
        region = e.capital.regions[b]
        r, y = rates[region] + shift, yields[region] + shift
        fixed = bank(e.fixed_rate)[b]
        phi, beta = bank(e.floating)[b], bank(e.deposit_beta)[b]
        spread = bank(e.spread0)[b]
        for _ in range(weeks):
            fixed += (y - fixed) / bank(e.repricing_weeks)[b]
            a_year = (
                loans[b] * (phi * r + (1 - phi) * fixed + bank(e.margin)[b])
                + hedges[b] * (fixed - r)
                + (real[b] - loans[b]) * r
                + held[b, e.bonds] * bank(e.bond_coupon)[b]
                + cash[b] * r
                + held[b, e.treasuries] * bank(e.treasury_coupon)[b]
                - owed["deposits"][b] * max(beta * r, 0.0)
                - owed["wholesale"][b] * (r + spread)
                + (owned[b] - owed["interbank"][b]) * r
                - owed["central_bank_loans"][b] * (r + e.lender_penalty)
            )
            total[b] += a_year / 52.0 + firms[b]
    return total


@pytest.mark.parametrize("shift", [-0.01, 0.0, 0.02])
def test_net_interest_ahead_against_the_weeks_one_by_one(shift) -> None:
    """The closed form of the fixed book's repricing equals stepping it week by week."""
    model = _model()
    ahead = np.asarray(model.bank_earnings.net_interest_ahead(model.state, model.economy, shift))
    np.testing.assert_allclose(ahead[0], _interest_by_hand(model, shift, 52), rtol=1e-9)


def test_earnings_at_risk_of_a_parallel_shift() -> None:
    """Falling rates cut each region's net interest income and rising ones raise it, by equal
    amounts (nothing is floored); the fixed book takes years to reprice, so a shift held one
    year moves income less than the same shift a floating book would; a failed bank earns none.
    """
    model = _model()
    earnings, state, economy = model.bank_earnings, model.state, model.economy
    base = np.asarray(earnings.net_interest_ahead(state, economy, 0.0))
    down = np.asarray(earnings.net_interest_ahead(state, economy, -0.01)) - base
    up = np.asarray(earnings.net_interest_ahead(state, economy, 0.01)) - base
    for region in (0, 1):
        mine = earnings.capital.regions == region
        assert down[:, mine].sum(axis=-1).max() < 0.0 < up[:, mine].sum(axis=-1).min()
    np.testing.assert_allclose(up, -down, rtol=1e-6, atol=1e-9)
    two_years = np.asarray(earnings.net_interest_ahead(state, economy, 0.01, weeks=104))
    later = two_years - np.asarray(earnings.net_interest_ahead(state, economy, 0.0, weeks=104))
    assert np.all(later > 2.0 * up)  # the second year reprices more of the fixed book
    mask = np.zeros(np.asarray(state.defaulted).shape, dtype=bool)
    bank = int(_banks(model)[2])
    mask[:, bank] = True
    state.fail("market", model.xp.asarray(mask))
    assert np.all(np.asarray(earnings.net_interest_ahead(state, economy, 0.01))[:, 2] == 0.0)


def test_the_swaps_pay_their_fixed_leg_against_the_rate(cal) -> None:
    """The receive-fixed swaps' notional is the region's share of each bank's deposits at the
    start; their interest is notional x (fixed coupon - policy rate) a week, and it makes the
    EU banks' income less sensitive to rates than the same banks' without them.
    """
    model = _model()
    earnings, state = model.bank_earnings, model.state
    deposits = np.asarray(earnings._owed("deposits"))
    share = np.array([float(cal.value(f"{node}.deposit_hedge_share")) for node in REGION_NODES])
    notional = np.asarray(earnings.hedge_notional)
    np.testing.assert_allclose(notional, deposits * share[earnings.capital.regions], rtol=1e-12)
    assert share[1] > 0.0
    rate = np.asarray(earnings.capital.at_banks(state.macro.policy_rate))
    net_loans = state.banks.loans - state.banks.allowance
    parts = earnings._components(earnings.capital.at_banks(state.macro.policy_rate), net_loans, 0.0)
    fixed = np.asarray(earnings.fixed_rate)
    np.testing.assert_allclose(
        np.asarray(parts["hedges"]), notional * (fixed - rate) / 52.0, rtol=1e-12
    )
    eu = earnings.capital.regions == 1
    base = np.asarray(earnings.net_interest_ahead(state, model.economy, 0.0))
    cut = np.asarray(earnings.net_interest_ahead(state, model.economy, -0.01)) - base
    earnings.hedge_notional = earnings.hedge_notional * 0.0
    unhedged = np.asarray(earnings.net_interest_ahead(state, model.economy, -0.01))
    unhedged = unhedged - np.asarray(earnings.net_interest_ahead(state, model.economy, 0.0))
    assert np.all(unhedged[:, eu].sum(axis=-1) < 2.0 * cut[:, eu].sum(axis=-1))
