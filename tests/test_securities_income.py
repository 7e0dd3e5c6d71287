"""Funds' and stablecoin issuers' income (abm.securities_income) and hedge funds' funding costs.

Each test builds a small model and checks one part against a computation by hand: every holder's
income for one week against a reference written per holder; a holder of X bn of Treasuries earns
X·y/52 a week and the public sector pays it; cash alone earns the policy rate less 25 bp; credit
pays only on the units issued outside the model; pension funds' and insurers' other assets earn
their return; Circle passes its distributors' share outside; hedge funds pay the short rate plus a
spread on prime-brokerage and repo debt; pension claims accrue at the discount rate; the AI firms'
dividends reach the holders of their shares; money is conserved and the books balance.
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
    real = np.asarray(s.real_assets).copy()
    real[:, agent] = 0.0
    s.real_assets = s.xp.asarray(real)


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


@pytest.mark.parametrize(("coin", "passed_on"), [("usdc", 0.6), ("tether", 0.0)])
def test_bills_pay_the_policy_rate_less_what_the_issuer_passes_outside(
    cal, coin, passed_on
) -> None:
    # Circle passes 60% of its reserve income to distributors; Tether keeps it all
    model = _model()
    issuer = model.roster.index(coin)
    _only(model, issuer, "tbills", 50.0)
    rate = np.asarray(model.state.macro.policy_rate)[:, 0]
    before = _cash(model, issuer)
    model.securities_income.earn(model.state)
    share = float(cal.value(f"stablecoins.{coin}.reserve_income_distribution_share"))
    assert share == pytest.approx(passed_on)
    kept = _cash(model, issuer) - before
    np.testing.assert_allclose(kept, 50.0 * rate / 52.0 * (1.0 - share), rtol=1e-12)


def test_credit_pays_on_the_units_issued_outside_the_model_only(cal) -> None:
    model = _model()
    income = model.securities_income
    table = model.sheets.assets
    outside = np.asarray(income.issued_outside)[0]
    assert outside[table.index("bonds_microsoft")] == 0.0  # Microsoft pays its own coupons
    assert outside[table.index("ig_bonds_non_ai")] == pytest.approx(9775.6)
    spv = table.index("ai_spv_debt")
    assert 0.0 < outside[spv] < float(np.asarray(model.sheets.supply)[0, spv])
    fund = int(model.roster.indices("fund", "insurer_pc")[0])
    _only(model, fund, "hy_loans", 10.0)
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    spread = float(cal.model_value("markets.hy_loans.spread"))
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
    prime = float(cal.model_value("assumptions.income.prime_brokerage_spread"))
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
    repo = float(cal.model_value("assumptions.income.repo_spread"))
    before = _cash(model, fund)
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, fund) - before, -owed * (short + repo) / 52.0)


def test_pension_claims_accrue_at_the_discount_rate(cal) -> None:
    model = _model()
    pool = model.sheets.ledger.pools["pension_claims"]
    face, claims = np.asarray(pool.face).copy(), np.asarray(pool.claims).copy()
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    rate = y + float(cal.model_value("markets.ig_bonds_non_ai.spread"))
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


def _issued_outside_by_hand(model: Powderkeg) -> np.ndarray:
    """(E, M) supply less the face the model's firms issued into each asset, now."""
    s = model.sheets
    units = np.asarray(s.supply).copy()
    for i in model.roster.indices("firm"):
        m = int(np.asarray(s.bond_asset)[i])
        if m >= 0:
            units[:, m] -= np.asarray(s.bonds)[:, i]
    return np.maximum(units, 0.0)


def _reference_income(
    model: Powderkeg, cal, y: np.ndarray, issued_outside: np.ndarray
) -> np.ndarray:
    """(E, N) each agent's cash change from one ``earn``, computed holder by holder.

    ``y`` (E,) the 10-year yield and ``issued_outside`` (E, M) the credit issued outside the
    model, both at the start (the coupons are fixed there).
    """
    s, roster = model.sheets, model.roster
    holdings, prices = np.asarray(s.holdings), np.asarray(s.prices)
    supply, cash = np.asarray(s.supply), np.asarray(s.ledger.cash)
    real, failed = np.asarray(s.real_assets), np.asarray(model.state.defaulted)
    r = np.asarray(model.state.macro.policy_rate)[:, 0]
    table = s.assets
    income = cal.model_value
    dividend = float(income("assumptions.income.equity_dividend_yield"))
    other = float(income("assumptions.income.other_asset_return"))
    margin = float(income("assumptions.income.cash_rate_margin"))
    repo = float(income("assumptions.income.repo_spread"))
    expected = np.zeros_like(cash)
    holders = [*roster.indices("fund"), *roster.indices("stablecoin")]
    for h in holders:
        units = holdings[:, h, :]
        week = (y * units[:, table.index("treasuries")] + r * units[:, table.index("tbills")]) / 52
        for m, asset_class in enumerate(table.asset_class):
            if asset_class in ("corporate_bond", "loan", "abs"):
                outside = issued_outside[:, m] / supply[:, m]
                week += units[:, m] * outside * (y + table.spread[m]) / 52
        equity = table.index("equity_non_ai")
        week += units[:, equity] * prices[:, equity] * dividend
        if roster.kind[h] in ("pension", "insurer_life", "insurer_pc"):
            week += real[:, h] * other
        week += np.maximum(cash[:, h], 0.0) * np.maximum(r - margin, 0.0) / 52
        if roster.family[h] == "stablecoin":
            node = f"stablecoins.{roster.names[h]}.reserve_income_distribution_share"
            week *= 1.0 - float(cal.value(node))
        expected[:, h] = np.where(failed[:, h], 0.0, week)
    owed = np.asarray(s.ledger.owed("wholesale"))
    hedge = roster.indices("fund", "hedge")
    charged = np.where(failed[:, hedge], 0.0, owed[:, hedge] * ((r + repo) / 52)[:, None])
    expected[:, hedge] -= charged
    pool = s.ledger.pools["wholesale"]
    claims = np.asarray(pool.claims)
    whole = claims.sum(-1) + np.asarray(pool.outside)
    for k, h in enumerate(np.asarray(pool.holders)):  # the repo interest reaches the lenders
        expected[:, h] += charged.sum(-1) * claims[:, k] / whole
    return expected


