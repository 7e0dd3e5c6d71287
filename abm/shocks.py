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
``demand``                demand outside the model in the target regions falls (or      −0.3…0.3
                          rises) by ``size`` of potential GDP for ``weeks`` weeks
                          (``model.macro.demand_impulse``, held while it lasts): the
                          output gap approaches it with the IS curve's persistence,
                          less what the policy rate's response and the model's other
                          channels offset; unemployment and property prices follow
``policy_rate``           the central bank sets its rate ``size`` above (below) what    −0.05…0.10
                          its Taylor rule says, for ``weeks`` weeks
                          (``model.macro.rate_shift``): a rates shock like 2022
``term_premium``          adds ``size`` to the 10-year term premium of the target       −0.03…0.03
                          regions (``state.macro.term_premium``); the 10-year yield
                          moves with it and the jump decays by the macro rule
``house_prices``          multiplies the house-price index of the target regions by     −1 < s ≤ 1
                          ``1 + size`` (``state.macro.house_prices``): a one-off jump
``cre_prices``            the same for the commercial-property price index              −1 < s ≤ 1
                          (``state.macro.cre_prices``)
``deposit_run``           the target banks lose ``size`` of their uninsured deposits    0…1
                          a week for ``weeks`` weeks, whatever their condition
                          (``model.bank_runs.outflow_shock``)
``loan_losses``           ``−size`` of the target loan books' gross loans is written    −1 < s ≤ 0
                          off now at the target banks (``model.credit_risk.charge_off``)
``power_delay``           the target firms' data centres that are not yet running       0…260
                          wait ``size`` more weeks for grid power (whole weeks): their
                          full lease and their operation start later
                          (:func:`abm.spv.delay_capacity`), so the SPV earns the
                          phase-1 rent and capitalises interest for longer
``fund_concentration``    the target funds sell ``size`` of their total assets' worth   0 < s ≤ 1
                          of their other market holdings (pro rata) and buy the
                          listed AI equities in their own mix, both at market prices
                          with outsiders (:func:`concentrate`): a levered book turned
                          into one crowded bet (Archegos, 2021); the margin rule of
                          :mod:`abm.constraints` then sees the higher equity haircuts
========================  ===========================================================  ==========

``target`` names firms (``revenue_shortfall``, ``lease_income``, ``power_delay``: firm kinds such as
``neocloud`` or ``spv``, or firm names; none = every firm), assets (``impairment``,
``haircut``: asset keys such as ``ai_spv_debt`` or asset classes such as ``equity``; required),
regions (``demand``, ``policy_rate``, ``term_premium``, ``house_prices``, ``cre_prices``:
:data:`abm.state.REGIONS`; none = both), banks (``deposit_run``: bank names or the kinds ``us``
and ``eu``; none = every bank), loan books and banks (``loan_losses``: books of
:data:`abm.state.LOAN_BOOKS` and banks by name or kind; no book named = every book, no bank named =
every bank) or funds (``fund_concentration``: fund names such as ``hedge_20`` or fund
kinds such as ``hedge``; required). Lasting shocks of one kind that overlap compose: demand
shifts and rate shifts add up, and run shares combine as ``1 − Π(1 − s)``.
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

from abm.arrays import add_at, denominator_floor
from abm.shock_targets import (
    asset_targets,
    bank_targets,
    book_targets,
    firm_targets,
    fund_targets,
    named_targets,
)
from abm.spv import delay_capacity
from abm.state import REGIONS
from kernels.backend import to_numpy

#: Random stream of the first shock's size; shock i uses STREAM_BASE + i (the model's own
#: rules use small stream numbers).
STREAM_BASE = 1000

