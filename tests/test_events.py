"""The event log: defaults of a real run, and every event type on a hand-made pair of snapshots."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from abm.events import CAUSES, COLUMNS, EVENTS, EventLog, Thresholds, usd
from abm.model import Powderkeg
from abm.roster import Roster
from abm.shocks import Shock, attach

STEPS = 60


@pytest.fixture(scope="module")
def run():
    """Two worlds for 60 weeks; also the step at which each agent first showed as defaulted."""
    model = Powderkeg(n_worlds=2, seed=1, n_cohorts=20)
    # the GPU vehicle's tenant stops paying rent: it defaults on its debt service
    attach(model, [Shock("lease_income", 2, -1.0, target=("xai_colossus2",), weeks=59)])
    log = EventLog(model)
    first = np.full(model.snapshot["defaulted"].shape, -1)
    for _ in range(STEPS):
        model.step()
        log.update(model)
        new = model.snapshot["defaulted"] & (first < 0)
        first[new] = model.steps
    return model, log, first


def test_every_new_default_is_logged_once_with_its_world_and_agent(run):
    model, log, first = run
    frame = log.frame()
    assert tuple(frame.columns) == COLUMNS
    defaults = frame[frame["event"] == "default"]
    expected = {
        (int(first[w, i]), int(w), model.roster.names[i])
        for w, i in zip(*np.nonzero(first >= 0), strict=True)
    }
    logged = set(zip(defaults["step"], defaults["world"], defaults["agent"], strict=True))
    assert logged == expected
    assert len(defaults) == len(expected)
    # the GPU financing vehicle fails within the first year of the baseline, in both worlds
    assert {(w, "xai_colossus2") for w in (0, 1)} <= {(w, a) for _, w, a in logged}
    for row in defaults.itertuples():
        i = model.roster.index(row.agent)
        assert row.family == model.roster.family[i] and row.label == model.roster.labels[i]
        assert row.cause in (*CAUSES[:2], "covenant breach", "could not pay its creditors")
        assert row.amount_usd_bn > 0
        assert row.label in row.message and "defaulted" in row.message
    # the SPV breaks its loan covenants: that is what the log says, not exhausted equity
    spv = defaults[defaults["agent"] == "xai_colossus2"]
    assert (spv["cause"] == "covenant breach").all()
    assert spv["message"].str.contains("breached its loan covenants").all()


def test_log_is_ordered_and_typed(run):
    _, log, _ = run
    frame = log.frame()
    assert len(log) == len(frame)
    assert set(frame["event"]) <= set(EVENTS)
    assert set(frame["cause"]) <= set(CAUSES)
    keys = list(zip(frame["step"], frame["world"], strict=True))
    assert keys == sorted(keys)
    assert frame["message"].str.len().min() > 10
    assert not frame["message"].str.contains("\n").any()


def fake_model(snapshot: dict[str, np.ndarray], step: int = 0) -> SimpleNamespace:
    """One firm, one bank, one hedge fund, one stablecoin issuer and two retail cohorts."""
    roster = Roster(
        names=("acme", "bank_a", "hedge_1", "coin", "r_1", "r_2"),
        labels=("Acme AI", "Bank A", "Hedge funds #1", "CoinCo", "Retail #1", "Retail #2"),
        family=("firm", "bank", "fund", "stablecoin", "retail", "retail"),
        kind=("neocloud", "us", "hedge", "coin", "bottom_50", "bottom_50"),
        blocks={
            "firm": (0, 1),
            "bank": (1, 2),
            "fund": (2, 3),
            "stablecoin": (3, 4),
            "retail": (4, 6),
        },
    )
    return SimpleNamespace(roster=roster, snapshot=snapshot, steps=step)


def snapshot(worlds: int = 2, **values: np.ndarray) -> dict[str, np.ndarray]:
    n = 6
    base = {
        "cash": np.full((worlds, n), 10.0),
        "total_assets": np.full((worlds, n), 100.0),
        "liabilities": np.full((worlds, n), 80.0),
        "defaulted": np.zeros((worlds, n), dtype=bool),
        "default_cause": np.zeros((worlds, n), dtype=np.int8),
        "sale_proceeds": np.zeros((worlds, n)),
        "run_withdrawals": np.zeros((worlds, n)),
        "bonds_issued": np.zeros((worlds, n)),
        "credit_drawn": np.zeros((worlds, n)),
        "cet1_ratio": np.where(np.arange(n) == 1, 0.12, 0.0) + np.zeros((worlds, n)),
        "peg": np.ones((worlds, n)),
    }
    base.update(values)
    return base


def test_each_event_type_and_cause_from_hand_made_snapshots():
    before = snapshot()
    model = fake_model(before)
    log = EventLog(model, Thresholds(fire_sale_usd_bn=1.0, financing_usd_bn=2.0))
    after = snapshot()
    # world 1: the firm defaults with negative cash; world 0: the hedge fund's equity runs out
    after["defaulted"][1, 0] = True
    after["cash"][1, 0] = -3.0
    after["defaulted"][0, 2] = True
    # sales: the defaulted hedge fund (sell-off), the bank repaying debt (deleveraging), the
    # stablecoin raising cash for redemptions (liquidity), a retail cohort below the threshold
    after["sale_proceeds"][0, 2] = 40.0
    after["sale_proceeds"][1, 1] = 5.0
    after["liabilities"][1, 1] = 80.0 - 5.0
    after["sale_proceeds"][0, 3] = 4.0
    after["redemptions_paid"] = np.zeros((2, 6))
    after["redemptions_paid"][0, 3] = 4.0
    after["liabilities"][0, 3] = 80.0 - 4.0
    after["sale_proceeds"][0, 4] = 0.5
    # a run on the bank in world 0 (1% of assets in a week), a calm outflow in world 1
    after["run_withdrawals"][0, 1] = 1.0
    after["run_withdrawals"][1, 1] = 0.01
    # financing: bonds above the threshold, credit below it
    after["bonds_issued"][0, 0] = 7.5
    after["credit_drawn"][1, 0] = 1.0
    # the stablecoin loses its peg in world 1
    after["peg"][1, 3] = 0.97
    after["total_assets"][1, 3] = 77.6
    model.snapshot, model.steps = after, 1
    log.update(model)

    frame = log.frame()
    got = {
        (r.world, r.agent, r.event, r.cause, round(r.amount_usd_bn, 6)) for r in frame.itertuples()
    }
    assert got == {
        (1, "acme", "default", "could not pay what was due", 80.0),
        (0, "hedge_1", "default", "equity exhausted", 80.0),
        (0, "hedge_1", "fire_sale", "default sell-off", 40.0),
        (1, "bank_a", "fire_sale", "deleveraging", 5.0),
        (0, "coin", "fire_sale", "liquidity", 4.0),
        (0, "bank_a", "bank_run", "uninsured depositors withdrew", 1.0),
        (0, "acme", "bond_issue", "funding gap", 7.5),
        (1, "coin", "depeg", "reserves short of tokens", 2.4),
    }
    assert (frame["step"] == 1).all()
    messages = {(r.world, r.agent, r.event): r.message for r in frame.itertuples()}
    assert messages[0, "hedge_1", "fire_sale"] == (
        "Hedge funds #1 sold $40.0bn of assets (default sell-off)."
    )
    assert messages[0, "bank_a", "bank_run"] == (
        "Uninsured depositors withdrew $1.0bn from Bank A in one week (CET1 ratio 12.0%)."
    )
    assert "$0.970" in messages[1, "coin", "depeg"]
    assert "could not pay" in messages[1, "acme", "default"]

    # the next step: nothing new happens, so nothing is logged again
    model.snapshot = {k: v.copy() for k, v in after.items()}
    for key in ("sale_proceeds", "run_withdrawals", "bonds_issued"):
        model.snapshot[key][:] = 0.0
    model.steps = 2
    log.update(model)
    assert len(log.frame()) == len(frame)


def test_empty_log_has_the_columns():
    model = fake_model(snapshot(worlds=1))
    frame = EventLog(model).frame()
    assert tuple(frame.columns) == COLUMNS and len(frame) == 0


def test_usd_formatting():
    assert usd(4.123) == "$4.1bn"
    assert usd(0.25) == "$250m"
    assert usd(1234.0) == "$1.2tn"
    assert usd(-2.0) == "-$2.0bn"
