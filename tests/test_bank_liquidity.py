"""Bank liquidity: held-to-maturity Treasuries at cost, runs on a bank's own condition, wholesale
funding that stops rolling over, and the lender of last resort acting on the liquidity buffer."""

from __future__ import annotations

import numpy as np
import pytest

from abm.balance_sheets import build_balance_sheets
from abm.bank_runs import BankRuns, member_distress_scale, pay_out_deposits, ramp
from abm.calibration import load_calibration
from abm.claims import debt_owed
from abm.constraints import BankCapital
from abm.model import Powderkeg
from abm.policy import Policy
from abm.roster import build_roster
from abm.stablecoins import run_share_over
from abm.state import BankState, WorldState
from tests.test_backstops import _capital_hole


def model(**levers) -> Powderkeg:
    return Powderkeg(
        n_worlds=2, seed=3, n_cohorts=20, collect_agents=False, policy=Policy(**levers)
    )


def gaps(m: Powderkeg) -> float:
    return max(float(np.max(np.abs(v))) for v in m.accounting_gap().values())


def _slot(m: Powderkeg, name: str) -> tuple[int, int]:
    """(agent index, position in bank order) of bank ``name``."""
    i = m.roster.index(name)
    return i, list(m.roster.indices("bank")).index(i)


def _mark_treasuries(m: Powderkeg, price: float) -> None:
    """Treasuries repriced to ``price`` (a rate move), every holder's gain or loss booked."""
    s, t = m.sheets, m.capital.treasuries
    change = s.holdings[:, :, t] * (price - s.prices[:, t])[:, None]
    s.prices[:, t] = price
    s.ledger.book_equity(change)


def _buy_treasuries(m: Powderkeg, bank: int, share_of_assets: float) -> None:
    """The bank swaps cash for Treasuries worth ``share_of_assets`` of its assets (at price 1)."""
    s, t = m.sheets, m.capital.treasuries
    amount = share_of_assets * s.total_assets()[:, bank]
    pay = np.zeros_like(s.ledger.cash)
    pay[:, bank] = amount
    s.ledger.pay_outsider(np.arange(pay.shape[1]), "market_makers", pay, income=False)
    s.holdings[:, bank, t] += amount / s.prices[:, t]


def _ratios(m: Powderkeg) -> tuple[np.ndarray, np.ndarray]:
    """(regulatory, market) CET1 ratios of every agent."""
    s = m.sheets
    assets, debt = s.total_assets(), debt_owed(s)
    addback = m.capital.htm_addback(m.state)
    return m.capital.cet1_ratios(assets, debt, addback), m.capital.cet1_ratios(assets, debt)


def test_opening_htm_books_are_the_data_shares_of_each_banks_treasuries():
    m = model()
    t = m.capital.treasuries
    held = m.sheets.holdings[:, m.roster.indices("bank"), t]
    share = np.where(m.capital.regions == 0, 0.45, 0.4)
    np.testing.assert_allclose(m.state.banks.htm_units, held * share, rtol=1e-12)
    regulatory, market = _ratios(m)
    np.testing.assert_allclose(regulatory, market, atol=1e-12)  # at cost = at market at start


