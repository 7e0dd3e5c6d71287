"""powderkeg seed-targets: the articles' facts Q01–Q40 as targets for the baseline (issue 17)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from experiments import seed_targets
from experiments.cli import main


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A small run through the command: 2 worlds, 60 weeks, 20 cohorts."""
    out = tmp_path_factory.mktemp("seed") / "seed-targets.md"
    argv = ["seed-targets", "--worlds", "2", "--steps", "60", "--cohorts", "20", "--seed", "3"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    return out.read_text(encoding="utf-8")


def rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the table under ``## heading``, split into cells."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| Q")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]


def test_every_fact_appears_once_in_targets_or_not_measured(generated):
    facts = seed_targets.load_facts()
    assert list(facts) == [f"Q{i:02d}" for i in range(1, 41)]
    targets = rows(generated, "Targets")
    others = rows(generated, "Facts the model cannot speak to")
    ids = [r[0] for r in targets] + [r[0] for r in others]
    assert sorted(ids) == list(facts)
    assert [r[0] for r in targets] == [q for q, f in facts.items() if "measure" in f]
    assert all(len(r) == 7 and all(r) for r in targets)
    assert all(len(r) == 3 and all(r) for r in others)
    assert len(rows(generated, "Sources")) == 40
    assert "seed 3" in generated and "2 worlds, 60 weeks, 20 retail cohorts" in generated


def test_result_follows_tolerance(generated):
    facts = seed_targets.load_facts()
    for row in rows(generated, "Targets"):
        fact, value, result = facts[row[0]], row[5], row[6]
        median = value.split(" [")[0].replace(",", "")
        if median == "n/a":  # horizon beyond 60 weeks (e.g. Q29 at week 156)
            assert result == "FAIL", row[0]
            continue
        # the table rounds to three figures, so only values clear of the edges are checked
        x = float(median)
        inside = fact["low"] * 1.01 <= x <= fact["high"] * 0.99
        outside = x < fact["low"] * 0.99 or x > fact["high"] * 1.01
        if inside:
            assert result == "PASS", row[0]
        if outside:
            assert result == "FAIL", row[0]


def test_facts_without_a_measure_say_why_and_adverts_are_not_content():
    facts = seed_targets.load_facts()
    for qid, fact in facts.items():
        assert ("measure" in fact) != ("why" in fact), qid
        assert fact["source"].endswith(".txt") and fact["sentence"], qid
        if "measure" in fact:
            assert fact["low"] <= fact["target"] <= fact["high"], qid
            assert fact["tolerance"] and fact["where"], qid
    assert "not the article's content" in facts["Q39"]["why"]
    assert "not the article's content" in facts["Q40"]["why"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_never_passes(bad):
    fact = {"low": -np.inf, "high": np.inf}
    assert not seed_targets.verdict(fact, np.array([bad, bad, bad]))["passed"]
    assert not seed_targets.verdict(fact, np.array([1.0, bad, bad]))["passed"]
    assert seed_targets.verdict(fact, np.array([1.0, 2.0, 3.0]))["passed"]


def test_verdict_is_the_median_within_low_and_high():
    fact = {"low": 75.0, "high": 125.0}
    assert seed_targets.verdict(fact, np.array([0.0, 80.0, 1000.0]))["passed"]
    assert not seed_targets.verdict(fact, np.array([70.0, 74.0, 200.0]))["passed"]
    v = seed_targets.verdict(fact, np.array([100.0, 100.0]))
    assert v["median"] == v["p5"] == v["p95"] == 100.0


@pytest.mark.parametrize(
    "argv",
    [
        ["--out", "targets.txt"],
        ["--worlds", "0"],
        ["--steps", "-1"],
        ["--cohorts", "x"],
        ["--out", ""],
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    assert main(["seed-targets", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("powderkeg seed-targets: error:") and err.count("\n") == 1


def test_out_that_is_a_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "x.md"
    folder.mkdir()
    assert main(["seed-targets", "--out", str(folder)]) == 2
    assert "exists and is not a file" in capsys.readouterr().err


def test_a_failing_target_says_by_how_much_and_why():
    facts = {
        "Q90": {"describes": "a thing", "target": 100.0, "target_unit": "USD bn", "miss": "Why."},
        "Q91": {"describes": "another", "target": 10.0, "target_unit": "bp"},
        "Q92": {"describes": "met", "target": 1.0, "target_unit": "x"},
    }
    verdicts = {
        "Q90": {"median": 50.0, "passed": False},
        "Q91": {"median": float("nan"), "passed": False},
        "Q92": {"median": 1.0, "passed": True},
    }
    text = "\n".join(seed_targets.misses(facts, verdicts))
    assert "**Q90** (a thing): median 50 USD bn against 100, 0.5× the target. Why." in text
    assert "**Q91**" in text and "no finite value. not explained yet." in text
    assert "Q92" not in text
    assert seed_targets.misses(facts, {"Q92": verdicts["Q92"]}) == []


def test_every_measured_fact_that_the_baseline_misses_says_why():
    facts = seed_targets.load_facts()
    text = (Path(__file__).parents[1] / "docs" / "seed-targets.md").read_text()
    failing = [
        line.split("|")[1].strip() for line in text.splitlines()
        if line.startswith("| Q") and line.rstrip().endswith("| FAIL |")
    ]  # fmt: skip
    assert failing, "the committed table has failing rows"
    for qid in failing:
        assert facts[qid].get("miss"), f"{qid} fails in docs/seed-targets.md without a miss"


#: the targets the baseline meets in docs/seed-targets.md (100 worlds) that a CI-size run meets
#: too; Q30 (AI capex 2026–30, 3,773 bn at full size against a low edge of 3,750) is left out:
#: its median over 4 worlds of 100 cohorts is 3,721, just under the edge
PASSING_AT_CI_SIZE = (
    "Q03", "Q04", "Q05", "Q07", "Q08", "Q11", "Q15", "Q20", "Q21", "Q22", "Q33",
)  # fmt: skip


def test_the_targets_the_baseline_meets_are_met_at_ci_size(tmp_path):
    out = tmp_path / "seed-targets.md"
    argv = ["seed-targets", "--worlds", "4", "--steps", "260", "--cohorts", "100", "--seed", "0"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    results = {row[0]: row[6] for row in rows(out.read_text(encoding="utf-8"), "Targets")}
    assert {q: results[q] for q in PASSING_AT_CI_SIZE} == dict.fromkeys(PASSING_AT_CI_SIZE, "PASS")
    committed = (Path(__file__).parents[1] / "docs" / "seed-targets.md").read_text()
    full = {row[0]: row[6] for row in rows(committed, "Targets")}
    assert all(full[q] == "PASS" for q in PASSING_AT_CI_SIZE)
