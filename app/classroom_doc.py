"""The tours' section of ``docs/classroom.md``, written from the tours and the numbers they promise.

For every preset's tour (``app/tours/*.toml``) the section gives the lesson, each step's week,
title and question for the class, the observations the step promises with the value the page's
world gives today (:func:`app.tour_claims.check`: the preset, seed 1, one world, 1,000 retail
cohorts, NumPy), and exercises: the steps' "what if" claims as "set this lever, press Reset,
compare", with both runs' values. Nothing in the section is typed by hand, so it cannot drift from
the model: after a model change, ``python -m app.classroom_doc`` rewrites it (and says which
claims no longer hold: they stay in the text, marked FAIL, until the tour is corrected), and
``python -m app.classroom_doc --check`` exits 1 when the section is no longer what the model
gives. ``tests/test_tours_true.py`` runs the same check.

The section sits between :data:`BEGIN` and :data:`END` in ``docs/classroom.md``; the text around
it (how to start the page, a lesson plan) is written by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.levers import available
from app.tour_claims import PAGE, Verdict, check
from app.tours import Claim, Tour, tour
from experiments.files import git_commit
from experiments.scenarios import preset_names

#: The document the section lives in.
DOC = Path(__file__).resolve().parent.parent / "docs" / "classroom.md"
#: Retail cohorts of the page's world (app.live.LiveRun's default, as the tests run it).
N_COHORTS = 1000
BEGIN = "<!-- BEGIN tours: written by `python -m app.classroom_doc`; do not edit by hand -->"
END = "<!-- END tours -->"
#: The line of the section that names the commit and the time (left out when comparing).
PROVENANCE = "- made by"


def number(value: float) -> str:
    """A claim's value as the doc shows it: 4 significant digits, thousands separated."""
    if value != value:  # NaN
        return "NaN"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def bound(claim: Claim) -> str:
    """What the tests assert of a claim's number, in words."""
    parts = []
    if claim.than == "same":
        parts.append(f"the same as without the change within {number(claim.within or 0.0)}")
    elif claim.than:
        parts.append(f"{claim.than} than without the change")
    if claim.at_least is not None:
        parts.append(f"at least {number(claim.at_least)}")
    if claim.at_most is not None:
        parts.append(f"at most {number(claim.at_most)}")
    return " and ".join(parts)


def reading(claim: Claim) -> str:
    """What number a claim reads, in words (the series or the events, the weeks, the reduction)."""
    first, last = claim.weeks
    weeks = f"week {first}" if first == last else f"weeks {first}-{last}"
    if claim.event:
        who = claim.agent or (f"family {claim.family}" if claim.family else "any agent")
        return f"`{claim.event}` events of {who}, {weeks}"
    how = "" if first == last else f"{claim.reduce} of "
    return f"{how}`{claim.series}`, {weeks}"


def observed(verdict: Verdict) -> str:
    """One claim as a line of the doc: the sentence, the measured value, what is asserted."""
    claim = verdict.claim
    if verdict.other is None:
        value = number(verdict.value)
    else:
        value = f"{number(verdict.other)} with the change ({number(verdict.value)} without)"
    status = "" if verdict.holds else " **FAIL: the model no longer shows this.**"
    return (
        f"{claim.claim} *Measured: {value}; asserted: {bound(claim)} ({reading(claim)}).*{status}"
    )


def lever_words(what_if: dict[str, object]) -> str:
    """``{"spv_recourse": 2.0}`` as the sidebar names it: *SPV sponsor recourse (...)* = 2."""
    labels = {lv.key: lv.label.split(" (")[0] for lv in available()}
    return ", ".join(
        f"*{labels.get(key, key)}* to `{value:g}`"
        if isinstance(value, float)
        else f"*{labels.get(key, key)}* to `{value}`"
        for key, value in what_if.items()
    )


