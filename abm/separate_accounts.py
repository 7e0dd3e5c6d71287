"""Life insurers' separate accounts: equity held for policyholders who bear its gains and losses.

Variable annuities and variable life policies invest their holders' premiums in equity funds kept
in the insurer's separate accounts. The insurer reports the accounts' assets at fair value "with an
equivalent amount reported as separate account liabilities", and "investment income and
investment gains and losses accrue directly to, and investment risk is borne by, the
contractholder" (a life insurer's 10-Q note on separate accounts, SEC EDGAR CIK 777917, quarter to
30 Sep 2023; US GAAP, ASC 944-80). The calibration's life-insurer equity is those accounts
(``funds.insurer_life.allocation.equity_non_ai``: "separate accounts, mostly equity funds";
``assumptions.funds.insurer_separate_account_share`` of the listed equity they hold at the start).

Each mark moves a life insurer's policy reserves by the change in value of the equity units it
held at the start and still holds (units sold since leave the accounts): a fall in equity prices
lowers what the insurer owes by as much as it lowers its assets, and the policyholders, outside
the model (``rest_of_economy``), bear the loss. A failed insurer's accounts are no longer marked.
The general account (bonds, loans, real estate) stays the insurer's own risk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.state import WorldState
from kernels.backend import segment_sum, to_numpy


class SeparateAccounts:
    """Life insurers' equity-linked policy reserves, marked to their accounts' value (rule).

    Attributes:
        rows: (I,) the life insurers' rows.
        positions: (I,) their positions among the issuers of the ``policies`` pool.
        equities: (C,) the listed equity assets on the market axis.
        units: (E, I, C) equity units in the separate accounts at the start.
        value: (E, I) the accounts' value at the last mark (USD bn).
    """

    def __init__(self, cal: Calibration, sheets: BalanceSheets) -> None:
        xp, roster = sheets.xp, sheets.roster
        dev = sheets.prices.device
        self.sheets = sheets
        rows = np.asarray(roster.indices("fund", "insurer_life"), dtype=int)
        equities = [m for m, c in enumerate(sheets.assets.asset_class) if c == "equity"]
        issuers = to_numpy(sheets.ledger.pools["policies"].issuers).tolist()
        self.rows = xp.asarray(rows, device=dev)
        self.equities = xp.asarray(np.asarray(equities, dtype=int), device=dev)
        #: each life insurer's position among the policy pool's issuers
        self.positions = xp.asarray(np.asarray([issuers.index(int(i)) for i in rows]), device=dev)
        share = float(cal.model_value("assumptions.funds.insurer_separate_account_share"))
        self.units = self._held() * share
        self.value = self._value(self.units)

    def _held(self) -> Any:
        """(E, I, C) the life insurers' equity units now."""
        s = self.sheets
        return s.xp.take(s.xp.take(s.holdings, self.rows, axis=1), self.equities, axis=2)

    def _value(self, units: Any) -> Any:
        """(E, I) what ``units`` are worth at today's prices."""
        s = self.sheets
        prices = s.xp.take(s.prices, self.equities, axis=1)  # (E, C)
        return (units @ prices[:, :, None])[:, :, 0]

    def mark(self, state: WorldState) -> None:
        """Move each live life insurer's policy reserves with its separate accounts' value."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        self.units = xp.minimum(self.units, self._held())
        value = self._value(self.units)
        alive = ~xp.take(state.defaulted, self.rows, axis=1)
        change = xp.where(alive, value - self.value, 0.0)  # (E, I)
        pool = ledger.pools["policies"]
        moved = segment_sum(change, self.positions, pool.face.shape[-1])
        ledger.revalue_pool("policies", pool.face + moved)
        self.value = xp.where(alive, value, self.value)
