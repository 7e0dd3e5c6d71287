"""The holders' constraints in the fire sale: banks' capital rules and hedge funds' margin.

The fire-sale kernel (``kernels.firesale.fire_sale``) reads every agent's constraint as three
thresholds on its ratio of equity to total assets: below ``capital_min`` it defaults, below
``capital_buffer`` it sells toward ``capital_target``.

- **Bank capital** (:class:`BankCapital`). Banks hold CET1 above a minimum and delever below a
  buffer toward a target (``[regulation.us]`` and ``[regulation.eu]``; one region's rules for all
  banks under the ``capital_regime`` lever). CET1 is a ratio to risk-weighted assets, the kernel's
  ratio is to total assets, so each threshold is multiplied by the bank's risk density (total
  RWA / total assets, EBA 2018 data), as the INET Oxford ``resilience`` model does for its
  leverage and risk-weighted constraints.
- **Held-to-maturity securities** (the SVB mechanism). A share of each bank's Treasuries is held
  to maturity (``[banks.liquidity]``: US 45%, Granja 2023; EU 40%, EBA 2023) and carried at cost
  for regulatory capital, so its unrealised loss does not count until it is sold: regulatory CET1
  = equity at market value + ``htm_units × (cost − price)`` (the add-back; negative when prices
  rose). Depositors see market-value capital (``cet1_ratio_market``); supervisors, the fire sale's
  thresholds, the lender of last resort and bailouts use the regulatory view (``cet1_ratio``).
  Treasuries carry no risk weight, so RWA = risk density × total assets at market value in both.
- **Hedge-fund margin** (:class:`HedgeFundMargin`). A hedge fund's equity must cover the
  haircut-weighted value of its book, with haircuts that rise as prices fall,
  ``h = h₀ + α·max(0, 1 − p/p₀)`` (the INET "departure from Bookstaber"), at least the policy's
  haircut floor and, with a leverage cap λ, at least 1/λ of its assets (Thurner, Farmer &
  Geanakoplos 2012, λ_max); it delevers to five points above its margin.

Channels ``bank_deleveraging`` and ``margin_calls`` switch the selling parts off
(:mod:`abm.channels`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.policy import Policy
from abm.state import WorldState
from kernels.backend import segment_sum

#: how far above its margin requirement a hedge fund delevers to (share of assets)
MARGIN_CUSHION = 0.05


class BankCapital:
    """Each bank's CET1 minimum, buffer and target, as ratios of equity to total assets.

    Attributes:
        risk_density: (N,) host, risk-weighted over total assets (1 for non-banks).
        minimum, buffer, target: (N,) host thresholds on equity / total assets (``-inf``
            buffer and 1 target for non-banks; ``-inf`` buffer for banks when the
            ``bank_deleveraging`` channel is off, so they keep their book until the minimum).
        cet1_target: (B,) banks' CET1 target on the device (ratio to RWA).
        regions: (B,) host, each bank's region in :data:`abm.state.REGIONS`.
        htm_share: (B,) host, share of each bank's Treasuries held to maturity at the start.
        cost: (E,) what a Treasury unit cost: its price at the start (the HTM carrying value).
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        bank_params: dict,
        policy: Policy,
        deleveraging: bool = True,
    ) -> None:
        xp, roster = sheets.xp, sheets.roster
        n = roster.size
        banks = roster.indices("bank")
        self.sheets = sheets
        self.is_bank = np.zeros(n, dtype=bool)
        self.is_bank[banks] = True
        self.banks = xp.asarray(banks, device=sheets.prices.device)
        self.risk_density = np.ones(n)
        self.risk_density[banks] = bank_params["risk_density"]
        cmin, cbuf, ctgt = np.zeros(n), np.full(n, -np.inf), np.ones(n)
        target = np.ones(n)
        for region in ("us", "eu"):
            rows = roster.indices("bank", region)
            rd = self.risk_density[rows]
            rules = region if policy.capital_regime == "own" else policy.capital_regime
            cmin[rows] = float(cal.model_value(f"regulation.{rules}.cet1_min")) * rd
            cbuf[rows] = float(cal.model_value(f"regulation.{rules}.cet1_buffer")) * rd
            ctgt[rows] = float(cal.model_value(f"regulation.{rules}.cet1_target")) * rd
            target[rows] = float(cal.model_value(f"regulation.{rules}.cet1_target"))
        if not deleveraging:
            cbuf[banks] = -np.inf
        self.minimum, self.buffer, self.target = cmin, cbuf, ctgt
        self.cet1_target = xp.asarray(
            target[banks], dtype=sheets.prices.dtype, device=sheets.prices.device
        )
        self.regions = np.array([0 if roster.kind[i] == "us" else 1 for i in banks], dtype=int)
        shares = [float(cal.model_value(f"banks.liquidity.{r}_htm_share")) for r in ("us", "eu")]
        self.htm_share = np.array(shares)[self.regions]
        self.treasuries = sheets.assets.index("treasuries")
        self.cost = sheets.prices[:, self.treasuries] * 1.0

    def opening_htm_units(self) -> Any:
        """(E, B) Treasury units each bank holds to maturity at the start: its HTM share."""
        s = self.sheets
        held = s.xp.take(s.holdings[:, :, self.treasuries], self.banks, axis=1)
        return held * s.xp.asarray(self.htm_share, dtype=held.dtype, device=held.device)

    def htm_addback(self, state: WorldState) -> Any:
        """(E, N) unrealised loss on each bank's HTM Treasuries, ``htm × (cost − price)``.

        Added to equity at market value it gives regulatory capital (0 for non-banks; negative,
        an unrealised gain, when the price is above cost).
        """
        s = state.sheets
        loss = state.banks.htm_units * (self.cost - s.prices[:, self.treasuries])[:, None]
        return segment_sum(loss, self.banks, s.ledger.cash.shape[-1])

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``cet1_ratio`` (regulatory, HTM at cost) and ``cet1_ratio_market``.

        Each bank's CET1 / RWA (0 for others): regulatory with the HTM add-back, and at market
        value, as uninsured depositors see it.
        """
        addback = self.htm_addback(books.state)
        return {
            "cet1_ratio": self.cet1_ratios(books.assets, books.liabilities, addback),
            "cet1_ratio_market": self.cet1_ratios(books.assets, books.liabilities),
        }

    def cet1_ratios(self, assets: Any, liabilities: Any, htm_addback: Any = None) -> Any:
        """(E, N) CET1 / RWA for banks, 0 for others.

        ``(assets − liabilities + htm_addback) / (risk density × assets)``: at market value
        without ``htm_addback`` (E, N), regulatory with :meth:`htm_addback`.
        """
        xp = self.sheets.xp
        rd = xp.asarray(self.risk_density, dtype=assets.dtype, device=assets.device)
        equity = assets - liabilities if htm_addback is None else assets - liabilities + htm_addback
        ratio = equity / xp.where(assets > 0.0, assets * rd, 1.0)
        return xp.where(xp.asarray(self.is_bank, device=assets.device), ratio, 0.0)


class HedgeFundMargin:
    """Hedge funds' margin requirement with procyclical haircuts and the policy's floor and cap.

    Attributes:
        haircut0: (M,) or (E, M) starting repo haircut of each asset, at least the policy floor
            (the ``haircut`` shock raises it).
        alpha: how much haircuts rise per unit fall of the price below its start.
    """

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, policy: Policy, margin_calls: bool = True
    ) -> None:
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.sheets = sheets
        is_hedge = np.zeros(sheets.roster.size, dtype=bool)
        is_hedge[sheets.roster.indices("fund", "hedge")] = True
        self.is_hedge = is_hedge
        self.hedge_rows = xp.asarray(np.flatnonzero(is_hedge), device=dev)
        self.haircut0 = xp.asarray(
            np.maximum(np.asarray(sheets.assets.haircut), policy.haircut_floor),
            dtype=dtype,
            device=dev,
        )
        self.alpha = float(cal.model_value("funds.hedge.haircut_procyclicality"))
        self.prices0 = sheets.prices * 1.0
        self.cap = policy.hedge_fund_leverage_cap
        self.binding = margin_calls or self.cap is not None

    def thresholds(self, buffer: Any, target: Any) -> tuple[Any, Any]:
        """(E, N) ``buffer`` and ``target`` with the hedge funds' margin and deleveraging target."""
        s = self.sheets
        xp = s.xp
        if not self.binding:
            return buffer, target
        fall = xp.maximum(1.0 - s.prices / self.prices0, 0.0)
        haircut = xp.minimum(self.haircut0 + self.alpha * fall, 1.0)  # (E, M)
        book = xp.take(s.holdings, self.hedge_rows, axis=1) * s.prices[:, None, :]  # (E, H, M)
        margin = xp.sum(book * haircut[:, None, :], axis=-1) / xp.maximum(
            xp.sum(book, axis=-1), 1e-12
        )
        if self.cap is not None:  # equity / assets at least 1 / cap, whatever the haircuts say
            margin = xp.maximum(margin, 1.0 / self.cap)
        hedge = xp.asarray(self.is_hedge, device=buffer.device)
        margin = segment_sum(margin, self.hedge_rows, buffer.shape[-1])  # on the agent axis
        buffer = xp.where(hedge, margin, buffer)
        target = xp.where(hedge, margin + MARGIN_CUSHION, target)
        return buffer, target
