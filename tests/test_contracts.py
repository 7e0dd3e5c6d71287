"""Full-size circular contracts (issue 17): schedules, excess payments, financing, arrears."""

from __future__ import annotations

import numpy as np
import pytest

from abm.claims import debt_owed
from abm.contract_schedule import Schedule, excess, scheduled, start_week
from abm.model import Powderkeg
from abm.state import CAUSES


@pytest.fixture
def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20, collect_agents=False)


def settle(model: Powderkeg, week: int) -> None:
    """Clear week ``week``'s commitments with every firm alive."""
    model.state.begin_week(model.economy.firms)
    model.state.week = week
    model.state.flows.firms_alive = np.ones((2, len(model.deals.firm_names)), dtype=bool)
    model.deals.settle(model.state)


def schedule(model: Powderkeg, key: str) -> Schedule:
    return next(s for s in model.deals.schedules if s.key == key)


def test_start_weeks_from_period_text():
    import datetime as dt

    begin = dt.date(2026, 1, 1)
    assert start_week("~5 years from 2027", begin, 52) == 52.0
    assert start_week("from 2H 2026", begin, 52) == 26.0
    assert start_week("FY2026", begin, 52) == 0.0
    assert start_week("from 2025-10", begin, 52) == pytest.approx(-13.0)
    assert start_week("2025-2026", begin, 52) == -52.0
    assert start_week("calibration", begin, 52) == 0.0


def test_openai_oracle_schedule_by_hand(model):
    e03 = schedule(model, "E03")  # 300 bn over ~5 years from 2027
    assert e03.per_week == pytest.approx(300.0 / 260.0)
    assert (e03.start, e03.end) == (52.0, 312.0)
    names = model.deals.firm_names
    pair = names.index("openai"), names.index("oracle")
    f = len(names)
    assert scheduled([e03], 51, f)[pair] == 0.0
    assert scheduled([e03], 52, f)[pair] == pytest.approx(300.0 / 260.0)
    assert scheduled([e03], 311, f)[pair] == pytest.approx(300.0 / 260.0)
    assert scheduled([e03], 312, f)[pair] == 0.0
    # the excess is the schedule above the capped weekly commitment
    capped = model.deals.weekly[pair]
    assert 0.0 < capped < 300.0 / 260.0
    got = model.deals.excess(60)
    assert float(got[pair]) == pytest.approx(300.0 / 260.0 - capped)
    assert float(model.deals.excess(10)[pair]) == 0.0


def test_excess_reaches_supplier_revenue_and_payer_cost(model):
    deals, firm = model.deals, model.economy.firm
    names = deals.firm_names
    openai, oracle = names.index("openai"), names.index("oracle")
    rows = model.roster.indices("firm")
    model.sheets.ledger.pay_outsider(  # give OpenAI the cash to pay in full
        np.array([rows[openai]]), "outside_investors", -np.full((2, 1), 100.0)
    )
    revenue, ebitda = firm.revenue.copy(), firm.ebitda.copy()
    settle(model, 60)
    received = deals.last_excess_received
    assert (received[:, oracle] > 1.0).all()
    np.testing.assert_allclose(firm.revenue - revenue, received)
    change = firm.ebitda - ebitda
    assert (change[:, oracle] > 0.0).all() and (change[:, openai] < 0.0).all()
    np.testing.assert_allclose(received.sum(axis=1), deals.last_excess_paid.sum(axis=1))
    scale = float(np.max(np.abs(model.sheets.total_assets())))
    for name, gap in model.accounting_gap().items():
        assert float(np.max(np.abs(gap))) <= 1e-12 * scale, name
    # the coming week's excess is shown to the payers' financing
    coming = np.asarray(deals.excess(61)).sum(axis=1)
    np.testing.assert_allclose(firm.contract_due, np.broadcast_to(coming, (2, coming.size)))


def test_a_payer_without_cash_defaults_after_four_unpaid_weeks(model):
    deals, ledger, state = model.deals, model.sheets.ledger, model.state
    names = deals.firm_names
    openai = names.index("openai")
    row = model.roster.index("openai")
    for week in range(60, 64):
        drain = np.maximum(ledger.cash[:, row], 0.0)  # no cash, no financing
        ledger.pay_outsider(np.array([row]), "rest_of_economy", drain[:, None])
        assert not state.defaulted[:, row].any()
        settle(model, week)
        assert (deals.unpaid_weeks[:, openai] == week - 59).all()
    assert state.defaulted[:, row].all()
    assert (state.default_cause[:, row] == 1 + CAUSES.index("arrears")).all()
    assert (deals.arrears[:, openai] > 4.0).all()
    # its supplier lost the revenue it was owed
    oracle = names.index("oracle")
    assert (deals.shortfall()[:, oracle] > 1.0).all()


