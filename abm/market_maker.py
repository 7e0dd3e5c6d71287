"""The market maker of last resort: the central bank's corporate-bond and stablecoin facility.

When the spread on corporate bonds passes a trigger, the central bank buys bonds from the market
makers until prices are back at the trigger level, up to a capacity (a share of US GDP), and in
each world only with a probability that it acts at all (``[regulation.central_bank]``, overridden
by the ``backstop_*`` policy levers). The trigger price of a bond is the price at which its spread
has widened to the trigger, ``P = exp(−D·(s* − s₀))``; purchases lift the price back to it as far
as the capacity left allows. Holders gain the price rise; the central bank pays outside investors
for the units (money moves between two outsiders).

It buys what the 2020 facilities bought: investment-grade corporate bonds and the broad
investment-grade market (the model's ``ig_bonds_non_ai``, standing for the corporate-bond ETFs and
the broad market index the Secondary Market Corporate Credit Facility bought). The Federal
Reserve's Primary and Secondary Market Corporate Credit Facilities (term sheets of 23 March, 9 April
and 28 July 2020) took issuers rated at least BBB−/Baa3 on 22 March 2020, and ETFs whose
objective was mostly US investment-grade corporate bonds (a small part high-yield ETFs). A bond
whose issuer is rated below BBB− now (``state.firms.junk``, :mod:`abm.ratings`) gets no floor, nor
does high-yield credit (``hy_loans``, not a corporate bond here). The SMCCF also held "fallen
angels" downgraded after 22 March 2020 but still rated BB−/Ba3 or better; the model leaves them
out (a simplification: the start of the run has no cut-off date of its own).
The same facility, with the same capacity, buys the Treasuries of a stablecoin issuer whose run
passes its own trigger (:mod:`abm.stablecoins`); ``state.backstop_bought`` counts both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.policy import Policy
from abm.state import WorldState
from kernels.backend import segment_sum

#: random stream of the market maker of last resort's coin flip (abm.random)
STREAM_BACKSTOP = 7


class MarketMakerOfLastResort:
    """The central bank's purchases of investment-grade bonds below the trigger price (rule).

    Attributes:
        bonds: market positions of the corporate bonds (each issuer's and the IG index).
        bond_issuer: (B,) each bond's issuer as a column of ``state.firms`` (−1: the IG index,
            always eligible).
        acts: (E,) bool, the facility is on and the central bank acts in that world.
        acts_anywhere: whether it acts in any world, read once at construction so that the
            weekly rule does not wait on the device to learn it (``acts`` never changes).
        capacity: what it may buy in all, USD bn.
        trigger: the IG spread that triggers it, a fraction a year.
    """

    def __init__(self, cal: Calibration, sheets: Any, policy: Policy, streams: Any) -> None:
        self.sheets = sheets
        c = "regulation.central_bank"
        table = sheets.assets
        self.bonds = [m for m, k in enumerate(table.asset_class) if k == "corporate_bond"]
        self.bond_duration = np.maximum(np.array([table.duration[m] for m in self.bonds]), 1.0)
        firms = list(sheets.roster.indices("firm"))  # the columns of state.firms
        issuers = [table.issuer[m] for m in self.bonds]
        self.bond_issuer = np.array([-1 if k is None else firms.index(sheets.roster.index(k))
                                     for k in issuers])  # fmt: skip
        trigger_bp = policy.backstop_trigger_ig_oas_bp  # the policy's, else the calibration's
        if trigger_bp is None:
            trigger_bp = float(cal.value(f"{c}.market_maker_trigger_ig_oas"))
        self.trigger = trigger_bp / 1e4  # per year
        self.spread0 = float(cal.value("markets.ig_bonds_non_ai.spread")) / 1e4
        gdp = float(cal.value(f"{c}.us_gdp"))
        share = policy.backstop_capacity_gdp_share
        if share is None:
            share = float(cal.model_value(f"{c}.market_maker_capacity_share_gdp"))
        self.capacity = share * gdp
        chance = float(cal.model_value(f"{c}.market_maker_probability"))
        acts = streams.uniform(0, STREAM_BACKSTOP) < chance
        self.acts = acts & policy.market_maker_of_last_resort
        self.acts_anywhere = bool(sheets.xp.any(self.acts))

    def room(self, state: WorldState) -> Any:
        """(E,) capacity left, USD bn."""
        return self.capacity - state.backstop_bought

    def step(self, state: WorldState) -> None:
        """Buy investment-grade corporate bonds from the market makers up to the trigger price."""
        s = state.sheets
        xp = s.xp
        if not self.acts_anywhere:
            return
        dev = s.prices.device
        cols = xp.asarray(np.array(self.bonds), device=dev)
        years = xp.asarray(self.bond_duration / 52.0, dtype=s.prices.dtype, device=dev)
        floor = xp.exp(-years * (self.trigger - self.spread0))
        price = xp.take(s.prices, cols, axis=1)
        junk = xp.take(state.firms.junk, xp.asarray(np.maximum(self.bond_issuer, 0), device=dev),
                       axis=1)  # fmt: skip
        eligible = ~junk | xp.asarray(self.bond_issuer < 0, device=dev)[None, :]  # (E, B)
        lift = xp.where(eligible, xp.maximum(floor[None, :] / price - 1.0, 0.0), 0.0)
        outside = xp.take(xp.maximum(s.outside_units(), 0.0), cols, axis=1)
        cost = outside * price * lift  # buying the floating supply at the floor, roughly
        room = xp.maximum(self.capacity - state.backstop_bought, 0.0)
        scale = xp.minimum(1.0, room / xp.maximum(xp.sum(cost, axis=-1), 1e-12))
        scale = xp.where(self.acts, scale, 0.0)
        new = price * (1.0 + lift * scale[:, None])
        moved = segment_sum(new - price, cols, s.prices.shape[-1])
        s.ledger.book_equity((s.holdings @ moved[:, :, None])[:, :, 0])
        s.prices = s.prices + moved
        spent = xp.sum(cost, axis=-1) * scale
        s.ledger.outsiders.book("central_bank", -spent)
        s.ledger.outsiders.book("outside_investors", spent)
        state.backstop_bought = state.backstop_bought + spent
