"""The macro block (abm/macro.py): its equations, its steady state and its links to the markets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.macro import (
    MacroBlock,
    expected_average_rate,
    expected_rate_weight,
    financial_stress_cut,
    keep_per_week,
    okun_unemployment,
    stress_adjusted_rate,
    taylor_rate,
)
from abm.model import Powderkeg
from abm.policy import Policy
from abm.state import MacroState

FIELDS = MacroState.__slots__


@pytest.fixture(scope="module")
def model():
    return Powderkeg(n_worlds=2, seed=3, n_cohorts=20)


def calm_block(model, noise=False, crowding_out=None, spread_response=None, equity_response=None):
    """A fresh macro block on the model's sheets and a copy of its opening state."""
    block = MacroBlock(
        model.calibration, model.sheets, model.streams, model.economy, noise=noise,
        crowding_out=crowding_out, spread_response=spread_response,
        equity_response=equity_response,
    )  # fmt: skip
    state = dataclasses.replace(model.state, macro=block.opening_state())
    state.banks = dataclasses.replace(model.state.banks, loans=model.state.banks.loans + 1.0)
    state.firms = dataclasses.replace(model.state.firms)
    state.firms.selling_pressure = model.state.firms.selling_pressure * 0.0
    state.firms.spread_move = model.state.firms.spread_move * 0.0  # spreads at their 2025 level
    return block, state


def run(block, state, weeks, trend=True):
    """Drive the block alone: capex on plan, prices still, loans growing at the credit trend."""
    xp = state.xp
    dtype = state.macro.output_gap.dtype
    growth = np.exp(block.p.credit_trend / 52.0) if trend else np.ones(2)
    by_bank = xp.take(xp.asarray(growth, dtype=dtype), block.bank_region)[None, :, None]
    for week in range(weeks):
        state.week = week
        state.flows.ai_capex = xp.zeros(2, dtype=dtype) + block.planned_capex(week)
        block.update(state)  # the loan books move after the macro block, as in the week
        state.banks.loans = state.banks.loans * by_bank
        state.firms.selling_pressure = state.firms.selling_pressure * block.pressure_keep
    return state


def test_okun_taylor_and_yield_formulas_by_hand():
    # Okun: a gap of -2% with coefficient 0.45 adds 0.9 pt to a 4.4% natural rate
    assert okun_unemployment(0.044, 0.45, -0.02) == pytest.approx(0.053)
    # Taylor (1993): r* 0.5%, inflation 3% against 2%, gap -1%: 0.5 + 3 + 0.5 - 0.5 = 3.5%
    assert taylor_rate(0.005, 0.03, 0.02, -0.01, 0.5, 0.5) == pytest.approx(0.035)
    # the expected-rate weight is the average of phi^h over ten years of weeks
    phi = keep_per_week(104.0)
    brute = np.mean(phi ** np.arange(1, 521))
    assert expected_rate_weight(phi) == pytest.approx(brute, rel=1e-12)
    assert 0.25 < expected_rate_weight(phi) < 0.3


def test_start_values_decompose_the_yield(model):
    block = model.macro
    p = block.p
    m = block.opening_state()
    a = p.expected_weight
    rebuilt = p.long_run_rate + a * (p.policy_rate - p.long_run_rate) + p.term_premium
    np.testing.assert_allclose(rebuilt, p.yield_10y, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(m.yield_10y)[0], [0.0414, 0.0285])
    np.testing.assert_allclose(np.asarray(m.policy_rate)[0], [0.03625, 0.02])
    # the rule returns the 2025 policy rate at a zero gap
    rule = taylor_rate(p.neutral_taylor, p.inflation, p.inflation_target, 0.0, p.a_pi, p.a_x)
    np.testing.assert_allclose(rule, p.policy_rate, rtol=1e-12)


def test_calm_block_stays_at_its_start(model):
    block, state = calm_block(model)
    start = block.opening_state()
    run(block, state, 52)
    for name in FIELDS:
        np.testing.assert_allclose(
            np.asarray(getattr(state.macro, name)), np.asarray(getattr(start, name)),
            atol=1e-12, err_msg=name,
        )  # fmt: skip


def test_demand_impulse_raises_unemployment_and_lowers_the_rate(model):
    block, state = calm_block(model)
    block.demand_impulse = block.demand_impulse - 0.05
    start = block.opening_state()
    run(block, state, 26)
    m = state.macro
    for r in range(2):
        assert np.all(np.asarray(m.output_gap)[:, r] < -0.01)
        assert np.all(
            np.asarray(m.unemployment)[:, r] > np.asarray(start.unemployment)[:, r] + 0.003
        )
        assert np.all(np.asarray(m.policy_rate)[:, r] < np.asarray(start.policy_rate)[:, r] - 0.001)
        assert np.all(np.asarray(m.inflation)[:, r] < np.asarray(start.inflation)[:, r])
        assert np.all(np.asarray(m.house_prices)[:, r] < 1.0)
        assert np.all(np.asarray(m.gdp_growth)[:, r] < block.p.potential_growth[r] - 0.02)