def test_htm_loss_left_out_of_regulatory_capital_until_sold():
    m = model()
    bank, k = _slot(m, "large_regionals")
    s, t = m.sheets, m.capital.treasuries
    m.state.banks.htm_units[:, k] = s.holdings[:, bank, t]  # all its Treasuries held to maturity
    equity0 = s.equity()[:, bank].copy()
    rwa0 = m.capital.risk_weighted_assets()[:, bank].copy()
    _mark_treasuries(m, 0.8)  # rates up: Treasuries -20%
    regulatory, market = _ratios(m)
    rwa = m.capital.risk_weighted_assets()[:, bank]
    np.testing.assert_allclose(rwa, rwa0, rtol=1e-12)  # Treasuries weigh nothing
    # regulatory equity is exactly the book before the rate move; market equity lost the mark
    np.testing.assert_allclose(regulatory[:, bank] * rwa, equity0, rtol=1e-12)
    loss = 0.2 * s.holdings[:, bank, t]
    np.testing.assert_allclose(market[:, bank] * rwa, equity0 - loss, rtol=1e-12)
    assert (market[:, bank] < regulatory[:, bank] - 0.01).all()
    # a run leaves it short of cash: the fire sale sells Treasuries out of the HTM book
    owed = m.sheets.ledger.pools["deposits"].face
    take = np.zeros_like(owed)
    take[:, k] = s.ledger.cash[:, bank] + 0.02 * s.total_assets()[:, bank]
    pay_out_deposits(s.ledger, take)
    units = s.holdings[:, bank, t].copy()
    m.state.flows.due = m.state.flows.panic_sales = s.ledger.cash * 0.0  # no other cash needs
    m.fire_sales.step(m.state)
    left = s.holdings[:, bank, t]
    assert (left < units).all()
    np.testing.assert_allclose(m.state.banks.htm_units[:, k], left)
    regulatory, market = _ratios(m)
    rwa = m.capital.risk_weighted_assets()[:, bank]
    realised = (units - left) * (1.0 - s.prices[:, t])  # the loss on the units sold now counts
    equity = regulatory[:, bank] * rwa
    assert (equity < equity0 - 0.9 * realised).all()
    addback = left * (1.0 - s.prices[:, t])
    np.testing.assert_allclose(equity - market[:, bank] * rwa, addback, rtol=1e-9)
    assert gaps(m) < 1e-6


def test_svb_like_bank_loses_two_thirds_of_its_deposits_in_a_week():
    m = model()
    bank, k = _slot(m, "large_regionals")
    s, t = m.sheets, m.capital.treasuries
    runs = m.bank_runs
    _buy_treasuries(m, bank, 0.5)  # SVB: securities 57% of its assets (117 of 212 bn), mostly HTM
    m.state.banks.htm_units[:, k] = 0.8 * s.holdings[:, bank, t]
    _mark_treasuries(m, 0.83)  # SVB's unrealised loss of 15 bn on 91 bn HTM
    runs.uninsured_share[k] = 0.9  # SVB: ~90% of deposits uninsured
    runs.member_scale[k] = 1.0  # one bank, not the aggregate of members
    face = s.ledger.pools["deposits"].face[:, k]
    runs.uninsured_by_class[:, k] = 0.9 * face[:, None] / runs.member_scale.shape[1]
    regulatory, market = _ratios(m)
    assert market[0, bank] < 0.0  # market capital gone, as SVB's (15 bn HTM loss, 16 bn equity) ...
    assert regulatory[0, bank] > 0.085  # ... the regulatory ratio above the US buffer
    face = s.ledger.pools["deposits"].face[:, k].copy()
    runs.step(m.state)
    share = m.state.withdrawals[:, bank] / face
    d = runs.distress[:, k]
    assert (d > 0.8).all()
    expected = runs.run_max * ramp(np, d, runs.run_threshold, runs.run_width) * 0.9
    np.testing.assert_allclose(share, expected, rtol=1e-9)
    assert share == pytest.approx(0.66, abs=0.02)  # w_max·u: SVB's day-one hazard for 5 days
    day = run_share_over(share / 0.9, 1.0, m.calibration.trading_days_per_week)
    assert day == pytest.approx(0.24, abs=0.01)  # SVB day one (of uninsured deposits)
    assert (m.state.withdrawals[:, m.roster.index("jpmorgan")] == 0.0).all()  # healthy peers
    assert (runs.last_runoff[:, bank] > 0.1 * s.ledger.owed("wholesale")[:, bank]).all()


