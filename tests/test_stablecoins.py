"""Stablecoin runs: calibrated run speeds, stress at the reserve banks, the reserve waterfall."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.stablecoins import run_share_over, weekly_run_share


def model(worlds: int = 1) -> Powderkeg:
    return Powderkeg(n_worlds=worlds, seed=3, n_cohorts=20, collect_agents=False)


def money_gap(m: Powderkeg) -> float:
    return float(np.max(np.abs(m.accounting_gap()["money"])))


def test_conversion_is_a_constant_daily_hazard():
    assert weekly_run_share(0.15, 1.0) == pytest.approx(1 - 0.85**7)
    assert weekly_run_share(0.24, 1.0, 5.0) == pytest.approx(1 - 0.76**5)
    for share, days, open_days in ((0.15, 1.0, 7.0), (0.38, 3.0, 7.0), (0.24, 1.0, 5.0)):
        weekly = weekly_run_share(share, days, open_days)
        assert run_share_over(weekly, days, open_days) == pytest.approx(share)
    with pytest.raises(ValueError):
        weekly_run_share(1.0, 1.0)


def test_stored_sensitivities_follow_from_the_episodes():
    cal = model().calibration
    b = cal.group("stablecoins.behaviour", model_units=True)
    days = b["redemption_days_per_week"]
    usdc = weekly_run_share(b["usdc_run_24h_share"], 1.0, days)
    assert b["depeg_sensitivity"] == pytest.approx(usdc / (1 - b["usdc_price_low"]), rel=1e-4)
    stuck = b["usdc_reserves_at_failed_bank_share"]
    assert b["reserve_bank_distress_sensitivity"] == pytest.approx(usdc / stuck, rel=1e-4)
    anchor = weekly_run_share(b["anchor_run_3d_share"], 3.0, days)
    assert b["max_redemption_share_per_week"] == pytest.approx(anchor, rel=1e-4)
    svb = cal.model_value("banks.behaviour.svb_day1_run_share")
    w_max = cal.model_value("banks.behaviour.uninsured_run_max_share_per_week")
    assert w_max == pytest.approx(weekly_run_share(svb, 1.0, cal.trading_days_per_week), rel=1e-4)


def _due_share(m: Powderkeg, coin: str, pegs=None, stress=None) -> float:
    xp = m.xp
    flows = m.state.flows
    flows.pegs = xp.ones_like(m.sheets.ledger.cash) if pegs is None else pegs
    flows.reserve_stress = stress  # None: no stress at the reserve banks
    m.flows.redemptions(m.state)
    due = flows.due
    row = m.roster.index(coin)
    tokens = float(
        m.sheets.ledger.pools["tokens"].face[0, list(m.roster.indices("stablecoin")).index(row)]
    )
    return float(due[0, row]) / tokens


def test_usdc_run_comes_back_from_its_depeg_and_from_its_failed_bank():
    m = model()
    usdc = m.roster.index("usdc")
    pegs = np.ones_like(m.sheets.ledger.cash)
    pegs[0, usdc] = 0.87  # the low of 11 March 2023
    by_depeg = _due_share(m, "usdc", pegs=pegs)
    assert run_share_over(by_depeg, 1.0) == pytest.approx(0.15, abs=0.005)  # -15% in 24 h
    stress = np.zeros_like(m.sheets.ledger.cash)
    stress[0, usdc] = 0.08  # 8% of reserves at the failed SVB
    by_bank = _due_share(m, "usdc", stress=stress)
    assert run_share_over(by_bank, 1.0) == pytest.approx(0.15, abs=0.005)


def test_anchor_run_is_the_fastest_weekly_run():
    m = model()
    tether = m.roster.index("tether")
    pegs = np.ones_like(m.sheets.ledger.cash)
    pegs[0, tether] = 0.5  # a coin whose holders know later movers get half
    share = _due_share(m, "tether", pegs=pegs)
    assert run_share_over(share, 3.0) == pytest.approx(0.38, abs=0.005)  # Anchor: -38% in 3 days


def test_svb_run_speed_at_full_distress():
    m = model()
    runs, sheets = m.bank_runs, m.sheets
    pool = sheets.ledger.pools["deposits"]
    banks = m.roster.indices("bank")
    loss = np.zeros_like(sheets.ledger.cash)
    loss[0, banks[0]] = sheets.total_assets()[0, banks[0]] * 0.2  # wipes out its capital
    sheets.real_assets = sheets.real_assets - loss  # a loss on its illiquid assets, booked
    sheets.ledger.book_equity(-loss)
    face = pool.face[0, 0]
    runs.step(m.state)
    share = m.state.withdrawals[0, banks[0]] / (face * runs.uninsured_share[0])
    days = m.calibration.trading_days_per_week
    assert run_share_over(share, 1.0, days) == pytest.approx(0.24, abs=0.005)  # SVB day one
    assert m.state.withdrawals[0, banks[1]] == 0.0  # a healthy bank keeps its depositors


def test_failed_reserve_banks_start_a_run_on_the_coin_that_banks_with_them():
    m = model()
    usdc, tether = m.roster.index("usdc"), m.roster.index("tether")
    assert float(np.abs(reserve_bank_stress(m)).max()) == 0.0  # calm start
    defaulted = np.asarray(m.state.defaulted).copy()
    defaulted[0, m.roster.indices("bank")] = True  # every bank has failed
    m.state.defaulted = defaulted
    stress = reserve_bank_stress(m)
    pool = m.sheets.ledger.pools["deposits"]
    holder = list(np.asarray(pool.holders)).index(usdc)
    deposits = float(pool.claims[0, holder])
    assert stress[0, usdc] == pytest.approx(deposits / m.sheets.total_assets()[0, usdc])
    assert stress[0, tether] == 0.0  # Tether keeps no reserves at banks
    assert _due_share(m, "usdc", stress=stress) > 0.5
    assert _due_share(m, "tether", stress=stress) == 0.0


def reserve_bank_stress(m: Powderkeg):
    """(E, N) share of each issuer's reserves at banks in trouble (``flows.reserve_stress``)."""
    m.stablecoins.reserve_bank_stress(m.state)
    return m.state.flows.reserve_stress