def test_colossus2_gpus_are_not_paid_twice(model):
    deals = model.deals
    names = deals.firm_names
    e19 = schedule(model, "E19")  # xAI -> Nvidia, bought by the SPV xai_colossus2
    assert e19.bought_elsewhere
    pair = names.index("xai"), names.index("nvidia")
    for week in (0, 10, 51):
        assert float(deals.excess(week)[pair]) == 0.0
    # even against no capped flow at all, an edge bought elsewhere adds nothing
    none = np.zeros_like(deals.weekly)
    assert excess([e19], 10, none)[pair] == 0.0
    unflagged = Schedule("E19", *pair, e19.per_week, e19.start, e19.end, False)
    assert excess([unflagged], 10, none)[pair] == pytest.approx(18.0 / 104.0)


def test_zero_excess_leaves_the_week_as_before(model):
    deals, firm, ledger = model.deals, model.economy.firm, model.sheets.ledger
    deals.excess_by_week = deals.excess_by_week * 0.0
    firm.contract_due = firm.contract_due * 0.0
    cash, revenue, ebitda = ledger.cash.copy(), firm.revenue.copy(), firm.ebitda.copy()
    settle(model, 60)
    np.testing.assert_allclose(ledger.cash, cash, atol=1e-9)
    np.testing.assert_array_equal(firm.revenue, revenue)
    np.testing.assert_array_equal(firm.ebitda, ebitda)
    assert not deals.unpaid_weeks.any() and not deals.arrears.any()
    assert not firm.contract_due.any()


def test_financing_raises_cash_for_the_coming_contract_payments():
    raised = []
    for full_size in (False, True):
        model = Powderkeg(n_worlds=2, seed=3, n_cohorts=20, collect_agents=False)
        firm, ledger = model.economy.firm, model.sheets.ledger
        if not full_size:
            model.deals.schedules = []
            firm.contract_due = firm.contract_due * 0.0
        row = model.roster.index("openai")
        drain = ledger.cash[:, row]  # no cash of its own: the week's payments need financing
        ledger.pay_outsider(np.array([row]), "rest_of_economy", drain[:, None])
        model.state.begin_week(model.economy.firms)
        due = firm.contract_due.copy()  # week 0: OpenAI's Azure commitment (E11) beyond its cap
        model.economy.run_firms(model.state)
        mix = model.economy.financing.last
        raised.append(
            sum(getattr(mix, c) for c in ("bonds", "credit", "equity", "vendor", "cloud"))
        )
    openai = model.deals.firm_names.index("openai")
    assert (due[:, openai] > 0.5).all()
    extra = raised[1][:, openai] - raised[0][:, openai]
    np.testing.assert_allclose(extra, due[:, openai], rtol=1e-6)


def fund_everyone(model: Powderkeg, amount: float = 1000.0) -> None:
    """Give every firm the cash to pay all it owes (USD bn)."""
    rows = np.asarray(model.roster.indices("firm"))
    cash = np.full((2, rows.size), -amount)
    model.sheets.ledger.pay_outsider(rows, "outside_investors", cash)


def assert_books_balance(model: Powderkeg) -> None:
    scale = float(np.max(np.abs(model.sheets.total_assets())))
    for name, gap in model.accounting_gap().items():
        assert float(np.max(np.abs(gap))) <= 1e-12 * scale, name


