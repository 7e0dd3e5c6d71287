"""Funds' and stablecoin issuers' income (abm.securities_income) and hedge funds' funding costs.

Each test builds a small model and checks one part against a computation by hand: a holder of
X bn of Treasuries earns X·y/52 a week and the public sector pays it; credit pays only on the
units issued outside the model; Circle passes its distributors' share outside; hedge funds pay
the short rate plus a spread on prime-brokerage and repo debt; pension claims accrue at the
discount rate; the AI firms' dividends reach the holders of their shares; the books balance.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.model import Powderkeg


@pytest.fixture(scope="module")
def cal():
    return load_calibration()


def _model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20, collect_agents=False)


def _only(model: Powderkeg, agent: int, asset: str | None = None, units: float = 0.0) -> None:
    """Leave ``agent`` with ``units`` of ``asset`` and nothing else that earns (a test setup)."""
    s = model.sheets
    holdings = np.asarray(s.holdings).copy()
    holdings[:, agent, :] = 0.0
    if asset is not None:
        holdings[:, agent, s.assets.index(asset)] = units
    s.holdings = s.xp.asarray(holdings)
    cash = np.asarray(s.ledger.cash).copy()
    cash[:, agent] = 0.0
    s.ledger.cash = s.xp.asarray(cash)


def _cash(model: Powderkeg, agent: int) -> np.ndarray:
    return np.asarray(model.sheets.ledger.cash)[:, agent].copy()


def test_treasuries_pay_x_times_y_over_52_from_the_public_sector() -> None:
    model = _model()
    fund = int(model.roster.indices("fund", "mutual_bond")[0])
    _only(model, fund, "treasuries", 100.0)
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    outsiders = model.sheets.ledger.outsiders.paid_in
    before, public = _cash(model, fund), np.asarray(outsiders["public_sector"]).copy()
    holders = np.asarray(model.securities_income.holders)
    held = np.asarray(model.sheets.holdings)[:, holders, :]
    t, b = model.sheets.assets.index("treasuries"), model.sheets.assets.index("tbills")
    rate = np.asarray(model.state.macro.policy_rate)[:, 0]
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, fund) - before, 100.0 * y / 52.0, rtol=1e-12)
    expected = (held[:, :, t].sum(1) * y + held[:, :, b].sum(1) * rate) / 52.0
    paid = np.asarray(outsiders["public_sector"]) - public
    np.testing.assert_allclose(paid, expected, rtol=1e-10)


def test_bills_pay_the_policy_rate_and_circle_passes_60_percent_outside(cal) -> None:
    model = _model()
    usdc = model.roster.index("usdc")
    _only(model, usdc, "tbills", 50.0)
    rate = np.asarray(model.state.macro.policy_rate)[:, 0]
    before = _cash(model, usdc)
    model.securities_income.earn(model.state)
    share = float(cal.value("stablecoins.usdc.reserve_income_distribution_share"))
    assert share == pytest.approx(0.6)
    kept = _cash(model, usdc) - before
    np.testing.assert_allclose(kept, 50.0 * rate / 52.0 * (1.0 - share), rtol=1e-12)


def test_tether_keeps_its_reserve_income() -> None:
    model = _model()
    tether = model.roster.index("tether")
    _only(model, tether, "tbills", 50.0)
    rate = np.asarray(model.state.macro.policy_rate)[:, 0]
    before = _cash(model, tether)
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, tether) - before, 50.0 * rate / 52.0, rtol=1e-12)


def test_credit_pays_on_the_units_issued_outside_the_model_only(cal) -> None:
    model = _model()
    income = model.securities_income
    table = model.sheets.assets
    outside = np.asarray(income.outside_units)[0]
    assert outside[table.index("bonds_microsoft")] == 0.0  # Microsoft pays its own coupons
    assert outside[table.index("ig_bonds_non_ai")] == pytest.approx(9775.6)
    spv = table.index("ai_spv_debt")
    assert 0.0 < outside[spv] < float(np.asarray(model.sheets.supply)[0, spv])
    fund = int(model.roster.indices("fund", "insurer_pc")[0])
    _only(model, fund, "hy_loans", 10.0)
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    spread = float(cal.value("markets.hy_loans.spread")) / 1e4
    before = _cash(model, fund)
    income.earn(model.state)
    np.testing.assert_allclose(_cash(model, fund) - before, 10.0 * (y + spread) / 52.0)


def test_hedge_funds_borrow_at_the_short_rate_plus_a_spread(cal) -> None:
    model = _model()
    pool = model.sheets.ledger.pools["bank_loans"]
    issuers = np.asarray(pool.issuers)
    hedge = np.asarray(model.roster.indices("fund", "hedge"))
    short = np.asarray(model.state.macro.policy_rate)[:, 0]
    rates = np.asarray(model.economy.loan_rates(model.state.macro.policy_rate[:, 0]))
    prime = float(cal.value("assumptions.income.prime_brokerage_spread")) / 1e4
    on_margin = np.isin(issuers, hedge)
    assert on_margin.sum() == len(hedge)
    np.testing.assert_allclose(
        rates[:, on_margin], ((short + prime) / 52.0)[:, None] + 0.0 * rates[:, on_margin]
    )
    credit_funds = np.isin(issuers, np.asarray(model.roster.indices("fund", "private_credit")))
    assert np.all(rates[:, credit_funds] > rates[:, on_margin].max())  # the firms' average rate
    fund = int(hedge[-1])
    _only(model, fund)
    owed = np.asarray(model.sheets.ledger.owed("wholesale"))[:, fund]
    repo = float(cal.value("assumptions.income.repo_spread")) / 1e4
    before = _cash(model, fund)
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, fund) - before, -owed * (short + repo) / 52.0)


def test_pension_claims_accrue_at_the_discount_rate(cal) -> None:
    model = _model()
    pool = model.sheets.ledger.pools["pension_claims"]
    face, claims = np.asarray(pool.face).copy(), np.asarray(pool.claims).copy()
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    rate = y + float(cal.value("markets.ig_bonds_non_ai.spread")) / 1e4
    model.securities_income.earn(model.state)
    growth = (1.0 + rate / 52.0)[:, None]
    np.testing.assert_allclose(np.asarray(pool.face), face * growth, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(pool.claims), claims * growth, rtol=1e-12)


def test_ai_firms_dividends_reach_the_holders_of_their_shares() -> None:
    """A fund holding part of a listed AI firm's shares receives that part of its dividend."""
    model = _model()
    s = model.sheets
    firms = np.asarray(model.economy.firms)
    shares = np.asarray(model.economy.share_asset)
    listed = np.asarray(model.economy.listed)
    fund = int(model.roster.indices("fund", "mutual_equity")[0])
    held = np.asarray(s.holdings)[:, :, shares] * listed  # (E, N, F) units of each firm
    supply = np.asarray(s.supply)[:, shares]
    before = _cash(model, fund)
    outside = np.asarray(s.ledger.outsiders.paid_in["outside_investors"]).copy()
    on = s.xp.ones((2, len(firms)), dtype=s.prices.dtype)
    paid = np.asarray(model.economy.payouts.pay_dividends(on, on < 0.0))
    assert paid.sum() > 0.0
    expected = (paid * held[:, fund, :] / supply).sum(-1)
    assert np.all(expected > 0.0)
    np.testing.assert_allclose(_cash(model, fund) - before, expected, rtol=1e-9)
    taken = outside - np.asarray(s.ledger.outsiders.paid_in["outside_investors"])
    outside_part = (paid * (1.0 - held.sum(1) / supply)).sum(-1)
    np.testing.assert_allclose(taken, outside_part, rtol=1e-9)


def test_books_balance_and_hedge_funds_survive_a_calm_year() -> None:
    model = _model()
    hedge = np.asarray(model.roster.indices("fund", "hedge"))
    for _ in range(52):
        model.step()
    gap = model.accounting_gap()
    for key in ("money", "pools", "equity"):
        assert float(np.max(np.abs(np.asarray(gap[key])))) < 1e-6, key
    assert not np.asarray(model.state.defaulted)[:, hedge].any()
