"""Mutual-fund flows follow performance both ways: money comes in after gains and leaves after
losses (abm.flows), paid through the ledger so that every dollar has two sides."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.rules import Rule


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(v))) for v in m.accounting_gap().values())


def with_equity_move(m: Powderkeg, weekly: float) -> None:
    """Every equity price moves by ``weekly`` just before the week's redemptions, holders marked."""
    s = m.sheets
    equities = [k for k, c in enumerate(s.assets.asset_class) if c == "equity"]

    def move(state) -> None:
        change = np.zeros_like(s.prices)
        change[:, equities] = weekly * s.prices[:, equities]
        s.ledger.book_equity((s.holdings @ change[:, :, None])[:, :, 0])
        s.prices = s.prices + change

    at = [r.name for r in m.rules].index("redemptions")
    nudge = Rule("equity move", "flows", move)
    m.rules = (*m.rules[:at], nudge, *m.rules[at:])


@pytest.fixture()
def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=8, collect_agents=False)


def test_sustained_rise_brings_inflows_and_the_fund_buys_more(model):
    m = model
    funds = m.roster.indices("fund", "mutual_equity")
    stock = m.sheets.assets.index("equity_non_ai")
    units0 = m.sheets.holdings[:, funds, stock].sum(axis=1)
    with_equity_move(m, 0.03)
    for _ in range(4):
        m.step()
        received = m.snapshot["subscriptions"][:, funds]
        assert (received > 0.0).all()
        assert (m.snapshot["redemptions_paid"][:, funds] == 0.0).all()
        assert gaps(m) < 1e-6
    assert (m.sheets.holdings[:, funds, stock].sum(axis=1) > units0).all()


def test_fall_brings_outflows_and_no_inflows(model):
    m = model
    funds = m.roster.indices("fund", "mutual_equity")
    with_equity_move(m, -0.03)
    for _ in range(2):
        m.step()
        assert (m.snapshot["redemptions_paid"][:, funds] > 0.0).all()
        assert (m.snapshot["subscriptions"][:, funds] == 0.0).all()
        assert gaps(m) < 1e-6


def test_equity_funds_convex_bond_funds_concave(model):
    """Equity funds gain more inflow per point of gain than outflow per point of loss; bond funds
    the reverse (Sirri & Tufano 1998; Goldstein, Jiang & Ng 2017)."""
    cal, roster, flows = model.calibration, model.roster, model.flows
    inflow, outflow = np.asarray(flows.inflow_elasticity), np.asarray(flows.elasticity)
    equity, bond = roster.indices("fund", "mutual_equity"), roster.indices("fund", "mutual_bond")
    assert (inflow[equity] > outflow[equity]).all()
    assert (inflow[bond] < outflow[bond]).all()
    assert inflow[bond] == pytest.approx(cal.value("funds.mutual_bond.subscription_elasticity"))


def test_inflows_come_out_of_the_shareholders_money(model):
    """Retail shareholders pay their part, pro rata to their claims, from cash, then deposits."""
    m = model
    ledger = m.sheets.ledger
    pool, deposits = ledger.pools["fund_shares"], ledger.pools["deposits"]
    holders = np.asarray(pool.holders)
    at_banks = np.isin(np.asarray(deposits.holders), holders)

    def money() -> np.ndarray:
        cash = np.asarray(ledger.cash)[:, holders].sum(axis=-1)
        return cash + np.asarray(deposits.claims)[:, at_banks].sum(axis=-1)

    retail = np.asarray(pool.claims).sum(axis=-1)
    retail_part = retail / (retail + np.asarray(pool.outside))  # the rest is outside holders'
    before = money()
    wanted = np.zeros_like(ledger.cash)
    wanted[:, m.roster.indices("fund", "mutual_equity")] = 10.0  # 100 bn into the ten funds
    m.flows.subscribe(wanted)
    assert np.asarray(m.flows.last_subscriptions).sum(axis=-1) == pytest.approx([100.0, 100.0])
    np.testing.assert_allclose(before - money(), 100.0 * retail_part, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(pool.claims).sum(axis=-1), retail + before - money())
    assert gaps(m) < 1e-6