def test_every_holder_earns_the_reference_income_for_one_week(cal) -> None:
    model = _model()
    y = np.asarray(model.state.macro.yield_10y)[:, 0]
    issued_outside = _issued_outside_by_hand(model)
    for _ in range(3):  # a few weeks in: prices, holdings and rates have moved
        model.step()
    assert not np.allclose(np.asarray(model.state.macro.yield_10y)[:, 0], y)  # coupons stay
    expected = _reference_income(model, cal, y, issued_outside)
    before = np.asarray(model.sheets.ledger.cash).copy()
    model.securities_income.earn(model.state)
    moved = np.asarray(model.sheets.ledger.cash) - before
    np.testing.assert_allclose(moved, expected, rtol=1e-9, atol=1e-12)


def test_a_fund_with_only_cash_earns_the_policy_rate_less_25_bp(cal) -> None:
    model = _model()
    fund = int(model.roster.indices("fund", "mutual_equity")[0])
    _only(model, fund)
    cash = np.asarray(model.sheets.ledger.cash).copy()
    cash[:, fund] = 40.0
    model.sheets.ledger.cash = model.sheets.xp.asarray(cash)
    rate = np.asarray(model.state.macro.policy_rate)[:, 0]
    assert float(cal.value("assumptions.income.cash_rate_margin")) == pytest.approx(25.0)
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, fund) - 40.0, 40.0 * (rate - 0.0025) / 52.0)


def test_pension_funds_other_assets_earn_their_return(cal) -> None:
    model = _model()
    pension = int(model.roster.indices("fund", "pension")[0])
    real = np.asarray(model.sheets.real_assets)[:, pension].copy()
    assert np.all(real > 0.0)
    _only(model, pension)
    values = np.asarray(model.sheets.real_assets).copy()
    values[:, pension] = real
    model.sheets.real_assets = model.sheets.xp.asarray(values)
    weekly = float(cal.model_value("assumptions.income.other_asset_return"))
    before = _cash(model, pension)
    model.securities_income.earn(model.state)
    np.testing.assert_allclose(_cash(model, pension) - before, real * weekly, rtol=1e-12)


def test_money_is_conserved_in_one_week() -> None:
    """What the agents gain in cash the outsiders paid in; the books still balance."""
    model = _model()
    ledger = model.sheets.ledger
    cash, paid = np.asarray(ledger.cash).sum(-1), np.asarray(ledger.outsiders.total())
    model.securities_income.earn(model.state)
    gained = np.asarray(ledger.cash).sum(-1) - cash
    np.testing.assert_allclose(gained, np.asarray(ledger.outsiders.total()) - paid, rtol=1e-10)
    assert np.all(gained > 0.0)
    gap = model.accounting_gap()
    for key in ("money", "pools", "equity"):
        assert float(np.max(np.abs(np.asarray(gap[key])))) < 1e-6, key


def test_life_insurers_pass_their_accounts_dividends_to_policyholders(cal) -> None:
    model = _model()
    s, accounts = model.sheets, model.separate_accounts
    pool = s.ledger.pools["policies"]
    face = np.asarray(pool.face).copy()
    equity = s.assets.index("equity_non_ai")
    column = np.asarray(accounts.equities).tolist().index(equity)
    units = np.asarray(accounts.units)[:, :, column]
    price = np.asarray(s.prices)[:, equity][:, None]
    weekly = float(cal.model_value("assumptions.income.equity_dividend_yield"))
    model.securities_income.earn(model.state)
    positions = np.asarray(accounts.positions)
    grown = np.asarray(pool.face)[:, positions] - face[:, positions]
    np.testing.assert_allclose(grown, units * price * weekly, rtol=1e-9)
    assert np.all(grown > 0.0)