def test_taylor_rule_stops_at_the_lower_bound(model):
    block, state = calm_block(model)
    block.demand_impulse = block.demand_impulse - 0.25  # a depression: the rule wants < 0
    run(block, state, 156)
    assert np.all(np.asarray(block.rule_rate) < block.p.lower_bound)  # the shadow rate
    np.testing.assert_allclose(
        np.asarray(state.macro.policy_rate), np.broadcast_to(block.p.lower_bound, (2, 2))
    )
    # the 10-year yield then prices years at the bound and the return to the long-run rate
    p = block.p
    shadow = np.asarray(block.rule_rate)
    path = np.maximum(
        p.lower_bound, p.long_run_rate + p.keep_expectations ** np.arange(1, 521)[:, None, None]
        * (shadow - p.long_run_rate)
    )  # fmt: skip
    np.testing.assert_allclose(
        np.asarray(state.macro.yield_10y) - np.asarray(state.macro.term_premium),
        path.mean(axis=0), rtol=1e-9,
    )  # fmt: skip
    plain = p.long_run_rate + p.expected_weight * (p.lower_bound - p.long_run_rate)
    assert np.all(path.mean(axis=0) < plain)  # below the bound's plain reversion


@pytest.mark.parametrize("shadow", [-0.08, -0.03, 0.0, 0.0011, -0.5])
@pytest.mark.parametrize("half_life", [13.0, 104.0, 520.0])
def test_expected_average_rate_against_the_path_week_by_week(shadow, half_life):
    phi, bound, long_run = keep_per_week(half_life), 0.00125, 0.035
    path = np.maximum(bound, long_run + phi ** np.arange(1, 521) * (shadow - long_run))
    got = expected_average_rate(np.array([shadow]), long_run, bound, phi, np)
    np.testing.assert_allclose(got, [path.mean()], rtol=1e-10)
    # just below the bound it meets the plain reversion the yield uses above it
    near = expected_average_rate(np.array([bound - 1e-9]), long_run, bound, phi, np)
    plain = long_run + expected_rate_weight(phi) * (bound - long_run)
    np.testing.assert_allclose(near, [plain], rtol=1e-7)


def test_financial_stress_cut_and_lower_bound_by_hand():
    # spreads 200 bp above 2025 and equities 30% down: 1 x 0.02 + 0.04 x 0.30 = 3.2 pt off
    stress = financial_stress_cut(0.02, 0.7, 1.0, 0.04, np)
    assert stress == pytest.approx(0.032, abs=1e-15)
    assert stress_adjusted_rate(0.04, 0.0, stress, 0.00125, np) == pytest.approx(0.008)
    # a rally above 2025 cuts nothing; at the 2025 spreads and prices the cut is exactly 0
    assert financial_stress_cut(0.0, 1.3, 1.0, 0.04, np) == 0.0
    assert financial_stress_cut(0.0, 1.0, 1.0, 0.04, np) == 0.0
    # the effective lower bound stays: a 5 pt cut from 1% stops at 0.125%
    assert stress_adjusted_rate(0.01, 0.0, 0.05, 0.00125, np) == 0.00125


def test_spread_widening_cuts_the_rate_at_once_down_to_the_lower_bound(model):
    # the calibrated rule is Taylor's (0); the lever turns on the one-for-one adjustment
    assert model.calibration.value("macro.links.policy_spread_response") == 0.0
    block, state = calm_block(model, spread_response=1.0)
    # every AI issuer's spread 100 bp above 2025: the debt-weighted index is exactly 0.01, and a
    # calm first week leaves the smoothed rule at the 2025 rate, so the rate falls 1 x 100 bp
    state.firms.spread_move = state.firms.spread_move + 0.01
    state.week = 0
    state.flows.ai_capex = np.zeros(2) + block.planned_capex(0)
    block.update(state)
    p = block.p
    np.testing.assert_allclose(np.asarray(block.rule_rate), np.broadcast_to(p.policy_rate, (2, 2)))
    hand = np.maximum(p.policy_rate - p.spread_response * 0.01, p.lower_bound)
    np.testing.assert_allclose(np.asarray(state.macro.policy_rate), [hand, hand], rtol=1e-12)
    # 20 points of widening: both regions sit at their lower bounds
    state.firms.spread_move = state.firms.spread_move * 0.0 + 0.2
    block.update(state)
    np.testing.assert_allclose(
        np.asarray(state.macro.policy_rate), np.broadcast_to(p.lower_bound, (2, 2))
    )


