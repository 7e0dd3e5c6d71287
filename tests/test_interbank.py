"""The interbank network (issue 14): named bilateral claims on a core-periphery structure."""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.exposures import ExposureRules
from abm.interbank import interbank_network
from abm.ledger import BilateralPool
from abm.market import AssetTable
from abm.opening_sheets import build_opening_sheets
from abm.roster import build_roster
from experiments.build import build_model
from experiments.scenarios import load_preset

SHARE_PATH = "banks.exposures.interbank_share"


def opening(named: bool):
    cal = load_calibration()
    roster = build_roster(cal, 8)
    sheets = build_opening_sheets(
        cal, roster, AssetTable.from_calibration(cal), rules=ExposureRules(named=named)
    )
    return cal, roster, sheets


def bank_assets(sheets, roster) -> np.ndarray:
    """(B,) each bank's total assets at the start, USD bn: cash, securities, real assets and
    its claims on the loan and interbank pools."""
    claims = np.zeros(roster.size)
    for name in ("bank_loans", "interbank"):
        pool = sheets.pools[name]
        np.add.at(claims, np.array(pool.holders), np.array(pool.claims))
    return np.array([sheets.cash[i] + sheets.holdings[i].sum() + sheets.real[i] + claims[i]
                     for i in roster.indices("bank")])  # fmt: skip


def test_the_network_keeps_every_banks_interbank_marginals():
    cal, roster, sheets = opening(named=True)
    pool = sheets.pools["interbank"]
    banks = list(roster.indices("bank"))
    share = float(cal.model_value(SHARE_PATH))
    owed, owned = np.zeros(len(banks)), np.zeros(len(banks))
    for issuer, holder, amount, _ in pool.links:
        assert issuer != holder
        owed[banks.index(issuer)] += amount
        owned[banks.index(holder)] += amount
    _, _, pooled = opening(named=False)
    face = np.array(pooled.pools["interbank"].face)  # share x assets, the pooled marginals
    np.testing.assert_allclose(owed, face, rtol=1e-10)
    np.testing.assert_allclose(owned, face, rtol=1e-10)
    np.testing.assert_allclose(face, share * bank_assets(sheets, roster), rtol=1e-9)
    assert len(pool.links) < len(banks) * (len(banks) - 1) / 4  # sparse, not all pairs


def test_periphery_banks_deal_only_with_the_core():
    assets = np.array([100.0, 80.0, 60.0, 10.0, 8.0, 5.0, 3.0])
    regions = ["us", "eu", "us", "us", "eu", "us", "eu"]
    edges = interbank_network(assets, regions, 0.03, core_banks=3, links=2, home_bias=0.8)
    core = {0, 1, 2}
    x = np.zeros((7, 7))
    for i, j, amount in edges:
        assert i in core or j in core  # no periphery-periphery claim
        x[i, j] = amount
    np.testing.assert_allclose(x.sum(axis=1), 0.03 * assets, rtol=1e-10)
    np.testing.assert_allclose(x.sum(axis=0), 0.03 * assets, rtol=1e-10)
    for p in range(3, 7):
        assert np.count_nonzero(x[p]) == 2 and np.count_nonzero(x[:, p]) == 2
    assert x[3, 0] + x[3, 2] > x[3, 1]  # a US periphery bank deals mostly with the US core


def test_a_failed_banks_loss_lands_on_its_named_lenders_only():
    """Hand-checked: A owes B 6 and C 4, D owes A 5; A pays half: B loses 3, C 2, D nothing."""
    pool = BilateralPool(
        "interbank",
        issuers=np.array([0, 3]),
        holders=np.array([1, 2, 0]),
        edge_issuer=np.array([0, 0, 1]),
        edge_holder=np.array([0, 1, 2]),
        balance=np.array([[6.0, 4.0, 5.0]]),
        outside_face=np.zeros((1, 2)),
        lend_weight=np.array([0.6, 0.4, 1.0]),
        outside_weight=np.zeros(2),
        hold_weight=np.ones(3),
    )
    from abm.ledger import Ledger

    ledger = Ledger(np, cash=np.zeros((1, 4)))
    ledger.add_bilateral_pool(pool)
    ledger.write_down("interbank", np.array([[5.0, 0.0]]))  # half of A's 10
    np.testing.assert_allclose(pool.claims, [[3.0, 2.0, 5.0]])
    np.testing.assert_allclose(ledger.equity_flows, [[5.0, -3.0, -2.0, 0.0]])


def named_model(named: bool = True, n_worlds: int = 2):
    return build_model(
        load_preset("baseline"), n_worlds=n_worlds, seed=1, backend="numpy", n_cohorts=8,
        collect_agents=False, policy_overrides={"named_counterparties": named},
    )  # fmt: skip


def interbank_held(model) -> np.ndarray:
    pool = model.sheets.ledger.pools["interbank"]
    held = np.zeros(model.sheets.ledger.cash.shape)
    held[:, np.asarray(pool.holders)] += np.asarray(pool.claims)
    return held


def fail_bank(model, name: str) -> int:
    """Strip bank ``name`` of its cash, securities and real assets in every world, then clear."""
    s = model.sheets
    i = model.roster.index(name)
    s.ledger.cash[:, i] = 0.0
    s.holdings[:, i, :] = 0.0
    s.real_assets[:, i] = 0.0
    model.failures.step(model.state)
    return i


@pytest.mark.parametrize("named", [True, False])
def test_clearing_passes_the_interbank_loss_to_the_lenders(named):
    model = named_model(named)
    model.step()
    before = interbank_held(model)
    pool = model.sheets.ledger.pools["interbank"]
    victim = "wells_fargo"
    i = fail_bank(model, victim)
    assert bool(np.asarray(model.state.defaulted)[:, i].all())
    lost = before - interbank_held(model)
    banks = np.asarray(model.roster.indices("bank"))
    losers = set(banks[(lost[0, banks] > 1e-9)].tolist())
    if named:
        lenders = set(np.asarray(pool.holder_agent)[np.asarray(pool.issuer_agent) == i].tolist())
        assert losers and losers <= lenders  # its own lenders, nobody else
        assert len(losers) < len(banks) // 2
    else:
        assert len(losers) >= len(banks) - 1  # the pool spreads it over every bank


def test_the_pooled_mode_keeps_one_pro_rata_pool():
    cal, roster, sheets = opening(named=False)
    pool = sheets.pools["interbank"]
    assert pool.links is None
    share = float(cal.model_value(SHARE_PATH))
    banks = list(roster.indices("bank"))
    assert pool.issuers == banks and pool.holders == banks
    np.testing.assert_array_equal(pool.face, pool.claims)
    assets = bank_assets(sheets, roster)
    np.testing.assert_allclose(np.array(pool.face), share * assets, rtol=1e-9)
