"""Classroom mode: a guided tour for every scenario preset, read from ``app/tours/<preset>.toml``.

A tour is a short sequence of narrative steps, each shown once the run reaches its week::

    preset = "crypto_ai_crash"          # the preset the tour belongs to (the file's stem)
    title = "..."                       # the tour's title
    lesson = "..."                      # optional: what the tour teaches, in a sentence or two
    [[steps]]
    week = 0                            # shown from this week on (0 = before the first step)
    title = "The powder keg"
    text = "What happens and why, drawn from the source articles."
    watch = "What to watch on the charts now."
    source = "seed 001 (Allen)"         # where the step's claim comes from
    question = "Why ...?"               # optional: a question for the class

    [[steps.expect]]                    # optional: what the class will see, checked by the tests
    claim = "No bank fails in the first year."
    series = "defaults_bank"            # a series of the page (abm.reporting.ensemble_columns)
    weeks = [0, 52]                     # the weeks read, both ends included
    reduce = "max"                      # first, last, min, max or sum over those weeks
    at_most = 0                         # and/or at_least

A claim may instead count events of the log (``event = "default"``, optionally ``agent =
"xai_colossus2"`` or ``family = "bank"``: how many in the weeks), or compare the tour's run with
the same world under a change of levers (``what_if = { hedge_fund_leverage_cap = 4 }``, lever
keys of the sidebar, and ``than = "higher"``, ``"lower"`` or ``"same"`` with ``within = 0.05``:
the what-if's value against the tour's; ``at_least`` and ``at_most`` then bound the what-if's
value). Claims are read on the page's own world (the preset, seed 1, one world, the levers as the
preset sets them) and ``tests/test_tours_true.py`` checks every one (:mod:`app.tour_claims`), so
a tour never says what the model no longer does.

The narrative paraphrases the seed articles the presets cite (their ``source`` lines) and the
mechanisms the model implements; the numbers on the page come from the run, never from the text.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

#: Where the tours live.
TOUR_DIR = Path(__file__).resolve().parent / "tours"
STEP_KEYS = ("week", "title", "text", "watch", "source")
OPTIONAL_KEYS = ("question", "expect")
CLAIM_KEYS = ("claim", "series", "event", "agent", "family", "weeks", "reduce", "at_least",
              "at_most", "what_if", "than", "within")  # fmt: skip
REDUCTIONS = ("first", "last", "min", "max", "sum")


@dataclass(frozen=True)
class Claim:
    """One observation a tour step promises, checked on the page's world (module docstring).

    Attributes:
        claim: the sentence the class reads.
        weeks: (first, last) weeks read, both included.
        series: a series of the page, or "" when the claim counts events.
        event: an event kind of the log (``abm.events``) to count, or "".
        agent: the agent whose events are counted ("" for any).
        family: the family whose events are counted ("fund", "bank", ...; "" for any).
        reduce: how the series' weeks become one number (``REDUCTIONS``).
        at_least: the least value allowed (None: no bound).
        at_most: the most value allowed (None: no bound).
        what_if: lever values of a second run of the same world (empty: none).
        than: "higher", "lower" or "same" (within ``within``): the second run's value against
            the tour's.
        within: for ``than = "same"``, the largest difference allowed (the series' unit).
    """

    claim: str
    weeks: tuple[int, int]
    series: str = ""
    event: str = ""
    agent: str = ""
    family: str = ""
    reduce: str = "last"
    at_least: float | None = None
    at_most: float | None = None
    what_if: dict[str, Any] = field(default_factory=dict)
    than: str = ""
    within: float | None = None


@dataclass(frozen=True)
class TourStep:
    """One narrative step of a tour (see the module docstring)."""

    week: int
    title: str
    text: str
    watch: str
    source: str
    question: str = ""
    expect: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Tour:
    """The guided tour of one preset: its title, its steps in week order and its lesson."""

    preset: str
    title: str
    steps: tuple[TourStep, ...]
    lesson: str = ""

    def current(self, week: int) -> int:
        """Index of the step shown at ``week``: the last one whose week has been reached."""
        shown = [i for i, s in enumerate(self.steps) if s.week <= week]
        return shown[-1] if shown else 0

    def next_week(self, week: int) -> int | None:
        """The week of the next step after ``week``, or None after the last."""
        later = [s.week for s in self.steps if s.week > week]
        return later[0] if later else None


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number; got {value!r}")
    return float(value)


def _check_claim(entry: object, where: str) -> Claim:
    """One ``[[steps.expect]]`` table, checked (the message names the field)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("claim"), str):
        raise ValueError(f"{where}: must be a table with a claim (a sentence)")
    unknown = sorted(set(entry) - set(CLAIM_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {', '.join(CLAIM_KEYS)}")
    if bool(entry.get("series")) == bool(entry.get("event")):
        raise ValueError(f"{where}: give a series or an event to count, not both")
    weeks = entry.get("weeks")
    if (
        not isinstance(weeks, list)
        or len(weeks) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) for w in weeks)
        or not 0 <= weeks[0] <= weeks[1] <= 5200
    ):
        raise ValueError(f"{where}: weeks must be [first, last], 0 <= first <= last <= 5200")
    reduce = entry.get("reduce", "sum" if entry.get("event") else "last")
    if reduce not in REDUCTIONS:
        raise ValueError(f"{where}: reduce must be one of {', '.join(REDUCTIONS)}")
    what_if, than = entry.get("what_if", {}), entry.get("than", "")
    if not isinstance(what_if, dict) or bool(what_if) != bool(than):
        raise ValueError(f"{where}: what_if (a table of levers) and than come together")
    if than not in ("", "higher", "lower", "same"):
        raise ValueError(f"{where}: than must be 'higher', 'lower' or 'same'; got {than!r}")
    within = _number(entry.get("within"), f"{where}: within")
    if (than == "same") != (within is not None):
        raise ValueError(f"{where}: within (a difference) goes with than = 'same', and only then")
    low = _number(entry.get("at_least"), f"{where}: at_least")
    high = _number(entry.get("at_most"), f"{where}: at_most")
    if not what_if and low is None and high is None:
        raise ValueError(f"{where}: needs at_least, at_most or a what_if comparison")
    return Claim(
        claim=" ".join(entry["claim"].split()),
        weeks=(weeks[0], weeks[1]),
        series=str(entry.get("series", "")),
        event=str(entry.get("event", "")),
        agent=str(entry.get("agent", "")),
        family=str(entry.get("family", "")),
        reduce=reduce,
        at_least=low,
        at_most=high,
        what_if=dict(what_if),
        than=than,
        within=within,
    )


