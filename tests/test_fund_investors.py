"""Who owns the hedge funds' and private-credit funds' shares, and who loses when one does.

Each investor type of ``[exposures.fund_investors]`` owns its share of every fund; within a type a
few institutions drawn by size (the ``investors_per_fund`` lever) or every cohort of a wealth
group (:meth:`abm.opening_sheets.OpeningSheets.place_fund_investors`). A fund's loss is marked to
its own investors and to nobody else (:meth:`abm.flows.Flows.mark_fund_shares`).
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.exposures import ExposureRules
from abm.ledger import BilateralPool
from abm.market import AssetTable
from abm.model import Powderkeg
from abm.opening_sheets import OpeningSheets, build_opening_sheets
from abm.policy import Policy
from abm.roster import build_roster

#: the investor types' shares must be met to this (absolute, share of a fund's NAV): the split is
#: exact up to floating-point rounding
TOLERANCE = 1e-9
SECTORS = ("hedge", "private_credit")


def _sheets(**rules: object) -> OpeningSheets:
    cal = load_calibration()
    roster = build_roster(cal, 20)
    table = AssetTable.from_calibration(cal)
    return build_opening_sheets(cal, roster, table, rules=ExposureRules(**rules))


def _edges(sheets: OpeningSheets) -> list[tuple[int, int, float]]:
    return [(i, h, a) for i, h, a, _ in sheets.pools["private_fund_shares"].links]


@pytest.mark.parametrize("sector", SECTORS)
def test_each_investor_type_owns_its_calibrated_share_of_every_fund(sector):
    sheets = _sheets()
    roster, pool = sheets.roster, sheets.pools["private_fund_shares"]
    expected = sheets.cal.group(f"exposures.fund_investors.{sector}", model_units=True)
    for fund in roster.indices("fund", sector):
        nav = pool.face[pool.issuer_at[fund]]
        owned: dict[str, float] = {}
        for issuer, holder, amount in _edges(sheets):
            if issuer == fund:
                key = f"{roster.family[holder]}_{roster.kind[holder]}"
                owned[key] = owned.get(key, 0.0) + amount / nav
        assert set(owned) == set(expected), roster.names[fund]
        for key, share in expected.items():
            assert owned[key] == pytest.approx(float(share), abs=TOLERANCE), (fund, key)


def test_mutual_funds_stay_with_the_retail_cohorts_and_private_funds_leave_their_pool():
    sheets = _sheets()
    roster = sheets.roster
    mutual = sheets.pools["fund_shares"]
    assert {roster.kind[i] for i in mutual.issuers} == {"mutual_bond", "mutual_equity"}
    assert {roster.family[h] for h in mutual.holders} == {"retail"}
    private = sheets.pools["private_fund_shares"]
    assert {roster.kind[i] for i in private.issuers} == set(SECTORS)


@pytest.mark.parametrize("count", [1, 3, 6])
def test_the_lever_sets_how_many_institutions_of_each_type_own_a_fund(count):
    sheets = _sheets(investors_per_fund=count)
    roster = sheets.roster
    for fund in roster.indices("fund", "hedge"):
        pensions = {h for i, h, _ in _edges(sheets) if i == fund and roster.kind[h] == "pension"}
        assert len(pensions) == count


def test_larger_pension_funds_own_more_funds_and_every_sheet_stays_whole():
    sheets = _sheets(investors_per_fund=2)
    assert (sheets.real >= -1e-9).all()
    assert (sheets.cash >= -1e-9).all()
    pensions = sheets.roster.indices("fund", "pension")
    stakes = {p: 0.0 for p in pensions}
    for _, holder, amount in _edges(sheets):
        if holder in stakes:
            stakes[holder] += amount
    assert sum(stakes.values()) > 0.0
    assert sum(1 for v in stakes.values() if v == 0.0) < len(stakes)  # owned, but not by all


def test_pooled_mode_keeps_the_totals_without_edges():
    named, pooled = _sheets(), _sheets(named=False)
    assert pooled.pools["private_fund_shares"].links is None
    assert sum(pooled.pools["private_fund_shares"].claims) == pytest.approx(
        sum(a for _, _, a in _edges(named)), rel=1e-12
    )
    funds = named.roster.indices("fund")  # their real assets paid for the shares in both modes
    np.testing.assert_allclose(pooled.real[funds], named.real[funds], rtol=1e-12)


def test_a_hedge_funds_loss_falls_on_its_own_investors_and_nobody_else():
    m = Powderkeg(n_worlds=2, seed=1, n_cohorts=20, collect_agents=False)
    s = m.sheets
    pool = s.ledger.pools["private_fund_shares"]
    assert isinstance(pool, BilateralPool)
    fund = m.roster.indices("fund", "hedge")[0]
    k = list(np.asarray(pool.issuers)).index(fund)
    investors = set(np.asarray(pool.holder_agent)[np.asarray(pool.issuer_agent) == fund])
    m.flows.mark_fund_shares()  # marked to today's NAV first: the loss below is all there is
    before = np.asarray(s.equity()).copy()
    face = np.asarray(pool.face)[:, k].copy()
    loss = 0.25 * face
    s.real_assets[:, fund] -= loss  # the fund's assets lose a quarter of its NAV
    s.ledger.book_equity(np.where(np.arange(s.ledger.cash.shape[-1]) == fund, -loss[:, None], 0.0))
    m.flows.mark_fund_shares()
    change = np.asarray(s.equity()) - before
    hit = np.nonzero(np.abs(change).max(axis=0) > 1e-9)[0]
    assert set(hit) == investors  # the fund's equity stays at zero: its investors took it all
    outside = np.asarray(pool.outside_face)[:, k]
    np.testing.assert_allclose(-change[:, sorted(investors)].sum(axis=1) + 0.25 * outside / 0.75,
                               loss, rtol=1e-9)  # fmt: skip
    assert max(float(np.max(np.abs(v))) for v in m.accounting_gap().values()) < 1e-6


def test_the_policy_lever_reaches_the_exposure_rules():
    assert Policy(investors_per_fund=1).exposure_rules().investors_per_fund == 1
    with pytest.raises(ValueError, match="investors_per_fund"):
        Policy(investors_per_fund=0)