def test_a_failed_payers_suppliers_lose_the_capped_revenue(model):
    deals, firm = model.deals, model.economy.firm
    names = deals.firm_names
    openai = names.index("openai")
    fund_everyone(model)
    model.state.begin_week(model.economy.firms)
    model.state.week = 60
    alive = np.ones((2, len(names)), dtype=bool)
    alive[:, openai] = False  # failed before the week began
    model.state.flows.firms_alive = alive
    revenue, ebitda = firm.revenue.copy(), firm.ebitda.copy()
    deals.settle(model.state)
    due = deals.weekly[openai]  # (F,) capped inflow each supplier was due from OpenAI
    suppliers = np.flatnonzero(due > 0.0)
    assert names.index("oracle") in suppliers and names.index("microsoft") in suppliers
    # everyone else pays in full: the change is the excess received less the capped part lost
    got = deals.last_excess_received
    np.testing.assert_allclose(firm.revenue - revenue, got - due[None, :], atol=1e-12)
    net = got - deals.last_excess_paid - due[None, :]
    np.testing.assert_allclose(firm.ebitda - ebitda, deals.ebitda_weight * net, atol=1e-9)
    np.testing.assert_allclose(deals.shortfall(), np.broadcast_to(due, got.shape), atol=1e-12)
    assert (firm.ebitda[:, openai] == ebitda[:, openai]).all()
    assert_books_balance(model)


def test_a_payer_short_of_cash_keeps_the_unpaid_capped_part_out_of_its_costs(model):
    deals, firm, ledger = model.deals, model.economy.firm, model.sheets.ledger
    deals.excess_by_week = deals.excess_by_week * 0.0  # the capped part only
    names = deals.firm_names
    openai, row = names.index("openai"), model.roster.index("openai")
    fund_everyone(model)
    # overdrawn by half its capped payments: the refund of them covers only the other half
    drain = ledger.cash[:, row] + 0.5 * deals.weekly[openai].sum()
    ledger.pay_outsider(np.array([row]), "rest_of_economy", drain[:, None])
    revenue, ebitda = firm.revenue.copy(), firm.ebitda.copy()
    settle(model, 60)
    unpaid = deals.last_committed - deals.last_paid  # (E, F) capped part owed, not paid
    assert (unpaid[:, openai] > 0.1).all()
    lost = deals.shortfall()
    np.testing.assert_allclose(firm.revenue - revenue, -lost, atol=1e-12)
    np.testing.assert_allclose(
        firm.ebitda - ebitda, deals.ebitda_weight * (unpaid - lost), atol=1e-9
    )
    # what the suppliers lose is what the payer did not pay
    np.testing.assert_allclose(lost.sum(axis=1), unpaid.sum(axis=1), rtol=1e-9)
    assert_books_balance(model)


def test_a_failed_payers_unpaid_payments_are_claims_that_share_its_recovery(model):
    deals, ledger, state = model.deals, model.sheets.ledger, model.state
    names = deals.firm_names
    openai, row = names.index("openai"), model.roster.index("openai")
    fund_everyone(model)
    # OpenAI overdrawn: it cannot pay, fails for arrears, and its assets cover half its debt
    assets = model.sheets.total_assets()[:, row]
    half = assets - 0.5 * debt_owed(model.sheets)[:, row]
    drain = np.maximum(half, ledger.cash[:, row] + deals.weekly[openai].sum() + 1.0)
    ledger.pay_outsider(np.array([row]), "rest_of_economy", drain[:, None])
    unpaid = np.zeros((2, len(names)))
    for week in range(60, 64):
        settle(model, week)
        unpaid += np.asarray(deals.shortfall())  # only OpenAI pays short: its suppliers' loss
    assert state.default_cause[:, row].tolist() == [1 + CAUSES.index("arrears")] * 2
    pool = ledger.pools["trade_claims"]
    mine = np.asarray(pool.issuer_agent) == row
    suppliers = [model.roster.indices("firm")[k] for k in range(len(names)) if k != openai]
    claims = np.asarray(pool.balance)[:, mine]  # (E, F - 1) in firm order without OpenAI
    expected = np.delete(unpaid, openai, axis=1)
    np.testing.assert_allclose(claims, expected, rtol=1e-9, atol=1e-12)
    assert (claims[:, names.index("oracle") - (names.index("oracle") > openai)] > 4.0).all()
    assert np.asarray(pool.holder_agent)[mine].tolist() == suppliers
    assert_books_balance(model)
    # the failure clearing: every creditor of OpenAI recovers the same share of its claim
    loans = ledger.pools["bank_loans"]
    at = np.asarray(loans.issuers).tolist().index(row)
    face = np.asarray(loans.face)[:, at].copy()
    model.failures.step(state)
    recovery = np.asarray(model.failures.recovery)[:, row]
    assert (recovery < 0.99).all() and (recovery > 0.0).all()
    after = np.asarray(pool.balance)[:, mine]
    np.testing.assert_allclose(after, claims * recovery[:, None], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(loans.face)[:, at], face * recovery, rtol=1e-9)
    assert_books_balance(model)
