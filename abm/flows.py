"""Weekly flows between savers and the institutions that hold their money.

Before the market clears (DESIGN.md §2.4 item 4), each rule says how much cash an institution
must pay out this week; the fire-sale kernel then makes it raise that cash (``cash_needed``), and
after the market has cleared the institution pays what it could:

- **Retail saving** — households save ``saving_flow`` a year from income earned in the rest of
  the economy (split by the wealth groups' saving shares) and put it into bank deposits.
- **Mutual-fund redemptions** — investors redeem ``elasticity × max(0, −NAV return)`` of a fund
  each week (flow–performance: money leaves funds that lose; the INET Oxford asset manager rule
  in notes/model-sheet.md), paid out of the fund at NAV.
- **Stablecoin redemptions** — holders redeem
  ``f = f₀ + k₁·max(0, 1 − peg) + k₂·max(0, −crypto return) + k₃·max(0, 1 − peer peg)`` of the
  tokens a week (notes/model-sheet.md; the coefficients in ``[stablecoins.behaviour]`` are fitted
  to the USDC run of March 2023, −15% of supply in 24 hours at a 0.87 low), paid at par from
  reserves while the issuer has cash; the peg is the recoverable value per token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from kernels.backend import segment_sum


class Flows:
    """Saving, fund redemptions and stablecoin redemptions of one model."""

    def __init__(self, cal: Calibration, sheets: BalanceSheets) -> None:
        self.sheets = sheets
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        n = roster.size
        saving = np.zeros(n)
        total = float(cal.model_value("retail.saving_flow"))
        for group in cal.children("retail.cohorts"):
            rows = roster.indices("retail", group)
            share = float(cal.model_value(f"retail.cohorts.{group}.saving_share"))
            saving[rows] = total * share / len(rows)
        self.saving = xp.asarray(saving, dtype=dtype, device=dev)
        self.retail = xp.asarray(roster.indices("retail"), device=dev)
        elasticity = np.zeros(n)
        for sector in ("mutual_bond", "mutual_equity"):
            rows = roster.indices("fund", sector)
            elasticity[rows] = float(cal.model_value(f"funds.{sector}.redemption_elasticity"))
        self.elasticity = xp.asarray(elasticity, dtype=dtype, device=dev)
        b = "stablecoins.behaviour"
        self.f0 = float(cal.model_value(f"{b}.base_redemption_share_per_week"))
        self.k_peg = float(cal.model_value(f"{b}.depeg_sensitivity"))
        self.k_crypto = float(cal.model_value(f"{b}.crypto_drawdown_sensitivity"))
        self.k_peer = float(cal.model_value(f"{b}.peer_depeg_sensitivity"))
        self.crypto = sheets.assets.index("crypto")
        self.last_nav = self._nav()
        self.last_crypto = sheets.prices[:, self.crypto] * 1.0
        self.last_redemptions = xp.zeros_like(sheets.ledger.cash)

    def _face(self, name: str) -> Any:
        """(E, N) face each agent owes on pool ``name``."""
        pool = self.sheets.ledger.pools[name]
        return segment_sum(pool.face, pool.issuers, self.sheets.ledger.cash.shape[-1])

    def _nav(self) -> Any:
        """(E, N) net asset value of fund shares (total assets less debt) for fund issuers."""
        s = self.sheets
        debt = s.liabilities() - self._face("fund_shares") - self._face("pension_claims")
        return s.total_assets() - debt

    def save(self) -> None:
        """Households receive their weekly saving from the rest of the economy and deposit it."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        weekly = xp.zeros_like(ledger.cash) + self.saving[None, :]
        income = xp.take(weekly, self.retail, axis=1)
        ledger.pay_outsider(self.retail, "rest_of_economy", -income)
        pool = ledger.pools["deposits"]
        ledger.subscribe("deposits", xp.take(weekly, pool.holders, axis=1))

    def redemptions(self, pegs: Any, defaulted: Any) -> Any:
        """(E, N) cash fund and stablecoin issuers must pay out this week."""
        s = self.sheets
        xp = s.xp
        nav = self._nav()
        fund_return = nav / xp.where(self.last_nav > 0.0, self.last_nav, 1.0) - 1.0
        fund = xp.minimum(self.elasticity * xp.maximum(-fund_return, 0.0), 1.0)
        fund_out = fund * xp.minimum(xp.maximum(nav, 0.0), self._face("fund_shares"))
        crypto = s.prices[:, self.crypto]
        crypto_fall = xp.maximum(1.0 - crypto / self.last_crypto, 0.0)[:, None]
        tokens = self._face("tokens")
        issuer = tokens > 0.0
        depeg = xp.where(issuer, xp.maximum(1.0 - pegs, 0.0), 0.0)
        peer = (xp.sum(depeg, axis=-1, keepdims=True) - depeg) * issuer
        share = self.f0 + self.k_peg * depeg + self.k_crypto * crypto_fall + self.k_peer * peer
        coin_out = xp.where(issuer, xp.minimum(share, 1.0) * tokens, 0.0)
        self.last_nav = nav
        self.last_crypto = crypto * 1.0
        return xp.where(defaulted, 0.0, fund_out + coin_out)

    def pay_out(self, due: Any) -> None:
        """Funds and stablecoin issuers pay what was due, as far as their cash reaches."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        paid = xp.minimum(due, xp.maximum(ledger.cash, 0.0))
        for name in ("fund_shares", "tokens"):
            pool = ledger.pools[name]
            ledger.repay(name, xp.take(paid, pool.issuers, axis=1))
        self.last_redemptions = paid
