"""Public backstops: lender of last resort, bailouts and the stablecoin run backstop, each against
the same shock with and without it; every dollar has two sides."""

from __future__ import annotations

import numpy as np
import pytest

from abm.backstops import POOL
from abm.bank_runs import pay_out_deposits
from abm.events import EventLog
from abm.model import Powderkeg
from abm.policy import Policy
from abm.reporting import ensemble_columns

WORLDS = 12


def model(**levers) -> Powderkeg:
    return Powderkeg(
        n_worlds=WORLDS, seed=32, n_cohorts=8, collect_agents=False, policy=Policy(**levers)
    )


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(v))) for v in m.accounting_gap().values())


def _run_on_a_bank(m: Powderkeg, share: float = 0.5) -> int:
    """Depositors take ``share`` of a large US bank's deposits, as a run does: it lacks cash."""
    bank = m.roster.index("wells_fargo")
    pool = m.sheets.ledger.pools["deposits"]
    slot = list(np.asarray(pool.issuers)).index(bank)
    amount = np.zeros_like(pool.face)
    amount[:, slot] = share * pool.face[:, slot]
    pay_out_deposits(m.sheets.ledger, amount)
    return bank


def test_lender_of_last_resort_spares_a_solvent_bank_the_fire_sale():
    sold = {}
    for on in (False, True):
        m = model(lender_of_last_resort=on)
        bank = _run_on_a_bank(m)
        assert (m.sheets.ledger.cash[:, bank] < 0).all()  # illiquid, still solvent
        m.step()
        sold[on] = m.snapshot["sale_proceeds"][:, bank]
        if on:
            acts = np.asarray(m.lender.acts)
            assert acts.any() and not acts.all()  # the window opens with probability 0.9
            lent = m.snapshot["lolr_lent"][:, bank]
            assert (lent[acts] > 0).all() and (lent[~acts] == 0).all()
            pool = m.sheets.ledger.pools[POOL]  # two sides: the bank owes, the central bank owns
            np.testing.assert_allclose(pool.outside, pool.face.sum(axis=1))
            assert (ensemble_columns(m)["lolr_loans_usd_bn"][acts] > 0).all()
            loans = m.snapshot["lolr_loans"][:, bank].copy()
            for _ in range(8):  # calm weeks: it pays the window back
                m.step()
            assert (m.snapshot["lolr_loans"][acts, bank] < loans[acts]).all()
        assert gaps(m) < 1e-6
    acts = np.asarray(m.lender.acts)
    assert (sold[True][acts] < 0.5 * sold[False][acts]).all()
    np.testing.assert_allclose(sold[True][~acts], sold[False][~acts], rtol=1e-9)


def _capital_hole(m: Powderkeg, bank: int, share_of_assets: float) -> None:
    """A loss on the bank's loans to the rest of the economy (booked as such)."""
    loss = share_of_assets * m.sheets.total_assets()[:, bank]
    m.sheets.real_assets[:, bank] -= loss
    hole = np.zeros_like(m.sheets.ledger.cash)
    hole[:, bank] = -loss
    m.sheets.ledger.book_equity(hole)


def test_bailout_rescues_a_systemic_bank_and_records_the_public_cost():
    outcome = {}
    for on in (False, True):
        m = model(bailouts=on)
        bank = m.roster.index("citigroup")
        _capital_hole(m, bank, 0.06)  # CET1 of about 7% of assets gone: below the minimum
        m.step()
        outcome[on] = m
        assert gaps(m) < 1e-6
    off, on = outcome[False], outcome[True]
    assert off.snapshot["defaulted"][:, bank].all()
    acts = np.asarray(on.bailouts.acts)
    assert acts.any() and not acts.all()
    assert not on.snapshot["defaulted"][acts, bank].any()
    assert on.snapshot["defaulted"][~acts, bank].all()
    cost = on.snapshot["public_cost"]
    assert (cost[acts] > 0).all() and (cost[~acts] == 0).all()
    # the public sector's cost is the capital it injected (taxes and coupons move apart)
    np.testing.assert_allclose(on.snapshot["bailout_injection"].sum(axis=1), cost)
    assert on.snapshot["rescued"][acts, bank].all()
    ratio = on.snapshot["cet1_ratio"][acts, bank]
    assert (ratio >= on.calibration.model_value("regulation.us.cet1_min")).all()
    np.testing.assert_array_equal(ensemble_columns(on)["public_cost_usd_bn"], cost)
    assert (cost <= on.bailouts.capacity + 1e-9).all()
    # creditors of the rescued bank lose nothing; those of the failed one do, over the month after
    for _ in range(3):
        off.step()
        on.step()
    retail = slice(*on.roster.blocks["retail"])
    loss_on = on.start_equity[:, retail].sum(1) - on.sheets.equity()[:, retail].sum(1)
    loss_off = off.start_equity[:, retail].sum(1) - off.sheets.equity()[:, retail].sum(1)
    assert (loss_on[acts] < loss_off[acts]).all()