#: Allowed sizes by kind: (lowest, highest, lowest included). The upper bounds of the jumps keep
#: the model in its range: an AI re-rating of up to +200% in one week (the Nasdaq rose 86% over
#: all of 1999; from about +400% the model's revenue, capex and valuation feedback runs away and
#: firms fail for no economic reason, and +900% makes the state non-finite), crypto up to +300%
#: (bitcoin's best weeks were about +50%), AI revenue at most doubled against plan (the same
#: feedback makes the state non-finite from about +200% over a year). The macro and bank kinds
#: stay within history with room to spare: the output gap moves by at most 30% (US real GDP fell
#: about 26% from 1929 to 1933, BEA NIPA table 1.1.6; 10% in the first half of 2020), the policy
#: rate by −5 to +10 points (the Fed cut 5 points in 2007–08 and raised the funds rate by about
#: 10 points in 1979–81), the term premium by 3 points (the ACM 10-year term premium ranged from
#: about −1.5% to +5% since 1961, NY Fed), property prices at most double in one jump (US house
#: prices fell 27% from 2006 to 2012, Case-Shiller national; CRE fell about 35% in 2007–09, Green
#: Street CPPI), a bank loses at most all its uninsured deposits in a week (SVB lost 25% of its
#: deposits on 9 Mar 2023 and was asked for 62% more the next morning, Fed Barr review, Apr 2023),
#: and a write-off takes at most the whole loan book (US bank charge-offs peaked near 3% a year
#: in 2009–10, FRED CORALACBN). A power delay lasts at most five years (260 weeks): the median
#: US interconnection wait of projects built in 2018–2023 (LBNL, *Queued Up: 2024 Edition*).
KINDS: dict[str, tuple[float, float, bool]] = {
    "ai_hype": (-1.0, 2.0, False),
    "crypto_sentiment": (-1.0, 3.0, False),
    "revenue_shortfall": (-1.0, 1.0, False),
    "impairment": (-1.0, 0.0, False),
    "haircut": (-1.0, 1.0, True),
    "collateral": (-1.0, 0.0, False),
    "lease_income": (-1.0, 0.0, True),
    "demand": (-0.3, 0.3, True),
    "policy_rate": (-0.05, 0.10, True),
    "term_premium": (-0.03, 0.03, True),
    "house_prices": (-1.0, 1.0, False),
    "cre_prices": (-1.0, 1.0, False),
    "deposit_run": (0.0, 1.0, True),
    "loan_losses": (-1.0, 0.0, False),
    "fund_concentration": (0.0, 1.0, False),
    "power_delay": (0.0, 260.0, False),
}
#: Kinds whose ``target`` names firms, and kinds whose ``target`` names assets.
FIRM_TARGETS = ("revenue_shortfall", "lease_income", "power_delay")
#: Kinds that last ``weeks`` weeks (the others are one-off jumps).
LASTING = ("revenue_shortfall", "lease_income", "demand", "policy_rate", "deposit_run")
ASSET_TARGETS = ("impairment", "haircut")
#: Kinds whose ``target`` names regions (:data:`abm.state.REGIONS`), banks (names or the kinds
#: ``us`` and ``eu``) and loan books (:data:`abm.state.LOAN_BOOKS`); none names them all.
REGION_TARGETS = ("demand", "policy_rate", "term_premium", "house_prices", "cre_prices")
BANK_TARGETS = ("deposit_run",)
BOOK_TARGETS = ("loan_losses",)
#: Kinds whose ``target`` names funds (by name or kind; required).
FUND_TARGETS = ("fund_concentration",)
#: Lasting macro kinds and the :class:`abm.macro.MacroBlock` attribute each sets while it lasts.
MACRO_LEVERS = {"demand": "demand_impulse", "policy_rate": "rate_shift"}


