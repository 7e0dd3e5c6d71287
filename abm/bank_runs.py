"""Runs on banks by uninsured depositors outside the model.

Uninsured outside depositors leave a bank in distress at a weekly share
``w = w_max · logistic((d − θ)/σ)`` with distress ``d = max(0, 1 − CET1/target)``, rescaled so
that a bank without distress loses nothing, calibrated to SVB's 24% on its first day (a week of
five such days: ``w_max`` = 0.746 of uninsured deposits, see :mod:`abm.stablecoins`). The share
of deposits that is uninsured comes from the banks' data, times the ``deposit_insurance`` lever
(0 insures everything). The bank pays in cash; its cash may turn negative, and the fire sale
then makes it sell until it is not, unless the lender of last resort lends it the cash first
(:mod:`abm.backstops`). Channel ``bank_runs`` switches the runs off.
"""

from __future__ import annotations

import math

from abm.calibration import Calibration
from abm.claims import debt_owed
from abm.constraints import BankCapital
from abm.policy import Policy
from abm.state import WorldState


class BankRuns:
    """The weekly run of outside depositors on distressed banks (rule)."""

    def __init__(
        self,
        cal: Calibration,
        capital: BankCapital,
        bank_params: dict,
        policy: Policy,
        enabled: bool = True,
    ) -> None:
        sheets = capital.sheets
        self.capital = capital
        self.enabled = enabled
        self.uninsured = sheets.xp.asarray(
            bank_params["uninsured_share"] * policy.deposit_insurance,
            dtype=sheets.prices.dtype,
            device=sheets.prices.device,
        )
        b = "banks.behaviour"
        self.run_max = float(cal.model_value(f"{b}.uninsured_run_max_share_per_week"))
        self.run_threshold = float(cal.model_value(f"{b}.run_distress_threshold"))
        self.run_width = float(cal.model_value(f"{b}.run_distress_width"))

    def step(self, state: WorldState) -> None:
        """Outside depositors withdraw from distressed banks; ``state.withdrawals`` records it."""
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        held, _ = ledger.positions()
        debt = debt_owed(s)
        assets = ledger.cash + s.market_value() + (held + s.real_assets)
        banks = self.capital.banks
        ratio = xp.take(self.capital.cet1_ratios(assets, debt), banks, axis=1)
        distress = xp.maximum(1.0 - ratio / self.capital.cet1_target, 0.0)
        calm = 1.0 / (1.0 + math.exp(self.run_threshold / self.run_width))  # logistic at d = 0
        panic = 1.0 / (1.0 + xp.exp(-(distress - self.run_threshold) / self.run_width))
        share = self.run_max * xp.maximum(panic - calm, 0.0) / (1.0 - calm)  # 0 without distress
        alive = ~xp.take(state.defaulted, banks, axis=1) & self.enabled
        pool = ledger.pools["deposits"]
        before = ledger.cash
        ledger.withdraw_outside(
            "deposits", xp.where(alive, pool.face * share * self.uninsured, 0.0)
        )
        state.withdrawals = before - ledger.cash
