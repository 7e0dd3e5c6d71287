"""Who holds the listed AI issuers' bonds at the start.

The holder types of ``[bond_holders.shares]`` (Federal Reserve Financial Accounts Z.1, table L.213)
and the EU banks at the exposure lever.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.exposures import ExposureRules
from abm.market import AssetTable
from abm.opening_sheets import OpeningSheets, build_opening_sheets
from abm.roster import build_roster

#: the holder types' shares must be met to this (absolute, share of the bonds outstanding): the
#: split is exact up to floating-point rounding
TOLERANCE = 1e-9


def _sheets(eu_share: float | None = None) -> OpeningSheets:
    cal = load_calibration()
    roster = build_roster(cal, 20)
    rules = ExposureRules(eu_ai_debt_share=eu_share)
    return build_opening_sheets(cal, roster, AssetTable.from_calibration(cal), rules=rules)


def _bond_columns(sheets: OpeningSheets) -> list[int]:
    return [m for m, k in enumerate(sheets.assets.keys) if k.startswith("bonds_")]


def _type_shares(sheets: OpeningSheets) -> dict[tuple[str, str], np.ndarray]:
    """(family, kind) -> (bonds,) its share of each AI issuer's bonds outstanding."""
    bonds = _bond_columns(sheets)
    supply = np.array(sheets.assets.outstanding)[bonds]
    roster, held = sheets.roster, sheets.holdings[:, bonds]
    out: dict[tuple[str, str], np.ndarray] = {}
    for i in np.nonzero(held.sum(axis=1))[0]:
        key = (roster.family[i], roster.kind[i])
        out[key] = out.get(key, 0.0) + held[i] / supply
    return out


def test_holder_types_hold_their_calibrated_share_of_every_ai_issuers_bonds():
    sheets = _sheets()
    cal = sheets.cal
    expected = {
        tuple(k.split("_", 1)): v
        for k, v in cal.group("bond_holders.shares", model_units=True).items()
    }
    expected[("bank", "eu")] = cal.value("banks.eu.us_ai_debt_share")
    shares = _type_shares(sheets)
    assert set(shares) == set(expected)  # nobody else: retail, stablecoins, other funds hold none
    for key, share in expected.items():
        np.testing.assert_allclose(shares[key], share, atol=TOLERANCE, err_msg=str(key))


def test_the_rest_of_the_bonds_is_held_outside_the_model():
    sheets = _sheets()
    bonds = _bond_columns(sheets)
    supply = np.array(sheets.assets.outstanding)[bonds]
    inside = sheets.holdings[:, bonds].sum(axis=0) / supply
    modelled = sum(sheets.holder_shares().values())
    np.testing.assert_allclose(inside, modelled, atol=TOLERANCE)
    assert 0.5 < modelled < 0.7  # Z.1: foreigners ~29% and other sectors outside the model
    assert not any(k.startswith("bonds_") for k in (n.split(":")[0] for n in sheets.notes))


def test_banks_hold_few_ai_bonds():
    """US and EU banks together hold a few percent of each issuer's bonds, not most of them."""
    shares = _type_shares(_sheets())
    assert (shares[("bank", "us")] + shares[("bank", "eu")] < 0.05).all()
    insurers = shares[("fund", "insurer_life")] + shares[("fund", "insurer_pc")]
    assert (insurers > 5 * shares[("bank", "eu")]).all()


@pytest.mark.parametrize("eu_share", [0.0, 0.005, 0.05, 0.1])
def test_eu_lever_sets_the_eu_banks_share_and_nothing_else(eu_share):
    base, moved = _type_shares(_sheets()), _type_shares(_sheets(eu_share))
    np.testing.assert_allclose(moved.get(("bank", "eu"), 0.0), eu_share, atol=TOLERANCE)
    for key, share in base.items():
        if key != ("bank", "eu"):
            np.testing.assert_allclose(moved[key], share, atol=TOLERANCE)


def test_within_a_type_the_bonds_follow_the_agents_assets():
    sheets = _sheets()
    bonds = _bond_columns(sheets)
    for kind in ("us", "eu"):
        idx = sheets.roster.indices("bank", kind)
        held = sheets.holdings[np.ix_(idx, bonds)].sum(axis=1)
        np.testing.assert_allclose(held / held.sum(), sheets.book[idx] / sheets.book[idx].sum())


def test_ai_bonds_are_paid_for_so_every_sheet_keeps_its_total_assets():
    """A fund's sheet moves AI bonds against the cash its allocation set aside; a bank's against
    its loans to the rest of the economy; its total assets do not change with the lever."""
    low, high = _sheets(0.0), _sheets(0.1)
    for sheets in (low, high):
        assert (sheets.cash >= 0.0).all() and (sheets.real >= 0.0).all()
    total = [s.cash + s.holdings.sum(axis=1) + s.real for s in (low, high)]  # prices are 1
    np.testing.assert_allclose(total[0], total[1], rtol=1e-12, atol=1e-9)
    eu = low.roster.indices("bank", "eu")
    np.testing.assert_allclose(low.cash[eu], high.cash[eu])  # banks' cash stays at its share
    assert (high.real[eu] < low.real[eu]).all()


def test_holder_shares_over_95_percent_are_refused():
    with pytest.raises(ValueError, match="95%"):
        _sheets(0.6)
