"""Banks that can fail, checked against the anchors of issue 13 at a size CI can run.

``docs/scenarios.md`` shows the same numbers over 100 worlds; here a few worlds of the same
presets (seed 0) must already show them:

- the calm baseline is calm: no bank fails, the median bank's CET1 ends within 1.5 points of its
  start, the median bank earns a return on equity of 8–13%, and GDP growth, unemployment, the
  policy rate and the 10-year yield stay near their 2025 values;
- the Fed's severely adverse recession with the AI bust on top writes off loans worth within a
  factor of two of the Fed's losses over nine quarters (5.3% of risk-weighted assets, all
  losses; the model's 8 US banks are aggregates of the whole system, the Fed's 22 are the
  largest) and lowers the US banks' CET1 ratio by within a factor of two of the Fed's 1.8
  points, the EU banks' by less than the EBA's 3.7 (the model's banks shrink their risk-weighted
  assets where the stress tests hold balance sheets constant; docs/scenarios.md says by how
  much), and, like both stress tests, leaves no bank below its minimum with today's backstops;
  the recession alone loses within a factor of two of the Fed's 2026 loss rate on the consumer
  and corporate books, more on mortgages and less on commercial real estate (the preset follows
  the Fed's 2025 path, the satellites are solved on the 2026 one), and shrinks the US banks'
  risk-weighted assets by at most half again as much as their loans fell after 2008; without
  any public rescue (backstop, lender of last resort and bailouts all off) banks fail in worlds
  where the backstops save them all, and where none fails either way the weakest bank ends about
  where it does with them; EU capital rules give every world a higher lowest CET1 than US
  rules and no more failures; the backstop changes losses, and the lender and bailouts never add
  a failure. (Banks fail in the 2007–09 back-test, docs/backtests.md, and
  ``tests/test_backstops.py`` rescues a systemic bank.)
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.state import LOAN_BOOKS
from experiments.evidence import simulate

SEVERE = "severe_ai_bust"
SEVERE_WEEKS = 117


def _run(preset: str, worlds: int, weeks: int, **policy) -> dict[str, np.ndarray]:
    return simulate(
        preset,
        worlds=worlds,
        steps=weeks,
        seed=0,
        backend="numpy",
        policy_overrides=policy or None,
    )


@pytest.fixture(scope="module")
def baseline() -> dict[str, np.ndarray]:
    return _run("baseline", worlds=6, weeks=260)


@pytest.fixture(scope="module")
def recession() -> dict[str, np.ndarray]:
    """The Fed's 2025 severely adverse path alone: the stress tests' like-for-like preset."""
    return _run("severe_recession", 4, SEVERE_WEEKS)


@pytest.fixture(scope="module")
def severe() -> dict[str, dict[str, np.ndarray]]:
    runs = {
        "as is": {},
        "us capital": {"capital_regime": "us"},
        "eu capital": {"capital_regime": "eu"},
        "no lender": {"lender_of_last_resort": False},
        "no lender, no bailouts": {"lender_of_last_resort": False, "bailouts": False},
        "no backstop": {"backstop": False},
        "no public rescue": {"lender_of_last_resort": False, "bailouts": False, "backstop": False},
    }
    return {name: _run(SEVERE, 4, SEVERE_WEEKS, **policy) for name, policy in runs.items()}


def test_the_baseline_is_calm(baseline) -> None:
    assert np.all(baseline["bank_failures"] == 0)
    assert np.all(baseline["banks_below_buffer_max"] == 0)
    assert np.all(baseline["bank_cet1_fall_pt"] < 1.5)
    assert 8.0 <= float(np.median(baseline["bank_roe_median_pct"])) <= 13.0
    assert np.all(baseline["unemployment_peak_us_pct"] < 6.0)
    assert np.all(baseline["unemployment_peak_euro_area_pct"] < 8.0)
    assert np.all(baseline["gdp_growth_low_us_pct"] > -8.0)
    assert np.all(baseline["policy_rate_low_us_pct"] > 1.5)
    assert np.all(baseline["yield_10y_peak_us_pct"] < 6.0)


def test_the_median_bank_keeps_its_capital_over_five_years() -> None:
    from abm.model import Powderkeg

    model = Powderkeg(n_worlds=2, seed=0, n_cohorts=20, collect_agents=False)
    banks = model.roster.indices("bank")
    start = np.median(model.snapshot["cet1_ratio"][:, banks], axis=1)
    for _ in range(260):
        model.step()
    end = np.median(model.snapshot["cet1_ratio"][:, banks], axis=1)
    assert np.all(np.abs(end - start) < 0.015)


def test_the_severe_recession_hurts_like_the_stress_tests(recession, severe) -> None:
    run = recession
    losses = run["bank_loss_rate_stress_us_pct"]  # write-offs over nine quarters, % of RWA
    assert np.all((losses > 5.3 / 2) & (losses < 5.3 * 2))  # the Fed: 5.3, all losses
    us, eu = run["bank_cet1_fall_us_pt"], run["bank_cet1_fall_eu_pt"]
    # the Fed: -1.8 points for its aggregate, so the median world within a factor 2; the model's
    # banks also build a CECL allowance that the Fed's models do not (docs/design.md, "What the
    # banks earn over the stress horizon"), so single worlds fall further
    assert 1.8 / 2 < float(np.median(us)) < 1.8 * 2 and np.all(us > 1.8 / 2)
    assert np.all((eu > 0.5) & (eu < 3.7))  # the EBA: -3.7; the model's is smaller (docs)
    assert np.all(run["bank_failures"] == 0)  # both: no bank below its minimum
    assert np.all(run["bank_cet1_low_pct"] > 4.5)
    assert np.all(run["unemployment_peak_us_pct"] > 9.0)
    # the AI bust on top loses more in every world, on the same seeds
    bust = severe["as is"]
    assert np.all(bust["bank_loss_rate_stress_us_pct"] > losses)
    assert np.all(bust["unemployment_peak_us_pct"] > run["unemployment_peak_us_pct"])


def test_the_recession_alone_loses_like_the_feds_books_and_shrinks_like_2008(recession) -> None:
    run = recession
    cal = load_calibration()
    for book in LOAN_BOOKS:  # % of average balances over nine quarters: the Fed's Table 9
        fed = 100.0 * float(cal.value(f"banks.credit_risk.us.{book}.stress_loss"))
        rate = run[f"bank_loss_rate_stress_us_{book}_pct"]
        # the satellites are solved on the Fed's 2026 path, the preset follows its 2025 one:
        # houses -33% by quarter 7 (2026: -28.5% by quarter 8), and the mortgage book's loss is
        # convex in the price; commercial property -30% and recovering from quarter 6 (2026:
        # -40% by quarter 8); docs/design.md, "Loan losses over the stress horizon"
        low, high = {"mortgages": (1.0, 3.5), "commercial_real_estate": (0.4, 1.0)}.get(
            book, (0.5, 2.0)
        )
        assert fed * low < np.median(rate) < fed * high, book
        # one world in four peaks at 11% unemployment (the Fed's 10%) and loses a quarter more
        assert np.all((rate > fed * low) & (rate < 1.25 * fed * high)), book
    # the model's banks shrink where the stress tests hold balance sheets constant; US banks'
    # loans fell about 16% from their 2008 peak to their 2011 trough (Fed H.8, adjusted for the
    # 2010 consolidation of securitised loans), the model's RWA at most half again as much
    assert np.all(run["bank_rwa_change_stress_us_pct"] < 0.0)
    assert np.all(run["bank_rwa_change_stress_us_pct"] > -24.0)


def test_without_public_rescue_banks_fail_that_the_backstops_save(severe) -> None:
    none, as_is = severe["no public rescue"], severe["as is"]
    assert np.all(none["bank_failures"] >= as_is["bank_failures"])
    # 1 failure in these four worlds against none (2026-12-07, since a run on an aggregate bank
    # takes its weakest members; 2 or more before): over 100 worlds, docs/scenarios.md
    assert np.sum(none["bank_failures"]) >= np.sum(as_is["bank_failures"]) + 1
    assert np.all(as_is["bank_failures"] <= severe["no lender"]["bank_failures"])
    # where no bank fails either way no rescue was needed: the weakest bank ends about the same
    calm = (none["bank_failures"] == 0) & (as_is["bank_failures"] == 0)
    assert calm.any()
    gap = none["bank_cet1_low_pct"][calm] - as_is["bank_cet1_low_pct"][calm]
    assert np.all(np.abs(gap) < 0.5)


def test_the_backstop_changes_losses_lender_and_bailouts_add_no_failure(severe) -> None:
    lender = severe["no lender"]["bank_failures"] - severe["as is"]["bank_failures"]
    assert np.all(lender >= 0)
    bailouts = (
        severe["no lender, no bailouts"]["bank_failures"] - severe["no lender"]["bank_failures"]
    )
    assert np.all(bailouts >= 0)
    # without the market maker the EU banks' capital falls further in every world; the US
    # banks', whose fall sets the system's low in the worst worlds, moves by a tenth or two of a
    # point either way (2026-12-07), so the system's low changes but not always the same way
    eu = severe["no backstop"]["bank_cet1_fall_eu_pt"] - severe["as is"]["bank_cet1_fall_eu_pt"]
    assert np.all(eu > 0.3)
    backstop = severe["no backstop"]["bank_cet1_fall_pt"] - severe["as is"]["bank_cet1_fall_pt"]
    assert np.all(np.abs(backstop) > 0.02)


def test_eu_capital_gives_higher_capital_than_us_capital(severe) -> None:
    """Which tail worlds lose a bank is decided by runs near the unemployment peak and by the
    bailout draw, so four worlds cannot compare failure counts (the scenario table's paired
    comparison over 100 worlds does: none with either rule for every bank since 2026-12-07,
    none with EU rules and 4 with US rules before); the capital each rule leaves the weakest
    bank is compared world by world."""
    us, eu = severe["us capital"], severe["eu capital"]
    assert np.all(eu["bank_cet1_low_pct"] > us["bank_cet1_low_pct"] + 1.0)


def test_the_banks_earnings_at_risk_lie_within_their_disclosures() -> None:
    """12-month net interest income for an instantaneous parallel -100 bp shift, % (docs/
    scenarios.md): the US banks' within JPMorgan's -2.7 to Bank of America's -5.9 (10-Ks for
    2024), the EU banks' within BBVA's -0.5 and the EU banks' -3% realised over 2024's cuts.
    """
    from experiments.evidence import earnings_at_risk

    risk = earnings_at_risk(seed=0, backend="numpy")
    assert -5.9 <= risk["us"]["-100"] <= -2.7
    assert -3.0 <= risk["eu"]["-100"] <= -0.5
    assert risk["us"]["+100"] == pytest.approx(-risk["us"]["-100"], rel=1e-6)
