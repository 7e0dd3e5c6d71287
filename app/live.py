"""The model the app drives: a :class:`~abm.model.Powderkeg` built from a preset and the levers.

SolaraViz re-creates its model from flat keyword arguments on Reset (``model_params``), so
:class:`LiveRun` takes the scenario name, seed, number of worlds and every lever of
:mod:`app.levers` as keywords, and builds the model from the preset as ``powderkeg run`` does
(:func:`experiments.build.model_arguments`: the preset's policy; ``abm.shocks.attach`` for its
shocks), with the levers applied on top. Step by step it keeps what the page shows: every series
for every world (``abm.reporting.ensemble_columns``), the event log (``abm.events.EventLog``) and
notes of the shocks fired from the page. The same seed and levers always give the same run, so
Reset replays the same worlds.

Shocks "now" (:meth:`LiveRun.fire`) reuse a preset's shock schedule, moved so that its first shock
hits the coming week, and run that week at once.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abm.calibration import load_calibration
from abm.events import EventLog
from abm.model import Powderkeg
from abm.reporting import ensemble_columns
from abm.shocks import KINDS, Shock, ShockSchedule, attach
from app.levers import available, calibration_with, policy_for
from experiments.build import model_arguments
from experiments.scenarios import load_preset, policy_from
from kernels.backend import to_numpy

#: Events that stop "run to the next event": shocks, failures, runs, depegs, buffer breaches,
#: rescues and forced sales (financing of firms and ratings are routine and do not).
NOTABLE_EVENTS = (
    "default", "fire_sale", "bank_run", "stablecoin_run", "depeg", "buffer_breach", "bailout",
    "lolr_loan", "shock",
)  # fmt: skip
#: Notable kinds that count once per agent and world: a run or a depeg goes on week after week.
ONCE_PER_AGENT = ("stablecoin_run", "depeg")
#: Causes of fire sales that are routine: a stablecoin selling reserves to pay redemptions.
ROUTINE_CAUSES = ("liquidity",)


@dataclass(frozen=True)
class ShockButton:
    """A button that fires a preset's shock schedule now.

    Attributes:
        key: identifier (used by tests and the page).
        label: the button's text.
        preset: the preset whose shocks it fires, moved to start in the coming week.
    """

    key: str
    label: str
    preset: str


#: The shock buttons of the page.
SHOCK_BUTTONS: tuple[ShockButton, ...] = (
    ShockButton("revenue", "AI revenue disappointment now", "ai_revenue_disappointment"),
    ShockButton("crypto", "Crypto-AI crash now", "crypto_ai_crash"),
    ShockButton("efficiency", "Efficiency shock (stranded data centres) now", "efficiency_shock"),
    ShockButton("margin", "Hedge-fund margin squeeze now", "hedge_fund_deleveraging"),
)


def scale_shock(shock: Shock, factor: float) -> Shock:
    """``shock`` with its size (and per-world range) multiplied by ``factor``.

    Sizes stay inside the kind's allowed range (:data:`abm.shocks.KINDS`): a proportional fall
    is held above −100% (at −99%).
    """
    lo, hi, closed = KINDS[shock.kind]
    low = lo if closed else max(lo, -0.99)

    def clip(value: float) -> float:
        return float(min(max(value * factor, low), hi))

    span = None if shock.range is None else (clip(shock.range[0]), clip(shock.range[1]))
    return dataclasses.replace(shock, size=clip(shock.size), range=span)


def moved(shocks: tuple[Shock, ...], first_week: int) -> tuple[Shock, ...]:
    """``shocks`` shifted in time so that the earliest one falls on ``first_week``."""
    if not shocks:
        return ()
    shift = first_week - min(s.week for s in shocks)
    return tuple(dataclasses.replace(s, week=s.week + shift) for s in shocks)


class LiveRun(Powderkeg):
    """A preset run with the app's levers, recording series, events and shocks as it steps.

    Args:
        preset: a scenario preset name (``powderkeg scenarios``).
        seed: world w draws from seed + w.
        n_worlds: E, worlds run together (fan charts above 1).
        shock_scale: multiplies every preset shock and every shock fired from the page.
        backend: array backend; NumPy by default (the page steps one week at a time, where a
            GPU does not pay off).
        n_cohorts: retail cohorts.
        scenario: Mesa's own ``Scenario`` object, which SolaraViz's Reset passes to every
            model; unused here (the run's parameters are these keywords, the preset is
            ``preset``).
        **levers: values of the levers of :mod:`app.levers` (keys of ``available()``).

    Raises:
        ValueError: an unknown lever or a bad value (from ``Policy``).
        experiments.usage.UsageError: an unknown scenario.
    """

    def __init__(
        self,
        preset: str = "baseline",
        seed: int = 1,
        n_worlds: int = 1,
        shock_scale: float = 1.0,
        backend: str = "numpy",
        n_cohorts: int = 1000,
        scenario: Any = None,
        **levers: Any,
    ) -> None:
        known = {lv.key for lv in available()} - {"shock_scale"}
        unknown = sorted(set(levers) - known)
        if unknown:
            raise ValueError(f"unknown lever(s) {', '.join(unknown)}; levers: {', '.join(known)}")
        if not 0.0 <= float(shock_scale) <= 10.0:
            raise ValueError(f"shock_scale must lie in [0, 10]; got {shock_scale}")
        self.definition = load_preset(preset)
        self.levers = dict(levers)
        self.shock_scale = float(shock_scale)
        policy = policy_for(policy_from(self.definition.policy), levers)
        calibration = calibration_with(load_calibration(), levers)
        super().__init__(
            **model_arguments(
                self.definition,
                n_worlds=int(n_worlds),
                seed=int(seed),
                backend=backend,
                n_cohorts=n_cohorts,
                calibration=calibration,
                policy=policy,
            )
        )
        self.preset = preset
        self._lock = threading.RLock()
        self.schedules: list[ShockSchedule] = []  # keeps every schedule alive (weak events)
        self._preset_shocks: ShockSchedule | None = None
        self._preset_logged = 0  # how many of the preset's shocks are in the event log
        if self.definition.shocks:
            self._preset_shocks = self._attach(
                tuple(scale_shock(s, self.shock_scale) for s in self.definition.shocks)
            )
        self.history: list[dict[str, np.ndarray]] = [ensemble_columns(self)]
        self.events = EventLog(self)
        self.notes: list[dict[str, Any]] = []
        self.equity0 = to_numpy(self.start_equity)
        self._frame_cache: tuple[int, int, pd.DataFrame] | None = None

    def _attach(self, shocks: tuple[Shock, ...]) -> ShockSchedule:
        schedule = attach(self, shocks)
        self.schedules.append(schedule)
        return schedule

    @property
    def lock(self) -> threading.RLock:
        """The lock a step holds.

        A playing loop holds it through its redraws too, so two loops (Play and Play tour)
        never step or draw the page at the same time.
        """
        return self._lock

    def step(self) -> None:
        """One week of the model, then record its series and events (one step at a time)."""
        with self._lock:
            super().step()
            self.history.append(ensemble_columns(self))
            self.events.update(self)
            self._log_preset_shocks()

    def _log_preset_shocks(self) -> None:
        """A note in the event log for each week in which the preset's own shocks struck."""
        schedule = self._preset_shocks
        if schedule is None or len(schedule.applied) == self._preset_logged:
            return
        weeks = sorted({week for week, _ in schedule.applied[self._preset_logged :]})
        self._preset_logged = len(schedule.applied)
        for week in weeks:
            struck = [shock for shock in schedule.shocks if shock.week == week]
            self._note_shock(
                week, self.preset, "the preset's shock",
                f"The preset's shock struck in week {week}", struck,
            )  # fmt: skip

    def _note_shock(
        self, week: int, kind: str, cause: str, opening: str, shocks: Sequence[Shock]
    ) -> None:
        """A "shock" note in the event log: ``opening``, then what each shock did."""
        self.notes.append(
            {
                "step": week,
                "world": -1,
                "agent": "",
                "label": "",
                "family": "shock",
                "kind": kind,
                "event": "shock",
                "amount_usd_bn": math.nan,
                "cause": cause,
                "message": f"{opening}: " + "; ".join(_describe(s) for s in shocks),
            }
        )

    # -- what the page shows ---------------------------------------------------------------

    def series(self, column: str) -> np.ndarray:
        """(T + 1, E) values of one series from week 0 to now."""
        return np.stack([np.asarray(h[column], dtype=float) for h in self.history])

    def columns(self, prefix: str) -> list[str]:
        """Series names that start with ``prefix`` (e.g. ``"spread_change_bp_"``)."""
        return [c for c in self.history[0] if c.startswith(prefix)]

    def event_frame(self) -> pd.DataFrame:
        """Events so far with the notes of shocks fired, newest first (cached until it grows)."""
        key = (len(self.events), len(self.notes))
        if self._frame_cache is not None and self._frame_cache[:2] == key:
            return self._frame_cache[2]
        frame = self.events.frame()
        if len(frame):
            frame = frame.assign(message=[self._with_market(r) for r in frame.itertuples()])
        if self.notes:
            frame = pd.concat([frame, pd.DataFrame(self.notes)], ignore_index=True)
        frame = frame.sort_values(["step", "world"], ascending=[False, True], kind="stable")
        frame = frame.reset_index(drop=True)
        self._frame_cache = (*key, frame)
        return frame

    def _with_market(self, row: Any) -> str:
        """An event's message with that week's move of the AI equity index, for fire sales."""
        if row.event != "fire_sale" or row.step < 1 or row.step >= len(self.history):
            return row.message
        now = float(self.history[row.step]["ai_equity_index"][row.world])
        before = float(self.history[row.step - 1]["ai_equity_index"][row.world])
        change = now / before - 1.0 if before > 0 else math.nan
        return f"{row.message[:-1]}; AI equity {change:+.1%} that week."

    # -- controls ---------------------------------------------------------------------------

    def fire(self, key: str) -> ShockSchedule:
        """Fire the shock button ``key`` (:data:`SHOCK_BUTTONS`): its preset's shocks start now.

        The shocks are scaled by ``shock_scale``, scheduled from the coming week, logged as a
        note, and that week is run at once, so the page shows the hit.

        Raises:
            KeyError: an unknown button; the message lists them.
        """
        button = next((b for b in SHOCK_BUTTONS if b.key == key), None)
        if button is None:
            raise KeyError(f"no shock button {key!r}; buttons: {[b.key for b in SHOCK_BUTTONS]}")
        with self._lock:
            week = int(self.steps) + 1
            shocks = tuple(
                scale_shock(s, self.shock_scale)
                for s in moved(load_preset(button.preset).shocks, week)
            )
            schedule = self._attach(shocks)
            self._note_shock(
                week, button.preset, "fired from the page",
                f"You fired “{button.label.removesuffix(' now')}” in week {week}", shocks,
            )  # fmt: skip
            self.step()
        return schedule

    def run_until(self, stop: Callable[[LiveRun], bool], max_weeks: int) -> int:
        """Step until ``stop(self)`` is true after a step, or ``max_weeks`` weeks; weeks run."""
        for week in range(1, max_weeks + 1):
            self.step()
            if stop(self):
                return week
        return max_weeks

    def notable_events(self) -> int:
        """How many notable events (:data:`NOTABLE_EVENTS`) have been logged so far.

        A stablecoin run or a depeg counts once per coin and world (:data:`ONCE_PER_AGENT`), and
        a fire sale only when it is forced by deleveraging or a default, not a stablecoin's
        routine sale of reserves (:data:`ROUTINE_CAUSES`): "Next event" stops on what is new.
        """
        frame = self.event_frame()
        if not len(frame):
            return 0
        rows = frame[frame["event"].isin(NOTABLE_EVENTS)]
        routine = (rows["event"] == "fire_sale") & rows["cause"].isin(ROUTINE_CAUSES)
        rows = rows[~routine]
        once = rows["event"].isin(ONCE_PER_AGENT)
        firsts = rows[once].drop_duplicates(["event", "agent", "world"])
        return int((~once).sum() + len(firsts))

    def defaults_so_far(self) -> int:
        """Failed agents in the world with the most failures."""
        return int(np.max(self.history[-1]["defaults_total"]))

    def distress(self) -> np.ndarray:
        """(E, N) distress of every agent in [0, 1]: its equity loss since the start; 1 if failed.

        The loss is ``1 − equity / equity₀`` for agents that started with positive equity, 0
        for the others (funds whose shares are their investors' stake carry almost none).
        """
        snap = self.snapshot
        start = self.equity0
        positive = start > 1e-9
        loss = np.where(positive, 1.0 - snap["equity"] / np.where(positive, start, 1.0), 0.0)
        return np.where(snap["defaulted"], 1.0, np.clip(loss, 0.0, 1.0))


def _describe(shock: Shock) -> str:
    target = f" on {', '.join(shock.target)}" if shock.target else ""
    weeks = f" for {shock.weeks} weeks" if shock.kind == "revenue_shortfall" else ""
    return f"{shock.kind.replace('_', ' ')} {shock.size:+.0%}{target}{weeks} (week {shock.week})"


__all__ = [
    "NOTABLE_EVENTS",
    "ONCE_PER_AGENT",
    "ROUTINE_CAUSES",
    "SHOCK_BUTTONS",
    "LiveRun",
    "ShockButton",
    "moved",
    "scale_shock",
]
