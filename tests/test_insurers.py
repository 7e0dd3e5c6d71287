"""Insurers: separate accounts pass equity risk to policyholders, and the clearing sees only losses.

- Life insurers' listed equity sits in separate accounts whose holders bear its gains and losses
  (abm.separate_accounts): an equity fall moves their policy reserves by as much as their assets.
- Property and casualty insurers hold about 39% of their assets as surplus (NAIC 2023).
- A holder of a pooled market in which one modelled firm borrows (private credit, where xAI
  borrows) has a claim on that firm only for the firm's share of the market; the clearing of
  failures must not fail a holder that is solvent on its books (it once failed all 14 insurers
  in the first weeks of severe_ai_bust, with positive equity).
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.state import CAUSES
from experiments.build import build_model
from experiments.scenarios import load_preset


@pytest.fixture()
def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20)


def _rows(model: Powderkeg, kind: str) -> np.ndarray:
    return np.asarray(model.roster.indices("fund", kind))


def _policy_reserves(model: Powderkeg) -> np.ndarray:
    return np.asarray(model.sheets.ledger.owed("policies"))


def _equity_prices_times(model: Powderkeg, factor: float) -> None:
    """Every listed equity's price times ``factor``, each holder's equity booked with it."""
    s = model.sheets
    equity = np.array([c == "equity" for c in s.assets.asset_class])
    change = np.where(equity, factor - 1.0, 0.0)[None, :] * np.asarray(s.prices)
    s.ledger.book_equity((np.asarray(s.holdings) @ change[:, :, None])[:, :, 0])
    s.prices = s.prices + change


def test_property_and_casualty_insurers_start_with_their_statutory_surplus(model) -> None:
    pc = _rows(model, "insurer_pc")
    assets = np.asarray(model.sheets.total_assets())[:, pc]
    reserves = _policy_reserves(model)[:, pc]
    # NAIC 2023 via iii.org: liabilities 1,637.6 of 2,680.9 bn of net admitted assets
    assert reserves / assets == pytest.approx(0.611)


def test_an_equity_fall_moves_life_insurers_reserves_not_their_capital(model) -> None:
    life, pc = _rows(model, "insurer_life"), _rows(model, "insurer_pc")
    s = model.sheets
    equity = [m for m, c in enumerate(s.assets.asset_class) if c == "equity"]
    linked = (
        np.asarray(s.holdings)[:, life][:, :, equity] * np.asarray(s.prices)[:, None, equity]
    ).sum(-1)
    before_reserves = _policy_reserves(model)
    before_equity = np.asarray(s.equity())
    outside_before = float(np.sum(np.asarray(s.ledger.pools["policies"].outside)))
    _equity_prices_times(model, 0.6)
    model.separate_accounts.mark(model.state)
    reserves, equity_now = _policy_reserves(model), np.asarray(s.equity())
    # each life insurer's reserves fall by 40% of its separate accounts, one by one
    for w in range(2):
        for k, i in enumerate(life):
            assert reserves[w, i] == pytest.approx(before_reserves[w, i] - 0.4 * linked[w, k])
            assert equity_now[w, i] == pytest.approx(before_equity[w, i], abs=1e-9)
    # property and casualty insurers keep their equity risk: reserves unchanged, capital lower
    assert reserves[:, pc] == pytest.approx(before_reserves[:, pc])
    assert (equity_now[:, pc] < before_equity[:, pc]).all()
    # the policyholders outside the model bear the loss: nothing is created or lost
    lost = float(np.sum(before_reserves[:, life] - reserves[:, life]))
    assert float(np.sum(np.asarray(s.ledger.pools["policies"].outside))) == pytest.approx(
        outside_before - lost
    )
    model.separate_accounts.mark(model.state)  # a second mark at the same prices moves nothing
    assert _policy_reserves(model) == pytest.approx(reserves)


def test_units_sold_leave_the_accounts_and_failed_insurers_are_not_marked(model) -> None:
    life = _rows(model, "insurer_life")
    s = model.sheets
    m = s.assets.index("equity_non_ai")
    holdings = np.asarray(s.holdings).copy()
    sold = 0.5 * holdings[:, life[0], m] * np.asarray(s.prices)[:, m]
    holdings[:, life[0], m] *= 0.5  # the first insurer sold half its broad equity
    s.holdings = holdings
    defaulted = np.asarray(model.state.defaulted).copy()
    defaulted[:, life[1]] = True  # the second has failed
    model.state.defaulted = defaulted
    before = _policy_reserves(model)
    _equity_prices_times(model, 1.0)  # prices unchanged: only the units moved
    model.separate_accounts.mark(model.state)
    after = _policy_reserves(model)
    assert after[:, life[0]] == pytest.approx(before[:, life[0]] - sold)
    assert after[:, life[1]] == pytest.approx(before[:, life[1]])
    _equity_prices_times(model, 0.5)
    model.separate_accounts.mark(model.state)
    assert _policy_reserves(model)[:, life[1]] == pytest.approx(before[:, life[1]])


def test_a_holder_of_a_pooled_market_claims_only_the_issuer_share() -> None:
    model = Powderkeg(n_worlds=1, seed=0, n_cohorts=20)
    s = model.sheets
    xai = model.roster.index("xai")
    m = int(s.bond_asset[xai])
    assert s.assets.keys[m] == "private_credit"  # xAI borrows in the private-credit market
    issuers = np.nonzero(s.bond_asset >= 0)[0].tolist()
    _, _, value, _, price = model.failures._bond_holdings()
    b = issuers.index(xai)
    units = np.asarray(s.holdings)[0, :, m]
    share = float(np.asarray(s.bonds)[0, xai]) / float(np.asarray(s.supply)[0, m])
    assert share < 0.01
    assert np.asarray(value)[0, :, b] == pytest.approx(units * float(price[0, b]) * share)
    # a firm with bonds of its own: every unit is a claim on it
    amazon = issuers.index(model.roster.index("amazon"))
    own = int(s.bond_asset[model.roster.index("amazon")])
    assert np.asarray(value)[0, :, amazon] == pytest.approx(
        np.asarray(s.holdings)[0, :, own] * float(price[0, amazon])
    )


def test_the_clearing_never_fails_an_institution_solvent_on_its_books() -> None:
    model = build_model(
        load_preset("severe_ai_bust"), n_worlds=1, seed=0, n_cohorts=50, backend="numpy"
    )
    clearing = CAUSES.index("clearing") + 1
    for _ in range(4):
        before = np.asarray(model.state.defaulted).copy()
        model.step()
        cause = np.asarray(model.state.default_cause)
        new = np.asarray(model.state.defaulted) & ~before & (cause == clearing)
        equity = np.asarray(model.sheets.equity())
        assets = np.asarray(model.sheets.total_assets())
        assert not (new & (equity > 0.01 * assets)).any(), [
            model.roster.names[i] for i in np.nonzero(new[0] & (equity[0] > 0.01 * assets[0]))[0]
        ]
    insurers = np.concatenate([_rows(model, "insurer_life"), _rows(model, "insurer_pc")])
    assert not np.asarray(model.state.defaulted)[:, insurers].any()
