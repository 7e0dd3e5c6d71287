"""Check what a tour promises the class against the page's own world.

Each ``[[steps.expect]]`` of a tour (:class:`app.tours.Claim`) is read on the run the page
starts with — the tour's preset, seed 1, one world, the levers as the preset sets them
(:data:`PAGE`) — and, for a comparison, on the same world with the claim's levers changed (a
:class:`app.live.LiveRun` with those levers: the same random numbers, so only the change
differs). ``tests/test_tours_true.py`` checks every claim of every tour, so a tour that says what
the model no longer does fails the suite instead of misleading a class.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.live import LiveRun
from app.tours import Claim, Tour

#: The page's starting run (app.levers.RunSettings): seed and worlds.
PAGE = {"seed": 1, "n_worlds": 1}


@dataclass(frozen=True)
class Verdict:
    """A claim with the value the page's world gives (and the what-if's), and whether it holds."""

    claim: Claim
    value: float
    other: float | None
    holds: bool


def value_of(claim: Claim, run: LiveRun) -> float:
    """The claim's number on ``run`` (stepped at least to the claim's last week)."""
    first, last = claim.weeks
    if claim.event:
        log = run.event_frame()
        rows = log[(log["event"] == claim.event) & log["step"].between(first, last)]
        if claim.agent:
            rows = rows[rows["agent"] == claim.agent]
        if claim.family:
            rows = rows[rows["family"] == claim.family]
        return float(len(rows))
    values = run.series(claim.series)[first : last + 1, 0]
    reduce = {"first": lambda v: v[0], "last": lambda v: v[-1], "min": np.min, "max": np.max,
              "sum": np.sum}[claim.reduce]  # fmt: skip
    return float(reduce(values))


def holds(claim: Claim, value: float, other: float | None) -> bool:
    """Whether the claim holds; never for NaN.

    ``value`` is the tour's run's number, ``other`` the what-if's (None without one). The
    bounds apply to the run the claim is about: the what-if's when there is one.
    """
    if not np.isfinite(value) or (other is not None and not np.isfinite(other)):
        return False
    bounded = value if other is None else other
    if claim.at_least is not None and bounded < claim.at_least:
        return False
    if claim.at_most is not None and bounded > claim.at_most:
        return False
    if other is None:
        return True
    if claim.than == "same":
        return abs(other - value) <= float(claim.within or 0.0)
    return other > value if claim.than == "higher" else other < value


def run_to(run: LiveRun, week: int) -> LiveRun:
    """``run`` stepped until its last week recorded is ``week`` (or later)."""
    while len(run.history) - 1 < week:
        run.step()
    return run


def check(tour: Tour, n_cohorts: int = 1000) -> Iterator[Verdict]:
    """Every claim of ``tour`` on the page's world, in step order."""
    page = LiveRun(tour.preset, n_cohorts=n_cohorts, **PAGE)
    others: dict[tuple[tuple[str, Any], ...], LiveRun] = {}
    for step in tour.steps:
        for claim in step.expect:
            value = value_of(claim, run_to(page, claim.weeks[1]))
            other = None
            if claim.what_if:
                key = tuple(sorted(claim.what_if.items()))
                if key not in others:
                    others[key] = LiveRun(tour.preset, n_cohorts=n_cohorts, **PAGE, **claim.what_if)
                other = value_of(claim, run_to(others[key], claim.weeks[1]))
            yield Verdict(claim, value, other, holds(claim, value, other))


__all__ = ["PAGE", "Verdict", "check", "holds", "run_to", "value_of"]