def test_a_long_run_takes_the_uninsured_deposits_and_leaves_the_insured_ones():
    m = model()
    bank, k = _slot(m, "citigroup")
    runs, pool = m.bank_runs, m.sheets.ledger.pools["deposits"]
    face = pool.face[:, k].copy()
    uninsured = runs.uninsured_share[k] * face
    runs.outflow_shock[:, k] = 0.5  # half its uninsured depositors leave each week
    taken = np.zeros_like(face)
    for week in range(12):
        runs.step(m.state)
        taken += m.state.withdrawals[:, bank]
        # per week, by hand: half of what is still uninsured
        expected = uninsured * 0.5 ** (week + 1)
        np.testing.assert_allclose(runs.uninsured[:, k], expected, rtol=1e-9)
    np.testing.assert_allclose(taken, uninsured * (1.0 - 0.5**12), rtol=1e-9)
    assert (pool.face[:, k] > 0.99 * (face - uninsured)).all()  # the insured deposits stay
    assert gaps(m) < 1e-6


def test_runners_redeposit_a_share_at_calm_banks():
    """Flight to quality: of what each depositor of the model is paid by a run, ``q`` goes back
    the same week into its deposits at its own calm banks, pro rata to what it holds there; of
    what outside depositors take, ``q`` goes to the region's calm banks pro rata to their deposits.
    The money that arrives is uninsured; the bank run on receives none, nothing is lost."""
    m = model()
    bank, k = _slot(m, "citigroup")
    runs, ledger = m.bank_runs, m.sheets.ledger
    pool = ledger.pools["deposits"]
    regions, q = m.capital.regions, runs.redeposit_share
    face = pool.face.copy()
    balance = np.asarray(pool.balance).copy()
    edge_bank = np.asarray(pool.edge_issuer)
    edge_holder_agent = np.asarray(pool.holders)[np.asarray(pool.edge_holder)]
    outside_share = pool.outside_face[:, k] / face[:, k]
    uninsured = runs.uninsured_classes(face).sum(axis=-1)
    runs.outflow_shock[:, k] = 0.3
    runs.step(m.state)
    share = np.clip(runs.run_max * ramp(np, runs.distress, runs.run_threshold, runs.run_width)
                    + runs.outflow_shock, 0.0, 1.0)  # fmt: skip
    calm = share == 0.0
    assert calm.sum(axis=1).min() >= 40 and not calm[:, k].any()
    received = pool.face - face
    received[:, k] += m.state.withdrawals[:, bank]  # the bank run on: only its run
    gained = runs.uninsured - uninsured
    gained[:, k] = 0.0  # the run bank's uninsured stock: the run (the tests above)
    for e in range(face.shape[0]):  # by hand, one world, one depositor at a time
        want = np.zeros(face.shape[1])
        for agent in np.unique(edge_holder_agent):
            paid = -m.state.withdrawals[e, agent]  # what the run paid this depositor
            mine = (edge_holder_agent == agent) & calm[e, edge_bank]
            if paid > 0.0 and balance[e, mine].sum() > 0.0:
                np.add.at(
                    want, edge_bank[mine], q * paid * balance[e, mine] / balance[e, mine].sum()
                )
        us_calm = np.where(calm[e] & (regions == regions[k]), face[e], 0.0)
        fled = m.state.withdrawals[e, bank] * outside_share[e]
        want += q * fled * us_calm / us_calm.sum()
        np.testing.assert_allclose(received[e], want, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gained[e], want, rtol=1e-9, atol=1e-9)
    assert (received > 0.0).sum() > 10  # the money spreads over many calm banks
    assert gaps(m) < 1e-6


def test_deposits_that_arrive_are_uninsured_at_the_data_share_and_leavers_take_the_mix():
    m = model()
    runs = m.bank_runs
    held = runs.face_after_run.copy()
    runs.uninsured_by_class *= 0.5  # after a run: half the uninsured deposits are gone
    mix = runs.uninsured / held
    change = np.where(np.arange(held.shape[1]) % 2 == 0, 10.0, -10.0)[None, :] * np.ones_like(held)
    got = runs.uninsured_classes(held + change).sum(axis=-1)
    # one bank at a time, by hand
    for e in range(held.shape[0]):
        for b in range(held.shape[1]):
            share = runs.uninsured_share[b] if change[e, b] > 0 else mix[e, b]
            want = min(max(runs.uninsured[e, b] + share * change[e, b], 0.0), held[e, b] + 10.0)
            assert got[e, b] == pytest.approx(want, rel=1e-12)