def test_a_lasting_widening_becomes_normal_with_its_half_life(model):
    # spreads held 100 bp above 2025: the normal level closes half the distance in
    # policy_spread_normal_half_life weeks, so after that many updates the cut is 50 bp
    block, state = calm_block(model, spread_response=1.0)
    half_life = model.calibration.value("macro.links.policy_spread_normal_half_life")
    state.firms.spread_move = state.firms.spread_move + 0.01
    state.flows.ai_capex = np.zeros(2) + block.planned_capex(0)
    for week in range(int(half_life) + 1):
        state.week = week
        block.update(state)
    p = block.p
    cut = p.spread_response * 0.01 * 0.5
    rule = np.asarray(block.rule_rate)  # calm: the 2025 rate
    np.testing.assert_allclose(np.asarray(state.macro.policy_rate), rule - cut, rtol=1e-9)


def test_stress_terms_leave_the_calm_path_bit_for_bit(model):
    # at the 2025 spreads and prices the stress cut is 0: the plain Taylor rule's path exactly
    paths = {}
    for spread, equity in ((0.0, 0.0), (1.0, 0.04)):
        block, state = calm_block(model, spread_response=spread, equity_response=equity)
        run(block, state, 26)
        paths[spread] = np.asarray(state.macro.policy_rate)
    assert np.array_equal(paths[0.0], paths[1.0])
    lever = Powderkeg(
        n_worlds=1, n_cohorts=20,
        policy=Policy(policy_spread_response=0.5, policy_equity_response=0.0),
    )  # fmt: skip
    assert (lever.macro.p.spread_response, lever.macro.p.equity_response) == (0.5, 0.0)


def test_dash_for_cash_raises_the_term_premium(model):
    block, state = calm_block(model)
    ti = model.sheets.assets.index("treasuries")
    depth = model.sheets.assets.depth[ti]
    run(block, state, 2)
    sold = np.zeros(model.sheets.prices.shape)
    sold[:, ti] = 400.0  # USD bn of forced sales, March 2020
    state.absorb_selling(state.xp.asarray(sold), depth)
    run_one = state.week + 1
    state.week = run_one
    state.flows.ai_capex = state.xp.zeros(2) + block.planned_capex(run_one)
    block.update(state)
    rise = np.asarray(state.macro.term_premium) - block.p.term_premium
    assert rise[:, 0] == pytest.approx(0.006, rel=0.05)  # +60 bp in the US
    assert rise[:, 1] == pytest.approx(0.003, rel=0.05)  # half in the euro area
    before = np.asarray(state.macro.term_premium).copy()
    run(block, state, 8)
    assert np.all(np.asarray(state.macro.term_premium) < before)  # it fades


def test_capex_surprise_moves_demand_net_of_crowding_out_by_hand(model):
    # one calm week from the start with AI capex USD 10 bn a week above the plan: every other
    # demand term is 0, so gap = (1 - keep) (1 - c) m 52 dK / Y and unemployment falls with it
    surprise = 10.0
    gaps, jobs = {}, {}
    for c in (0.0, 0.3, 0.6):
        block, state = calm_block(model, crowding_out=c)
        state.week = 0
        state.flows.ai_capex = np.zeros(2) + block.planned_capex(0) + surprise
        block.update(state)
        p = block.p
        hand = (1 - p.keep_gap) * (1 - c) * p.capex_multiplier * 52.0 * surprise / p.nominal_gdp
        np.testing.assert_allclose(np.asarray(state.macro.output_gap), [hand, hand], rtol=1e-12)
        gaps[c] = np.asarray(state.macro.output_gap)
        jobs[c] = np.asarray(state.macro.unemployment) - p.unemployment
    for c in (0.3, 0.6):
        np.testing.assert_allclose(gaps[c], (1 - c) * gaps[0.0], rtol=1e-12)
        # u - u* is a difference of numbers near 5%: a few ulps of cancellation
        np.testing.assert_allclose(jobs[c], (1 - c) * jobs[0.0], rtol=1e-9)
    assert np.all(jobs[0.0] < 0.0)  # more capex, less unemployment (Okun)


def test_no_crowding_out_keeps_the_gross_capex_term_bit_for_bit(model):
    # c = 0 multiplies the old coefficient m 52 / Y by exactly 1: the old path, bit for bit
    block, _ = calm_block(model, crowding_out=0.0)
    p = block.p
    assert np.array_equal(np.asarray(block.capex_gdp), p.capex_multiplier * 52.0 / p.nominal_gdp)
    # the policy lever reaches the block; None keeps the calibration's share
    assert model.macro.p.crowding_out == model.calibration.value("macro.links.capex_crowding_out")
    lever = Powderkeg(n_worlds=1, n_cohorts=20, policy=Policy(capex_crowding_out=0.0))
    assert lever.macro.p.crowding_out == 0.0