@dataclass(frozen=True)
class Shock:
    """One scheduled shock (see the module docstring for the kinds and their sizes).

    Attributes:
        kind: one of :data:`KINDS`.
        week: the shock is applied before the week-th step (1 = the first step).
        size: central size (a proportional change; haircut points for ``haircut``).
        range: optional (lo, hi): each world draws its size uniformly from it.
        target: firms or assets it hits (by key, kind or asset class).
        weeks: how long a lasting kind (:data:`LASTING`) lasts; the others are one-off jumps.
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
            elif shock.kind in REGION_TARGETS:
                self.masks.append(named_targets(shock.target, REGIONS, "region"))
            elif shock.kind in BANK_TARGETS:
                self.masks.append(bank_targets(model, shock.target))
            elif shock.kind in BOOK_TARGETS:
                self.masks.append(book_targets(model, shock.target))
            elif shock.kind in FUND_TARGETS:
                self.masks.append(fund_targets(model, shock.target))
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
        """Put every shock (and the end of every lasting shock) on the model's event list."""
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
        elif shock.kind == "term_premium":  # the 10-year yield follows in this week's macro rule
            macro = model.state.macro
            jump = np.where(mask[None, :], size[:, None], 0.0)
            macro.term_premium = macro.term_premium + _like(model, macro.term_premium, jump)
        elif shock.kind in ("house_prices", "cre_prices"):
            index = getattr(model.state.macro, shock.kind)
            factor = np.where(mask[None, :], 1.0 + size[:, None], 1.0)
            setattr(model.state.macro, shock.kind, index * _like(model, index, factor))
        elif shock.kind == "loan_losses":  # written off through the loan books' own rule
            loans = model.state.banks.loans
            share = np.where(mask[None, :, :], -size[:, None, None], 0.0)  # mask (B, K)
            share = np.broadcast_to(share, loans.shape)
            model.credit_risk.charge_off(model.state, _like(model, loans, share))
        elif shock.kind == "fund_concentration":
            concentrate(model.sheets, mask, dev(size))
        elif shock.kind == "power_delay":  # leases and operation start later (abm.spv)
            delay = np.where(mask[None, :], size[:, None], 0.0)
            delay_capacity(model.spv, model.economy, delay, model.state.week)
        self.applied.append((shock.week, shock.kind))

    def refresh(self, week: int) -> None:
        """Set what the lasting shocks active in ``week`` change (all of them, every week).

        Revenue parameters, SPV rents, the macro levers and forced deposit outflows.
        """
        self._refresh_revenue(week)
        self._refresh_rent(week)
        self._refresh_macro(week)
        self._refresh_runs(week)

    def _terms(self, kind: str, week: int) -> list[tuple[Shock, np.ndarray, np.ndarray]]:
        """(shock, (E,) sizes, mask) of every ``kind`` shock active in ``week``.

        Over every schedule attached to the model (``model.shock_schedules``), so shocks of
        several schedules that overlap compose (a preset's and the app's shock buttons).
        """
        return [
            (shock, size, mask)
            for schedule in self.model.shock_schedules
            for shock, size, mask in zip(
                schedule.shocks, schedule.sizes, schedule.masks, strict=True
            )
            if shock.kind == kind and shock.week <= week < shock.week + shock.weeks
        ]

    def _uses(self, kind: str) -> bool:
        """Whether any schedule attached to the model has a ``kind`` shock."""
        return any(s.kind == kind for sch in self.model.shock_schedules for s in sch.shocks)

    def _active(self, kind: str, week: int) -> tuple[np.ndarray, bool]:
        """(E, F) product of ``1 + size`` over the ``kind`` shocks active in ``week``."""
        factor = np.ones((self.model.n_worlds, len(self.model.roster.indices("firm"))))
        terms = self._terms(kind, week)
        for _, size, mask in terms:
            factor = factor * np.where(mask[None, :], 1.0 + size[:, None], 1.0)
        return factor, bool(terms)

    def _refresh_macro(self, week: int) -> None:
        """``model.macro.demand_impulse`` and ``rate_shift`` (E, R) for the shocks of ``week``.

        A demand shock shifts the demand level the output gap approaches (the IS curve of
        :mod:`abm.macro`) by ``size`` while it lasts; a rate shock adds ``size`` to the policy
        rate while it lasts; overlapping shocks add up. Left alone when no schedule has such a
        shock, so the macro block's zeros stay its own.
        """
        for kind, lever in MACRO_LEVERS.items():
            if not self._uses(kind):
                continue
            total = np.zeros((self.model.n_worlds, len(REGIONS)))
            for _, size, mask in self._terms(kind, week):
                total = total + np.where(mask[None, :], size[:, None], 0.0)
            now = getattr(self.model.macro, lever)
            setattr(self.model.macro, lever, _like(self.model, now, total))

    def _refresh_runs(self, week: int) -> None:
        """``model.bank_runs.outflow_shock`` (E, B) for the deposit runs of ``week``.

        The weekly share of uninsured deposits that leaves each bank whatever its condition;
        overlapping runs combine as ``1 − Π(1 − s)``.
        """
        if not self._uses("deposit_run"):
            return
        stay = np.ones((self.model.n_worlds, len(self.model.roster.indices("bank"))))
        for _, size, mask in self._terms("deposit_run", week):
            stay = stay * np.where(mask[None, :], 1.0 - size[:, None], 1.0)
        runs = self.model.bank_runs
        runs.outflow_shock = _like(self.model, runs.outflow_shock, 1.0 - stay)

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


