"""Every tour says only what the page's own world shows (app/tours/*.toml, ``[[steps.expect]]``)."""

from __future__ import annotations

import math
from functools import cache

import pytest

from app import classroom_doc
from app.tour_claims import Verdict, check, holds
from app.tours import Claim, read_tour, tour
from experiments.scenarios import preset_names

TOURED = [p for p in preset_names() if any(s.expect for s in tour(p).steps)]


@cache
def verdicts(preset: str) -> list[Verdict]:
    """Every claim of the preset's tour on the page's world (run once for all the tests here)."""
    return list(check(tour(preset)))


@pytest.mark.parametrize("preset", TOURED)
def test_every_claim_of_the_tour_holds_on_the_pages_world(preset):
    wrong = [
        f"{v.claim.claim} (tour's run {v.value:.4g}"
        + ("" if v.other is None else f", what-if {v.other:.4g}")
        + ")"
        for v in verdicts(preset)
        if not v.holds
    ]
    assert not wrong, f"{preset}: " + "; ".join(wrong)


def test_the_classroom_doc_shows_the_numbers_the_tours_measure():
    text = classroom_doc.DOC.read_text(encoding="utf-8")
    measured = {preset: verdicts(preset) for preset in preset_names()}
    assert classroom_doc.current(text, measured), (
        "docs/classroom.md's tours section is stale: run python -m app.classroom_doc"
    )


def test_the_classroom_doc_marks_a_claim_that_fails_and_keeps_its_markers():
    claim = Claim("Nothing fails.", (0, 52), series="defaults_total", reduce="max", at_most=0.0)
    line = classroom_doc.observed(Verdict(claim, 2.0, None, False))
    assert line.startswith("Nothing fails. *Measured: 2; asserted: at most 0 (max of")
    assert line.endswith("**FAIL: the model no longer shows this.**")
    what_if = Claim("c", (1, 1), series="a", what_if={"k": 4.0}, than="higher", at_least=500.0)
    expected = (
        "852.4 with the change (0.4356 without); asserted: higher than without the change and "
        "at least 500"
    )
    assert expected in classroom_doc.observed(Verdict(what_if, 0.4356, 852.4, True))
    with pytest.raises(ValueError, match="must hold the lines"):
        classroom_doc.splice("no markers here", "x")
    marked = f"a\n{classroom_doc.BEGIN}\nold\n{classroom_doc.END}\nb"
    assert classroom_doc.splice(marked, "new") == "a\nnew\nb"


def test_every_tour_promises_something_the_tests_check():
    assert TOURED == list(preset_names())


def test_a_claim_never_holds_on_a_non_finite_number():
    claim = Claim("x", (0, 1), series="defaults_bank", at_most=0.0)
    assert holds(claim, 0.0, None) and not holds(claim, math.nan, None)
    same = Claim("y", (0, 1), series="a", what_if={"k": 1}, than="same", within=0.1)
    assert holds(same, 1.0, 1.05) and not holds(same, 1.0, 1.2) and not holds(same, 1.0, math.inf)
    assert not holds(Claim("z", (0, 1), series="a", what_if={"k": 1}, than="higher"), 2.0, 1.0)


@pytest.mark.parametrize(
    ("expect", "needle"),
    [
        ('claim = "c"\nweeks = [0, 4]\nat_most = 0', "give a series or an event"),
        ('claim = "c"\nseries = "a"\nevent = "default"\nweeks = [0, 4]\nat_most = 0', "not both"),
        ('claim = "c"\nseries = "a"\nweeks = [4, 0]\nat_most = 0', "weeks must be [first, last]"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]', "needs at_least, at_most or a what_if"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]\nreduce = "mean"\nat_most = 0', "reduce"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]\nthan = "higher"', "come together"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]\nwhat_if = {k = 1}\nthan = "same"', "within"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]\nat_most = "x"', "at_most must be a number"),
        ('claim = "c"\nseries = "a"\nweeks = [0, 4]\nat_most = 0\nhue = 1', "unknown keys"),
    ],
)
def test_bad_claims_are_refused_naming_the_field(expect, needle, tmp_path):
    path = tmp_path / "baseline.toml"
    path.write_text(
        'preset = "baseline"\ntitle = "t"\n[[steps]]\nweek = 0\ntitle = "s"\ntext = "x"\n'
        'watch = "w"\nsource = "src"\n[[steps.expect]]\n' + expect + "\n"
    )
    with pytest.raises(ValueError, match="steps\\[0\\]: expect\\[0\\]") as err:
        read_tour(path)
    assert needle in str(err.value)


@pytest.mark.parametrize("preset", preset_names())
def test_every_tour_has_a_lesson_and_six_to_ten_steps_with_questions_and_observations(preset):
    guide = tour(preset)
    steps = guide.steps
    assert guide.lesson, f"{preset}: no lesson"
    assert 6 <= len(steps) <= 10, f"{preset}: {len(steps)} steps"
    for step in steps:
        assert step.question.endswith("?"), f"{preset}, {step.title!r}: no question for the class"
        assert step.expect, f"{preset}, {step.title!r}: no observation the tests check"