def test_higher_yields_lower_treasury_prices_in_the_model():
    base = Powderkeg(n_worlds=2, seed=4, n_cohorts=20)
    hiked = Powderkeg(n_worlds=2, seed=4, n_cohorts=20)
    hiked.macro.rate_shift = hiked.macro.rate_shift + 0.02
    for _ in range(6):
        base.step()
        hiked.step()
    ti, ig = (base.sheets.assets.index(k) for k in ("treasuries", "ig_bonds_non_ai"))
    assert np.all(np.asarray(hiked.state.macro.yield_10y)[:, 0] > base.state.macro.yield_10y[:, 0])
    for m in (ti, ig):
        assert np.all(np.asarray(hiked.sheets.prices)[:, m] < np.asarray(base.sheets.prices)[:, m])
    duration = base.sheets.assets.duration[ti] / 52.0
    move = (
        np.asarray(hiked.state.macro.yield_10y)[:, 0] - np.asarray(base.state.macro.yield_10y)[:, 0]
    )
    ratio = (
        np.asarray(hiked.valuation.fundamental)[:, ti]
        / np.asarray(base.valuation.fundamental)[:, ti]
    )
    np.testing.assert_allclose(ratio, np.exp(-duration * move), rtol=1e-6)
    for gap in hiked.accounting_gap().values():
        assert np.max(np.abs(gap)) < 1e-6


def test_world_of_a_batch_equals_a_one_world_run():
    batch = Powderkeg(n_worlds=3, seed=5, n_cohorts=20)
    alone = Powderkeg(n_worlds=1, seed=6, n_cohorts=20)
    for _ in range(12):
        batch.step()
        alone.step()
    for name in FIELDS:
        np.testing.assert_allclose(
            np.asarray(getattr(batch.state.macro, name))[1],
            np.asarray(getattr(alone.state.macro, name))[0], rtol=1e-9, atol=1e-12, err_msg=name,
        )  # fmt: skip


def test_float32_gives_the_float64_path(model):
    block64, state64 = calm_block(model, noise=True)
    block64.demand_impulse = block64.demand_impulse - 0.02
    run(block64, state64, 20)
    sheets32 = dataclasses.replace(model.sheets)
    sheets32.prices = model.sheets.prices.astype(np.float32)
    sheets32.supply = model.sheets.supply.astype(np.float32)
    block32 = MacroBlock(model.calibration, sheets32, model.streams, model.economy)
    state32 = dataclasses.replace(model.state, macro=block32.opening_state(), sheets=sheets32)
    state32.banks = dataclasses.replace(
        model.state.banks, loans=(model.state.banks.loans + 1.0).astype(np.float32)
    )
    state32.firms = dataclasses.replace(model.state.firms)
    state32.firms.selling_pressure = np.zeros(sheets32.prices.shape, dtype=np.float32)
    state32.firms.spread_move = np.zeros(model.state.firms.spread_move.shape, dtype=np.float32)
    block32.demand_impulse = block32.demand_impulse - 0.02
    run(block32, state32, 20)
    for name in FIELDS:
        value = getattr(state32.macro, name)
        assert value.dtype == np.float32, name
        np.testing.assert_allclose(
            value, np.asarray(getattr(state64.macro, name)), rtol=1e-4, atol=1e-6, err_msg=name
        )


def test_baseline_report_and_accounting_over_a_year():
    m = Powderkeg(n_worlds=2, seed=1, n_cohorts=20)
    for _ in range(52):
        m.step()
        for gap in m.accounting_gap().values():
            assert np.max(np.abs(gap)) < 1e-6
    for name in FIELDS:
        assert m.snapshot[name].shape == (2, 2), name
        assert np.all(np.isfinite(m.snapshot[name])), name
    # near 2025 after a calm year: rates within 1.5 pt, unemployment within 1.5 pt
    assert np.all(np.abs(m.snapshot["policy_rate"] - [0.03625, 0.02]) < 0.015)
    assert np.all(np.abs(m.snapshot["unemployment"] - [0.044, 0.063]) < 0.015)
    assert not np.array_equal(m.snapshot["output_gap"][0], m.snapshot["output_gap"][1])


def test_calibration_has_every_macro_leaf():
    cal = load_calibration()
    for region in ("us", "euro_area"):
        assert cal.value(f"macro.{region}.policy_rate") > cal.value(f"macro.{region}.lower_bound")
