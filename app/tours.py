"""Classroom mode: a guided tour for every scenario preset, read from ``app/tours/<preset>.toml``.

A tour is a short sequence of narrative steps, each shown once the run reaches its week::

    preset = "crypto_ai_crash"          # the preset the tour belongs to (the file's stem)
    title = "..."                       # the tour's title
    [[steps]]
    week = 0                            # shown from this week on (0 = before the first step)
    title = "The powder keg"
    text = "What happens and why, drawn from the source articles."
    watch = "What to watch on the charts now."
    source = "seed 001 (Allen)"         # where the step's claim comes from

The narrative paraphrases the seed articles the presets cite (their ``source`` lines) and the
mechanisms the model implements; the numbers on the page come from the run, never from the text.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: Where the tours live.
TOUR_DIR = Path(__file__).resolve().parent / "tours"
STEP_KEYS = ("week", "title", "text", "watch", "source")


@dataclass(frozen=True)
class TourStep:
    """One narrative step of a tour (see the module docstring)."""

    week: int
    title: str
    text: str
    watch: str
    source: str


@dataclass(frozen=True)
class Tour:
    """The guided tour of one preset: its title and its steps in week order."""

    preset: str
    title: str
    steps: tuple[TourStep, ...]

    def current(self, week: int) -> int:
        """Index of the step shown at ``week``: the last one whose week has been reached."""
        shown = [i for i, s in enumerate(self.steps) if s.week <= week]
        return shown[-1] if shown else 0

    def next_week(self, week: int) -> int | None:
        """The week of the next step after ``week``, or None after the last."""
        later = [s.week for s in self.steps if s.week > week]
        return later[0] if later else None


def _check_step(entry: object, where: str) -> TourStep:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a table with {', '.join(STEP_KEYS)}")
    unknown = sorted(set(entry) - set(STEP_KEYS))
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
    return TourStep(
        week=week,
        title=entry["title"].strip(),
        text=" ".join(entry["text"].split()),
        watch=" ".join(entry["watch"].split()),
        source=entry["source"].strip(),
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
    raw = data.get("steps")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: needs at least one [[steps]] table")
    steps = tuple(_check_step(s, f"{where}: steps[{i}]") for i, s in enumerate(raw))
    weeks = [s.week for s in steps]
    if weeks != sorted(weeks) or weeks[0] != 0:
        raise ValueError(f"{where}: steps must start at week 0 and be in week order; got {weeks}")
    return Tour(preset=path.stem, title=data["title"].strip(), steps=steps)


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


__all__ = ["TOUR_DIR", "Tour", "TourStep", "read_tour", "tour"]
