"""Securitisation: SPV loans sold into ABS notes move the default losses from banks to buyers."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.policy import Policy
from abm.shocks import Shock, attach


def test_notes_replace_bank_loans_at_par_and_the_books_balance():
    plain = Powderkeg(n_worlds=1, seed=1, n_cohorts=20)
    sold = Powderkeg(n_worlds=1, seed=1, n_cohorts=20, policy=Policy(abs_share_of_spv_loans=0.5))
    spvs = sold.spv.rows
    m = sold.sheets.assets.index("dc_abs")
    loans = plain.sheets.ledger.pools["bank_loans"]
    owed = np.bincount(np.asarray(loans.issuers), np.asarray(loans.face[0]), plain.roster.size)
    assert sold.securitised == pytest.approx(0.5 * owed[spvs].sum())
    # the SPVs owe the same in total; half of their bank loans became notes
    np.testing.assert_allclose(sold.spv.debt(), plain.spv.debt(), rtol=1e-12)
    assert float(np.asarray(sold.sheets.supply)[0, m] - np.asarray(plain.sheets.supply)[0, m]) == (
        pytest.approx(sold.securitised)
    )
    # the buyers are life insurers and bond funds; every agent's equity is unchanged
    gained = np.asarray(sold.sheets.holdings)[0, :, m] - np.asarray(plain.sheets.holdings)[0, :, m]
    buyers = np.flatnonzero(gained > 1e-12)
    assert {sold.roster.kind[i] for i in buyers} == {"insurer_life", "mutual_bond"}
    np.testing.assert_allclose(sold.sheets.equity(), plain.sheets.equity(), atol=1e-9)
    for _ in range(5):
        sold.step()
    assert max(float(np.max(np.abs(v))) for v in sold.accounting_gap().values()) < 1e-9


def test_an_spv_default_hits_abs_holders_instead_of_banks():
    shocks = [Shock("collateral", 2, -0.6)]  # data centres lose 60%: uncured SPVs default

    def losses(share: float) -> tuple[float, float]:
        model = Powderkeg(
            n_worlds=1, seed=1, n_cohorts=20, policy=Policy(abs_share_of_spv_loans=share)
        )
        attach(model, shocks)
        buyers = np.concatenate(
            [model.roster.indices("fund", k) for k in ("insurer_life", "mutual_bond")]
        )
        banks = model.roster.indices("bank")
        start = model.snapshot["total_assets"].copy()
        for _ in range(6):
            model.step()
        assert model.snapshot["defaulted"][0, model.spv.rows].any()
        change = model.snapshot["total_assets"] - start
        return float(change[0, buyers].sum()), float(change[0, banks].sum())

    kept_buyers, kept_banks = losses(0.0)
    sold_buyers, sold_banks = losses(1.0)
    assert sold_buyers < kept_buyers - 1.0  # the notes lost value
    assert sold_banks > kept_banks + 1.0  # the banks no longer hold the loans that defaulted
