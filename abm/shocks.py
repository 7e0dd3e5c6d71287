"""Scheduled shocks: the sparks of the scenario presets (``experiments/scenarios/*.toml``).

A :class:`Shock` changes the model at the start of one week, before that week's step, through
the same channels as the model's own rules, so no money is created or destroyed:

========================  ===========================================================  ==========
kind                      what it does                                                 ``size``
========================  ===========================================================  ==========
``ai_hype``               adds ``ln(1 + size) / γ`` to ``model.sentiment.ai`` (γ: the   > −1
                          equity-valuation elasticity), so the hype factor of AI
                          equity value ``exp(γ h)`` moves by ``size``; revenue, capex
                          and AI spreads follow hype through the model's own rules;
                          the jump then decays with sentiment's mean reversion
``crypto_sentiment``      adds ``ln(1 + size)`` to ``model.sentiment.crypto``: the      > −1
                          crypto fundamental ``exp(c)`` moves by ``size`` that week
``revenue_shortfall``     multiplies the AI part of the revenue of the target firms     > −1
                          by ``1 + size`` for ``weeks`` weeks (the non-AI part is
                          untouched); done by swapping ``model.state.firms.params`` for a
                          per-world copy, restored when the last shortfall ends
``impairment``            multiplies ``model.sheets.impairment[:, m]`` of the target    −1 < s ≤ 0
                          assets by ``1 + size``: the fundamental value falls for good
                          and the next revaluation books the loss through the ledger
``haircut``               adds ``size`` to the hedge funds' starting repo haircut of    −1…1
                          the target assets (``model.margin.haircut0``, clipped to
                          0…1): a margin-call jump
``collateral``            every SPV's data centre loses ``−size`` of its market value   −1 < s ≤ 0
                          (``model.spv.impair``): covenants, sponsor cures and
                          defaults follow through :mod:`abm.spv`
``lease_income``          the target SPVs' tenants pay ``1 + size`` of the rent due     −1 ≤ s ≤ 0
                          for ``weeks`` weeks (``model.spv.lease.rent_factor``): the
                          SPV under-earns and its debt-service coverage falls
========================  ===========================================================  ==========

``target`` names firms (``revenue_shortfall``, ``lease_income``: firm kinds such as
``neocloud`` or ``spv``, or firm names; none = every firm) or assets (``impairment``,
``haircut``: asset keys such as ``ai_spv_debt`` or asset classes such as ``equity``; required).
``range = [lo, hi]`` makes the size differ by world: world w draws ``lo + (hi − lo)·u`` with ``u``
uniform from ``model.streams`` at (step = week, stream = :data:`STREAM_BASE` + the shock's
position), so worlds differ, and a seed always gives the same sizes (world w of a batch equals a
one-world run with seed + w).

Timing: a shock of week ``w`` is applied just before the w-th call of ``model.step()`` (it shows
in row ``step = w`` of the recorded series), through Mesa's event list
(``model.schedule_event`` at time ``w − 0.5``), so :class:`~abm.model.Powderkeg` needs no change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.backend import to_numpy

#: Random stream of the first shock's size; shock i uses STREAM_BASE + i (the model's own
#: rules use small stream numbers).
STREAM_BASE = 1000

#: Allowed sizes by kind: (lowest, highest, lowest included). The upper bounds of the jumps keep
#: the model in its range: an AI re-rating of up to +200% in one week (the Nasdaq rose 86% over
#: all of 1999; from about +400% the model's revenue, capex and valuation feedback runs away and
#: firms fail for no economic reason, and +900% makes the state non-finite), crypto up to +300%
#: (bitcoin's best weeks were about +50%), AI revenue at most doubled against plan (the same
#: feedback makes the state non-finite from about +200% over a year).
KINDS: dict[str, tuple[float, float, bool]] = {
    "ai_hype": (-1.0, 2.0, False),
    "crypto_sentiment": (-1.0, 3.0, False),
    "revenue_shortfall": (-1.0, 1.0, False),
    "impairment": (-1.0, 0.0, False),
    "haircut": (-1.0, 1.0, True),
    "collateral": (-1.0, 0.0, False),
    "lease_income": (-1.0, 0.0, True),
}
#: Kinds whose ``target`` names firms, and kinds whose ``target`` names assets.
FIRM_TARGETS = ("revenue_shortfall", "lease_income")
#: Kinds that last ``weeks`` weeks (the others are one-off jumps).
LASTING = ("revenue_shortfall", "lease_income")
ASSET_TARGETS = ("impairment", "haircut")


@dataclass(frozen=True)
class Shock:
    """One scheduled shock (see the module docstring for the kinds and their sizes).

    Attributes:
        kind: one of :data:`KINDS`.
        week: the shock is applied before the week-th step (1 = the first step).
        size: central size (a proportional change; haircut points for ``haircut``).
        range: optional (lo, hi): each world draws its size uniformly from it.
        target: firms or assets it hits (by key, kind or asset class).
        weeks: how long a ``revenue_shortfall`` lasts (other kinds are one-off jumps).
        source: where the size comes from (seed article, calibration section).
        note: what the size stands for, in words.
    """

    kind: str
    week: int
    size: float
    range: tuple[float, float] | None = None
    target: tuple[str, ...] = ()
    weeks: int = 1
    source: str = ""
    note: str = ""


def firm_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(F,) bool: the firms a target list names (all firms when it is empty)."""
    roster = model.roster
    rows = roster.indices("firm")
    names = [roster.names[i] for i in rows]
    kinds = [roster.kind[i] for i in rows]
    if not target:
        return np.ones(len(rows), dtype=bool)
    known = set(names) | set(kinds)
    for t in target:
        if t not in known:
            raise ValueError(
                f"target {t!r} is not a firm; allowed: {', '.join(sorted(set(kinds)))} "
                f"or a firm name ({', '.join(names)})"
            )
    return np.array([n in target or k in target for n, k in zip(names, kinds, strict=True)])


