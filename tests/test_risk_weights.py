"""Banks' risk-weighted assets by asset class (abm.constraints.BankCapital).

Each bank opens at its reported risk density and CET1 ratio; afterwards its RWA follows its book,
checked against a per-bank reference: reserves and Treasuries weigh nothing, a corporate bond its
Basel weight, loans the bank's own weight. A bailout paid in cash brings a bank exactly to its
target, and the fire sale's thresholds are the CET1 thresholds at the book's density now.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.policy import Policy
from tests.reference.risk_weights import reference_rwa


def model(**levers) -> Powderkeg:
    return Powderkeg(
        n_worlds=3, seed=11, n_cohorts=20, collect_agents=False, policy=Policy(**levers)
    )


@pytest.fixture(scope="module")
def built() -> Powderkeg:
    return model()


def _banks(m: Powderkeg) -> np.ndarray:
    return np.asarray(m.roster.indices("bank"))


def test_every_bank_opens_at_its_reported_density_and_ratio(built) -> None:
    m, banks = built, _banks(built)
    assets = m.sheets.total_assets()[:, banks]
    reported = m.capital.risk_density[banks] * assets
    np.testing.assert_allclose(m.capital.risk_weighted_assets()[:, banks], reported, rtol=1e-12)
    equity = m.sheets.equity()[:, banks]
    np.testing.assert_allclose(m.snapshot["cet1_ratio"][:, banks], equity / reported, rtol=1e-12)
    weight = m.capital.book_weight[:, banks]
    assert (weight > 0.15).all() and (weight < 1.0).all()  # loans weigh less than 100% on average


def test_risk_weighted_assets_follow_the_book_week_by_week() -> None:
    m = model()
    banks = _banks(m)
    for _ in range(3):
        m.step()
    got = m.capital.risk_weighted_assets()
    for e in range(m.n_worlds):
        want = [reference_rwa(m.capital, m.sheets, e, int(i)) for i in banks]
        np.testing.assert_allclose(got[e, banks], want, rtol=1e-12)
    others = np.setdiff1d(np.arange(m.roster.size), banks)
    assert (got[:, others] == 0.0).all()
    np.testing.assert_allclose(m.snapshot["risk_weighted_assets"][:, banks], got[:, banks])


def test_reserves_and_treasuries_weigh_nothing_and_bonds_their_weight() -> None:
    m = model()
    s, cap = m.sheets, m.capital
    bank = int(_banks(m)[1])
    rwa0 = cap.risk_weighted_assets()[:, bank].copy()
    ratio0 = m.capital.cet1_ratios(s.total_assets(), s.liabilities())[:, bank]
    repaid = 0.05 * s.real_assets[:, bank]  # loans repaid into reserves
    s.real_assets[:, bank] -= repaid
    s.ledger.cash[:, bank] += repaid
    np.testing.assert_allclose(
        cap.risk_weighted_assets()[:, bank], rwa0 - cap.book_weight[:, bank] * repaid, rtol=1e-12
    )
    ratio = m.capital.cet1_ratios(s.total_assets(), s.liabilities())[:, bank]
    assert (ratio > ratio0 + 0.001).all()  # same capital, fewer risk-weighted assets
    rwa1 = cap.risk_weighted_assets()[:, bank].copy()
    for key, weight in (("treasuries", 0.0), ("ig_bonds_non_ai", 0.75)):
        k = s.assets.index(key)
        spend = 0.2 * repaid
        s.ledger.cash[:, bank] -= spend
        s.holdings[:, bank, k] += spend / s.prices[:, k]
        np.testing.assert_allclose(
            cap.risk_weighted_assets()[:, bank], rwa1 + weight * spend, rtol=1e-12
        )
        rwa1 = rwa1 + weight * spend


def test_a_bailout_paid_in_cash_lifts_the_bank_exactly_to_its_target() -> None:
    m = model(bailouts=True)
    s = m.sheets
    bank = m.roster.index("citigroup")
    loss = 0.06 * s.total_assets()[:, bank]  # about 7% of assets of CET1 gone: below minimum
    s.real_assets[:, bank] -= loss
    hole = np.zeros_like(s.ledger.cash)
    hole[:, bank] = -loss
    s.ledger.book_equity(hole)
    m.state.flows.defaulted_before = m.state.defaulted.copy()  # as the week's start sets it
    m.bailouts.step(m.state)
    acts = np.asarray(m.bailouts.acts)
    assert acts.any()
    regulatory = m.capital.cet1_ratios(
        s.total_assets(), s.liabilities(), m.capital.htm_addback(m.state)
    )[:, bank]
    cal = m.calibration
    target = float(cal.model_value("regulation.us.cet1_min")) + float(
        cal.model_value("regulation.bailouts.capital_conservation_buffer")
    )
    np.testing.assert_allclose(regulatory[acts], target, rtol=1e-9)


def test_fire_sale_thresholds_are_the_cet1_thresholds_at_todays_density(built) -> None:
    m, banks = built, _banks(built)
    assets = m.sheets.total_assets()
    density = m.capital.risk_weighted_assets()[:, banks] / assets[:, banks]
    minimum, buffer, target = m.capital.thresholds(assets)
    for got, ratio in ((minimum, m.capital.minimum), (buffer, m.capital.buffer),
                       (target, m.capital.target)):  # fmt: skip
        np.testing.assert_allclose(got[:, banks], ratio[banks] * density, rtol=1e-12)
    others = np.setdiff1d(np.arange(m.roster.size), banks)
    assert (minimum[:, others] == 0.0).all() and (target[:, others] == 1.0).all()
    assert np.isneginf(buffer[:, others]).all()
