"""The stressed loss rates solved from the stress tests' horizon losses (abm.stress_losses)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.credit_risk import REGION_NODES
from abm.model import Powderkeg
from abm.state import LOAN_BOOKS, REGIONS
from abm.stress_losses import (
    StressPath,
    horizon_loss,
    load_stress_paths,
    stressed_rate,
)


def linear_path(quarters: int, peak: int) -> StressPath:
    """Unemployment +5 points linearly to ``peak``, then held; prices flat."""
    q = np.arange(quarters + 1, dtype=float)
    u = 0.05 + 0.05 * np.minimum(q / peak, 1.0)
    flat = np.ones(quarters + 1)
    return StressPath("test", "test", u, {"house_prices": flat, "cre_prices": flat})


def test_a_linear_path_matches_its_closed_form():
    """On g(t) = t/H the horizon loss is λ0·(H/4)·(e^R − 1)/R; the solver finds R back."""
    base, rise, horizon = 0.01, 2.0, 9
    shares = linear_path(horizon, horizon).stress_shares(None, 1.0)
    want = base * horizon / 4.0 * math.expm1(rise) / rise
    assert horizon_loss(base, rise, shares, horizon) == pytest.approx(want, rel=1e-4)
    solved = stressed_rate(base, want, shares, horizon)
    assert solved == pytest.approx(base * math.exp(rise), rel=1e-3)


def test_a_later_peak_needs_a_higher_stressed_rate():
    """Reached in the first quarter and held, the stressed rate is a little above the horizon
    loss spread evenly; reached later, it must be higher: the rate is lower on the way."""
    base, loss, horizon = 0.005, 0.06, 9
    early = stressed_rate(base, loss, linear_path(horizon, 1).stress_shares(None, 1.0), horizon)
    even = loss * 4.0 / horizon
    assert even < early < 1.1 * even
    late = stressed_rate(base, loss, linear_path(horizon, 7).stress_shares(None, 1.0), horizon)
    assert late > 1.2 * early


def test_impossible_horizon_losses_are_refused():
    shares = linear_path(9, 7).stress_shares(None, 1.0)
    with pytest.raises(ValueError, match="between the calm losses"):
        stressed_rate(0.01, 0.01, shares, 9)  # 1% a year loses 2.25% unstressed
    with pytest.raises(ValueError, match="between the calm losses"):
        stressed_rate(0.01, 1e9, shares, 9)


def test_the_paths_start_calm_and_reach_their_stress_point():
    for region, path in load_stress_paths().items():
        assert region in REGIONS
        assert path.unemployment_rise > 0.04  # both scenarios: about 5.5-6 points
        for price in ("house_prices", "cre_prices"):
            assert path.prices[price][0] == 1.0
            assert 0.15 < path.price_fall(price) < 0.45
        unsecured = path.stress_shares(None, 1.0)
        assert unsecured[0] == 0.0 and unsecured.max() == pytest.approx(1.0)
        # unemployment's peak and the price's low may fall in different quarters
        assert 0.9 < path.stress_shares("house_prices", 0.33).max() <= 1.0


@pytest.mark.parametrize(
    ("unemployment", "houses", "message"),
    [
        ([4.0, 6.0, 8.0], [100.0, 90.0], "house_price_index: 3 positive values"),
        ([4.0, 6.0, 8.0], [100.0, 0.0, 80.0], "house_price_index: 3 positive values"),
        ([4.0, 4.0, 3.0], [100.0, 90.0, 80.0], "unemployment_pct: two quarters at least, rising"),
    ],
)
def test_a_malformed_path_is_refused(unemployment, houses, message):
    text = (
        f'[us]\nname = "x"\nsource = "x"\nunemployment_pct = {unemployment}\n'
        f"house_price_index = {houses}\ncre_price_index = [100.0, 90.0, 80.0]\n"
    )
    with pytest.raises(ValueError, match=message):
        load_stress_paths(text)


@pytest.mark.parametrize("region", range(len(REGIONS)))
def test_the_model_fed_the_scenario_path_loses_the_supervisors_losses(region):
    """The model's own satellite (CreditRisk.loss_rates), walked week by week along the
    supervisor's quarterly scenario path, loses each book's published horizon loss (1%)."""
    cal = load_calibration()
    node, path = REGION_NODES[region], load_stress_paths()[REGIONS[region]]
    model = Powderkeg(n_worlds=1, seed=1, n_cohorts=20, collect_agents=False)
    cr = model.credit_risk
    nb = len(model.capital.regions)
    bank = int(np.nonzero(model.capital.regions == region)[0][0])
    u0 = float(np.asarray(cr.reference_u)[bank])
    quarters = np.arange(path.horizon_quarters + 1)
    lost = np.zeros(len(LOAN_BOOKS))
    for week in range(13 * path.horizon_quarters):
        q = (week + 0.5) / 13.0  # the middle of the week
        u = u0 + np.interp(q, quarters, path.unemployment - path.unemployment[0])
        hp, cre = (np.interp(q, quarters, path.prices[p]) for p in ("house_prices", "cre_prices"))
        rates = cr.loss_rates(np.full((1, nb), u), np.full((1, nb), hp), np.full((1, nb), cre))
        lost += np.asarray(rates)[0, bank] / 52.0
    for k, book in enumerate(LOAN_BOOKS):
        want = float(cal.value(f"{node}.{book}.stress_loss"))
        assert lost[k] == pytest.approx(want, rel=0.01), (node, book)
        assert cr.stressed_rate[region, k] > want * 4.0 / path.horizon_quarters
