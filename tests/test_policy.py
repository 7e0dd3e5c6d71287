"""Policy levers: validation, the preset keys that reach the model, the stablecoin reserve rule."""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from typing import Any

import numpy as np
import pytest

from abm.calibration import load_calibration
from abm.model import Powderkeg
from abm.policy import KINDS, LEVER, Lever, Policy
from abm.shocks import attach
from experiments.scenarios import load_preset, policy_from


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"backstop_trigger_ig_oas_bp": -5.0}, "backstop_trigger_ig_oas_bp"),
        ({"backstop_trigger_redemptions_48h": 1.5}, "backstop_trigger_redemptions_48h"),
        ({"backstop_capacity_gdp_share": "lots"}, "backstop_capacity_gdp_share"),
        ({"stablecoin_reserve_transition_weeks": -1}, "stablecoin_reserve_transition_weeks"),
        ({"stablecoin_reserve_transition_weeks": 2.5}, "stablecoin_reserve_transition_weeks"),
        ({"lender_of_last_resort": "yes"}, "lender_of_last_resort"),
        ({"bailouts": 1}, "bailouts"),
        ({"stablecoin_reserve_rule": None}, "stablecoin_reserve_rule"),
    ],
)
def test_bad_levers_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Policy(**kwargs)


def test_preset_keys_reach_the_model():
    policy = policy_from(load_preset("policy_backstop").policy)
    assert policy.market_maker_of_last_resort and policy.lender_of_last_resort and policy.bailouts
    assert policy.backstop_trigger_redemptions_48h == 0.10
    m = Powderkeg(n_worlds=1, seed=1, n_cohorts=8, policy=policy, collect_agents=False)
    assert m.market_maker.trigger == pytest.approx(0.025)
    gdp = m.calibration.value("regulation.central_bank.us_gdp")
    assert m.market_maker.capacity == pytest.approx(0.05 * gdp)
    assert m.stablecoins.trigger_48h == pytest.approx(0.10)
    tight = Policy(
        market_maker_of_last_resort=True,
        backstop_trigger_ig_oas_bp=150.0,
        backstop_trigger_redemptions_48h=0.05,
        backstop_capacity_gdp_share=0.01,
    )
    m = Powderkeg(n_worlds=1, seed=1, n_cohorts=8, policy=tight, collect_agents=False)
    assert m.market_maker.trigger == pytest.approx(0.015)
    assert m.market_maker.capacity == pytest.approx(0.01 * gdp)
    assert m.stablecoins.trigger_48h == pytest.approx(0.05)


def _reserves(m: Powderkeg, coin: str) -> dict[str, float]:
    row = m.roster.index(coin)
    table = m.sheets.assets
    value = {}
    for key in ("tbills", "gold", "crypto"):  # reserves are Treasury bills
        m_ = table.index(key)
        value[key] = float(m.sheets.holdings[0, row, m_] * m.sheets.prices[0, m_])
    value["loans"] = float(m.sheets.real_assets[0, row])
    value["total"] = float(m.sheets.total_assets()[0, row])
    return value


def test_reserve_rule_moves_reserves_into_treasuries_without_creating_money():
    today = Powderkeg(n_worlds=1, seed=1, n_cohorts=8, collect_agents=False)
    rule = Powderkeg(
        n_worlds=1, seed=1, n_cohorts=8, collect_agents=False,
        policy=Policy(stablecoin_reserve_rule=True),
    )  # fmt: skip
    before, after = _reserves(today, "tether"), _reserves(rule, "tether")
    assert before["gold"] > 10 and before["crypto"] > 10 and before["loans"] > 10
    assert after["gold"] == after["crypto"] == after["loans"] == 0.0
    moved = before["gold"] + before["crypto"] + before["loans"]
    assert after["tbills"] == pytest.approx(before["tbills"] + moved)
    assert after["total"] == pytest.approx(before["total"])  # a swap at market prices
    assert _reserves(rule, "usdc") == pytest.approx(_reserves(today, "usdc"))  # already eligible
    rule.step()
    assert float(np.max(np.abs(rule.accounting_gap()["money"]))) < 1e-9