def test_small_banks_are_resolved_not_rescued():
    m = model(bailouts=True)
    small = next(i for i in m.roster.indices("bank") if m.sheets.total_assets()[0, i] < 700.0)
    _capital_hole(m, small, 0.5)
    m.step()
    assert m.snapshot["defaulted"][:, small].all()
    assert not m.snapshot["rescued"][:, small].any()


def test_stablecoin_backstop_stops_the_run_within_two_days():
    runs = {}
    for on in (False, True):
        m = model(market_maker_of_last_resort=on)
        tether = m.roster.index("tether")
        log = EventLog(m)
        crypto = m.sheets.assets.index("crypto")
        _capital_hole(m, tether, 0.1)  # its secured loans fail: the peg falls to about 0.94
        m.flows.last_crypto = m.flows.last_crypto * 2.0  # bitcoin halved since last week
        m.step()
        log.update(m)
        runs[on] = (m, tether, log.frame())
        assert gaps(m) < 1e-6
        assert m.sheets.prices[0, crypto] > 0
    (off, tether, events_off), (on, _, _) = runs[False], runs[True]
    share_off = off.snapshot["redemption_share"][:, tether]
    assert (share_off > 0.3).all()  # past the 48-hour trigger of 10%
    acts = np.asarray(on.market_maker.acts)
    assert acts.any() and not acts.all()
    share_on = on.snapshot["redemption_share"][:, tether]
    stopped = 1.0 - (1.0 - share_off) ** (2.0 / 7.0)  # what runs in the first two days
    np.testing.assert_allclose(share_on[acts], stopped[acts], rtol=1e-9)
    np.testing.assert_allclose(share_on[~acts], share_off[~acts], rtol=1e-9)
    assert on.snapshot["stablecoin_backstop"][acts, tether].all()
    assert (on.snapshot["backstop_bought"][acts] > 0).all()
    assert (on.sheets.ledger.outsiders.paid_in["central_bank"][acts] > 0).all()
    assert "stablecoin_run" in set(events_off["event"])
    run = events_off[events_off["event"] == "stablecoin_run"].iloc[0]
    assert "supply in one week; it paid" in run["message"]


def test_backstop_events_are_logged():
    m = model(lender_of_last_resort=True, bailouts=True)
    log = EventLog(m)
    _run_on_a_bank(m)
    _capital_hole(m, m.roster.index("citigroup"), 0.06)
    m.step()
    log.update(m)
    events = set(log.frame()["event"])
    assert {"lolr_loan", "bailout"} <= events


@pytest.mark.parametrize("levers", [{}, {"lender_of_last_resort": True, "bailouts": True}])
def test_backstops_change_nothing_in_a_calm_year(levers):
    m = model(**levers)
    for _ in range(8):
        m.step()
    assert float(m.snapshot["public_cost"].max()) == 0.0
    assert float(m.snapshot["lolr_loans"].max()) == 0.0


def test_market_maker_buys_investment_grade_bonds_only():
    """The 2020 facilities' eligibility: a junk issuer's bonds get no floor, an IG issuer's do.

    CoreWeave starts at BB− (junk); Oracle at BBB is marked junk as if just downgraded; Amazon
    (AA) stays investment grade. All three bonds fall by half, far below the trigger price.
    """
    m = model(market_maker_of_last_resort=True)
    s, state, mm = m.sheets, m.state, m.market_maker
    acts = np.asarray(mm.acts)
    assert acts.any()
    firms = list(m.roster.indices("firm"))
    oracle = firms.index(m.roster.index("oracle"))
    junk = np.array(state.firms.junk)
    junk[:, oracle] = True
    state.firms.junk = junk
    bonds = {k: s.assets.index(f"bonds_{k}") for k in ("amazon", "oracle", "coreweave")}
    assert junk[:, firms.index(m.roster.index("coreweave"))].all()
    cols = list(bonds.values())
    fall = np.zeros_like(s.prices)
    fall[:, cols] = -0.5 * s.prices[:, cols]
    s.ledger.book_equity((s.holdings @ fall[:, :, None])[:, :, 0])  # holders mark the loss
    s.prices = s.prices + fall
    before = s.prices.copy()
    mm.step(state)
    assert (state.backstop_bought[acts] > 0).all()
    assert (s.prices[acts, bonds["amazon"]] > before[acts, bonds["amazon"]]).all()
    for hy in ("oracle", "coreweave"):
        np.testing.assert_array_equal(s.prices[:, bonds[hy]], before[:, bonds[hy]])
    assert gaps(m) < 1e-6
