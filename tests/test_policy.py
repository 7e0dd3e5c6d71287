"""Policy levers: validation, the preset keys that reach the model, the stablecoin reserve rule."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.policy import Policy
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
    assert m.market.trigger == pytest.approx(0.025)
    gdp = m.calibration.value("regulation.central_bank.us_gdp")
    assert m.market.capacity == pytest.approx(0.05 * gdp)
    assert m.stablecoins.trigger_48h == pytest.approx(0.10)
    tight = Policy(
        market_maker_of_last_resort=True,
        backstop_trigger_ig_oas_bp=150.0,
        backstop_trigger_redemptions_48h=0.05,
        backstop_capacity_gdp_share=0.01,
    )
    m = Powderkeg(n_worlds=1, seed=1, n_cohorts=8, policy=tight, collect_agents=False)
    assert m.market.trigger == pytest.approx(0.015)
    assert m.market.capacity == pytest.approx(0.01 * gdp)
    assert m.stablecoins.trigger_48h == pytest.approx(0.05)


def _reserves(m: Powderkeg, coin: str) -> dict[str, float]:
    row = m.roster.index(coin)
    table = m.sheets.assets
    value = {}
    for key in ("treasuries", "gold", "crypto"):
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
    assert after["treasuries"] == pytest.approx(before["treasuries"] + moved)
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
    assert (today < 0.99).all()
    assert (rule >= 0.999).all() and (rule > today).all()


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ('lender_of_last_resort = "yes"', ["lender_of_last_resort must be true or false"]),
        (
            "backstop_trigger_redemptions_48h = 2.0",
            ["backstop_trigger_redemptions_48h", "0.0 to 1.0"],
        ),
        ("stablecoin_rule = true", ["unknown key [policy] 'stablecoin_rule'", "bailouts"]),
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
