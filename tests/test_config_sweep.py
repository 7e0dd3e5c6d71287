"""Sweep files: pydantic checks, one-line errors (exit 2, no traceback), designs and examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.cli import main
from experiments.config import load_sweep
from experiments.sensitivity import design_size
from experiments.sweeps.spec import MAX_POINTS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "experiments" / "sweeps").glob("*.toml"))
BASE = """
scenario = "ai_revenue_disappointment"
steps = 4
worlds = 2
"""


def write(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> str:
    out = tmp_path / "out"
    code = main(["sweep", str(write(tmp_path, text)), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("powderkeg sweep: error: ")
    assert not out.exists()  # nothing written before every input is checked
    return err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + "stepz = 3\n", ["unknown field 'stepz'", "allowed here:", "steps", "worlds"]),
        (BASE + "[design]\nkind = 'grid'\nsize = 3\n", ["unknown field 'design.size'", "samples"]),
        (
            BASE + "[[parameters]]\nname = 'policy.haircut_floor'\nvalue = [0.1]\n",
            ["unknown field 'parameters[0].value'", "values", "low", "high"],
        ),
        (BASE.replace("steps = 4", "steps = 'ten'"), ["steps:", "integer", "'ten'"]),
        (BASE.replace("worlds = 2", "worlds = 0"), ["worlds:", "greater than or equal to 1"]),
        (BASE + "[design]\nkind = 'halton'\n", ["design.kind", "'grid'", "'sobol'", "'morris'"]),
        (
            BASE.replace("ai_revenue_disappointment", "no_such"),
            ["scenario: unknown scenario 'no_such'", "baseline", "crypto_ai_crash"],
        ),
        (
            BASE + "[[parameters]]\nname = 'policy.no_lever'\nvalues = [1.0]\n",
            ["parameters[0].name: unknown parameter 'policy.no_lever'", "policy.haircut_floor"],
        ),
        (
            BASE + "[[parameters]]\nname = 'policy.haircut_floor'\nvalues = [0.1, 1.5]\n",
            ["parameters[0].values[1] (policy.haircut_floor)", "[0, 1)", "1.5"],
        ),
        (
            BASE + "[[parameters]]\nname = 'policy.capital_regime'\nvalues = ['us', 'mars']\n",
            ["policy.capital_regime", "own, us, eu", "'mars'"],
        ),
        (
            BASE + "[[parameters]]\nname = 'channels.fire_sales'\nvalues = [1]\n",
            ["channels.fire_sales", "true or false"],
        ),
        (
            BASE
            + "[[parameters]]\nname = 'shocks.ai_hype.size'\nlow = -1.5\nhigh = 0.0\nnum = 3\n",
            ["shocks.ai_hype.size", "> -1.0", "-1.5"],
        ),
        (
            BASE + "[[parameters]]\nname = 'shocks.ai_hype.size'\nlow = -0.2\nhigh = -0.1\n",
            ["a grid over low..high needs num"],
        ),
        (
            BASE + "[design]\nkind = 'sobol'\nsamples = 6\n"
            "[[parameters]]\nname = 'shocks.ai_hype.size'\nlow = -0.5\nhigh = -0.1\n",
            ["design.samples", "power of two", "6"],
        ),
        (
            BASE + "[design]\nkind = 'morris'\nsamples = 2\n"
            "[[parameters]]\nname = 'policy.haircut_floor'\nvalues = [0.1, 0.2]\n",
            ["samples ranges", "low and high"],
        ),
        (
            BASE + "[design]\nkind = 'lhs'\nsamples = 4\n"
            "[[parameters]]\nname = 'channels.fire_sales'\nlow = 0\nhigh = 1\n",
            ["bool parameter takes values", "true or false"],
        ),
        (BASE + "[fixed]\n'model.n_cohorts' = 2\n", ["fixed.model.n_cohorts", "from 4 to"]),
        (BASE + "[fixed]\n'model.dtype' = 'float16'\n", ["fixed.model.dtype", "float32"]),
        (BASE + "[fixed]\n'policy.nope' = 2\n", ["fixed: unknown parameter 'policy.nope'"]),
        (BASE + "[output]\nseries = ['gdp']\n", ["output.series[0]", "'gdp'", "ai_equity_index"]),
        (
            BASE + "[[parameters]]\nname = 'policy.haircut_floor'\nvalues = [0.1]\n"
            "[[parameters]]\nname = 'policy.haircut_floor'\nvalues = [0.2]\n",
            ["set twice"],
        ),
        (BASE + "[design\n", ["not valid TOML"]),
        (
            BASE + "[fixed]\n'policy.haircut_floor' = {a = 1}\n",
            ["fixed.policy.haircut_floor: must be true or false, a number or a string"],
        ),
    ],
)
def test_bad_sweep_file_is_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: list[str]
) -> None:
    err = run_bad(tmp_path, capsys, text)
    for piece in expected:
        assert piece in err, err


def test_unreadable_sweep_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "cannot read sweep file" in err and "missing.toml" in err


def test_scenario_file_relative_to_the_sweep(tmp_path: Path) -> None:
    scenario = ROOT / "experiments" / "scenarios" / "crypto_ai_crash.toml"
    write(tmp_path, scenario.read_text(), "mine.toml")
    sweep = load_sweep(write(tmp_path, 'scenario = "mine.toml"\nsteps = 6\n'))
    assert sweep.scenario.name == "crypto_ai_crash"
    assert len(sweep.scenario.shocks) == 3 and len(sweep.points) == 1


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_sweeps_are_valid(example: Path) -> None:
    sweep = load_sweep(example)
    assert 1 <= len(sweep.points) <= MAX_POINTS
    assert sweep.spec.description.strip(), "every example says what it asks"
    if example.stem == "smoke":
        assert len(sweep.points) <= 8 and sweep.spec.worlds <= 2 and sweep.spec.steps <= 13


def test_examples_cover_every_research_question() -> None:
    from experiments.scenarios import preset_names

    covered = {load_sweep(p).scenario.name for p in EXAMPLES}
    missing = set(preset_names()) - covered - {"baseline"}
    assert not missing, f"no example sweep for {sorted(missing)}"


def test_grid_is_every_combination(tmp_path: Path) -> None:
    sweep = load_sweep(
        write(
            tmp_path,
            BASE + "[[parameters]]\nname = 'policy.capital_regime'\nvalues = ['us', 'eu']\n"
            "[[parameters]]\nname = 'shocks.ai_hype.size'\nlow = -0.5\nhigh = -0.1\nnum = 3\n",
        )
    )
    values = [(p.values["policy.capital_regime"], p.values["shocks.ai_hype.size"])
              for p in sweep.points]  # fmt: skip
    assert values == [(r, s) for r in ("us", "eu") for s in (-0.5, -0.3, -0.1)]
    assert all(p.seed == 0 for p in sweep.points)  # common random numbers


def test_distinct_seeds_and_random_design_is_reproducible(tmp_path: Path) -> None:
    text = (
        BASE.replace("worlds = 2", "worlds = 3\nseed = 10\nseeds = 'distinct'")
        + "[design]\nkind = 'random'\nsamples = 20\nseed = 7\n"
        "[[parameters]]\nname = 'policy.deposit_insurance'\nlow = 0.2\nhigh = 0.9\n"
        "[[parameters]]\nname = 'model.n_cohorts'\nlow = 10\nhigh = 12\n"
        "[[parameters]]\nname = 'channels.fire_sales'\nvalues = [true, false]\n"
    )
    a = load_sweep(write(tmp_path, text))
    b = load_sweep(write(tmp_path, text, "again.toml"))
    assert [p.values for p in a.points] == [p.values for p in b.points]
    assert [p.seed for p in a.points] == [10 + 3 * i for i in range(20)]
    insurance = np.array([p.values["policy.deposit_insurance"] for p in a.points])
    assert ((insurance >= 0.2) & (insurance <= 0.9)).all() and np.unique(insurance).size == 20
    assert {p.values["model.n_cohorts"] for p in a.points} == {10, 11, 12}
    assert {p.values["channels.fire_sales"] for p in a.points} == {True, False}
    other = load_sweep(write(tmp_path, text.replace("seed = 7", "seed = 8"), "other.toml"))
    assert a.fingerprint() != other.fingerprint()


@pytest.mark.parametrize(
    ("kind", "extra", "n"),
    [("lhs", "", 10), ("sobol", "second_order = true\n", 4), ("morris", "levels = 4\n", 3)],
)
def test_salib_designs(tmp_path: Path, kind: str, extra: str, n: int) -> None:
    sweep = load_sweep(
        write(
            tmp_path,
            BASE + f"[design]\nkind = '{kind}'\nsamples = {n}\n{extra}"
            "[[parameters]]\nname = 'policy.haircut_floor'\nlow = 0.0\nhigh = 0.5\n"
            "[[parameters]]\nname = 'shocks.ai_hype.size'\nlow = -0.6\nhigh = -0.2\n",
        )
    )
    size = design_size(kind, n, 2, second_order=sweep.spec.design.second_order)
    assert len(sweep.points) == size
    assert sweep.problem["names"] == ["policy.haircut_floor", "shocks.ai_hype.size"]
    floors = np.array([p.values["policy.haircut_floor"] for p in sweep.points])
    assert floors.min() >= 0.0 and floors.max() <= 0.5
    if kind == "lhs":  # one point in each tenth of the range
        assert sorted(np.floor(floors / 0.05).astype(int)) == list(range(10))


def test_list_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from abm.policy import Policy

    path = write(tmp_path, BASE + "[[parameters]]\nname = 'typo'\nvalues = [1]\n")
    assert main(["sweep", str(path), "--list-parameters"]) == 0
    out = capsys.readouterr().out
    for field in Policy.__dataclass_fields__:
        assert f"policy.{field} " in out
    assert "shocks.revenue_shortfall.size" in out and "channels.fire_sales" in out


def test_a_shock_after_the_last_week_is_refused(tmp_path, capsys):
    err = run_bad(tmp_path, capsys, BASE.replace("steps = 4", "steps = 3"))
    assert "steps: the run has 3 weeks but its" in err and "hits in week 4" in err
    moved = BASE + '\n[[parameters]]\nname = "shocks[0].week"\nvalues = [2, 9]\n'
    err = run_bad(tmp_path, capsys, moved)
    assert "hits in week 9" in err