def test_member_classes_are_the_slices_of_a_lognormal_of_mean_one():
    """Each class's multiplier is the mean of ``exp(σz − σ²/2)`` over its twentieth of the members,
    checked against 400,000 members drawn and sorted; a named bank (σ 0) has every class at 1."""
    scale = member_distress_scale(np.array([0.0, 1.0, 1.4]))
    assert scale.shape == (3, 20) and (scale[0] == 1.0).all()
    np.testing.assert_allclose(scale.mean(axis=1), 1.0, rtol=1e-12)
    assert (np.diff(scale[1:], axis=1) > 0.0).all()  # the last class is the worst
    rng = np.random.default_rng(0)
    for row, sigma in ((1, 1.0), (2, 1.4)):
        members = np.sort(np.exp(sigma * rng.standard_normal(400_000) - sigma**2 / 2))
        by_hand = members.reshape(20, -1).mean(axis=1)
        np.testing.assert_allclose(scale[row], by_hand, rtol=0.03)
    assert scale[2, -1] == pytest.approx(8.1, abs=0.05)  # the worst 5%: 8 times the mean


def test_a_run_on_an_aggregate_takes_its_weakest_members_deposits_and_stops():
    """At a moderate distress that leaves one bank calm, an aggregate's worst members lose their
    uninsured deposits within weeks, class by class as the single-bank rule would run each, and
    the run then stops: the sound members keep theirs while the distress lasts."""
    m = model()
    bank, k = _slot(m, "community_and_credit_unions")
    runs = m.bank_runs
    d = 0.15  # below the calm point 0.3: a single bank this distressed keeps its depositors
    fixed = np.zeros_like(runs.distress)
    fixed[:, k] = d
    runs.measure_distress = lambda state: fixed
    scale = runs.member_scale[k]
    assert runs.run_max * ramp(np, np.array(d), runs.run_threshold, runs.run_width) == 0.0
    start = runs.uninsured_by_class[:, k].copy()
    weekly = []
    for _ in range(40):
        runs.step(m.state)
        weekly.append(m.state.withdrawals[:, bank].copy())
    # by hand, class by class: the rule of one bank on the class's distress, 40 weeks
    share = np.array([runs.run_max * ramp(np, np.array(d * c), runs.run_threshold,
                                          runs.run_width) for c in scale])  # fmt: skip
    left = start * (1.0 - share) ** 40
    np.testing.assert_allclose(runs.uninsured_by_class[:, k], left, rtol=1e-6, atol=1e-6)
    taken = start.sum(axis=1) - left.sum(axis=1)
    np.testing.assert_allclose(np.sum(weekly, axis=0), taken, rtol=1e-6)
    assert ((share > 0.0).sum() >= 2) and (share[:-3] == 0.0).all()  # the worst few classes
    assert (taken > 0.05 * start.sum(axis=1)).all() and (taken < 0.2 * start.sum(axis=1)).all()
    assert (weekly[-1] < 1e-3 * weekly[0]).all()  # the run has stopped: nobody left to run
    assert gaps(m) < 1e-6


def _hole_to(m: Powderkeg, bank: int, ratio: float) -> float:
    """The loss (share of the bank's assets) that leaves its market-value CET1 about ``ratio``."""
    _, market = _ratios(m)
    rwa = m.capital.risk_weighted_assets()[:, bank]
    return float(((market[:, bank] - ratio) * rwa / m.sheets.total_assets()[:, bank])[0])