def section(guide: Tour, verdicts: Sequence[Verdict]) -> str:
    """One tour's part of the doc: lesson, steps with questions and observations, exercises.

    A claim about the same world with other levers is an exercise: the step shows it as "Exercise
    N", and the section ends with the list of exercises (one per change of levers, the step's
    week where it first comes up).
    """
    by_claim = {id(v.claim): v for v in verdicts}
    changes: dict[str, tuple[int, str, str]] = {}  # change → (number, week, step title)
    lines = [f"### {guide.title} (`{guide.preset}`)", ""]
    if guide.lesson:
        lines += [f"**Lesson.** {guide.lesson}", ""]
    for step in guide.steps:
        lines += [f"**Week {step.week} — {step.title}.** *{step.question}*", ""]
        for claim in step.expect:
            line = observed(by_claim[id(claim)])
            if claim.what_if:
                change = lever_words(claim.what_if)
                if change not in changes:
                    changes[change] = (len(changes) + 1, str(step.week), step.title)
                line = f"*Exercise {changes[change][0]}* ({change}): {line}"
            lines.append(f"- {line}")
        lines.append("")
    if changes:
        lines += [
            "**Exercises.** Change one lever in the sidebar, press Reset, replay the same world "
            "and compare with the run before; the steps above say what to expect.",
            "",
        ]
        for change, (index, week, title) in changes.items():
            lines.append(f"{index}. Set {change} (from week {week}, *{title}*).")
        lines.append("")
    return "\n".join(lines)


def provenance(when: datetime) -> str:
    """How the section was made: command, the page's world, commit and time."""
    git = git_commit()
    commit = (git.get("commit") or "unknown") + " (with uncommitted changes)" * bool(
        git.get("dirty")
    )
    return (
        f"{PROVENANCE} `python -m app.classroom_doc` on {when:%Y-%m-%d %H:%M} UTC, "
        f"git commit {commit}"
    )


def block(verdicts: dict[str, list[Verdict]], when: datetime) -> str:
    """The whole generated section, markers included."""
    failing = sum(not v.holds for vs in verdicts.values() for v in vs)
    total = sum(len(vs) for vs in verdicts.values())
    head = [
        BEGIN,
        "",
        "## The tours, step by step",
        "",
        f"Every observation below is a claim of the tour (`[[steps.expect]]` in "
        f"`app/tours/<preset>.toml`) with the number the page's own world gives: the preset, "
        f"seed {PAGE['seed']}, {PAGE['n_worlds']} world, {N_COHORTS:,} retail cohorts, NumPy, "
        f"the levers as the preset sets them — the run the page starts with. "
        f"`tests/test_tours_true.py` asserts every one; {total - failing} of {total} hold.",
        "",
        provenance(when),
        "- the values: `spread_change_bp_*` in basis points; `*_usd_bn` in USD bn; "
        "`ai_equity_index`, `crypto_price`, `peg_*` and house prices as a share of their start "
        "(a peg in dollars a token); CET1 ratios, unemployment, GDP growth and rates as "
        "fractions (0.134 = 13.4%); counts of agents or events as numbers. A household *loss* "
        "below zero is a gain.",
        "",
    ]
    body = [section(tour(preset), vs) for preset, vs in verdicts.items()]
    return "\n".join(head) + "\n" + "\n".join(body) + END


def measure(presets: Iterable[str], n_cohorts: int = N_COHORTS) -> dict[str, list[Verdict]]:
    """Every claim of every tour of ``presets`` on the page's world (a few seconds a tour)."""
    return {preset: list(check(tour(preset), n_cohorts=n_cohorts)) for preset in presets}


def splice(text: str, new_block: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``new_block``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/classroom.md must hold the lines {BEGIN!r} and then {END!r}")
    return text[:start] + new_block + text[end + len(END) :]


def without_provenance(text: str) -> str:
    """``text`` without the line naming the commit and time (what a check compares)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(PROVENANCE))


def current(text: str, verdicts: dict[str, list[Verdict]]) -> bool:
    """Whether the doc's section is what ``verdicts`` give (the provenance line aside)."""
    fresh = splice(text, block(verdicts, datetime.now(UTC)))
    return without_provenance(fresh) == without_provenance(text)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.classroom_doc [--check]``: rewrite (or check) the doc's tours section."""
    parser = argparse.ArgumentParser(prog="python -m app.classroom_doc", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the section is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    verdicts = measure(preset_names())
    failing = [v.claim.claim for vs in verdicts.values() for v in vs if not v.holds]
    if args.check:
        if current(text, verdicts):
            print(f"{DOC.name}: the tours section is current")
            return 0
        print(f"{DOC.name}: the tours section is stale; run python -m app.classroom_doc")
        return 1
    DOC.write_text(splice(text, block(verdicts, datetime.now(UTC))), encoding="utf-8")
    print(f"wrote {DOC}; {len(failing)} claim(s) no longer hold")
    for claim in failing:
        print(f"  FAIL: {claim}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
