"""New data-centre projects after the start: the sponsors' pipeline of off-balance-sheet builds.

The four SPVs of the calibration raised their debt before the model starts (87 bn at week 0,
docs/seed-targets.md Q31). The build-out goes on after it: a sponsor keeps having developers
build data centres for it, financed off its balance sheet by project debt and the developers'
equity, and leases them. By the end of 2025 tech firms had moved more than 120 bn of
data-centre spending off their balance sheets (seed 003; FT, 24 Dec 2025), and Oracle alone had
248 bn of lease commitments, substantially all data centres, not yet commenced and not on its
balance sheet (10-Q for the quarter to 30 Nov 2025, note on leases). The rule:

- **Pace**: each vehicle builds new projects for its sponsor at ``firms.<spv>.pipeline_capex``
  a year (its sponsor's projects beyond the vehicle's own build: Oracle's at
  ``oracle_stargate``, Meta's at ``meta_hyperion``), times the ``project_pipeline`` lever and
  ``exp(b_c h)`` like every firm's capex (:mod:`abm.economy`). New projects start only while
  the sponsor is alive and investment grade (project lenders lend against the tenant's lease:
  Blue Owl walked away from Oracle's Michigan project in December 2025, FT) and the vehicle is
  alive and unstressed: it has not breached a covenant and its collateral has lost less than
  the covenant's headroom of its market value (:meth:`abm.spv.SpvCovenants.stressed`), so after
  an efficiency shock or a collateral bust lenders stop financing new data centres and a
  vehicle does not dilute its loss with new capacity at cost.
- **Funding**: the developers' equity pays ``1 − LTC`` of the cost into the vehicle in the week
  it is spent (outside investors, as Blue Owl's, Blackstone's or Related Digital's equity),
  with ``LTC`` the vehicle's own debt over its real assets and cash at the start (Hyperion 0.92,
  Stargate 0.80; the 2025–26 deals were 64–92% debt); the rest is the vehicle's
  capex this week and is financed down its pecking order (:mod:`abm.financing`: bonds where the
  vehicle has them, as Hyperion's 144A bonds, else private credit).
- **Lease**: what was built is let to the sponsor from the next week at the vehicle's own lease
  yield, ``lease_income_full / total_cost`` a year, and its debt amortises with the vehicle's
  loans over their term from the vehicle's lease start (:class:`abm.spv.SponsorLeases`); the
  capacity enters the covenants' collateral at cost (:meth:`abm.spv.SpvCovenants.add_capacity`).
  The model does not follow each project's construction period: a steady pipeline delivers
  capacity as it spends (GPU halls are let in phases), so the rent starts a build period
  earlier than a single project's would.

A project's tenant is its sponsor: a sponsor in distress pays less rent
(:meth:`abm.spv.SponsorLeases.collect`), the vehicle's coverage fails and its lenders take the
loss (:mod:`abm.failures`), which is the channel seed 004 asks about ("unclear who bears
responsibility if the projects financed by SPVs do not generate enough revenue").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import columns
from abm.calibration import Calibration
from abm.spv import SpvCovenants, spv_values
from abm.state import WorldState


class ProjectPipeline:
    """The sponsors' new off-balance-sheet projects (see the module docstring).

    Args:
        cal: the calibration (``firms.<spv>.pipeline_capex``, ``lease_income_full``,
            ``total_cost``).
        economy: the firms' operations (:class:`abm.economy.Economy`); the vehicles' new capex
            is added to theirs through ``economy.project_capex``.
        spv: the SPVs' covenants and leases (:class:`abm.spv.SpvCovenants`).
        scale: the ``project_pipeline`` lever, a multiple of the calibrated pace; at 0 the rule
            does nothing.
    """

    def __init__(self, cal: Calibration, economy: Any, spv: SpvCovenants, scale: float) -> None:
        self.economy, self.spv = economy, spv
        roster = spv.sheets.roster
        names = [roster.names[i] for i in spv.rows]
        pace = spv_values(cal, names, "pipeline_capex") * scale  # USD bn a week
        self.enabled = bool(np.any(pace > 0.0))
        if not self.enabled:
            return
        xp = spv.sheets.xp
        self.pace = economy.host(pace)
        cost = spv_values(cal, names, "total_cost")
        self.lease_yield = economy.host(spv_values(cal, names, "lease_income_full") / cost)
        self.loan_to_cost = xp.minimum(spv.debt() / xp.maximum(spv.book_value(), 1e-12), 1.0)
        firm_rows = list(economy.firm_rows)
        sponsors = [firm_rows.index(int(i)) for i in np.asarray(spv.sponsor_rows)]
        self.sponsor_columns = xp.asarray(np.array(sponsors), device=spv.factor.device)
        self.planned = spv.factor * 0.0  # (E, S) USD bn of new projects this week
        economy.project_capex = economy.firm.revenue * 0.0

    def step(self, state: WorldState) -> None:
        """Let last week's new capacity, then start this week's projects."""
        if not self.enabled:
            return
        eco, spv = self.economy, self.spv
        xp = spv.sheets.xp
        cut = xp.take(eco.last_capex_cut, spv.firm_columns, axis=1)
        built = xp.maximum(self.planned - cut, 0.0)  # a vehicle short of money cuts these first
        spv.add_capacity(built, built * self.lease_yield, built * self.loan_to_cost, state.week)
        alive = state.flows.firms_alive
        sponsor_ok = xp.take(alive & ~eco.firm.junk, self.sponsor_columns, axis=1)
        vehicle_ok = xp.take(alive, spv.firm_columns, axis=1) & ~spv.stressed()
        lift = xp.exp(eco.b_capex * state.sentiment.ai)[:, None]
        self.planned = xp.where(sponsor_ok & vehicle_ok, self.pace * lift, 0.0)
        equity = self.planned * (1.0 - self.loan_to_cost)  # the developers' equity, paid in now
        spv.sheets.ledger.pay_outsider(spv.index, "outside_investors", -equity)
        eco.project_capex = columns(xp, eco.project_capex, spv.firm_columns, self.planned)