def test_peer_failures_raise_distress_of_weak_banks_in_the_same_region_only():
    m = model()
    runs = m.bank_runs
    size = m.sheets.total_assets()[0, m.roster.indices("bank")]  # the weights: at the start
    for name in ("wells_fargo", "eu_de15"):  # one weak bank in each region: below the minimum
        bank = _slot(m, name)[0]
        _capital_hole(m, bank, _hole_to(m, bank, 0.035))
    base = runs.measure_distress(m.state)
    jpm, k = _slot(m, "jpmorgan")
    m.state.defaulted[:, jpm] = True
    peers = runs.measure_distress(m.state) / np.where(base > 0.0, base, 1.0) - 1.0
    us = m.capital.regions == 0
    share = size[k] / size[us].sum()
    assert 0.1 < share < 0.2
    weak = (base > 0.01).all(axis=0)
    assert weak[us].sum() == 1 and weak[~us].sum() == 1
    np.testing.assert_allclose(peers[:, us & weak], share, rtol=1e-9)  # d · (1 + F)
    np.testing.assert_allclose(peers[:, ~us & weak], 0.0, atol=1e-12)
    # a weak bank that kept its depositors loses them once a large peer has failed
    wf, _ = _slot(m, "wells_fargo")
    _capital_hole(m, wf, _hole_to(m, wf, 0.031))  # just past the calm point alone
    m.state.defaulted[:, jpm] = False
    runs.step(m.state)
    alone = m.state.withdrawals[:, wf].copy()
    m.state.defaulted[:, jpm] = True
    runs.step(m.state)
    assert (m.state.withdrawals[:, wf] > alone + 1.0).all()


def test_recent_losses_raise_distress():
    m = model()
    runs = m.bank_runs
    gs, k = _slot(m, "goldman_sachs")
    equity = m.sheets.equity()[:, gs]
    m.state.banks.net_income[:, k] = -0.5 * equity / 52.0  # losing half its equity a year
    weeks = int(runs.loss_weeks)
    for _ in range(weeks):
        d = runs.measure_distress(m.state)
    assert (d[:, k] > 0.3).all()  # a quarter's losses: past the calm point
    assert (np.delete(d, k, axis=1) < 1e-12).all()


def test_losses_every_peer_reports_raise_no_distress():
    """Depositors read a bank's losses against its region's: a common loss is no signal, and a
    bank losing more than its peers is distressed by the difference."""
    m = model()
    runs = m.bank_runs
    banks = np.asarray(m.roster.indices("bank"))
    us = m.capital.regions == 0
    equity = m.sheets.equity()[:, banks]
    rate = np.where(us, 0.5, 0.0)  # every US bank loses half its equity a year
    _, k = _slot(m, "goldman_sachs")
    rate[k] = 0.9  # Goldman Sachs loses 0.9 of its equity a year
    m.state.banks.net_income[...] = -rate * equity / 52.0
    for _ in range(int(runs.loss_weeks) * 6):  # long enough for the quarter's average to settle
        d = runs.measure_distress(m.state)
    typical = (rate * equity)[:, us].sum(axis=1) / equity[:, us].sum(axis=1)
    assert (typical > 0.5).all() and (typical < 0.52).all()
    others = us.copy()
    others[k] = False
    assert (d[:, others] < 1e-12).all() and (d[:, ~us] < 1e-12).all()
    np.testing.assert_allclose(d[:, k], 0.9 - typical, rtol=0.02)  # the excess over its peers


def test_wholesale_runoff_grows_with_distress_and_spares_healthy_banks_and_hedge_funds():
    runoff = []
    for ratio in (None, 0.025, 0.02, 0.015):  # market-value CET1 left, below the 4.5% minimum
        m = model()
        bank, _ = _slot(m, "citigroup")
        if ratio is not None:
            _capital_hole(m, bank, _hole_to(m, bank, ratio))
        owed = m.sheets.ledger.owed("wholesale")[0, bank]
        m.bank_runs.step(m.state)
        out = m.bank_runs.last_runoff
        runoff.append(out[0, bank] / owed)
        others = np.delete(out, bank, axis=1)
        assert (others == 0.0).all()  # healthy banks and the hedge funds roll over
        assert gaps(m) < 1e-6
    assert runoff[0] == 0.0
    assert 0.0 < runoff[1] < runoff[2] < runoff[3] <= 0.2