def test_reserve_rule_transition_moves_an_even_part_each_week():
    policy = Policy(stablecoin_reserve_rule=True, stablecoin_reserve_transition_weeks=4)
    m = Powderkeg(n_worlds=1, seed=1, n_cohorts=8, collect_agents=False, policy=policy)
    start = _reserves(m, "tether")["loans"]
    m.step()
    assert _reserves(m, "tether")["loans"] == pytest.approx(0.75 * start)
    for _ in range(3):
        m.step()
    assert _reserves(m, "tether")["loans"] == pytest.approx(0.0, abs=1e-9)


def _crash_pegs(policy: Policy | None, weeks: int = 13) -> np.ndarray:
    m = Powderkeg(n_worlds=2, seed=1, n_cohorts=20, collect_agents=False, policy=policy)
    attach(m, load_preset("crypto_ai_crash").shocks)
    tether = m.roster.index("tether")
    low = np.ones(2)
    for _ in range(weeks):
        m.step()
        low = np.minimum(low, m.snapshot["peg"][:, tether])
    return low


def test_reserve_rule_keeps_tether_on_its_peg_in_the_crypto_crash():
    today = _crash_pegs(None)
    rule = _crash_pegs(Policy(stablecoin_reserve_rule=True))
    # without the rule Tether leaves its peg in both worlds (by 8% in one, under 1% in the other)
    assert (today < 0.999).all() and today.min() < 0.95
    assert (rule >= 0.999).all() and (rule > today).all()


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ('lender_of_last_resort = "yes"', ["lender_of_last_resort must be true or false"]),
        (
            "backstop_trigger_redemptions_48h = 2.0",
            ["backstop_trigger_redemptions_48h", "a number in [0, 1] (share of tokens)"],
        ),
        ("stablecoin_rule = true", ["unknown key [policy] 'stablecoin_rule'", "bailouts"]),
        ("haircut_floor = 1.0", ["haircut_floor must be a number in [0, 1) (share); got 1.0"]),
        ('hedge_fund_leverage_cap = "no"', ["hedge_fund_leverage_cap", "or none (no cap)"]),
        ("backstop = true\nmarket_maker_of_last_resort = false", ["set the same lever"]),
        ("eu_bank_us_ai_exposure_share = 0.5", ["eu_bank_us_ai_exposure_share", "[0, 0.1]"]),
    ],
)
def test_bad_policy_keys_in_a_preset_give_one_line_errors(line, needles, tmp_path):
    from experiments.cli import UsageError
    from experiments.scenarios import load_file

    path = tmp_path / "p.toml"
    path.write_text(f'story = "s"\nsource = "src"\n[policy]\n{line}\n')
    with pytest.raises(UsageError) as err:
        load_file(path)
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


# -- one description per lever: presets, sweeps and the app read it ----------------------------


def _other(lever: Lever) -> Any:
    """An allowed setting of ``lever`` other than today's and the calibrated value's (inside its
    span for numbers): a number set at the calibrated value reads back as ``None``."""
    if lever.kind == "bool":
        return not lever.default
    if lever.kind == "choice":
        return next(c for c in lever.choices if c != lever.default)
    lo, hi = lever.span
    today = lever.default
    if today is None and lever.calibrated:
        today = load_calibration().value(lever.calibrated)
    return lo if lo != today else hi


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_every_field_has_a_lever_that_describes_it():
    hints = typing.get_type_hints(Policy)
    levers = Policy.levers()
    assert [lv.name for lv in levers] == [f.name for f in dataclasses.fields(Policy)]
    for lever in levers:
        field = Policy.__dataclass_fields__[lever.name]
        assert field.metadata[LEVER].kind == lever.kind in KINDS
        assert lever.title and lever.help and "\n" not in lever.help
        assert lever.default == getattr(Policy(), lever.name) and lever.allows(lever.default)
        assert lever.nullable == (type(None) in typing.get_args(hints[lever.name])), lever.name
        assert lever.allows(_other(lever)), lever.name
        if lever.kind in ("number", "integer"):
            lo, hi = lever.span
            assert lever.unit and lever.step > 0 and lever.allows(lo) and lever.allows(hi)
            assert ((hi - lo) / lever.step) == pytest.approx(round((hi - lo) / lever.step))
        if lever.calibrated:
            value = load_calibration().value(lever.calibrated)
            assert lever.allows(value) and lever.span[0] <= value <= lever.span[1]
    assert Policy.keys()["backstop"].name == "market_maker_of_last_resort"
    assert Policy.keys()["abs_share_of_ai_debt"].name == "abs_share_of_spv_loans"


