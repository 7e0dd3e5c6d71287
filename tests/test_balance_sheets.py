"""The end-2025 balance sheets add up, match the calibration and start every pool balanced."""

from __future__ import annotations

import array_api_compat.numpy as xp
import numpy as np
import pytest

from abm.balance_sheets import build_balance_sheets
from abm.calibration import load_calibration
from abm.roster import build_roster


@pytest.fixture(scope="module")
def built():
    cal = load_calibration()
    roster = build_roster(cal, 200)
    sheets, bank_params = build_balance_sheets(cal, roster, 3, xp)
    return cal, roster, sheets, bank_params


def test_roster_blocks_cover_every_agent(built):
    _, roster, _, _ = built
    covered = sorted(i for lo, hi in roster.blocks.values() for i in range(lo, hi))
    assert covered == list(range(roster.size))
    assert len(set(roster.names)) == roster.size
    assert roster.blocks["retail"][1] - roster.blocks["retail"][0] == 200
    assert len(roster.indices("bank", "eu")) == 48 and len(roster.indices("bank", "us")) == 8


def test_worlds_start_identical_and_pools_balanced(built):
    _, _, sheets, _ = built
    np.testing.assert_array_equal(sheets.holdings[0], sheets.holdings[2])
    for pool in sheets.ledger.pools.values():
        np.testing.assert_allclose(pool.imbalance(xp), 0.0, atol=1e-6, err_msg=pool.name)
        assert (pool.outside >= -1e-9).all(), pool.name
    assert (sheets.outside_units() >= 0.0).all()
    assert (sheets.real_assets >= 0.0).all() and (sheets.ledger.cash >= 0.0).all()


def test_bank_capital_matches_cet1_times_risk_density(built):
    _, roster, sheets, params = built
    lo, hi = roster.blocks["bank"]
    ratio = (sheets.equity() / sheets.total_assets())[0, lo:hi]
    np.testing.assert_allclose(ratio, params["cet1_ratio"] * params["risk_density"], rtol=1e-9)


def test_firm_debt_and_cash_as_calibrated(built):
    cal, roster, sheets, _ = built
    amazon = roster.index("amazon")
    assert sheets.bonds[0, amazon] == pytest.approx(cal.model_value("firms.amazon.debt_bonds"))
    assert sheets.ledger.cash[0, amazon] == pytest.approx(cal.model_value("firms.amazon.cash"))
    assert sheets.assets.keys[sheets.bond_asset[amazon]] == "bonds_amazon"


def test_retail_net_worth_matches_household_totals(built):
    cal, roster, sheets, _ = built
    lo, hi = roster.blocks["retail"]
    total = float(sheets.equity()[0, lo:hi].sum())
    shares = sum(
        cal.value(f"retail.cohorts.{g}.net_worth_share") for g in cal.children("retail.cohorts")
    )
    assert total == pytest.approx(shares * cal.value("retail.household_net_worth"), rel=1e-6)


def test_mutual_funds_belong_to_their_shareholders(built):
    _, roster, sheets, _ = built
    idx = roster.indices("fund", "mutual_equity")
    np.testing.assert_allclose(sheets.equity()[0, idx], 0.0, atol=1e-9)


def test_over_held_assets_are_reported(built):
    _, _, sheets, _ = built
    assert all("scaled to 95%" in note for note in sheets.adjustments)


def test_every_pool_lists_each_agent_once(built):
    _, _, sheets, _ = built
    for pool in sheets.ledger.pools.values():
        assert len(set(np.asarray(pool.issuers).tolist())) == pool.issuers.shape[0], pool.name
        assert len(set(np.asarray(pool.holders).tolist())) == pool.holders.shape[0], pool.name


def test_trading_books_cost_the_supervisors_stress_losses_at_the_stress_equity_fall(built):
    """The dealers' net long equity books, by hand: the Fed's 42.4 bn split by the 2012 weights
    over the six named banks (none at the aggregates), the EBA's share of each EU bank's RWA;
    the fit to the equity supply leaves them whole and scales the other holders to 95%."""
    cal, roster, sheets, params = built
    a, equity = "assumptions.banks", sheets.assets.index("equity_non_ai")
    fall = cal.model_value(f"{a}.trading_stress_equity_fall")
    held = sheets.holdings[0, :, equity]
    us = roster.indices("bank", "us")
    node = "banks.us.agents.{}".format
    weight = {
        roster.names[i]: cal.model_value(f"{node(roster.names[i])}.trading_loss_weight")
        for i in us
        if "trading_loss_weight" in cal.node(node(roster.names[i]))
    }
    assert len(weight) == 6
    us_loss = cal.model_value(f"{a}.us_trading_stress_loss")
    for i in us:
        share = weight.get(roster.names[i], 0.0) / sum(weight.values())
        assert held[i] * fall == pytest.approx(us_loss * share, rel=1e-12), roster.names[i]
    assert held[roster.index("community_and_credit_unions")] == 0.0
    lo, hi = roster.blocks["bank"]
    rwa = params["risk_density"] * sheets.total_assets()[0, lo:hi]
    eu = np.array([roster.kind[i] == "eu" for i in range(lo, hi)])
    share = cal.model_value(f"{a}.eu_trading_stress_loss_rwa")
    np.testing.assert_allclose(held[lo:hi][eu] * fall, share * rwa[eu], rtol=1e-12)
    supply = sheets.assets.outstanding[equity]
    assert float(held.sum()) == pytest.approx(0.95 * supply, rel=1e-12)