def concentrate(sheets: Any, chosen: np.ndarray, size: Any) -> None:
    """Turn ``size`` (E,) of the chosen funds' total assets into listed AI equity, at market prices.

    Each fund picked by ``chosen`` ((U,) bool over the funds, in roster order) sells its market
    holdings other than the listed AI equities pro rata, ``size × total assets`` of them (at most
    all it holds), and buys the listed AI equities in the proportions it already holds them (the
    market's outstanding amounts if it holds none). Outsiders take the other side of both
    trades: they cannot sell more AI equity than they hold, and the sales shrink to what is
    bought, so the swap is self-financing. Holdings change at market value, so no cash moves and
    no equity is booked (``Powderkeg.accounting_gap`` stays zero). Archegos built its book this
    way: total return swaps on a handful of stocks, USD 160 bn of gross positions on USD 36 bn of
    capital (SEC v. Hwang et al., complaint, S.D.N.Y., 27 Apr 2022).
    """
    xp = sheets.xp
    table = sheets.assets
    listed = np.array(
        [c == "equity" and bool(i) for c, i in zip(table.asset_class, table.issuer, strict=True)]
    )
    dtype, device = sheets.prices.dtype, sheets.prices.device
    ai = xp.asarray(listed, device=device)
    block = slice(*sheets.roster.blocks["fund"])
    prices = sheets.prices[:, None, :]  # (E, 1, M)
    value = sheets.holdings[:, block, :] * prices  # (E, U, M) USD bn
    other = xp.where(ai, 0.0, value)
    mix = xp.where(ai, value, 0.0)
    market = xp.asarray(np.where(listed, np.asarray(table.outstanding), 0.0), dtype=dtype,
                        device=device)  # fmt: skip
    held = xp.sum(mix, axis=-1, keepdims=True)
    mix = xp.where(held > 0.0, mix / xp.where(held > 0.0, held, 1.0), market / xp.sum(market))
    total = sheets.total_assets()[:, block]  # (E, U)
    wanted = xp.where(xp.asarray(chosen, device=device), size[:, None] * total, 0.0)
    buys = mix * xp.minimum(wanted, xp.sum(other, axis=-1))[:, :, None]  # (E, U, M) USD bn
    room = xp.maximum(sheets.outside_units(), 0.0) * sheets.prices  # (E, M) what outsiders hold
    floor = denominator_floor(xp, buys.dtype)
    buys = buys * xp.minimum(1.0, room / xp.maximum(xp.sum(buys, axis=1), floor))[:, None, :]
    sold = xp.sum(other, axis=-1)
    spent = xp.sum(buys, axis=-1) / xp.where(sold > 0.0, sold, 1.0)  # share of `other` sold
    units = (buys - other * spent[:, :, None]) / xp.maximum(prices, 1e-12)
    columns = xp.arange(len(listed), device=device)
    sheets.holdings = add_at(xp, sheets.holdings, block, columns, units)


def _like(model: Any, like: Any, values: np.ndarray) -> Any:
    """``values`` as an array of ``like``'s namespace, dtype and device."""
    return model.xp.asarray(values, dtype=like.dtype, device=like.device)


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
    "BANK_TARGETS",
    "BOOK_TARGETS",
    "FIRM_TARGETS",
    "FUND_TARGETS",
    "KINDS",
    "LASTING",
    "MACRO_LEVERS",
    "REGION_TARGETS",
    "STREAM_BASE",
    "Shock",
    "ShockSchedule",
    "attach",
    "concentrate",
]