def _bad_values(lever: Lever) -> list[Any]:
    bad: list[Any] = [[1]]
    if lever.kind == "bool":
        bad += [1, "yes"]
    elif lever.kind == "choice":
        bad += ["mars", 1]
    else:
        lo = lever.lo if lever.brackets[0] == "(" else lever.lo - 1
        bad += ["x", True, lo, float("nan")]
        if not math.isinf(lever.hi):
            bad.append(lever.hi if lever.brackets[1] == ")" else lever.hi + 1)
        if lever.kind == "integer":
            bad.append(lever.lo + 0.5)
    if not lever.nullable:
        bad.append(None)
    return bad


@pytest.mark.parametrize("lever", Policy.levers(), ids=lambda lv: lv.name)
def test_each_bad_value_names_the_field_and_what_is_allowed(lever):
    for value in _bad_values(lever):
        with pytest.raises(ValueError) as err:
            Policy(**{lever.name: value})
        assert str(err.value) == f"{lever.name} must be {lever.allowed()}; got {value!r}"


def test_settings_take_names_aliases_and_none():
    settings = {"backstop": True, "abs_share_of_ai_debt": 0.25, "hedge_fund_leverage_cap": "none"}
    assert Policy.from_settings(settings) == Policy(
        market_maker_of_last_resort=True, abs_share_of_spv_loans=0.25
    )
    later = Policy.from_settings({"backstop": True, "market_maker_of_last_resort": False})
    assert later.market_maker_of_last_resort is False  # a [compare] table overrides [policy]
    with pytest.raises(ValueError, match=r"^backstop must be true or false; got 1$"):
        Policy.from_settings({"backstop": 1})
    with pytest.raises(ValueError, match="haircut_floor must be"):
        Policy.from_settings({"haircut_floor": "none"})  # None only where a lever allows it


def test_an_unknown_key_lists_the_allowed_ones():
    with pytest.raises(ValueError) as err:
        Policy.from_settings({"leverage": 3.0})
    message = str(err.value)
    assert message.startswith("unknown policy key 'leverage'; allowed: hedge_fund_leverage_cap, ")
    assert all(key in message for key in Policy.keys())


@pytest.mark.parametrize("lever", Policy.levers(), ids=lambda lv: lv.name)
def test_every_lever_is_settable_from_a_preset_file(lever, tmp_path):
    from experiments.scenarios import load_file

    value = _other(lever)
    for key in (lever.name, *lever.aliases):
        path = tmp_path / f"{key}.toml"
        path.write_text(f'story = "s"\nsource = "src"\n[policy]\n{key} = {_toml(value)}\n')
        scenario = load_file(path)
        assert scenario.policy == {key: value}
        assert getattr(policy_from(scenario.policy), lever.name) == value


def test_every_preset_key_reaches_a_lever():
    from experiments.scenarios import POLICY_NOTE, policy_keys

    europe = load_preset("europe_higher_capital").policy
    assert europe["eu_bank_us_ai_exposure_share"] == 0.02
    assert policy_from(europe) == Policy(capital_regime="eu", eu_bank_us_ai_exposure_share=0.02)
    assert set(policy_keys()) == set(Policy.keys())
    assert "backstop is market_maker_of_last_resort" in POLICY_NOTE


