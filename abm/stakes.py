"""Equity stakes of the circular-deal network, marked to market every week.

The holding edges of ``[circular_deals.*]`` (kinds ``investment``, ``equity_stake`` and
``equity_stake_and_*`` between two firms: Nvidia's 5% of CoreWeave, Microsoft's, Amazon's,
Alphabet's and Nvidia's money in the AI labs, Meta's 20% of Hyperion, ...) make the investor's
wealth depend on the investee's: the other half of the circle, besides the purchase commitments
that :mod:`abm.deals` clears (issue 4, item 1; seed 004: "Nvidia invests in OpenAI, which buys
Nvidia chips").

- **Starting value.** A stake given as a share is worth that share of the investee's equity
  (market value for a listed firm, book equity for an SPV); one given in USD is worth what was
  paid in (``paid_in`` where the deal is staged, else its size): the holder carries it at cost,
  inside the assets the calibration already gives it, so no wealth is created.
- **Listed investees** (CoreWeave): the stake becomes units of the investee's equity asset held
  by the investor (taken out of its real assets at the starting price of 1), so the market marks
  it — fire sales, revaluation and a default that wipes the shares out included.
- **Private investees** (AI labs, SPVs): each week the stake is marked to
  ``V₀ · value_t / value₀`` — for an AI lab the same fundamental as a listed AI equity,
  ``exp(γ h)·R/R₀`` on its own revenue (:mod:`abm.economy`), for an SPV its book equity — and to
  zero once the investee has failed. The change is booked in the holder's real assets and equity.
- ``warrant`` edges (AMD's warrants to OpenAI, vesting with GW deployed from 2H 2026) are
  modelled by :mod:`abm.warrants`: vested tranches become new units of AMD's equity held by
  OpenAI, diluting the old ones. Edges with an end outside the firms are left out and listed in
  :attr:`EquityStakes.skipped`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.state import WorldState
from kernels.backend import segment_sum

#: deal kinds that are holdings of the investee's equity
STAKE_KINDS = ("investment", "equity_stake", "equity_stake_and_debt", "equity_stake_and_lease")


@dataclass(frozen=True)
class Stake:
    """One equity stake: holder and investee (agent rows) and its starting value (USD bn)."""

    key: str
    holder: int
    investee: int
    value: float


class EquityStakes:
    """The firms' stakes in each other, marked to market weekly.

    Attributes:
        stakes: the stakes modelled; ``skipped``: deals left out, with why.
        value: (E, K) current value of each private stake (USD bn); listed stakes are holdings.
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets, plan: Any, gamma: float) -> None:
        self.sheets, self.gamma = sheets, gamma
        self.plan_revenue = plan.revenue  # (F,) host, the firms' 2025 revenue
        roster = sheets.roster
        firms = [roster.names[i] for i in roster.indices("firm")]
        self.stakes: list[Stake] = []
        self.skipped: list[str] = []
        for key in cal.children("circular_deals"):
            node = cal.node(f"circular_deals.{key}")
            holder, investee, kind = node["from"], node["to"], node["kind"]
            if kind not in STAKE_KINDS:  # warrants: abm.warrants
                continue
            if holder not in firms or investee not in firms:
                self.skipped.append(f"{key}: {holder} -> {investee} is not between firms")
                continue
            value = _start(cal, key)
            if value <= 0.0:
                self.skipped.append(f"{key}: nothing paid in by the model start (staged)")
                continue
            self.stakes.append(Stake(key, roster.index(holder), roster.index(investee), value))
        self._place_listed()
        self._setup_private()

    def _place_listed(self) -> None:
        """Stakes in listed firms become units of their equity asset, out of real assets."""
        s = self.sheets
        xp = s.xp
        moved = np.zeros((s.roster.size, s.assets.size))
        for stake in self.stakes:
            m = s.assets.equity_of(s.roster.names[stake.investee])
            if m >= 0:
                moved[stake.holder, m] += stake.value  # price 1 at the start
        if not moved.any():
            return
        units = xp.asarray(moved, dtype=s.prices.dtype, device=s.prices.device)
        value = xp.sum(units * s.prices[:, None, :], axis=-1)  # (E, N) at today's prices
        if bool(xp.any(value > s.real_assets + 1e-9)):
            raise ValueError("a firm's listed stakes exceed the real assets it starts with")
        s.holdings = s.holdings + units
        s.real_assets = s.real_assets - value

    def _setup_private(self) -> None:
        s = self.sheets
        xp = s.xp
        listed = [s.assets.equity_of(s.roster.names[k.investee]) >= 0 for k in self.stakes]
        self.private = [
            k for k, is_listed in zip(self.stakes, listed, strict=True) if not is_listed
        ]
        dtype, dev = s.prices.dtype, s.prices.device
        self.holders = xp.asarray(np.array([k.holder for k in self.private]), device=dev)
        self.investees = xp.asarray(np.array([k.investee for k in self.private]), device=dev)
        start = np.array([k.value for k in self.private])
        self.value = xp.zeros((s.prices.shape[0], len(self.private)), dtype=dtype, device=dev)
        self.value = self.value + xp.asarray(start, dtype=dtype, device=dev)
        self.start_value = self.value * 1.0
        firm_rows = list(s.roster.indices("firm"))
        columns = np.array([firm_rows.index(k.investee) for k in self.private])
        self.columns = xp.asarray(columns, device=dev)
        kinds = [s.roster.kind[k.investee] for k in self.private]
        self.spv = xp.asarray(np.array([kind == "spv" for kind in kinds]), device=dev)
        self.equity0 = xp.take(s.equity(), self.investees, axis=1)
        revenue0 = self.plan_revenue[columns] if len(columns) else np.zeros(0)
        self.revenue0 = xp.asarray(revenue0, dtype=dtype, device=dev)

    def revalue(self, state: WorldState) -> None:
        """Mark the private stakes to their investees' value this week (after revaluation).

        A failed investee's stake is worth nothing.
        """
        if not self.private:
            return
        s = self.sheets
        xp = s.xp
        revenue = xp.take(state.firms.revenue, self.columns, axis=1)
        earnings = xp.maximum(revenue / xp.where(self.revenue0 > 0, self.revenue0, 1.0), 1e-6)
        lab = xp.exp(self.gamma * state.sentiment.ai)[:, None] * earnings
        book = xp.take(s.equity(), self.investees, axis=1)
        spv = xp.maximum(book, 0.0) / xp.where(self.equity0 > 0, self.equity0, 1.0)
        ratio = xp.where(self.spv, spv, lab)
        failed = xp.take(state.defaulted, self.investees, axis=1)
        new = xp.where(failed, 0.0, self.start_value * ratio)
        change = segment_sum(new - self.value, self.holders, s.real_assets.shape[-1])
        s.real_assets = s.real_assets + change
        s.ledger.book_equity(change)
        self.value = new


def _start(cal: Calibration, key: str) -> float:
    """A stake's starting value in USD bn: paid-in capital, its size, or its share of equity."""
    node = cal.node(f"circular_deals.{key}")
    if "paid_in" in node:
        return float(cal.model_value(f"circular_deals.{key}.paid_in"))
    size = cal.leaf(f"circular_deals.{key}.size")
    if size.unit != "share":
        return float(cal.model_value(f"circular_deals.{key}.size"))
    investee = f"firms.{node['to']}"
    return float(size.value) * float(cal.model_value(f"{investee}.equity_value"))