def _waterfall(due_usd_bn: float):
    m = model()
    tether = m.roster.index("tether")
    table = m.sheets.assets
    cols = [table.index(k) for k in ("tbills", "gold", "crypto")]  # reserves are bills
    before = m.sheets.holdings[0, tether, cols] * m.sheets.prices[0, cols]
    due = np.zeros_like(m.sheets.ledger.cash)
    due[0, tether] = due_usd_bn
    m.state.begin_week(m.economy.firms)
    m.state.flows.due = due
    m.flows.draw_deposits(m.state)
    m.stablecoins.sell_reserves(m.state)
    after = m.sheets.holdings[0, tether, cols] * m.sheets.prices[0, cols]
    return m, tether, before, after


def test_waterfall_sells_treasuries_before_gold_before_bitcoin():
    m, tether, before, after = _waterfall(50.0)  # less than its Treasuries
    assert after[0] < before[0] - 40.0
    assert after[1] == before[1] and after[2] == before[2]  # gold and bitcoin untouched
    assert m.sheets.ledger.cash[0, tether] >= 50.0 - 1e-9
    assert money_gap(m) < 1e-9
    m, tether, before, after = _waterfall(before[0] + before[1] + 5.0)  # more than both
    assert after[0] < 1e-6 * before[0] and after[1] < 1e-6 * before[1]
    assert 0.0 < after[2] < before[2]  # bitcoin last, only what is still missing
    sold = np.asarray(m.stablecoins.last_sold)[0]
    assert sold[m.sheets.assets.index("tbills")] > 0 and sold[m.sheets.assets.index("crypto")] > 0
    assert money_gap(m) < 1e-9
    # the sales reach the market's reported totals once the clearing has run
    state = m.state
    state.flows.due = np.zeros_like(m.sheets.ledger.cash)
    state.flows.panic_sales = np.zeros_like(m.sheets.ledger.cash)
    for rule in (m.bank_runs, m.lender, m.bailouts, m.fire_sales):
        rule.step(state)
    assert state.flows.proceeds[0, tether] > 0
