"""The circular contracts at their reported size, on their reported schedules (issue 17).

:mod:`abm.deals` caps each weekly commitment so that it fits inside the firms' calibrated 2025
revenue and outgoings. This module gives every payment edge its full-size weekly schedule, so
that the part above the cap (the *excess*) can be paid as new money on top of it.

Rule of the schedule (one payment edge of ``[circular_deals.*]`` in ``calibration.toml``):

- **Start.** The first date in the size's period text, relative to the model start (the day
  after ``meta.calibration_date`` 2025-12-31, i.e. 2026-01-01), in weeks of
  ``meta.weeks_per_year``: ``"from 2027"`` starts at week 52, ``"from 2H 2026"`` at week 26
  (a half-year is half a year), ``"from 2025-10"`` at week −13 (a month is 1/12 of a year),
  ``"FY2026"`` / ``"2026"`` at week 0, ``"2025-2026"`` at week −52.
- **Term.** :func:`abm.deals.contract_weeks` (the years in the period text, a year span, one year
  for a size a year, else ``[assumptions.deals].contract_years``).
- **Payments.** Even over the term: ``total / term`` a week from the start to the start plus the
  term. A contract that started before the model start has paid the weeks before week 0 already
  (they are in the 2025 accounts); only the weeks from week 0 on are in the model.
- **Bought elsewhere.** An edge with ``bought_by = "<firm>"`` names the modelled firm that
  actually makes the purchase (xAI's Colossus-2 GPUs, E19, are bought by the SPV
  ``xai_colossus2``, whose capex is in :mod:`abm.economy`); while that firm is modelled with a
  positive 2026 capex plan the edge's purchases are already in the model, so its schedule is
  capped at the calibrated flow (no excess): no double counting.

The excess of pair (i, j) at week t is ``max(S_ij(t) − c_ij, 0)`` with ``S_ij(t)`` the sum of the
schedules of the edges from i to j and ``c_ij`` the capped weekly commitment of
:class:`abm.deals.CircularDeals` (USD bn a week).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from abm.calibration import Calibration


@dataclass(frozen=True)
class Schedule:
    """One edge's full-size payments: ``per_week`` USD bn a week over weeks [start, end)."""

    key: str
    payer: int
    supplier: int
    per_week: float
    start: float  # model week of the first payment (negative: before the model start)
    end: float  # model week after the last payment
    bought_elsewhere: bool  # purchases already modelled in another firm's capex

    def at(self, week: int) -> float:
        """USD bn due in model week ``week`` under the reported schedule."""
        return self.per_week if self.start <= week < self.end else 0.0


def model_start(cal: Calibration) -> dt.date:
    """The model's first day: the day after ``meta.calibration_date``."""
    return dt.date.fromisoformat(str(cal.data["meta"]["calibration_date"])) + dt.timedelta(days=1)


def start_week(period: str, start: dt.date, weeks_per_year: int) -> float:
    """Model week of the first date in ``period`` (0 when the text names no year).

    ``"1H"``/``"2H"`` before a year moves it by half a year, ``"-MM"`` after it by months.
    """
    found = re.search(r"(?:([12])H\s*)?(?:FY)?(20\d\d)(?:-(0[1-9]|1[0-2])\b)?", period)
    if not found:
        return 0.0
    half, year, month = found.groups()
    years = int(year) - start.year - (start.month - 1) / 12.0
    if half == "2":
        years += 0.5
    if month:
        years += (int(month) - 1) / 12.0
    return years * weeks_per_year


def load_schedules(cal: Calibration, edges: list, firms: list[str]) -> list[Schedule]:
    """The full-size schedule of each payment edge of :func:`abm.deals.load_edges`."""
    begin, wpy = model_start(cal), cal.weeks_per_year
    out: list[Schedule] = []
    for e in edges:
        node = cal.node(f"circular_deals.{e.key}")
        size = cal.leaf(f"circular_deals.{e.key}.size")
        first = start_week(str(size.period), begin, wpy)
        buyer = node.get("bought_by")
        elsewhere = bool(
            buyer in firms and float(cal.model_value(f"firms.{buyer}.capex_plan_2026")) > 0.0
        )
        out.append(
            Schedule(
                e.key, e.payer, e.supplier, e.total / e.weeks, first, first + e.weeks, elsewhere
            )
        )
    return out


def scheduled(schedules: list[Schedule], week: int, n_firms: int) -> np.ndarray:
    """(F, F) USD bn due in ``week`` under the reported schedules, payer i to supplier j."""
    due = np.zeros((n_firms, n_firms))
    for s in schedules:
        due[s.payer, s.supplier] += s.at(week)
    return due


def excess_table(schedules: list[Schedule], weekly: np.ndarray) -> np.ndarray:
    """(T + 1, F, F) :func:`excess` for weeks 0 … T, T the week after the last payment.

    Row T (all zeros) stands for every later week.
    """
    last = max((int(np.ceil(s.end)) for s in schedules), default=0)
    return np.stack([excess(schedules, week, weekly) for week in range(max(last, 0) + 1)])


def excess(schedules: list[Schedule], week: int, weekly: np.ndarray) -> np.ndarray:
    """(F, F) USD bn due in ``week`` beyond the capped commitments ``weekly`` (new money).

    Pairs with an edge bought elsewhere (:attr:`Schedule.bought_elsewhere`) have none.
    """
    out = np.maximum(scheduled(schedules, week, weekly.shape[0]) - weekly, 0.0)
    for s in schedules:
        if s.bought_elsewhere:
            out[s.payer, s.supplier] = 0.0
    return out
