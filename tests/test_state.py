"""The world state: one place for defaults, one clock, weekly flows reset when a week begins."""

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.rules import WEEK
from abm.state import CAUSES, WeekFlows


@pytest.fixture(scope="module")
def model():
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=8)


def test_failures_need_a_known_cause_and_rescues_clear_them():
    m = Powderkeg(n_worlds=2, seed=3, n_cohorts=8)
    state = m.state
    mask = np.zeros_like(state.defaulted)
    mask[1, 5] = True
    with pytest.raises(ValueError, match="unknown cause"):
        state.fail("bad luck", mask)
    for cause in CAUSES:
        state.fail(cause, mask)
    assert state.defaulted[1, 5] and state.defaulted.sum() == 1
    state.rescue(mask)
    assert not state.defaulted.any()


def test_a_week_resets_its_flows_and_advances_one_clock():
    m = Powderkeg(n_worlds=2, seed=3, n_cohorts=8)
    assert m.state.week == 0
    m.step()
    assert m.state.week == 1 == m.steps
    flows = m.state.flows
    # every flow a rule hands to a later one was written this week
    for name in ("defaulted_before", "firms_alive", "pegs", "reserve_stress", "due", "panic_sales"):
        assert getattr(flows, name) is not None, name
    m.state.begin_week(m.economy.firms)
    assert m.state.flows.due is None and not m.state.flows.sold.any()


def test_the_state_takes_no_stray_fields(model):
    with pytest.raises(AttributeError):
        model.state.withdrawls = 0  # a typo is an error, not a new field
    with pytest.raises(AttributeError):
        model.state.flows.withdrawals = 0  # runs on banks live on the state, not in WeekFlows
    assert "withdrawals" not in {f for f in WeekFlows.__slots__}


def test_every_rule_of_the_week_is_bound_to_an_entry_point(model):
    assert [r.name for r in model.rules] == [name for name, _, _ in WEEK]
    for rule, (_, mechanism, method) in zip(model.rules, WEEK, strict=True):
        assert rule.run == getattr(getattr(model, mechanism), method)


def test_the_week_order_puts_producers_before_consumers():
    names = [name for name, _, _ in WEEK]
    order = {name: k for k, name in enumerate(names)}
    assert order["sentiment"] < order["firms operate"] < order["valuation"] < order["ratings"]
    assert order["token issuance"] < order["redemptions"] < order["reserve waterfall"]
    assert order["bank runs"] < order["lender of last resort"] < order["fire sale"]
    assert order["fire sale"] < order["payouts"] < order["failures"] < order["fund shares"]
