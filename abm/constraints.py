"""The holders' constraints in the fire sale: banks' capital rules and hedge funds' margin.

The fire-sale kernel (``kernels.firesale.fire_sale``) reads every agent's constraint as three
thresholds on its ratio of equity to total assets: below ``capital_min`` it defaults, below
``capital_buffer`` it sells toward ``capital_target``.

- **Bank capital** (:class:`BankCapital`). Banks hold CET1 above a minimum and delever below a
  buffer toward a target (``[regulation.us]`` and ``[regulation.eu]``; one region's rules for all
  banks under the ``capital_regime`` lever). CET1 is a ratio to risk-weighted assets, the kernel's
  ratio is to total assets, so each threshold is multiplied by the bank's risk density (RWA /
  total assets, :meth:`BankCapital.density`), as the INET Oxford ``resilience`` model does for
  its leverage and risk-weighted constraints.
- **Risk weights by asset class** (:meth:`BankCapital.risk_weighted_assets`). Reserves weigh
  nothing, securities weigh their Basel standardised weight (``[markets.*].risk_weight``:
  Treasuries 0%, investment-grade bonds 20 to 100%, listed equity 250%; CRR Art. 114, 122,
  BCBS d424), and the rest of the book (loans, other real assets, claims on the ledger's pools)
  one weight per bank, set so that each bank starts at its reported risk density (RWA / total
  assets: for the US banks estimated from the Fed's 2025 stress-test ratios, for the EU banks
  the EBA 2018 data) and so at its reported CET1 ratio. A bank that swaps loans for reserves in
  a bust sees its RWA fall, as a real one does (Basel III: central-bank reserves 0%), instead
  of keeping its starting density over a book that is now mostly cash.
- **Held-to-maturity securities** (the SVB mechanism). A share of each bank's Treasuries is held
  to maturity (``[banks.liquidity]``: US 45%, Granja 2023; EU 40%, EBA 2023) and carried at cost
  for regulatory capital, so its unrealised loss does not count until it is sold: regulatory CET1
  = equity at market value + ``htm_units × (cost − price)`` (the add-back; negative when prices
  rose). Depositors see market-value capital (``cet1_ratio_market``); supervisors, the fire sale's
  thresholds, the lender of last resort and bailouts use the regulatory view (``cet1_ratio``).
  Treasuries carry no risk weight, so the add-back does not move RWA.
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
from abm.state import REGIONS, WorldState
from kernels.backend import segment_sum

#: how far above its margin requirement a hedge fund delevers to (share of assets)
MARGIN_CUSHION = 0.05


class BankCapital:
    """Each bank's CET1 minimum, buffer and target, and its risk-weighted assets.

    Attributes:
        risk_density: (N,) host, each bank's reported RWA over total assets at the start (1 for
            non-banks); :meth:`density` is the density of its book now.
        minimum, buffer, target: (N,) host thresholds on CET1 / RWA for banks and on equity /
            total assets for others (0 minimum, ``-inf`` buffer and 1 target); ``-inf`` buffer
            for banks when the ``bank_deleveraging`` channel is off, so they keep their book
            until the minimum. :meth:`thresholds` gives them as ratios to total assets.
        book_weight: (E, N) risk weight of each bank's book outside cash and securities, set
            at the start (0 for non-banks).
        cet1_minimum, cet1_target: (B,) banks' CET1 minimum and target on the device (ratios to
            RWA).
        regions: (B,) host, each bank's region in :data:`abm.state.REGIONS`; ``region`` is the
            same on the device and ``region_onehot`` (B, R) its one-hot, 1.0 in the bank's
            region's column, so that ``x @ region_onehot`` sums (E, B) ``x`` over each region.
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
        for region in ("us", "eu"):
            rows = roster.indices("bank", region)
            rules = region if policy.capital_regime == "own" else policy.capital_regime
            cmin[rows] = float(cal.model_value(f"regulation.{rules}.cet1_min"))
            cbuf[rows] = float(cal.model_value(f"regulation.{rules}.cet1_buffer"))
            ctgt[rows] = float(cal.model_value(f"regulation.{rules}.cet1_target"))
        if not deleveraging:
            cbuf[banks] = -np.inf
        self.minimum, self.buffer, self.target = cmin, cbuf, ctgt
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.cet1_minimum = xp.asarray(cmin[banks], dtype=dtype, device=dev)
        self.cet1_target = xp.asarray(ctgt[banks], dtype=dtype, device=dev)
        self._on_device = [  # (finite?, ratio) of each threshold, for :meth:`thresholds`
            (
                xp.asarray(np.isfinite(r), device=dev),
                xp.asarray(np.where(np.isfinite(r), r, 0.0), dtype=dtype, device=dev),
            )
            for r in (cmin, cbuf, ctgt)
        ]
        self.security_weight = xp.asarray(sheets.assets.risk_weight, dtype=dtype, device=dev)
        self._is_bank = xp.asarray(self.is_bank, device=dev)
        self.book_weight = xp.zeros_like(sheets.ledger.cash)
        reported = xp.asarray(self.risk_density, dtype=dtype, device=dev) * sheets.total_assets()
        securities, book = self._weighed()
        weight = (reported - securities) / xp.where(book > 0.0, book, 1.0)
        self.book_weight = xp.where(self._is_bank & (book > 0.0), xp.maximum(weight, 0.0), 0.0)
        self.regions = np.array([0 if roster.kind[i] == "us" else 1 for i in banks], dtype=int)
        self.region = xp.asarray(self.regions, device=dev)
        self.region_onehot = xp.asarray(np.eye(len(REGIONS))[self.regions], dtype=dtype, device=dev)
        shares = [float(cal.model_value(f"banks.liquidity.{r}_htm_share")) for r in ("us", "eu")]
        self.htm_share = np.array(shares)[self.regions]
        self.treasuries = sheets.assets.index("treasuries")
        self.cost = sheets.prices[:, self.treasuries] * 1.0

    def own_or_region(self, cal: Calibration, key: str, by_region: np.ndarray) -> np.ndarray:
        """(B,) host: each bank's value of a calibration leaf, its own or its region's.

        A US bank's own leaf ``[banks.us.agents.<name>] key`` where it has one, else its region's
        value in ``by_region`` (R,).
        """
        roster = self.sheets.roster
        values = np.asarray(by_region, dtype=float)[self.regions]
        for b, row in enumerate(roster.indices("bank")):
            node = f"banks.us.agents.{roster.names[row]}"
            if self.regions[b] == 0 and key in cal.node(node):
                values[b] = float(cal.value(f"{node}.{key}"))
        return values

    def at_banks(self, regional: Any) -> Any:
        """(E, B) a regional (E, R) quantity at each bank's region."""
        return self.sheets.xp.take(regional, self.region, axis=1)

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

    def _weighed(self) -> tuple[Any, Any]:
        """(E, N) risk-weighted securities and (E, N) book outside cash and securities (USD bn)."""
        sheets = self.sheets
        held, _ = sheets.ledger.positions()
        weighted = sheets.prices * self.security_weight  # (E, M)
        securities = (sheets.holdings @ weighted[:, :, None])[:, :, 0]
        return securities, held + sheets.real_assets

    def risk_weighted_assets(self) -> Any:
        """(E, N) each bank's risk-weighted assets now (USD bn; 0 for others).

        Reserves at 0%, each security at its risk weight and the rest of the book at the
        bank's :attr:`book_weight` (module docstring).
        """
        securities, book = self._weighed()
        return self.sheets.xp.where(self._is_bank, securities + self.book_weight * book, 0.0)

    def density(self, assets: Any) -> Any:
        """(E, N) each bank's RWA over its total ``assets`` now (1 for others).

        A bank with no assets or no risk-weighted ones (only reserves and Treasuries, which no
        bank of the model comes near) is measured on its total assets: density 1.
        """
        xp = self.sheets.xp
        rwa = self.risk_weighted_assets()
        density = rwa / xp.where(assets > 0.0, assets, 1.0)
        return xp.where(self._is_bank & (assets > 0.0) & (rwa > 0.0), density, 1.0)

    def thresholds(self, assets: Any) -> tuple[Any, Any, Any]:
        """(E, N) minimum, buffer and target as ratios of equity to total ``assets`` now.

        Each CET1 threshold times the bank's :meth:`density`; the others' as they are.
        """
        xp = self.sheets.xp
        density = self.density(assets)
        return tuple(
            xp.where(finite, ratio * density, -xp.inf) for finite, ratio in self._on_device
        )

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``cet1_ratio`` (regulatory, HTM at cost) and ``cet1_ratio_market``.

        Each bank's CET1 / RWA (0 for others): regulatory with the HTM add-back, and at market
        value, as uninsured depositors see it.
        """
        addback = self.htm_addback(books.state)
        density = self.density(books.assets)
        return {
            "cet1_ratio": self.cet1_ratios(books.assets, books.liabilities, addback, density),
            "cet1_ratio_market": self.cet1_ratios(books.assets, books.liabilities, None, density),
        }

    def cet1_ratios(
        self, assets: Any, liabilities: Any, htm_addback: Any = None, density: Any = None
    ) -> Any:
        """(E, N) CET1 / RWA for banks, 0 for others.

        ``(assets − liabilities + htm_addback) / RWA`` (:meth:`risk_weighted_assets` of the
        model's sheets, which ``assets`` (E, N) and ``liabilities`` must be measured on): at
        market value without ``htm_addback`` (E, N), regulatory with :meth:`htm_addback`;
        ``density`` is :meth:`density` of ``assets`` when the caller has it already.
        """
        xp = self.sheets.xp
        equity = assets - liabilities if htm_addback is None else assets - liabilities + htm_addback
        density = self.density(assets) if density is None else density
        ratio = equity / xp.where(assets > 0.0, assets * density, 1.0)
        return xp.where(self._is_bank, ratio, 0.0)


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
