"""The macro and bank shock kinds: each moves what it should, bad entries are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from abm.model import Powderkeg
from abm.shocks import KINDS, LASTING, Shock, attach
from abm.state import LOAN_BOOKS, REGIONS
from experiments.build import build_model
from experiments.cli import main
from experiments.scenarios import load_file, load_preset
from experiments.shock_entries import check_shock
from experiments.usage import UsageError

US, EA = REGIONS.index("us"), REGIONS.index("euro_area")


@pytest.fixture(scope="module")
def model() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=0, n_cohorts=20, collect_agents=False)


def fresh() -> Powderkeg:
    return Powderkeg(n_worlds=2, seed=0, n_cohorts=20, collect_agents=False)


def host(values) -> np.ndarray:
    from kernels.backend import to_numpy

    return np.asarray(to_numpy(values), dtype=float)


def test_demand_and_rate_shocks_set_the_macro_levers_while_they_last() -> None:
    m = fresh()
    attach(
        m,
        [
            Shock("demand", 2, -0.12, target=("us",), weeks=4, source="t"),
            Shock("demand", 3, 0.02, weeks=1, source="t"),  # both regions, overlapping
            Shock("policy_rate", 2, 0.03, target=("euro_area",), weeks=2, source="t"),
        ],
    )
    seen = []
    for _ in range(6):
        m.step()
        seen.append((host(m.macro.demand_impulse).copy(), host(m.macro.rate_shift).copy()))
    demand = np.array([d[0] for d, _ in seen])  # (week, R) of world 0
    rates = np.array([r[0] for _, r in seen])
    np.testing.assert_allclose(demand[:, US], [0, -0.12, -0.10, -0.12, -0.12, 0], atol=1e-7)
    np.testing.assert_allclose(demand[:, EA], [0, 0, 0.02, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(rates[:, EA], [0, 0.03, 0.03, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(rates[:, US], 0.0, atol=1e-12)
    assert m.macro.demand_impulse.dtype == m.sheets.prices.dtype
    for gap in m.accounting_gap().values():
        assert np.max(np.abs(host(gap))) < 1e-6


def test_one_off_macro_jumps_hit_only_their_regions(model: Powderkeg) -> None:
    shocks = [
        Shock("term_premium", 5, 0.01, target=("us",), source="t"),
        Shock("house_prices", 5, -0.33, target=("us",), source="t"),
        Shock("cre_prices", 5, -0.30, source="t"),  # no target: both regions
    ]
    schedule = attach(model, shocks)
    macro = model.state.macro
    before = {
        k: host(getattr(macro, k)).copy() for k in ("term_premium", "house_prices", "cre_prices")
    }
    for i in range(len(shocks)):
        schedule.apply(i)
    after = {k: host(getattr(model.state.macro, k)) for k in before}
    np.testing.assert_allclose(after["term_premium"][:, US], before["term_premium"][:, US] + 0.01)
    np.testing.assert_allclose(after["term_premium"][:, EA], before["term_premium"][:, EA])
    np.testing.assert_allclose(after["house_prices"][:, US], 0.67 * before["house_prices"][:, US])
    np.testing.assert_allclose(after["house_prices"][:, EA], before["house_prices"][:, EA])
    np.testing.assert_allclose(after["cre_prices"], 0.70 * before["cre_prices"])


def test_sizes_drawn_per_world_reach_the_state() -> None:
    m = fresh()
    schedule = attach(m, [Shock("house_prices", 2, -0.2, range=(-0.4, -0.1), source="t")])
    before = host(m.state.macro.house_prices).copy()
    schedule.apply(0)
    ratio = host(m.state.macro.house_prices) / before
    np.testing.assert_allclose(ratio, np.stack([1 + schedule.sizes[0]] * len(REGIONS), axis=1))
    assert ratio[0, 0] != ratio[1, 0]


def test_deposit_runs_hit_the_target_banks_while_they_last() -> None:
    m = fresh()
    if not hasattr(m.bank_runs, "outflow_shock"):
        pytest.skip("BankRuns.outflow_shock (the liquidity helper's) is not in this tree yet")
    attach(
        m,
        [
            Shock("deposit_run", 2, 0.25, target=("eu",), weeks=2, source="t"),
            Shock("deposit_run", 3, 0.2, target=("jpmorgan", "eu_de15"), weeks=1, source="t"),
        ],
    )
    roster = m.roster
    names = [roster.names[i] for i in roster.indices("bank")]
    eu = np.array([roster.kind[i] == "eu" for i in roster.indices("bank")])
    jpm, de15 = names.index("jpmorgan"), names.index("eu_de15")
    runs = []
    for _ in range(4):
        m.step()
        runs.append(host(m.bank_runs.outflow_shock).copy())
    assert np.all(runs[0] == 0)
    assert np.allclose(runs[1][:, eu], 0.25) and np.allclose(runs[1][:, ~eu], 0.0)
    assert np.allclose(runs[2][:, de15], 1 - 0.75 * 0.8)  # overlapping runs: 1 − Π(1 − s)
    assert np.allclose(runs[2][:, jpm], 0.2)
    assert np.all(runs[3] == 0)  # both ended


def test_loan_losses_write_off_the_target_books(model: Powderkeg, monkeypatch) -> None:
    shares = []
    real = model.credit_risk.charge_off

    def spy(state, share):
        shares.append(host(share))
        real(state, share)

    monkeypatch.setattr(model.credit_risk, "charge_off", spy)
    schedule = attach(model, [Shock("loan_losses", 9, -0.03, target=("commercial_real_estate",),
                                    source="t")])  # fmt: skip
    loans = host(model.state.banks.loans).copy()
    schedule.apply(0)
    (share,) = shares
    k = LOAN_BOOKS.index("commercial_real_estate")
    assert share.shape == loans.shape
    np.testing.assert_allclose(share[..., k], 0.03)
    np.testing.assert_allclose(np.delete(share, k, axis=-1), 0.0)
    np.testing.assert_allclose(host(model.state.banks.loans), loans * (1 - share), atol=1e-9)


def test_loan_losses_can_hit_one_bank(model: Powderkeg) -> None:
    banks = model.roster.indices("bank")
    jpm = [model.roster.names[i] for i in banks].index("jpmorgan")
    loans = host(model.state.banks.loans).copy()
    equity = host(model.sheets.ledger.equity_flows).copy()
    schedule = attach(model, [Shock("loan_losses", 9, -0.2, target=("jpmorgan", "corporate"),
                                    source="t")])  # fmt: skip
    schedule.apply(0)
    after = host(model.state.banks.loans)
    k = LOAN_BOOKS.index("corporate")
    np.testing.assert_allclose(after[:, jpm, k], 0.8 * loans[:, jpm, k])
    others = np.ones(after.shape, dtype=bool)
    others[:, jpm, k] = False
    np.testing.assert_array_equal(after[others], loans[others])
    lost = equity - host(model.sheets.ledger.equity_flows)
    np.testing.assert_allclose(lost[:, banks[jpm]], 0.2 * loans[:, jpm, k])
    np.testing.assert_allclose(np.delete(lost, banks[jpm], axis=-1), 0.0, atol=1e-9)


def test_bad_targets_are_refused_by_the_schedule_too() -> None:
    m = fresh()
    for shock, needle in [
        (Shock("demand", 2, -0.1, target=("mars",), weeks=2, source="t"), "not a region"),
        (Shock("deposit_run", 2, 0.1, target=("lehman",), weeks=2, source="t"), "not a bank"),
        (Shock("loan_losses", 2, -0.1, target=("cars",), source="t"), "not a bank.*or a loan book"),
    ]:
        with pytest.raises(ValueError, match=needle):
            attach(m, [shock])


ENTRY = {"week": 3, "source": "t"}
BAD = [
    ({"kind": "demand", "size": -0.5, "weeks": 4}, ["size of a demand shock", ">= -0.3"]),
    ({"kind": "demand", "size": -0.1, "target": ["mars"]}, ["target 'mars' is not a region", "us"]),
    ({"kind": "policy_rate", "size": 0.2}, ["size of a policy_rate shock", "<= 0.1"]),
    ({"kind": "term_premium", "size": 0.01, "weeks": 3}, ["weeks is for", "deposit_run"]),
    ({"kind": "house_prices", "size": -1.0}, ["size of a house_prices shock", "> -1.0"]),
    ({"kind": "cre_prices", "size": -0.3, "target": ["eu"]}, ["'eu' is not a region"]),
    ({"kind": "deposit_run", "size": -0.1}, ["size of a deposit_run shock", ">= 0.0"]),
    ({"kind": "deposit_run", "size": 0.1, "target": ["lehman"]}, ["'lehman' is not a bank", "eu"]),
    ({"kind": "loan_losses", "size": 0.02}, ["size of a loan_losses shock", "<= 0.0"]),
    ({"kind": "loan_losses", "size": -0.02, "target": ["cars"]}, ["not a loan book", "mortgages"]),
]


@pytest.mark.parametrize(("entry", "needles"), BAD)
def test_bad_entries_name_the_field(entry, needles) -> None:
    with pytest.raises(UsageError) as err:
        check_shock({**ENTRY, **entry}, "shocks[0]")
    message = str(err.value)
    assert message.startswith("shocks[0]: ") and "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_good_entries_become_shocks() -> None:
    run = check_shock(
        {**ENTRY, "kind": "deposit_run", "size": 0.2, "target": ["us", "eu_fr09"], "weeks": 2},
        "s",
    )
    assert run.target == ("us", "eu_fr09") and run.weeks == 2 and "deposit_run" in LASTING
    losses = check_shock({**ENTRY, "kind": "loan_losses", "size": -0.03}, "s")
    assert losses.target == () and KINDS["loan_losses"][:2] == (-1.0, 0.0)


def test_a_bad_macro_shock_in_a_file_is_a_one_line_exit_2(tmp_path, capsys) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'story = "s"\nsource = "t"\n[[shocks]]\nkind = "demand"\nweek = 2\nsize = -0.9\n'
        'weeks = 4\nsource = "x"\n'
    )
    with pytest.raises(UsageError, match="size of a demand shock"):
        load_file(path)
    assert main(["run", "--scenario", str(path), "--out", str(tmp_path / "o")]) == 2
    line = capsys.readouterr().err
    assert line.count("\n") == 1 and "shocks[0]" in line and "size" in line


def test_the_severe_preset_parses_and_runs_a_few_weeks() -> None:
    preset = load_preset("severe_ai_bust")
    kinds = {s.kind for s in preset.shocks}
    assert {"demand", "house_prices", "cre_prices", "impairment", "ai_hype"} <= kinds
    assert {"collateral", "revenue_shortfall"} <= kinds
    labels = [c["label"] for c in preset.compare]
    assert len(labels) == 8 and len(set(labels)) == 8
    assert {tuple(c["policy"].items()) for c in preset.compare} >= {
        (("capital_regime", "us"),),
        (("capital_regime", "eu"),),
        (("backstop", False),),
        (("lender_of_last_resort", False),),
        (("bailouts", False),),
        (("policy_spread_response", 1.0), ("policy_equity_response", 0.04)),
    }
    house = [s for s in preset.shocks if s.kind == "house_prices"]  # the rest over the macro's
    assert np.prod([1 + s.size for s in house]) == pytest.approx(0.80, abs=0.005)
    equity = [s for s in preset.shocks if s.target == ("equity_non_ai",)]
    assert np.prod([1 + s.size for s in equity]) == pytest.approx(0.50, abs=0.005)
    m = build_model(preset, n_worlds=2, seed=0, backend="numpy", n_cohorts=20)
    for _ in range(3):
        m.step()
    np.testing.assert_allclose(host(m.macro.demand_impulse), [[-0.16, -0.11]] * 2, rtol=1e-6)
    for gap in m.accounting_gap().values():
        assert np.max(np.abs(host(gap))) < 1e-6


def test_demand_and_term_premium_move_the_economy_against_a_twin() -> None:
    twin, hit = fresh(), fresh()
    attach(
        hit,
        [
            Shock("demand", 1, -0.1, target=("us",), weeks=13, source="t"),
            Shock("term_premium", 1, 0.01, target=("euro_area",), source="t"),
        ],
    )
    for _ in range(13):
        twin.step()
        hit.step()
    a, b = hit.state.macro, twin.state.macro
    assert np.all(host(a.output_gap)[:, US] < host(b.output_gap)[:, US] - 0.01)
    assert np.all(host(a.unemployment)[:, US] > host(b.unemployment)[:, US])
    assert np.all(host(a.yield_10y)[:, EA] > host(b.yield_10y)[:, EA])
