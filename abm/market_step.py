"""Market clearing and failures: every holder's constraint through the fire-sale kernel.

Once a week, after the real economy and valuation (DESIGN.md §2.4 items 4–6):

1. **Constraints and liquidity needs.** Banks hold CET1 above a minimum, delever below a buffer
   toward a target (thresholds in ``[regulation]`` by region; the kernel's ratio is equity /
   total assets, so each is multiplied by the bank's risk density, as the INET Oxford model does
   for its leverage and risk-weighted constraints). Hedge funds meet margin: their equity must stay
   above the haircut-weighted value of their book, with haircuts rising as prices fall
   (``h = h₀ + α·max(0, 1 − p/p₀)``, the INET "departure from Bookstaber"). Uninsured depositors
   outside the model run from a bank in distress, ``w = w_max · logistic((d − θ)/σ)`` per week
   with ``d = max(0, 1 − CET1/target)``, calibrated to SVB's 24% on the first day; the bank must
   raise the cash.
2. **The fire-sale fixed point** (``kernels.firesale.fire_sale``): defaults, deleveraging and
   cash needs in synchronous rounds with price impact, sales filled at the mid price. Debt-like
   liabilities count (deposits, bank loans, interbank, wholesale funding, bonds, policy reserves);
   fund shares and pension claims are the owners' stake and do not make a fund default, and a
   stablecoin issuer whose reserves fall short of its tokens shows it in its peg (the run on it is
   the stablecoin rule's business, not an instant default). Units sold go to the market makers,
   who pay the proceeds; deleveraging repays wholesale funding, then bank loans, then interbank
   borrowing.
3. **Revaluation.** Every holder's book is marked to the new prices; sellers also book the
   difference between the fill and the mark.

A defaulted agent stops trading and deleveraging; its creditors' losses are cleared by
``kernels.clearing.eisenberg_noe`` in :meth:`MarketStep.resolve_failures`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from kernels.backend import segment_sum
from kernels.firesale import fire_sale

#: pools whose face is debt: they make their issuer default when it cannot pay
DEBT_POOLS = ("deposits", "bank_loans", "interbank", "wholesale", "policies")
#: what deleveraging repays first
REPAY_ORDER = ("wholesale", "bank_loans", "interbank")


class MarketStep:
    """The weekly market clearing of one model."""

    def __init__(self, cal: Calibration, sheets: BalanceSheets, bank_params: dict) -> None:
        self.sheets = sheets
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        n = roster.size
        self.defaulted = xp.zeros(sheets.ledger.cash.shape, dtype=xp.bool, device=dev)

        def host(values: np.ndarray) -> Any:
            return xp.asarray(values, dtype=dtype, device=dev)

        banks = roster.indices("bank")
        self.banks = xp.asarray(banks, device=dev)
        self.risk_density = np.ones(n)
        self.risk_density[banks] = bank_params["risk_density"]
        cmin, cbuf, ctgt = np.zeros(n), np.full(n, -np.inf), np.ones(n)
        target = np.ones(n)
        for region in ("us", "eu"):
            rows = roster.indices("bank", region)
            rd = self.risk_density[rows]
            cmin[rows] = float(cal.model_value(f"regulation.{region}.cet1_min")) * rd
            cbuf[rows] = float(cal.model_value(f"regulation.{region}.cet1_buffer")) * rd
            ctgt[rows] = float(cal.model_value(f"regulation.{region}.cet1_target")) * rd
            target[rows] = float(cal.model_value(f"regulation.{region}.cet1_target"))
        self.capital_min, self.capital_buffer, self.capital_target = cmin, cbuf, ctgt
        self.cet1_target = host(target[banks])
        self.uninsured = host(bank_params["uninsured_share"])
        b = "banks.behaviour"
        self.run_max = float(cal.model_value(f"{b}.uninsured_run_max_share_per_week"))
        self.run_threshold = float(cal.model_value(f"{b}.run_distress_threshold"))
        self.run_width = float(cal.model_value(f"{b}.run_distress_width"))
        self.hedge = roster.indices("fund", "hedge")
        self.haircut0 = host(np.asarray(sheets.assets.haircut))
        self.haircut_alpha = float(cal.model_value("funds.hedge.haircut_procyclicality"))
        self.prices0 = sheets.prices * 1.0
        self.depth = host(np.asarray(sheets.assets.depth))
        self.stablecoins = roster.indices("stablecoin")
        self.last_sold = xp.zeros(sheets.prices.shape, dtype=dtype, device=dev)
        self.last_proceeds = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)
        self.last_withdrawals = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)
        self.converged = xp.ones(sheets.prices.shape[:1], dtype=xp.bool, device=dev)

    # -- read-outs ----------------------------------------------------------------------------

    def cet1_ratios(self, assets: Any, liabilities: Any) -> Any:
        """(E, N) CET1 / RWA for banks (equity / (risk density × assets)), 0 for others."""
        xp = self.sheets.xp
        rd = xp.asarray(self.risk_density, dtype=assets.dtype, device=assets.device)
        ratio = (assets - liabilities) / xp.where(assets > 0.0, assets * rd, 1.0)
        is_bank = np.zeros(self.risk_density.shape[0], dtype=bool)
        is_bank[self.sheets.roster.indices("bank")] = True
        return xp.where(xp.asarray(is_bank, device=assets.device), ratio, 0.0)

    def pegs(self, assets: Any) -> Any:
        """(E, N) recoverable value per token for stablecoin issuers (1 elsewhere)."""
        xp = self.sheets.xp
        tokens = self.sheets.ledger.pools["tokens"]
        face = segment_sum(tokens.face, tokens.issuers, assets.shape[-1])
        peg = xp.minimum(assets / xp.where(face > 0.0, face, 1.0), 1.0)
        return xp.where(face > 0.0, peg, 1.0)

    # -- the weekly clearing ------------------------------------------------------------------

    def debt(self) -> Any:
        """(E, N) debt-like liabilities: face of the debt pools plus bonds issued."""
        s = self.sheets
        owed = s.bonds * 1.0
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            owed = owed + segment_sum(pool.face, pool.issuers, owed.shape[-1])
        return owed

    def clear(self, sentiment: Any) -> None:
        """Constraints, runs, the fire sale, repayments and revaluation for one week."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        dtype, dev = s.prices.dtype, s.prices.device
        held, _ = ledger.positions()
        debt = self.debt()
        illiquid = held + s.real_assets
        self._bank_runs(illiquid, debt)
        cmin = xp.asarray(self.capital_min, dtype=dtype, device=dev) + xp.zeros_like(debt)
        cbuf, ctgt = self._thresholds(dtype, dev)
        result = fire_sale(
            s.holdings,
            s.prices,
            ledger.cash,
            debt,
            depth=self.depth,
            other_assets=illiquid,
            capital_min=cmin,
            capital_buffer=cbuf,
            capital_target=ctgt,
            cash_needed=xp.zeros_like(debt),  # every holder must end with cash >= 0
        )
        sold_units = s.holdings - result.holdings
        realized = result.proceeds - (sold_units @ s.prices[:, :, None])[:, :, 0]
        ledger.cash = ledger.cash + result.proceeds
        ledger.outsiders.book("market_makers", xp.sum(result.proceeds, axis=-1))
        ledger.book_equity(realized)
        self._repay(debt - result.liabilities)
        ledger.book_equity((result.holdings @ (result.prices - s.prices)[:, :, None])[:, :, 0])
        s.holdings = result.holdings
        s.prices = result.prices
        self.last_sold = result.sold
        self.last_proceeds = result.proceeds
        self.converged = result.converged
        short = ledger.cash < -1e-9 * (xp.abs(debt) + 1.0)  # cannot pay what is due
        self.defaulted = self.defaulted | result.defaulted | short

    def _bank_runs(self, illiquid: Any, debt: Any) -> None:
        """Uninsured outside depositors leave distressed banks; the banks pay them in cash.

        A bank's cash may turn negative: the fire sale then makes it sell until it is not.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        assets = ledger.cash + s.market_value() + illiquid
        ratio = xp.take(self.cet1_ratios(assets, debt), self.banks, axis=1)
        distress = xp.maximum(1.0 - ratio / self.cet1_target, 0.0)
        share = self.run_max / (1.0 + xp.exp(-(distress - self.run_threshold) / self.run_width))
        alive = ~xp.take(self.defaulted, self.banks, axis=1)
        pool = ledger.pools["deposits"]
        before = ledger.cash
        ledger.withdraw_outside(
            "deposits", xp.where(alive, pool.face * share * self.uninsured, 0.0)
        )
        self.last_withdrawals = before - ledger.cash

    def _thresholds(self, dtype: Any, device: Any) -> tuple[Any, Any]:
        """(E, N) capital buffers and targets: banks' CET1 rules, hedge funds' margin.

        A hedge fund's buffer is the haircut-weighted share of its book, with haircuts that rise
        as prices fall; it delevers to five points above it. Others have no buffer.
        """
        s = self.sheets
        xp = s.xp
        buffer = xp.asarray(self.capital_buffer, dtype=dtype, device=device)
        target = xp.asarray(self.capital_target, dtype=dtype, device=device)
        fall = xp.maximum(1.0 - s.prices / self.prices0, 0.0)
        haircut = xp.minimum(self.haircut0 + self.haircut_alpha * fall, 1.0)  # (E, M)
        book = s.holdings * s.prices[:, None, :]
        margin = xp.sum(book * haircut[:, None, :], axis=-1) / xp.maximum(
            xp.sum(book, axis=-1), 1e-12
        )
        is_hedge = np.zeros(buffer.shape[-1], dtype=bool)
        is_hedge[self.hedge] = True
        hedge = xp.asarray(is_hedge, device=device)
        buffer = xp.where(hedge, margin, buffer)
        target = xp.where(hedge, margin + 0.05, target)
        alive = ~self.defaulted
        return xp.where(alive, buffer, -xp.inf), target

    def _repay(self, repaid: Any) -> None:
        """Spread each agent's repayment over its debt pools in :data:`REPAY_ORDER`."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        left = xp.maximum(repaid, 0.0)
        for name in REPAY_ORDER:
            pool = ledger.pools[name]
            want = xp.take(left, pool.issuers, axis=1)
            pay = xp.minimum(want, pool.face)
            ledger.repay(name, pay)
            left = left - segment_sum(pay, pool.issuers, left.shape[-1])
