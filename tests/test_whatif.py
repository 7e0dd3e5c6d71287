"""The app's "what if" view: the same worlds twice, judged as ``powderkeg evidence`` judges them."""

from __future__ import annotations

import numpy as np
import pytest

from app.levers import policy_for
from app.whatif import (
    SideBySide,
    difference_option,
    history_frame,
    lever_counterfactual,
    outcome_text,
    preset_counterfactuals,
)
from experiments.evidence import simulate
from experiments.metrics import world_metrics
from experiments.scenarios import load_preset, policy_from, preset_names

WEEKS = 8


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_counterfactual_is_expressed_exactly_by_the_levers(preset):
    definition = load_preset(preset)
    found = preset_counterfactuals(preset)
    assert [c.label for c in found] == [spec["label"] for spec in definition.compare]
    base = policy_from(definition.policy)
    for cf, spec in zip(found, definition.compare, strict=True):
        assert policy_for(base, cf.changes) == policy_from({**definition.policy, **spec["policy"]})


def test_the_app_gives_the_numbers_of_powderkeg_evidence_on_the_same_worlds():
    cf = preset_counterfactuals("europe_higher_capital")[0]
    pair = SideBySide("europe_higher_capital", cf, seed=0, n_worlds=2, n_cohorts=1000)
    pair.run(WEEKS)
    assert pair.week == WEEKS
    runs = {
        "as is": (pair.as_is, {}),
        "what if": (pair.what_if, {"capital_regime": "us"}),
    }
    for run, overrides in runs.values():
        app = world_metrics(history_frame(run), run)
        evidence = simulate(
            "europe_higher_capital",
            worlds=2,
            steps=WEEKS,
            seed=0,
            backend="numpy",
            policy_overrides=overrides or None,
        )
        for key in ("bank_cet1_low_pct", "fire_sale_volume_usd_bn", "retail_loss_usd_bn"):
            np.testing.assert_array_equal(app[key], evidence[key])
    # US capital rules lower the EU banks' ratios: the lowest CET1 differs in every world
    table = pair.difference("bank_cet1_min")
    last = table.iloc[-1]
    assert last["as_is"] > last["what_if"] and last["low"] > 0.0
    outcome = pair.outcome()
    assert outcome["worlds"] == 2 and outcome["metric"] == "bank_failures"
    assert "US capital" in outcome_text(outcome, cf.label)


def test_a_change_that_changes_nothing_shows_no_difference():
    start = lever_counterfactual("deposit_insurance", 1.0)  # today's coverage, the default
    pair = SideBySide("baseline", start, seed=3, n_worlds=2, n_cohorts=40)
    pair.run(3)
    np.testing.assert_array_equal(
        pair.as_is.series("retail_loss_usd_bn"), pair.what_if.series("retail_loss_usd_bn")
    )
    outcome = pair.outcome()
    assert outcome["no_difference"]
    assert "No difference in any of the 2 worlds" in outcome_text(outcome, start.label)


def test_one_world_says_it_gives_no_interval():
    pair = SideBySide(
        "baseline", lever_counterfactual("deposit_insurance", 0.0), seed=1, n_worlds=1, n_cohorts=40
    )
    pair.run(2)
    table = pair.difference("fire_sale_volume_usd_bn")
    assert table["low"].isna().all()
    option = difference_option(table, "fire_sale_volume_usd_bn", "insured")
    band = next(s for s in option["series"] if s["name"] == "95% interval")
    assert all(v is None for v in band["data"])  # no band drawn, never a fake one
    text = outcome_text(pair.outcome(), "insured")
    assert "No difference" in text or "One world gives no interval" in text


def test_bad_counterfactuals_are_refused_with_the_allowed_values():
    with pytest.raises(KeyError, match="no lever 'nope'"):
        lever_counterfactual("nope", 1.0)
    with pytest.raises(KeyError, match="metrics: peak_spread_bp"):
        lever_counterfactual("deposit_insurance", 0.0, metric="profit")
    with pytest.raises(ValueError, match="'lower' or 'higher'"):
        lever_counterfactual("deposit_insurance", 0.0, better="sideways")