def asset_targets(model: Any, target: tuple[str, ...]) -> np.ndarray:
    """(M,) bool: the assets a target list names by key or asset class."""
    table = model.sheets.assets
    keys, classes = list(table.keys), list(table.asset_class)
    for t in target:
        if t not in keys and t not in classes:
            raise ValueError(
                f"target {t!r} is not an asset; allowed: an asset class "
                f"({', '.join(sorted(set(classes)))}) or an asset key ({', '.join(keys)})"
            )
    return np.array([k in target or c in target for k, c in zip(keys, classes, strict=True)])


class ShockSchedule:
    """The shocks of one scenario, bound to one model; applied through Mesa's event list.

    Use :func:`attach` rather than building one directly. ``sizes[i]`` holds the (E,) sizes
    drawn for shock i; ``applied`` lists (week, kind) of what has been applied so far.
    """

    def __init__(self, model: Any, shocks: tuple[Shock, ...] | list[Shock]) -> None:
        self.model = model
        self.shocks = tuple(shocks)
        self.sizes: list[np.ndarray] = [self._draw(i, s) for i, s in enumerate(self.shocks)]
        self.masks: list[np.ndarray | None] = []
        for shock in self.shocks:
            if shock.kind in FIRM_TARGETS:
                self.masks.append(firm_targets(model, shock.target))
            elif shock.kind in ASSET_TARGETS:
                self.masks.append(asset_targets(model, shock.target))
            else:
                self.masks.append(None)
        self.applied: list[tuple[int, str]] = []
        self.calls: list[_Call] = []

    def _draw(self, i: int, shock: Shock) -> np.ndarray:
        if shock.kind not in KINDS:
            raise ValueError(f"kind {shock.kind!r} is unknown; allowed: {', '.join(KINDS)}")
        e = self.model.n_worlds
        if shock.range is None:
            return np.full(e, float(shock.size))
        lo, hi = shock.range
        u = to_numpy(self.model.streams.uniform(shock.week, STREAM_BASE + i))
        return lo + (hi - lo) * np.asarray(u, dtype=float)

    def schedule(self) -> None:
        """Put every shock (and the end of every revenue shortfall) on the model's event list."""
        now = float(self.model.time)
        for i, shock in enumerate(self.shocks):
            at = shock.week - 0.5
            if at < now:
                raise ValueError(f"shock {i} ({shock.kind}) at week {shock.week} is in the past")
            self.model.schedule_event(self._applier(i), at=at)
            if shock.kind in LASTING:
                end = shock.week + shock.weeks - 0.5
                self.model.schedule_event(self._refresher(shock.week + shock.weeks), at=end)

    # Mesa keeps only weak references to event callbacks, so the schedule keeps its callables
    # (``self.calls``) and the model keeps the schedule.
    def _applier(self, i: int) -> _Call:
        call = _Call(self, "apply", i)
        self.calls.append(call)
        return call

    def _refresher(self, week: int) -> _Call:
        call = _Call(self, "refresh", week)
        self.calls.append(call)
        return call

    def apply(self, i: int) -> None:
        """Apply shock i now (before the step of its week)."""
        shock, size, mask = self.shocks[i], self.sizes[i], self.masks[i]
        model = self.model
        xp = model.xp
        dtype = model.sheets.prices.dtype
        device = model.sheets.prices.device

        def dev(values: np.ndarray) -> Any:
            return xp.asarray(values, dtype=dtype, device=device)

        if shock.kind == "ai_hype":
            s = model.sentiment
            jump = np.log1p(size) / model.valuation.gamma
            model.sentiment = dataclasses.replace(s, ai=s.ai + dev(jump))
        elif shock.kind == "crypto_sentiment":
            s = model.sentiment
            model.sentiment = dataclasses.replace(s, crypto=s.crypto + dev(np.log1p(size)))
        elif shock.kind in LASTING:
            self.refresh(shock.week)
        elif shock.kind == "impairment":
            factor = np.where(mask[None, :], 1.0 + size[:, None], 1.0)
            model.sheets.impairment = model.sheets.impairment * dev(factor)
        elif shock.kind == "collateral":  # every SPV's data centre loses value (abm.spv)
            model.spv.impair(dev(-size))
        elif shock.kind == "haircut":
            base = to_numpy(model.margin.haircut0)
            base = np.broadcast_to(base, (model.n_worlds, base.shape[-1]))
            jumped = np.clip(base + np.where(mask[None, :], size[:, None], 0.0), 0.0, 1.0)
            model.margin.haircut0 = dev(jumped)
        self.applied.append((shock.week, shock.kind))

    def refresh(self, week: int) -> None:
        """Set revenue parameters and SPV rents for the lasting shocks active in ``week``."""
        self._refresh_revenue(week)
        self._refresh_rent(week)

    def _active(self, kind: str, week: int) -> tuple[np.ndarray, bool]:
        """(E, F) product of ``1 + size`` over the ``kind`` shocks active in ``week``.

        Over every schedule attached to the model (``model.shock_schedules``), so shocks of
        several schedules that overlap compose (a preset's and the app's shock buttons).
        """
        factor = np.ones((self.model.n_worlds, len(self.model.roster.indices("firm"))))
        active = False
        for schedule in self.model.shock_schedules:
            for shock, size, mask in zip(
                schedule.shocks, schedule.sizes, schedule.masks, strict=True
            ):
                if shock.kind == kind and shock.week <= week < shock.week + shock.weeks:
                    factor = factor * np.where(mask[None, :], 1.0 + size[:, None], 1.0)
                    active = True
        return factor, active

    def _refresh_rent(self, week: int) -> None:
        """SPVs' rent factor (``model.spv.lease.rent_factor``) for the lease shocks of ``week``."""
        factor, _ = self._active("lease_income", week)
        spv = self.model.spv
        columns = to_numpy(spv.firm_columns)
        spv.lease.rent_factor = self.model.xp.asarray(
            factor[:, columns], dtype=spv.lease.rent_factor.dtype, device=spv.factor.device
        )

    def _refresh_revenue(self, week: int) -> None:
        base = self.model.state.firms.plan  # the calibrated plan, never reshaped
        factor, active = self._active("revenue_shortfall", week)
        if not active:
            self.model.state.firms.params = base
            return
        # revenue = R·((1 − s) + s·f·lift) = R'·((1 − s') + s'·lift), with R' = R·(1 − s + s·f)
        # and s' = s·f / (1 − s + s·f): the AI part scaled by f, the rest untouched
        share = base.ai_share[None, :]
        scale = 1.0 - share + share * factor
        self.model.state.firms.params = dataclasses.replace(
            base, revenue=base.revenue[None, :] * scale, ai_share=share * factor / scale
        )


@dataclass(frozen=True)
class _Call:
    schedule: ShockSchedule
    method: str
    arg: int

    def __call__(self) -> None:
        getattr(self.schedule, self.method)(self.arg)


def attach(model: Any, shocks: tuple[Shock, ...] | list[Shock]) -> ShockSchedule:
    """Draw the shocks' sizes, schedule them on ``model`` and keep the schedule on the model.

    The schedule is added to ``model.shock_schedules`` (the model keeps it alive, since Mesa's
    event list holds only weak references; overlapping lasting shocks of several schedules
    compose).

    Raises:
        ValueError: an unknown kind or target, or a shock week already past.
    """
    schedule = ShockSchedule(model, shocks)
    schedule.schedule()
    model.shock_schedules.append(schedule)
    return schedule


__all__ = [
    "ASSET_TARGETS",
    "FIRM_TARGETS",
    "KINDS",
    "LASTING",
    "STREAM_BASE",
    "Shock",
    "ShockSchedule",
    "attach",
]
