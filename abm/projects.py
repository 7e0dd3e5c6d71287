"""New data-centre projects after the start: the sponsors' pipeline of off-balance-sheet builds.

The four SPVs of the calibration raised their debt before the model starts (87 bn at week 0,
docs/seed-targets.md Q31). The build-out goes on after it: a sponsor keeps having developers
build data centres for it, financed off its balance sheet by project debt and the developers'
equity, and leases them. By the end of 2025 tech firms had moved more than 120 bn of
data-centre spending off their balance sheets (seed 003; FT, 24 Dec 2025), and Oracle alone had
248 bn of lease commitments, substantially all data centres, not yet commenced and not on its
balance sheet (10-Q for the quarter to 30 Nov 2025, note on leases).

The pipeline is a component of the SPVs' mechanism (rule 2 of the week, "new projects":
:meth:`abm.spv.SpvCovenants.build_projects`), which tests the vehicles' covenants and lets what
was built; the firms' operations spend the projects' capex with the vehicles' own
(``FirmState.project_capex``). The rule:

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
  A vehicle short of money cuts its new projects first (:meth:`abm.economy.Economy.run_firms`).
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

from abm.state import WorldState


class ProjectPipeline:
    """The sponsors' new off-balance-sheet projects (see the module docstring), per vehicle S.

    Args:
        pace: (S,) USD bn of new projects a week at zero hype (``firms.<spv>.pipeline_capex``
            times the ``project_pipeline`` lever).
        lease_yield: (S,) rent a week per USD bn built, ``lease_income_full / total_cost``.
        loan_to_cost: (E, S) the share of a project financed by the vehicle's debt.
        sponsor_columns: (S,) each vehicle's sponsor among the firms.
        capex_elasticity: ``b_c``, the response of capex to the AI hype.
    """

    def __init__(
        self, pace: Any, lease_yield: Any, loan_to_cost: Any, sponsor_columns: Any,
        capex_elasticity: float,
    ) -> None:  # fmt: skip
        self.pace, self.lease_yield, self.loan_to_cost = pace, lease_yield, loan_to_cost
        self.sponsor_columns = sponsor_columns
        self.capex_elasticity = capex_elasticity
        self.planned = loan_to_cost * 0.0  # (E, S) USD bn of new projects this week

    def start(self, state: WorldState, vehicle_ok: Any) -> Any:
        """Plan this week's projects where ``vehicle_ok`` (E, S); returns the developers' equity.

        A project starts only while its sponsor is alive and investment grade.
        """
        xp = state.xp
        alive = state.flows.firms_alive
        sponsor_ok = xp.take(alive & ~state.firms.junk, self.sponsor_columns, axis=1)
        lift = xp.exp(self.capex_elasticity * state.sentiment.ai)[:, None]
        self.planned = xp.where(sponsor_ok & vehicle_ok, self.pace * lift, 0.0)
        return self.planned * (1.0 - self.loan_to_cost)  # paid in the week it is spent
