"""Data-centre SPVs: GPU and building collateral that wears out, loan-to-value covenants, recourse.

An SPV (``kind = "spv"`` in the calibration) holds a data centre financed mostly with debt. Its
lenders look at the collateral, not at the book value (the "silicon
subprime" idea):

- **Collateral value** ``V = real assets × g + cash``, where the market-value factor ``g`` falls
  each week by the SPV's obsolescence rate beyond its book depreciation (``collateral_depreciation``
  of an operating data centre: GPUs lose value faster than the books say; one still being built
  keeps its value) and with efficiency shocks (:meth:`SpvCovenants.impair`: cheaper models that
  strand older hardware).
- **Covenant** ``debt / V ≤ LTV_max``, with ``LTV_max`` a headroom above the loan-to-value at
  closing, ``debt / (real assets + cash)`` at the start (``[assumptions.spv]``): an SPV builds
  only up to its total cost, and a fall of the collateral's market value faster than its loans
  amortise breaches it. A breach
  needs a cure payment that brings debt back to ``LTV_max × V``; the sponsor pays it as long as
  its cumulative support stays within its ``recourse_share`` of the SPV's debt and it has the
  cash (an expense for the sponsor: support for an off-balance-sheet vehicle), and the SPV uses
  it to repay its loans pro rata.
- **Lease** (:class:`SponsorLeases`): the sponsor pays rent each week — the phase-1 rent of 2025
  until the lease starts, then ``lease_income_full`` — as far as its cash reaches (a failed
  sponsor pays nothing), and from the lease start the SPV repays its loans evenly over its
  ``amortisation_term`` out of that rent.
- **Debt-service coverage**: over a trailing window, rent received must cover ``dscr_default``
  times the debt service due (interest at risk-free + the SPV's spread, plus scheduled principal);
  a shortfall is an event of default unless the sponsor pays it (within the same recourse room).
- **Default** when a cure is not paid in full: the SPV's real assets are marked down to the
  collateral's market value and the failure step (:mod:`abm.failures`) passes the
  loss to its lenders — private-credit funds, banks and bond holders — at the recovery the
  collateral allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import columns, rounding_margin
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.projects import ProjectPipeline
from abm.state import WorldState
from kernels.backend import segment_sum, segment_sum_at, to_numpy

#: pools an SPV's cure payment and scheduled principal repay, in order
LOAN_POOLS = ("private_loans", "bank_loans")


def spv_values(cal: Calibration, names: list[str], key: str) -> np.ndarray:
    """One calibration value per SPV, in model units."""
    return np.array([float(cal.model_value(f"firms.{name}.{key}")) for name in names])


def repay_loans(sheets: BalanceSheets, index: Any, amount: Any) -> Any:
    """SPVs ``index`` pay ``amount`` (E, S) to their lenders, private loans first; returns paid."""
    xp, ledger = sheets.xp, sheets.ledger
    left = amount
    for name in LOAN_POOLS:
        pay = xp.minimum(left, ledger.owed_by(name, index))
        ledger.repay(name, segment_sum_at(pay, index, ledger.pools[name].issuers))
        left = left - pay
    return amount - left


def loan_face(sheets: BalanceSheets, index: Any) -> Any:
    """(E, S) face of the loans SPVs ``index`` owe (bonds excluded)."""
    owed = sum(sheets.ledger.owed(name) for name in LOAN_POOLS)
    return sheets.xp.take(owed, index, axis=1)


class SponsorLeases:
    """Each SPV's lease to its sponsor: weekly rent in, scheduled principal out.

    The sponsor (``sponsor`` in the SPV's calibration table) is the tenant: rent is its expense
    and the SPV's income (revenue of a data centre is its lease).
    Before ``lease_start`` the rent is the 2025 rent (phase-1 capacity already let), after it
    the full lease; a sponsor pays what its cash allows and a failed sponsor pays nothing, so
    sponsor distress becomes SPV under-earning (seed 004: "unclear who bears responsibility if
    the projects financed by SPVs do not generate enough revenue"). ``rent_factor`` (E, S)
    scales the rent a sponsor pays (the SPV under-earning shock). From the lease start the SPV
    repays its loans in equal instalments over ``amortisation_term`` (straight line on the face
    at the lease start), as far as its cash allows.
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets, rows: np.ndarray) -> None:
        self.sheets = sheets
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        names = [sheets.roster.names[i] for i in rows]

        def per_spv(key: str) -> np.ndarray:
            return spv_values(cal, names, key)

        self.rent_now = xp.asarray(per_spv("revenue_2025"), dtype=dtype, device=dev)
        self.rent_full = xp.asarray(per_spv("lease_income_full"), dtype=dtype, device=dev)
        self.start = xp.asarray(per_spv("lease_start"), dtype=dtype, device=dev)
        self.amortisation = xp.asarray(1.0 / per_spv("amortisation_term"), dtype=dtype, device=dev)
        self.face_at_start = xp.zeros((sheets.prices.shape[0], len(names)), dtype=dtype, device=dev)
        self.rent_factor = xp.ones((sheets.prices.shape[0], len(names)), dtype=dtype, device=dev)
        self.project_rent: Any = None  # (E, S) rent of projects let after the start (abm.projects)

    def delay(self, weeks: Any, week: int) -> None:
        """Start the full leases not yet running in week ``week`` ``weeks`` (E, S) later.

        Capacity waiting for grid power is not delivered, so the tenant pays the full lease (and
        the SPV starts amortising) only once it is energised (:func:`delay_capacity`).
        """
        start = self.start + self.sheets.xp.zeros_like(self.rent_factor)  # (E, S)
        self.start = self.sheets.xp.where(start > float(week), start + weeks, start)

    def started(self, week: int) -> Any:
        """(S,) bool ((E, S) after a power delay): the full lease runs in week ``week``."""
        return self.start <= float(week)

    def rent_due(self, week: int) -> Any:
        """(E, S) rent the sponsors owe in week ``week`` (USD bn)."""
        xp = self.sheets.xp
        rent = xp.where(self.started(week), self.rent_full, self.rent_now)
        if self.project_rent is not None:
            rent = rent + self.project_rent
        return rent * self.rent_factor

    def add_project(self, rent: Any, debt: Any, week: int) -> None:
        """Let new capacity: ``rent`` (E, S) more a week from now, ``debt`` (E, S) to amortise.

        The new debt joins the straight-line schedule of a lease that runs; a vehicle whose
        lease starts later amortises it from then with the rest (its face at the start).
        """
        xp = self.sheets.xp
        self.project_rent = rent if self.project_rent is None else self.project_rent + rent
        self.face_at_start = self.face_at_start + xp.where(self.started(week), debt, 0.0)

    def collect(self, index: Any, sponsors: Any, alive: Any, week: int) -> tuple[Any, Any]:
        """Sponsors pay rent, SPVs repay scheduled principal; returns (rent paid, principal due).

        Args:
            index: (S,) agent rows of the SPVs.
            sponsors: (S,) agent rows of their tenants.
            alive: (E, N) bool, agents that have not failed.
            week: weeks completed (0 in the first week).
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        spv_alive = xp.take(alive, index, axis=1)
        payer_alive = xp.take(alive, sponsors, axis=1) & spv_alive
        cash = xp.maximum(xp.take(ledger.cash, sponsors, axis=1), 0.0)
        rent = xp.where(payer_alive, xp.minimum(self.rent_due(week), cash), 0.0)
        ledger.pay(sponsors, index, rent)
        owed = loan_face(s, index)
        self.face_at_start = xp.where(self.start == float(week), owed, self.face_at_start)
        spv_cash = xp.maximum(xp.take(ledger.cash, index, axis=1), 0.0)
        instalment = xp.minimum(self.face_at_start * self.amortisation, owed)  # straight line
        due = xp.where(self.started(week) & spv_alive, instalment, 0.0)
        repay_loans(s, index, xp.minimum(due, spv_cash))
        return rent, due


class SpvCovenants:
    """The weekly covenant test of every SPV, vectorized over SPVs and worlds."""

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        book_wear: Any = 0.0,
        consolidated: bool = False,
        pipeline: float = 0.0,
    ) -> None:
        """Read the SPVs, their sponsors, recourse, obsolescence and new projects.

        Args:
            cal: the calibration.
            sheets: the balance sheets.
            book_wear: (N,) weekly book depreciation of each firm (0 while it is being built);
                the collateral's market value falls only by the obsolescence beyond it.
            consolidated: sponsors carry their SPVs' debt in full (the ``spv_consolidation``
                policy lever): recourse share 1 instead of the calibrated one.
            pipeline: the pace of the sponsors' new projects, a multiple of the calibrated one
                (the ``project_pipeline`` lever; :mod:`abm.projects`); at 0 there are none.
        """
        self.sheets = sheets
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        spvs = [i for i in roster.indices("firm") if roster.kind[i] == "spv"]
        self.rows = np.array(spvs, dtype=np.int64)
        firms = list(roster.indices("firm"))
        self.firm_columns = xp.asarray(np.array([firms.index(i) for i in spvs]), device=dev)
        self.index = xp.asarray(self.rows, device=dev)
        sponsors = [
            roster.index(str(cal.node(f"firms.{roster.names[i]}")["sponsor"])) for i in spvs
        ]
        self.sponsor_rows = np.array(sponsors, dtype=np.int64)
        self.sponsors = xp.asarray(self.sponsor_rows, device=dev)

        def per_spv(key: str) -> Any:
            values = spv_values(cal, [roster.names[i] for i in spvs], key)
            return xp.asarray(values, dtype=dtype, device=dev)

        recourse = per_spv("recourse_share")
        self.recourse = recourse * 0.0 + 1.0 if consolidated else recourse
        wear = xp.take(xp.asarray(book_wear, dtype=dtype, device=dev) + xp.zeros(
            (roster.size,), dtype=dtype, device=dev), self.index, axis=0)  # fmt: skip
        # market value falls by the obsolescence the books do not already show (per week); a
        # data centre still being built (no book wear yet) keeps its value until a shock hits
        excess = xp.maximum(per_spv("collateral_depreciation") - wear, 0.0)
        self.obsolescence = xp.where(wear > 0.0, excess, 0.0)
        headroom = float(cal.model_value("assumptions.spv.covenant_headroom"))
        e = sheets.prices.shape[0]
        self.factor = xp.ones((e, len(spvs)), dtype=dtype, device=dev)
        self.support = xp.zeros_like(self.factor)  # cumulative cure payments by the sponsor
        self.breached = self.factor > 2.0  # (E, S) bool: failed its covenant uncured
        self.last_cure = xp.zeros_like(self.factor)
        self.headroom = headroom
        self.max_ltv = xp.minimum(
            self.debt() / xp.maximum(self.book_value(), 1e-12) + headroom, 0.999
        )
        self.lease = SponsorLeases(cal, sheets, self.rows)
        risk_free = float(cal.model_value("assumptions.firms.coupon_over_spread"))
        weeks = float(cal.weeks_per_year)
        self.rate = risk_free + per_spv("bond_spread") / weeks  # interest per week on its debt
        self.dscr_min = float(cal.model_value("assumptions.spv.dscr_default"))
        window = round(float(cal.model_value("assumptions.spv.dscr_window")))
        self.rent_window = xp.zeros((window, *self.factor.shape), dtype=dtype, device=dev)
        self.service_window = xp.zeros_like(self.rent_window)
        self.last_rent = xp.zeros_like(self.factor)
        self.projects = self._pipeline(cal, firms, pipeline)

    def _pipeline(self, cal: Calibration, firms: list[int], scale: float) -> Any:
        """The sponsors' new projects (:class:`abm.projects.ProjectPipeline`), or None at 0."""
        s = self.sheets
        xp, dtype, dev = s.xp, s.prices.dtype, s.prices.device
        names = [s.roster.names[i] for i in self.rows]
        pace = spv_values(cal, names, "pipeline_capex") * scale  # USD bn a week
        if not np.any(pace > 0.0):
            return None
        lease_yield = spv_values(cal, names, "lease_income_full") / spv_values(
            cal, names, "total_cost"
        )
        sponsors = np.array([firms.index(int(i)) for i in self.sponsor_rows])
        return ProjectPipeline(
            pace=xp.asarray(pace, dtype=dtype, device=dev),
            lease_yield=xp.asarray(lease_yield, dtype=dtype, device=dev),
            loan_to_cost=xp.minimum(self.debt() / xp.maximum(self.book_value(), 1e-12), 1.0),
            sponsor_columns=xp.asarray(sponsors, device=dev),
            capex_elasticity=float(cal.model_value("assumptions.sentiment.capex_elasticity")),
        )

    def build_projects(self, state: WorldState) -> None:
        """Let last week's new capacity, then start this week's projects (:mod:`abm.projects`).

        What the vehicles spent on new projects last week (``state.firms.project_capex``, after
        their capex cuts) is let to the sponsors; new projects start at vehicles alive and not
        :meth:`stressed`, their developers' equity is paid in, and the rest is this week's
        capex of the vehicles (``state.firms.project_capex``, spent by the firms' operations).
        """
        projects = self.projects
        if projects is None:
            return
        xp, firm = self.sheets.xp, state.firms
        built = xp.take(firm.project_capex, self.firm_columns, axis=1)
        self.add_capacity(
            built, built * projects.lease_yield, built * projects.loan_to_cost, state.week
        )
        alive = xp.take(state.flows.firms_alive, self.firm_columns, axis=1)
        equity = projects.start(state, alive & ~self.stressed())
        self.sheets.ledger.pay_outsider(self.index, "outside_investors", -equity)
        firm.project_capex = columns(xp, firm.project_capex, self.firm_columns, projects.planned)

    def impair(self, share: Any) -> None:
        """An efficiency shock: the collateral loses ``share`` (scalar or (E,)) of its value."""
        xp = self.sheets.xp
        self.factor = self.factor * (1.0 - xp.reshape(xp.asarray(share) * 1.0, (-1, 1)))

    def add_capacity(self, built: Any, rent: Any, debt: Any, week: int) -> None:
        """New capacity ``built`` (E, S) USD bn, already in the real assets, is let.

        Its lease adds ``rent`` (E, S) a week and ``debt`` (E, S) to amortise
        (:meth:`SponsorLeases.add_project`); it enters the collateral at cost, so the
        market-value factor becomes the value-weighted mean of the old assets' and 1.
        """
        xp = self.sheets.xp
        real = xp.take(self.sheets.real_assets, self.index, axis=1)
        old = xp.maximum(real - built, 0.0)
        blended = (old * self.factor + built) / xp.maximum(old + built, 1e-12)
        self.factor = xp.where(built > 0.0, blended, self.factor)
        self.lease.add_project(rent, debt, week)

    def stressed(self) -> Any:
        """(E, S) bool: breached, or the collateral lost more than the covenant's headroom.

        A data centre's market value below book by more than ``covenant_headroom`` (5%), from
        obsolescence or an efficiency shock, is the loss the covenant was sized to absorb;
        project lenders then stop financing new capacity of the kind (:mod:`abm.projects`).
        """
        return self.breached | (self.factor < 1.0 - self.headroom)

    def book_value(self) -> Any:
        """(E, S) real assets at book plus cash: what the vehicles' lenders financed."""
        return self._collateral(at_book=True)

    def _collateral(self, at_book: bool = False) -> Any:
        """(E, S) collateral: real assets at the market-value factor (or at book) plus cash."""
        s = self.sheets
        xp = s.xp
        real = xp.take(s.real_assets, self.index, axis=1)
        factor = 1.0 if at_book else self.factor
        return real * factor + xp.maximum(xp.take(s.ledger.cash, self.index, axis=1), 0.0)

    def debt(self) -> Any:
        """(E, S) what each SPV owes: loans and bonds."""
        s = self.sheets
        return s.xp.take(s.bonds, self.index, axis=1) + loan_face(s, self.index)

    def test(self, state: WorldState) -> None:
        """Collect rent, age the collateral, test both covenants, collect cures.

        The rent is the SPV's revenue (added to ``state.firms.revenue``); an SPV in uncured
        breach has its books marked to its collateral and fails (cause ``"covenant"``).
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = s.bonds.shape[-1]
        week = state.week
        alive = ~state.defaulted
        rent, principal = self.lease.collect(self.index, self.sponsors, alive, week)
        self.last_rent = rent
        self.factor = self.factor * (1.0 - self.obsolescence)
        value = self._collateral()
        debt = self.debt()
        max_ltv = self.max_ltv
        spv_alive = xp.take(alive, self.index, axis=1)
        ltv_gap = xp.where(spv_alive, xp.maximum(debt - max_ltv * value, 0.0), 0.0)
        dscr_gap = self._coverage_gap(week, rent, debt * self.rate + principal)
        dscr_gap = dscr_gap * xp.astype(spv_alive, rent.dtype)  # no gap at a failed SPV
        sponsor_cash = xp.maximum(xp.take(ledger.cash, self.sponsors, axis=1), 0.0)
        sponsor_alive = xp.take(alive, self.sponsors, axis=1)
        room = xp.maximum(self.recourse * debt - self.support, 0.0)
        gap = ltv_gap + dscr_gap
        cure = xp.where(sponsor_alive, xp.minimum(xp.minimum(gap, room), sponsor_cash), 0.0)
        ledger.pay(self.sponsors, self.index, cure)  # support: the sponsor's expense
        # the cure first tops up the rent the covenant missed, the rest repays the lenders
        topped = xp.minimum(cure, dscr_gap)
        slot = week % self.rent_window.shape[0]
        self.rent_window = _add_slot(xp, self.rent_window, slot, topped)
        repay_loans(s, self.index, cure - topped)
        self.support = self.support + cure
        self.last_cure = cure
        breach = (gap - cure > rounding_margin(xp, debt.dtype) * (debt + 1.0)) & spv_alive
        # an uncured SPV is worth its collateral: mark its books down before the clearing
        real = xp.take(s.real_assets, self.index, axis=1)
        write_down = xp.where(breach, real * (1.0 - self.factor), 0.0)
        cut = segment_sum(xp.maximum(write_down, 0.0), self.index, n)
        s.real_assets = s.real_assets - cut
        ledger.book_equity(-cut)
        self.breached = self.breached | breach
        firm = state.firms
        firm.revenue = firm.revenue + segment_sum(rent, self.firm_columns, firm.revenue.shape[-1])
        state.fail("covenant", segment_sum(xp.astype(breach, s.prices.dtype), self.index, n) > 0.0)

    def _coverage_gap(self, week: int, rent: Any, service: Any) -> Any:
        """(E, S) rent missing for the trailing debt-service coverage to reach ``dscr_min``.

        Tested once the lease has run a full window (during construction interest is
        capitalised and there is no rent to cover it).
        """
        xp = self.sheets.xp
        size = self.rent_window.shape[0]
        slot = week % size
        self.rent_window = _add_slot(xp, self.rent_window, slot, rent, replace=True)
        self.service_window = _add_slot(xp, self.service_window, slot, service, replace=True)
        tested = self.lease.start + size <= float(week + 1)
        missing = self.dscr_min * xp.sum(self.service_window, axis=0) - xp.sum(
            self.rent_window, axis=0
        )
        return xp.where(tested, xp.maximum(missing, 0.0), 0.0)


def _add_slot(xp: Any, window: Any, slot: int, values: Any, replace: bool = False) -> Any:
    """``window`` (W, E, S) with ``values`` added to (or replacing) row ``slot``."""
    mask = xp.reshape(xp.arange(window.shape[0], device=window.device) == slot, (-1, 1, 1))
    base = xp.where(mask, 0.0, window) if replace else window
    return base + xp.where(mask, values[None, ...], 0.0)


def delay_capacity(spv: SpvCovenants, economy: Any, delay: np.ndarray, week: int) -> None:
    """Data centres not yet running in week ``week`` wait ``delay`` (E, F) more weeks for power.

    A data centre that is built but not connected to the grid earns no full lease and is not
    yet in operation, while its debt keeps accruing interest (capitalised until it operates:
    :mod:`abm.economy`) and its sponsor's commitments stay: the SPV's lease start
    (:meth:`SponsorLeases.delay`) and the economy's start of operation
    (:meth:`abm.economy.Economy.delay_operation`) move by the same whole weeks. Grid
    connection is the binding constraint of the build-out: the median project that reached
    commercial operation in 2018–2023 spent about five years in the US interconnection queue
    (Rand et al., *Queued Up: 2024 Edition*, Lawrence Berkeley National Laboratory, 2024), and
    seed 004 names power as the build-out's bottleneck.

    Args:
        spv: the SPVs' covenant mechanism (its leases are delayed).
        economy: the firms' operating rule (its start of operation is delayed).
        delay: (E, F) weeks of delay per world and firm (0 for firms that are not delayed).
        week: the week about to be stepped (weeks completed).
    """
    delay = np.round(delay)  # whole weeks, so a lease still starts on a step
    economy.delay_operation(delay, week)
    lease = spv.lease
    columns = to_numpy(spv.firm_columns)
    lease.delay(
        spv.sheets.xp.asarray(
            delay[:, columns], dtype=lease.rent_factor.dtype, device=lease.rent_factor.device
        ),
        week,
    )
