"""The sponsors' new off-balance-sheet data-centre projects (abm/projects.py)."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.policy import Policy
from abm.rules import WEEK

STARGATE, HYPERION = "oracle_stargate", "meta_hyperion"


def model_with(scale: float, worlds: int = 2) -> Powderkeg:
    return Powderkeg(n_worlds=worlds, seed=5, n_cohorts=20, policy=Policy(project_pipeline=scale))


def column(model: Powderkeg, name: str) -> int:
    return [model.roster.names[i] for i in model.spv.rows].index(name)


def books_gap(model: Powderkeg) -> float:
    return max(float(np.max(np.abs(np.asarray(g)))) for g in model.accounting_gap().values())


def test_at_the_calibrated_pace_by_default_and_off_at_zero():
    assert Policy().project_pipeline == 1.0
    assert Powderkeg(n_worlds=1, seed=5, n_cohorts=20).spv.projects is not None
    model = model_with(0.0, worlds=1)
    assert model.spv.projects is None
    model.step()
    assert model.spv.lease.project_rent is None
    assert not np.asarray(model.state.firms.project_capex).any()
    assert ("new projects", "spv", "build_projects") == WEEK[1]


def test_new_projects_are_debt_at_the_vehicles_loan_to_cost_and_equity_for_the_rest():
    model = model_with(1.0)
    k = column(model, STARGATE)
    ltc = np.asarray(model.spv.projects.loan_to_cost)[:, k]
    assert np.all((ltc > 0.6) & (ltc < 0.95))  # 38 bn of loans on about 47.5 bn of cost
    ledger = model.sheets.ledger
    paid, pay = [], ledger.pay_outsider

    def record(agents, outsider, amount, **kw):
        if agents is model.spv.index:
            paid.append((outsider, np.asarray(amount).copy()))
        pay(agents, outsider, amount, **kw)

    ledger.pay_outsider = record
    model.step()
    planned = np.asarray(model.spv.projects.planned)
    # 25 bn a year at this week's hype
    lift = np.exp(model.economy.b_capex * np.asarray(model.state.sentiment.ai))
    assert planned[:, k] == pytest.approx(25.0 / 52.0 * lift, rel=1e-9)
    (outsider, amount), *_ = paid
    assert outsider == "outside_investors"
    equity = planned * (1.0 - np.asarray(model.spv.projects.loan_to_cost))
    assert -amount == pytest.approx(equity, rel=1e-12)  # the developers paid their equity in
    # the vehicle spends it with its loans: what it spent on new projects is what was planned
    capex = np.asarray(model.state.firms.project_capex)[:, int(model.spv.firm_columns[k])]
    cut = np.asarray(model.economy.last_capex_cut)[:, int(model.spv.firm_columns[k])]
    assert not cut.any()
    assert capex == pytest.approx(planned[:, k], rel=1e-12)
    assert books_gap(model) < 1e-6


def test_built_capacity_is_let_and_its_debt_amortises_with_a_running_lease():
    model = model_with(1.0, worlds=1)
    k = column(model, STARGATE)
    for _ in range(60):  # the Stargate lease runs from week 52
        model.step()
    lease = model.spv.lease
    rent_before = float(np.asarray(lease.rent_due(model.state.week))[0, k])
    face_before = float(np.asarray(lease.face_at_start)[0, k])
    planned = float(np.asarray(model.spv.projects.planned)[0, k])
    cut = float(np.asarray(model.economy.last_capex_cut)[0, model.spv.firm_columns[k]])
    built = float(np.asarray(model.state.firms.project_capex)[0, model.spv.firm_columns[k]])
    assert built == max(planned - cut, 0.0) > 0.0  # a capex cut falls on new projects first
    model.step()
    yield_ = 6.0 / 47.5 / 52.0  # the vehicle's lease yield a week
    rent_after = float(np.asarray(lease.rent_due(model.state.week))[0, k])
    assert rent_after - rent_before == pytest.approx(built * yield_, rel=1e-9)
    ltc = float(np.asarray(model.spv.projects.loan_to_cost)[0, k])
    face_after = float(np.asarray(lease.face_at_start)[0, k])
    assert face_after - face_before == pytest.approx(built * ltc, rel=1e-9)
    assert books_gap(model) < 1e-6


def test_the_vehicles_borrow_what_the_equity_does_not_pay_and_the_books_balance():
    off, on = model_with(0.0), model_with(1.0)
    for _ in range(104):
        off.step()
        on.step()
    # two years of Oracle's 25 and Meta's 13 bn a year, at 80-93% debt; Hyperion first spends
    # the cash its 2025 bonds raised, so its debt grows later
    for name, least in ((STARGATE, 30.0), (HYPERION, 10.0)):
        k = column(on, name)
        grew = np.asarray(on.spv.debt())[:, k] - np.asarray(off.spv.debt())[:, k]
        assert np.all(grew > least), name
    assert books_gap(on) < 1e-6
    assert not np.asarray(on.spv.breached).any()


def test_a_junk_or_failed_sponsor_starts_no_projects():
    model = model_with(1.0)
    k = column(model, STARGATE)
    firms = list(model.economy.firm_rows)
    oracle = firms.index(model.roster.index("oracle"))
    junk = np.array(model.economy.firm.junk, copy=True)
    junk[0, oracle] = True  # world 0: Oracle is below investment grade
    model.economy.firm.junk = junk
    model.step()
    planned = np.asarray(model.spv.projects.planned)[:, k]
    assert planned[0] == 0.0 and planned[1] > 0.0
    # Meta's vehicle goes on in both worlds
    assert np.all(np.asarray(model.spv.projects.planned)[:, column(model, HYPERION)] > 0.0)


def test_the_lever_scales_the_pace():
    one, two = model_with(1.0), model_with(2.0)
    one.step()
    two.step()
    assert np.asarray(two.spv.projects.planned) == pytest.approx(
        2.0 * np.asarray(one.spv.projects.planned), rel=1e-12
    )


def test_new_capacity_enters_the_collateral_at_cost():
    model = model_with(1.0, worlds=1)
    spv = model.spv
    k = column(model, STARGATE)
    spv.factor = spv.factor * 0.0 + 0.5  # the old assets are worth half their book
    real = float(np.asarray(model.sheets.real_assets)[0, spv.rows[k]])
    built = np.zeros_like(np.asarray(spv.factor))
    built[0, k] = real / 2.0  # a third of the assets after it are new
    spv.add_capacity(built, built * 0.0, built * 0.0, 0)
    assert float(np.asarray(spv.factor)[0, k]) == pytest.approx((0.5 * real / 2 + real / 2) / real)
    others = [j for j in range(len(spv.rows)) if j != k]
    assert np.all(np.asarray(spv.factor)[0, others] == 0.5)


def test_a_vehicle_short_of_money_cuts_its_new_projects_first():
    model = model_with(1.0, worlds=1)
    spv, k = model.spv, column(model, STARGATE)
    col = int(spv.firm_columns[k])
    ledger = model.sheets.ledger
    cash = np.asarray(ledger.cash)[:, spv.rows].copy()
    drain = np.zeros_like(cash)
    drain[:, k] = cash[:, k]
    ledger.pay_outsider(spv.index, "outside_investors", drain)  # Stargate starts the week broke
    model.economy.financing.fill = lambda *args, **kwargs: None  # and raises nothing this week
    model.step()
    planned = float(np.asarray(spv.projects.planned)[0, k])
    cut = float(np.asarray(model.economy.last_capex_cut)[0, col])
    built = float(np.asarray(model.state.firms.project_capex)[0, col])
    assert cut > 0.0 and built < planned  # it spent only the developers' equity
    assert built == max(planned - cut, 0.0)
    rent = np.asarray(spv.lease.project_rent)[0, k] if spv.lease.project_rent is not None else 0.0
    model.economy.financing.fill = type(model.economy.financing).fill.__get__(
        model.economy.financing
    )
    model.step()
    added = float(np.asarray(spv.lease.project_rent)[0, k]) - float(rent)
    assert added == pytest.approx(built * 6.0 / 47.5 / 52.0, rel=1e-9, abs=1e-15)
    assert books_gap(model) < 1e-6
