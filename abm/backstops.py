"""Public backstops for banks: the lender of last resort and bailouts, with their public cost.

Both act through the ledger, so every dollar has two sides (docs/design.md, "The ledger"):

- **Lender of last resort** (:class:`LenderOfLastResort`; Bagehot 1873, *Lombard Street*: lend
  freely, against good collateral, to solvent institutions). Each week, before the market clears,
  a bank whose cash is below its liquidity buffer ``b × (deposits + wholesale funding)``
  (``[banks.liquidity] liquidity_buffer_share``: the reserves banks keep to make their payments)
  after deposit and wholesale runs and stablecoin withdrawals, and whose regulatory capital ratio
  (held-to-maturity securities at cost, :meth:`abm.constraints.BankCapital.htm_addback`) is at
  least its CET1 minimum (plus a margin), borrows the gap from the central bank instead of
  fire-selling — at most its collateral (everything but cash) after the haircut, less what it
  owes the window already; the facility lends at most its capacity (a share of GDP) and opens at
  all only in the worlds where the central bank acts (a per-world draw). The loan is a two-sided
  claim: a ledger pool ``central_bank_loans`` owed by the bank to the outsider ``central_bank``.
  A calm bank (no run this week, regulatory capital at or above its buffer) repays ``1/term`` of
  its loan a week from its cash above the buffer (the Fed's primary credit runs up to 90 days).
- **Bailouts** (:class:`Bailouts`; the rescue packages of seed 001, mechanism M17). A systemic
  bank (total assets at the start of at least the threshold) whose regulatory capital ratio falls
  below its minimum, or that failed in this week's clearing, is recapitalised by the public
  sector with cash booked as new equity, up to its CET1 minimum plus the capital conservation
  buffer: ``x = t·RWA − E`` with ``t`` the CET1 target and ``E`` regulatory equity (with the
  held-to-maturity add-back), so that ``(E + x) / RWA = t``: the cash injected weighs nothing
  (:meth:`abm.constraints.BankCapital.risk_weighted_assets`). It then does not fail. The
  public cost (the cash injected, with no recovery assumed) is recorded per world, limited by a
  capacity (a share of GDP), and the government rescues at all only in the worlds where it
  acts (a per-world draw).

Neither acts unless its :class:`abm.policy.Policy` switch is on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import rounding_margin
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.claims import debt_owed
from abm.constraints import BankCapital
from abm.policy import Policy
from abm.state import WorldState
from kernels.backend import segment_sum, to_numpy

#: random streams of the coin flips (abm.random), beside the market maker's 7
STREAM_LENDER, STREAM_BAILOUT = 8, 9
#: the ledger pool of central-bank loans
POOL = "central_bank_loans"


class LenderOfLastResort:
    """The central bank's discount window for solvent banks that are short of cash.

    Args:
        cal: the calibration (``[regulation.central_bank]``: ``lolr_*``, ``us_gdp``;
            ``[banks.liquidity]``: ``liquidity_buffer_share``).
        sheets: the model's balance sheets (with the ``central_bank_loans`` pool).
        capital: the banks' capital rules (:class:`abm.constraints.BankCapital`).
        policy: the policy levers.
        streams: the model's per-world random streams.
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        capital: BankCapital,
        policy: Policy,
        streams: Any,
    ) -> None:
        self.sheets, self.policy, self.capital = sheets, policy, capital
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        c = "regulation.central_bank"
        self.liquidity_buffer = float(cal.model_value("banks.liquidity.liquidity_buffer_share"))
        self.haircut = float(cal.model_value(f"{c}.lolr_haircut"))
        self.term = float(cal.model_value(f"{c}.lolr_term_weeks"))
        gdp = float(cal.value(f"{c}.us_gdp"))
        self.capacity = float(cal.model_value(f"{c}.lolr_capacity_share_gdp")) * gdp
        chance = float(cal.model_value(f"{c}.lolr_probability"))
        self.acts = (streams.uniform(0, STREAM_LENDER) < chance) & policy.lender_of_last_resort
        pool = sheets.ledger.pools[POOL]
        self.banks = pool.issuers
        banks = np.asarray(sheets.roster.indices("bank"))
        margin = float(cal.model_value(f"{c}.lolr_solvency_margin"))
        floor = capital.minimum[banks] + margin
        self.floor = xp.asarray(floor, dtype=dtype, device=dev)  # CET1 / RWA
        self.buffer = xp.asarray(capital.buffer[banks], dtype=dtype, device=dev)
        self.last_lent = xp.zeros_like(sheets.ledger.cash)  # (E, N) USD bn this week
        self.last_repaid = xp.zeros_like(sheets.ledger.cash)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``lolr_loans`` outstanding and ``lolr_lent`` this week (USD bn)."""
        return {"lolr_loans": self.outstanding(), "lolr_lent": self.last_lent}

    def outstanding(self) -> Any:
        """(E, N) what each bank owes the central bank (USD bn)."""
        return self.sheets.ledger.owed(POOL)

    def step(self, state: WorldState) -> None:
        """Calm borrowers repay, then illiquid but solvent banks borrow (before the fire sale)."""
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools[POOL]
        n = ledger.cash.shape[-1]
        self.last_lent = xp.zeros_like(ledger.cash)
        self.last_repaid = xp.zeros_like(ledger.cash)
        if not self.policy.lender_of_last_resort:
            return
        debt = debt_owed(s)  # after this week's runs
        all_assets = s.total_assets()
        regulatory = self.capital.cet1_ratios(all_assets, debt, self.capital.htm_addback(state))
        ratio = xp.take(regulatory, self.banks, axis=1)
        assets = xp.take(all_assets, self.banks, axis=1)
        funding = ledger.owed_by("deposits", self.banks) + ledger.owed_by("wholesale", self.banks)
        buffer = self.liquidity_buffer * funding  # cash it wants
        cash = xp.take(ledger.cash, self.banks, axis=1)
        alive = ~xp.take(state.defaulted, self.banks, axis=1)
        run = xp.take(state.withdrawals, self.banks, axis=1) > 0.0
        calm = alive & ~run & (ratio >= self.buffer)
        spare = xp.maximum(cash - buffer, 0.0)
        repay = xp.where(calm, xp.minimum(pool.face / self.term, spare), 0.0)
        ledger.withdraw_outside(POOL, repay)  # the central bank is paid back in cash
        self.last_repaid = segment_sum(repay, self.banks, n)
        cash = xp.take(ledger.cash, self.banks, axis=1)
        solvent = alive & (ratio >= self.floor)
        collateral = (1.0 - self.haircut) * xp.maximum(assets - cash, 0.0) - pool.face
        want = xp.where(
            solvent, xp.minimum(xp.maximum(buffer - cash, 0.0), xp.maximum(collateral, 0.0)), 0.0
        )
        room = xp.maximum(self.capacity - xp.sum(pool.face, axis=-1), 0.0)
        scale = xp.minimum(1.0, room / xp.maximum(xp.sum(want, axis=-1), 1e-12))
        lend = want * xp.where(self.acts, scale, 0.0)[:, None]
        ledger.lend_outside(POOL, lend)
        self.last_lent = segment_sum(lend, self.banks, n)


class Bailouts:
    """Government recapitalisation of failing systemic banks, and its public cost.

    Args:
        cal: the calibration (``[regulation.bailouts]``, ``[regulation.central_bank].us_gdp``).
        sheets: the model's balance sheets.
        capital: the banks' capital rules (:class:`abm.constraints.BankCapital`).
        policy: the policy levers.
        streams: the model's per-world random streams.
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        capital: BankCapital,
        policy: Policy,
        streams: Any,
    ) -> None:
        self.sheets, self.policy, self.capital = sheets, policy, capital
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        b = "regulation.bailouts"
        banks = np.asarray(sheets.roster.indices("bank"))
        self.banks = xp.asarray(banks, device=dev)
        size = np.asarray(_first_world(sheets.total_assets()))[banks]
        self.systemic = xp.asarray(
            size >= float(cal.model_value(f"{b}.systemic_assets_threshold")), device=dev
        )
        buffer = float(cal.model_value(f"{b}.capital_conservation_buffer"))
        target = capital.minimum[banks] + buffer
        self.target = xp.asarray(target, dtype=dtype, device=dev)  # CET1 / RWA after rescue
        self.floor = xp.asarray(capital.minimum[banks], dtype=dtype, device=dev)
        gdp = float(cal.value("regulation.central_bank.us_gdp"))
        self.capacity = float(cal.model_value(f"{b}.capacity_share_gdp")) * gdp
        chance = float(cal.model_value(f"{b}.probability"))
        self.acts = (streams.uniform(0, STREAM_BAILOUT) < chance) & policy.bailouts
        zeros = xp.zeros_like(sheets.ledger.cash)
        self.public_cost = xp.zeros_like(sheets.prices[:, 0])  # (E,) USD bn, cumulative
        self.rescued = zeros > 1.0  # (E, N) banks rescued so far

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``rescued`` banks so far and the ``public_cost`` so far (USD bn)."""
        return {"rescued": self.rescued, "public_cost": self.public_cost}

    def step(self, state: WorldState) -> None:
        """Recapitalise systemic banks below their minimum or failed this week; clear their default.

        Runs twice a week: before the fire sale (banks below their minimum after the runs) and
        after it (banks that failed in the clearing). Banks that had failed before the week
        began are resolved, not rescued.
        """
        if not self.policy.bailouts:
            return
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        debt = debt_owed(s)
        n = ledger.cash.shape[-1]
        all_assets = s.total_assets()
        regulatory = all_assets - debt + self.capital.htm_addback(state)
        equity = xp.take(regulatory, self.banks, axis=1)  # held-to-maturity Treasuries at cost
        rwa = xp.take(all_assets * self.capital.density(all_assets), self.banks, axis=1)
        ratio = equity / xp.where(rwa > 0.0, rwa, 1.0)
        failing = (ratio < self.floor) | xp.take(state.defaulted, self.banks, axis=1)
        failing = failing & ~xp.take(state.flows.defaulted_before, self.banks, axis=1)
        failing = failing & self.systemic
        capital = self.target * rwa - equity  # paid in cash, which weighs nothing
        short = -xp.take(ledger.cash, self.banks, axis=1)  # and at least the cash it lacks
        need = xp.where(failing, xp.maximum(xp.maximum(capital, short), 0.0), 0.0)
        room = xp.maximum(self.capacity - self.public_cost, 0.0)
        scale = xp.minimum(1.0, room / xp.maximum(xp.sum(need, axis=-1), 1e-12))
        inject = need * xp.where(self.acts, scale, 0.0)[:, None]
        ledger.pay_outsider(self.banks, "public_sector", -inject)  # new equity, paid in cash
        self.public_cost = self.public_cost + xp.sum(inject, axis=-1)
        injected = segment_sum(inject, self.banks, n)
        state.flows.bailout_injection = state.flows.bailout_injection + injected
        margin = rounding_margin(xp, need.dtype)
        saved = failing & (inject >= need * (1.0 - margin)) & (need > 0.0) & self.acts[:, None]
        saved = segment_sum(xp.astype(saved, s.prices.dtype), self.banks, n) > 0.0
        self.rescued = self.rescued | saved
        state.rescue(saved)


def _first_world(values: Any) -> np.ndarray:
    """World 0 of an (E, N) array, on the host (the worlds start identical)."""
    return np.asarray(to_numpy(values))[0]


__all__ = ["POOL", "Bailouts", "LenderOfLastResort"]
