"""Equity stakes of the circular deals: listed ones held as shares, private ones marked weekly."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.shocks import Shock, attach


@pytest.fixture(scope="module")
def model():
    return Powderkeg(n_worlds=2, seed=1, n_cohorts=20)


def test_the_deal_stakes_load_with_their_starting_values(model):
    stakes = {s.key: s for s in model.stakes.stakes}
    names = model.roster.names
    # Nvidia's 5% of CoreWeave at its 40 bn market value; Microsoft's OpenAI money at cost
    assert stakes["E05"].value == pytest.approx(2.0)
    assert (names[stakes["E10"].holder], names[stakes["E10"].investee]) == ("microsoft", "openai")
    assert stakes["E10"].value == pytest.approx(13.8)
    # Nvidia's 100 bn for OpenAI is staged on GW deployed: nothing paid in yet
    assert "E01" not in stakes and any(k.startswith("E01") for k in model.stakes.skipped)
    assert "E14" in model.warrants.keys  # modelled by abm.warrants


def test_a_listed_stake_is_held_as_shares_within_the_supply(model):
    s = model.sheets
    m = s.assets.index("equity_coreweave")
    nvidia, openai = model.roster.index("nvidia"), model.roster.index("openai")
    holdings = np.asarray(s.holdings)
    assert holdings[:, nvidia, m] == pytest.approx(2.0)
    assert holdings[:, openai, m] == pytest.approx(0.35)
    assert (holdings[:, :, m].sum(axis=1) <= np.asarray(s.supply)[:, m] + 1e-9).all()


def test_private_stakes_follow_the_investee_and_vanish_when_it_fails():
    def run(shocks):
        model = Powderkeg(n_worlds=1, seed=2, n_cohorts=20)
        attach(model, shocks)
        for _ in range(20):
            model.step()
        return model

    calm = run([])
    # a collapse of AI hype halves the AI labs' valuation: Microsoft's stakes in them follow
    crash = run([Shock("ai_hype", 2, -0.5)])
    keys = [k.key for k in calm.stakes.private]
    openai = keys.index("E10")
    assert float(crash.stakes.value[0, openai]) < 0.8 * float(calm.stakes.value[0, openai])
    # the holder's books carry the loss: Microsoft's equity falls with the mark
    msft = calm.roster.index("microsoft")
    assert crash.snapshot["equity"][0, msft] < calm.snapshot["equity"][0, msft]
    # a failed investee's stake is worth nothing
    failed = Powderkeg(n_worlds=1, seed=2, n_cohorts=20)
    hyperion = failed.roster.index("meta_hyperion")
    defaulted = np.asarray(failed.state.defaulted).copy()
    defaulted[0, hyperion] = True
    failed.state.defaulted = defaulted
    failed.stakes.revalue(failed.state)
    position = [k.key for k in failed.stakes.private].index("E21")
    assert float(failed.stakes.value[0, position]) == 0.0
    gaps = {k: float(np.max(np.abs(v))) for k, v in failed.accounting_gap().items()}
    assert max(gaps.values()) < 1e-9