def _eu_banks_ai_bonds(policy: Policy) -> tuple[float, float, float]:
    """EU banks' AI issuers' bonds at the start, all holders', and the bonds outstanding (USD bn,
    world 0)."""
    m = Powderkeg(n_worlds=1, seed=0, n_cohorts=20, policy=policy)
    bonds = [k.startswith("bonds_") for k in m.sheets.assets.keys]
    held = np.asarray(m.sheets.holdings[0][:, bonds] @ m.sheets.prices[0][bonds])
    supply = float(np.asarray(m.sheets.supply[0])[bonds].sum())
    eu = np.array([k == "eu" for k in m.roster.kind])
    return float(held[eu].sum()), float(held.sum()), supply


def test_eu_exposure_lever_sets_the_eu_banks_ai_bonds():
    """The lever sets the EU banks' share of the AI bonds; the other holder types keep theirs, and
    the difference is held outside the model."""
    calibrated = load_calibration().value("banks.eu.us_ai_debt_share")
    default, total, supply = _eu_banks_ai_bonds(Policy())
    same, _, _ = _eu_banks_ai_bonds(Policy(eu_bank_us_ai_exposure_share=calibrated))
    low, total_low, _ = _eu_banks_ai_bonds(Policy(eu_bank_us_ai_exposure_share=calibrated / 4))
    high, total_high, _ = _eu_banks_ai_bonds(Policy(eu_bank_us_ai_exposure_share=0.05))
    assert same == default
    assert default == pytest.approx(calibrated * supply)
    assert high == pytest.approx(0.05 * supply)
    assert low < default < high
    # the other holders' bonds do not move: only the outside holders' part does
    assert total_low - low == pytest.approx(total - default)
    assert total_high - high == pytest.approx(total - default)


@pytest.mark.parametrize("lever", Policy.levers(), ids=lambda lv: lv.name)
def test_every_lever_is_sweepable_with_its_rule(lever):
    from experiments.sweeps.parameters import apply_values, parameter_table

    scenario = load_preset("baseline")
    parameter = parameter_table(scenario)[f"policy.{lever.name}"]
    assert parameter.allowed() == lever.allowed() and lever.help in parameter.doc
    assert parameter.span == lever.span and parameter.nullable == lever.nullable
    value = parameter.coerce(_other(lever))
    policy = apply_values(scenario, {f"policy.{lever.name}": value})["policy"]
    assert getattr(policy, lever.name) == _other(lever)
    for bad in _bad_values(lever):
        if bad is not None and not isinstance(bad, list) and bad == bad:  # NaN: "not finite"
            with pytest.raises(ValueError, match=re.escape(lever.allowed())):
                parameter.coerce(bad)


def test_a_sweep_without_a_range_samples_the_levers_span(tmp_path):
    from experiments.config import load_sweep

    path = tmp_path / "span.toml"
    path.write_text(
        'scenario = "baseline"\nsteps = 2\n[design]\nkind = "lhs"\nsamples = 8\n'
        '[[parameters]]\nname = "policy.haircut_floor"\n'
    )
    sweep = load_sweep(path)
    floors = [p.values["policy.haircut_floor"] for p in sweep.points]
    lo, hi = Policy.keys()["haircut_floor"].span
    assert len(floors) == 8 and all(lo <= f <= hi for f in floors)
    assert sweep.problem["bounds"] == [[lo, hi]]


@pytest.mark.parametrize("lever", Policy.levers(), ids=lambda lv: lv.name)
def test_every_lever_is_settable_in_the_app(lever):
    from app.levers import available, policy_for

    (widget,) = [lv for lv in available() if lv.target == "policy" and lv.field == lever.name]
    assert widget.key == lever.key
    start = widget.start(load_calibration())
    assert policy_for(Policy(), {widget.key: start}) == Policy()  # the start changes nothing
    value = _other(lever)
    if widget.widget == "Select":
        shown = {True: "on", False: "off"}.get(value, value) if lever.kind == "bool" else value
        assert shown in widget.values
    else:
        shown = value
        assert widget.lo <= shown <= widget.hi and lever.unit in widget.label
    assert getattr(policy_for(Policy(), {widget.key: shown}), lever.name) == value
    preset = Policy.from_settings({lever.name: value})
    assert policy_for(preset, {widget.key: start}) == (
        preset if widget.start_keeps_preset else Policy()
    )  # a lever left at its start keeps the preset's setting (the cap's top is "no cap")