def _check_step(entry: object, where: str) -> TourStep:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a table with {', '.join(STEP_KEYS)}")
    unknown = sorted(set(entry) - set(STEP_KEYS) - set(OPTIONAL_KEYS))
    missing = [k for k in STEP_KEYS if k not in entry]
    if unknown or missing:
        raise ValueError(
            f"{where}: keys must be {', '.join(STEP_KEYS)}; unknown {unknown}, missing {missing}"
        )
    week = entry["week"]
    if isinstance(week, bool) or not isinstance(week, int) or not 0 <= week <= 5200:
        raise ValueError(f"{where}: week must be an integer from 0 to 5200; got {week!r}")
    for key in ("title", "text", "watch", "source"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ValueError(f"{where}: {key} must be a non-empty string")
    question = entry.get("question", "")
    if not isinstance(question, str):
        raise ValueError(f"{where}: question must be a string")
    expect = entry.get("expect", [])
    if not isinstance(expect, list):
        raise ValueError(f"{where}: expect must be a list of [[steps.expect]] tables")
    return TourStep(
        week=week,
        title=entry["title"].strip(),
        text=" ".join(entry["text"].split()),
        watch=" ".join(entry["watch"].split()),
        source=entry["source"].strip(),
        question=" ".join(question.split()),
        expect=tuple(_check_claim(c, f"{where}: expect[{i}]") for i, c in enumerate(expect)),
    )


def read_tour(path: Path) -> Tour:
    """Read and check one tour file.

    Raises:
        ValueError: a missing or malformed key, steps out of week order, or a preset that is
            not the file's stem; the message names the file and the field.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    where = f"tour {path.name}"
    if data.get("preset") != path.stem:
        raise ValueError(f"{where}: preset must be the file's stem {path.stem!r}")
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise ValueError(f"{where}: title must be a non-empty string")
    lesson = data.get("lesson", "")
    if not isinstance(lesson, str):
        raise ValueError(f"{where}: lesson must be a string")
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: needs at least one [[steps]] table")
    steps = tuple(_check_step(s, f"{where}: steps[{i}]") for i, s in enumerate(raw))
    weeks = [s.week for s in steps]
    if weeks != sorted(weeks) or weeks[0] != 0:
        raise ValueError(f"{where}: steps must start at week 0 and be in week order; got {weeks}")
    return Tour(
        preset=path.stem, title=data["title"].strip(), steps=steps, lesson=" ".join(lesson.split())
    )


@cache
def tour(preset: str) -> Tour:
    """The tour of ``preset``.

    Raises:
        KeyError: the preset has no tour; the message lists the tours.
    """
    path = TOUR_DIR / f"{preset}.toml"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in TOUR_DIR.glob("*.toml")))
        raise KeyError(f"no tour for preset {preset!r}; tours: {have}")
    return read_tour(path)


__all__ = ["TOUR_DIR", "Claim", "Tour", "TourStep", "read_tour", "tour"]