def test_lender_of_last_resort_refills_a_solvent_banks_buffer_not_an_insolvent_one():
    for solvent in (True, False):
        m = model(lender_of_last_resort=True)
        m.lender.acts = np.ones_like(m.lender.acts)
        bank, k = _slot(m, "wells_fargo")
        s = m.sheets
        if not solvent:
            _capital_hole(m, bank, 0.06)  # regulatory CET1 below the 4.5% minimum
        take = np.zeros_like(s.ledger.pools["deposits"].face)
        take[:, k] = s.ledger.cash[:, bank] * 0.95  # cash still positive, below the buffer
        pay_out_deposits(s.ledger, take)
        m.state.withdrawals = s.ledger.cash * 0.0
        m.state.withdrawals[:, bank] = take[:, k]
        cash = s.ledger.cash[:, bank].copy()
        funding = s.ledger.owed("deposits")[:, bank] + s.ledger.owed("wholesale")[:, bank]
        buffer = m.lender.liquidity_buffer * funding
        assert ((cash > 0.0) & (cash < buffer)).all()
        m.lender.step(m.state)
        lent = m.lender.last_lent[:, bank]
        if solvent:
            np.testing.assert_allclose(lent, buffer - cash, rtol=1e-9)
            np.testing.assert_allclose(s.ledger.cash[:, bank], buffer, rtol=1e-9)
        else:
            assert (lent == 0.0).all()
        assert (np.delete(m.lender.last_lent, bank, axis=1) == 0.0).all()
        assert gaps(m) < 1e-6


def test_stressed_weeks_keep_the_books_balanced():
    m = model(lender_of_last_resort=True, bailouts=True)
    t = m.capital.treasuries
    banks = m.roster.indices("bank")
    m.sheets.impairment[:, t] *= 0.9  # the Treasury price falls for good
    m.bank_runs.outflow_shock[:, 0] = 0.1  # and a scenario shock takes 10% from one bank
    for week in range(4):
        m.step()
        assert gaps(m) < 1e-6
        assert (m.state.banks.htm_units <= m.sheets.holdings[:, banks, t] + 1e-12).all()
        if week == 0:
            assert (m.snapshot["run_withdrawals"][:, banks[0]] > 0.0).all()
    reg, market = m.snapshot["cet1_ratio"], m.snapshot["cet1_ratio_market"]
    alive = ~m.snapshot["defaulted"][:, banks]
    assert (reg[:, banks][alive] >= market[:, banks][alive]).all()
    assert (reg[:, banks][alive] > market[:, banks][alive] + 0.005).mean() > 0.7  # most banks


def test_float32_runs_stay_in_float32():
    cal = load_calibration()
    roster = build_roster(cal, 8)
    sheets, params = build_balance_sheets(cal, roster, 2, np, dtype=np.float32)
    policy = Policy()
    capital = BankCapital(cal, sheets, params, policy)
    banks = BankState.start(capital.regions, None, None, capital.opening_htm_units())
    state = WorldState.start(sheets, None, None, banks)
    runs = BankRuns(cal, capital, params, policy)
    money = sheets.ledger.money().copy()
    t = capital.treasuries
    change = sheets.holdings[:, :, t] * (np.float32(0.5) - sheets.prices[:, t])[:, None]
    sheets.prices[:, t] = np.float32(0.5)  # a large fall: market capital of most banks gone
    sheets.ledger.book_equity(change)
    runs.step(state)
    for values in (
        state.withdrawals,
        runs.last_runoff,
        runs.distress,
        sheets.ledger.cash,
        capital.htm_addback(state),
    ):
        assert values.dtype == np.float32 and np.isfinite(values).all()
    assert float(state.withdrawals.sum()) > 0.0 and float(runs.last_runoff.sum()) > 0.0
    scale = float(np.abs(sheets.ledger.cash).sum())
    assert float(np.abs(sheets.ledger.money() - money).max()) < 1e-5 * scale
