"""Market clearing and failures: every holder's constraint through the fire-sale kernel.

Once a week, after the real economy and valuation (DESIGN.md §2.4 items 4–6):

1. **Constraints and liquidity needs.** Banks hold CET1 above a minimum, delever below a buffer
   toward a target (thresholds in ``[regulation]`` by region; the kernel's ratio is equity /
   total assets, so each is multiplied by the bank's risk density, as the INET Oxford model does
   for its leverage and risk-weighted constraints). Hedge funds meet margin: their equity must stay
   above the haircut-weighted value of their book, with haircuts rising as prices fall
   (``h = h₀ + α·max(0, 1 − p/p₀)``, the INET "departure from Bookstaber"), and at least the
   policy's leverage cap and haircut floor (:mod:`abm.policy`). Uninsured depositors
   outside the model run from a bank in distress, ``w = w_max · logistic((d − θ)/σ)`` per week
   with ``d = max(0, 1 − CET1/target)`` (rescaled so that a bank without distress loses nothing),
   calibrated to SVB's 24% on the first day (a week of five such days: ``w_max`` = 0.746 of
   uninsured deposits, :mod:`abm.stablecoins`); the bank must raise the cash, unless the lender
   of last resort lends it (:attr:`MarketStep.before_sale`, :mod:`abm.backstops`).
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

import math
from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.channels import Channels
from abm.policy import Policy
from kernels.backend import segment_sum
from kernels.clearing import eisenberg_noe
from kernels.firesale import fire_sale

#: pools whose face is debt: they make their issuer default when it cannot pay
DEBT_POOLS = (
    "deposits", "bank_loans", "private_loans", "interbank", "wholesale", "policies",
    "vendor_financing", "prepaid_capacity",
    "central_bank_loans",  # the lender of last resort's loans (abm.backstops)
)  # fmt: skip
#: what deleveraging repays first
REPAY_ORDER = ("wholesale", "bank_loans", "private_loans", "interbank")
#: random stream of the market maker of last resort's coin flip (abm.random)
STREAM_BACKSTOP = 7


class MarketStep:
    """The weekly market clearing of one model."""

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        bank_params: dict,
        channels: Channels | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.sheets = sheets
        self.channels = channels or Channels()
        self.policy = policy or Policy()
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
            rules = region if self.policy.capital_regime == "own" else self.policy.capital_regime
            cmin[rows] = float(cal.model_value(f"regulation.{rules}.cet1_min")) * rd
            cbuf[rows] = float(cal.model_value(f"regulation.{rules}.cet1_buffer")) * rd
            ctgt[rows] = float(cal.model_value(f"regulation.{rules}.cet1_target")) * rd
            target[rows] = float(cal.model_value(f"regulation.{rules}.cet1_target"))
        self.capital_min, self.capital_buffer, self.capital_target = cmin, cbuf, ctgt
        if not self.channels.bank_deleveraging:
            cbuf[banks] = -np.inf  # banks keep their book until they breach the minimum
        self.cet1_target = host(target[banks])
        self.uninsured = host(bank_params["uninsured_share"] * self.policy.deposit_insurance)
        b = "banks.behaviour"
        self.run_max = float(cal.model_value(f"{b}.uninsured_run_max_share_per_week"))
        self.run_threshold = float(cal.model_value(f"{b}.run_distress_threshold"))
        self.run_width = float(cal.model_value(f"{b}.run_distress_width"))
        self.hedge = roster.indices("fund", "hedge")
        self.haircut0 = host(
            np.maximum(np.asarray(sheets.assets.haircut), self.policy.haircut_floor)
        )
        self.haircut_alpha = float(cal.model_value("funds.hedge.haircut_procyclicality"))
        self.prices0 = sheets.prices * 1.0
        depth = np.asarray(sheets.assets.depth) if self.channels.fire_sales else np.inf
        self.depth = host(np.broadcast_to(depth, (sheets.assets.size,)))
        self.stablecoins = roster.indices("stablecoin")
        self.last_sold = xp.zeros(sheets.prices.shape, dtype=dtype, device=dev)
        self.last_proceeds = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)
        self.last_withdrawals = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)
        self.converged = xp.ones(sheets.prices.shape[:1], dtype=xp.bool, device=dev)
        self.wiped = xp.zeros_like(self.defaulted)  # failed firms whose shares were written off
        #: called with the (E, N) debt after the runs, before the fire sale (abm.backstops)
        self.before_sale: Any = None

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
            owed = owed + s.ledger.owed(name)
        return owed

    def clear(self, cash_needed: Any) -> None:
        """Constraints, runs, the fire sale, repayments and revaluation for one week.

        Args:
            cash_needed: (E, N) cash each agent must hold after the clearing (redemptions due).
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        dtype, dev = s.prices.dtype, s.prices.device
        held, _ = ledger.positions()
        debt = self.debt()
        illiquid = held + s.real_assets
        self._bank_runs(illiquid, debt)
        if self.before_sale is not None:
            self.before_sale(self.debt())
        debt = self.debt()  # the runs and the backstops changed what banks owe
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
            cash_needed=xp.maximum(cash_needed, 0.0),  # and never less than zero cash
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
        calm = 1.0 / (1.0 + math.exp(self.run_threshold / self.run_width))  # logistic at d = 0
        panic = 1.0 / (1.0 + xp.exp(-(distress - self.run_threshold) / self.run_width))
        share = self.run_max * xp.maximum(panic - calm, 0.0) / (1.0 - calm)  # 0 without distress
        alive = ~xp.take(self.defaulted, self.banks, axis=1) & self.channels.bank_runs
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
        cap = self.policy.hedge_fund_leverage_cap
        if cap is not None:  # equity / assets at least 1 / cap, whatever the haircuts say
            margin = xp.maximum(margin, 1.0 / cap)
        if self.channels.margin_calls or cap is not None:
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

    # -- backstop -----------------------------------------------------------------------------

    def setup_backstop(self, cal: Calibration, streams: Any) -> None:
        """Read the market maker of last resort's trigger and capacity; draw whether it acts."""
        s = self.sheets
        xp = s.xp
        c = "regulation.central_bank"
        table = s.assets
        self.bonds = [m for m, k in enumerate(table.asset_class) if k == "corporate_bond"]
        self.bond_duration = np.maximum(np.array([table.duration[m] for m in self.bonds]), 1.0)
        trigger_bp = self.policy.backstop_trigger_ig_oas_bp  # the policy's, else the calibration's
        if trigger_bp is None:
            trigger_bp = float(cal.value(f"{c}.market_maker_trigger_ig_oas"))
        self.trigger = trigger_bp / 1e4  # per year
        self.spread0 = float(cal.value("markets.ig_bonds_non_ai.spread")) / 1e4
        gdp = float(cal.value(f"{c}.us_gdp"))
        share = self.policy.backstop_capacity_gdp_share
        if share is None:
            share = float(cal.model_value(f"{c}.market_maker_capacity_share_gdp"))
        self.capacity = share * gdp
        chance = float(cal.model_value(f"{c}.market_maker_probability"))
        acts = streams.uniform(0, STREAM_BACKSTOP) < chance
        self.backstop_acts = acts & self.policy.market_maker_of_last_resort
        self.backstop_bought = xp.zeros_like(s.prices[:, 0])

    def backstop(self) -> None:
        """The central bank buys corporate bonds from the market makers below the trigger price.

        The trigger price of a bond is the price at which its spread has widened to the trigger
        (``P = exp(−D·(s_trigger − s₀))``); purchases lift the price back to it, as far as the
        remaining capacity allows. Holders gain the price rise; the central bank pays outside
        investors for the units (money moves between two outsiders).
        """
        s = self.sheets
        xp = s.xp
        if not bool(xp.any(self.backstop_acts)):
            return
        cols = xp.asarray(np.array(self.bonds), device=s.prices.device)
        years = xp.asarray(self.bond_duration / 52.0, dtype=s.prices.dtype, device=s.prices.device)
        floor = xp.exp(-years * (self.trigger - self.spread0))
        price = xp.take(s.prices, cols, axis=1)
        lift = xp.maximum(floor[None, :] / price - 1.0, 0.0)  # relative rise to the floor
        outside = xp.take(s.outside_units(), cols, axis=1)
        cost = outside * price * lift  # buying the floating supply at the floor, roughly
        room = xp.maximum(self.capacity - self.backstop_bought, 0.0)
        scale = xp.minimum(1.0, room / xp.maximum(xp.sum(cost, axis=-1), 1e-12))
        scale = xp.where(self.backstop_acts, scale, 0.0)
        new = price * (1.0 + lift * scale[:, None])
        moved = segment_sum(new - price, cols, s.prices.shape[-1])
        s.ledger.book_equity((s.holdings @ moved[:, :, None])[:, :, 0])
        s.prices = s.prices + moved
        spent = xp.sum(cost, axis=-1) * scale
        s.ledger.outsiders.book("central_bank", -spent)
        s.ledger.outsiders.book("outside_investors", spent)
        self.backstop_bought = self.backstop_bought + spent

    # -- failures -----------------------------------------------------------------------------

    def resolve_failures(self) -> None:
        """Clear what failed institutions can pay, and pass their losses to their creditors.

        The debt-like claims among institutions (every debt pool and every bond) form a
        liability matrix ``L[i, j]`` (what i owes j; retail cohorts and outsiders are one sink
        node that owes nothing); each institution's external assets are everything else it owns.
        ``kernels.clearing.eisenberg_noe`` gives the greatest clearing vector; an institution
        paying a share ``r < 1`` of what it owes has defaulted, and every claim on it — pool
        face and bond face alike — is written down to ``r`` (equal seniority, pro rata, as in
        Eisenberg & Noe 2001). Bond holders see the bond asset's price fall by the lost share
        of its supply; the price then stays impaired (``BalanceSheets.impairment``). A failed
        listed firm's shares become worthless. One clearing per week: losses that push further
        institutions under are cleared the next week.
        """
        s = self.sheets
        xp = s.xp
        k = s.roster.blocks["retail"][0]  # institutions come before the retail cohorts
        pending = self.defaulted & ~self.wiped  # flagged by the fire sale, not yet resolved
        if not bool(xp.any(pending)) and self._everyone_pays(k):
            return  # the clearing vector is everything owed: nobody defaults, nothing to do
        liabilities, external = self._network(k)
        result = eisenberg_noe(liabilities, external, method="picard")
        owed = result.owed[:, :k]
        recovery = xp.where(
            owed > 0.0, result.payments[:, :k] / xp.where(owed > 0.0, owed, 1.0), 1.0
        )
        short = (recovery < 1.0 - 1e-9) & (owed > 1e-9)
        if not bool(xp.any(short) | xp.any(pending)):
            return
        if not self.channels.clearing_losses:  # failures are recorded, debts stay at face
            newly = _pad(xp, short, self.defaulted.shape[-1]) & ~self.defaulted
            self.defaulted = self.defaulted | newly
            return
        loss_share = xp.where(short, 1.0 - recovery, 0.0)  # (E, K)
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            s.ledger.write_down(name, pool.face * xp.take(loss_share, pool.issuers, axis=1))
        self._write_down_bonds(loss_share, k)
        newly = _pad(xp, short, self.defaulted.shape[-1]) & ~self.defaulted
        self.defaulted = self.defaulted | newly
        self._wipe_out_equity(newly | pending)
        self.wiped = self.defaulted
        self.clearing_converged = result.converged

    def _everyone_pays(self, k: int) -> bool:
        """Whether every institution could pay all it owes if all others paid it in full.

        Then full payment is a clearing vector, and the greatest one (Eisenberg & Noe 2001), so
        the week has no failures to clear and the network need not be built. A margin of 1e-9
        leaves borderline cases to the full clearing.
        """
        s = self.sheets
        xp = s.xp
        held = xp.zeros_like(s.ledger.cash)
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            held = held + segment_sum(pool.claims, pool.holders, held.shape[-1])
        bonds = self._bond_holdings()
        if bonds is None:
            bond_value = bond_face = xp.zeros_like(held)
        else:
            _, _, units, owed, price = bonds
            bond_face = xp.sum(owed, axis=-1)
            bond_value = xp.sum(units * price[:, None, :], axis=-1)
        external = xp.maximum(s.total_assets() - held - bond_value, 0.0)
        debt = self.debt()
        solvent = external + held + bond_face >= debt * (1.0 + 1e-9)
        return bool(xp.all(solvent[:, :k] | (debt[:, :k] <= 1e-9)))

    def _network(self, k: int) -> tuple[Any, Any]:
        """(E, K+1, K+1) debt claims among the K institutions (+ sink) and (E, K+1) other assets."""
        s = self.sheets
        xp = s.xp
        e = s.ledger.cash.shape[0]
        size = k + 1
        dtype, dev = s.prices.dtype, s.prices.device
        net = xp.zeros((e, size, size), dtype=dtype, device=dev)
        claims_held = xp.zeros((e, size), dtype=dtype, device=dev)
        for name in DEBT_POOLS:
            pool = s.ledger.pools[name]
            whole = xp.sum(pool.claims, axis=-1) + pool.outside
            weight = pool.claims / xp.where(whole > 0.0, whole, 1.0)[:, None]  # (E, H)
            to_sink = pool.outside / xp.where(whole > 0.0, whole, 1.0)
            block = pool.face[:, :, None] * weight[:, None, :]  # (E, I, H)
            cols = xp.where(pool.holders < k, pool.holders, k)
            net = net + _place(xp, block, pool.issuers, cols, size)
            sink = pool.face * to_sink[:, None]
            net = net + _place(
                xp, sink[:, :, None], pool.issuers, xp.asarray([k], device=dev), size
            )
            claims_held = claims_held + segment_sum(pool.claims, cols, size)
        bonds, bond_value = self._bond_claims(k, size)
        net = net + bonds
        assets = s.total_assets()
        other = xp.zeros((e, size), dtype=dtype, device=dev)
        other = other + xp.concat(
            [assets[:, :k], xp.zeros((e, 1), dtype=dtype, device=dev)], axis=-1
        )
        external = xp.maximum(other - claims_held - bond_value, 0.0)
        external = xp.concat(
            [external[:, :k], xp.full((e, 1), xp.inf, dtype=dtype, device=dev)], axis=-1
        )
        return net, external

    def _bond_holdings(self) -> tuple[Any, Any, Any, Any, Any] | None:
        """The bonds of the issuing firms as held (None if no firm issued any).

        Returns issuer rows (B,), bond assets (B,), units held (E, N, B), the face each agent is
        owed by each issuer (E, N, B) — its units' share of the supply times the issuer's face —
        and prices (E, B).
        """
        s = self.sheets
        xp = s.xp
        issuers = np.nonzero(s.bond_asset >= 0)[0]
        if issuers.size == 0:
            return None
        dev = s.prices.device
        rows = xp.asarray(issuers, device=dev)
        assets = xp.asarray(s.bond_asset[issuers], device=dev)
        units = xp.take(s.holdings, assets, axis=2)
        supply = xp.take(s.supply, assets, axis=1)
        share = units / xp.where(supply > 0.0, supply, 1.0)[:, None, :]
        owed = share * xp.take(s.bonds, rows, axis=1)[:, None, :]
        return rows, assets, units, owed, xp.take(s.prices, assets, axis=1)

    def _bond_claims(self, k: int, size: int) -> tuple[Any, Any]:
        """Bond face owed by each issuer to each holder (by units held) and holders' bond value."""
        s = self.sheets
        xp = s.xp
        e = s.ledger.cash.shape[0]
        dtype, dev = s.prices.dtype, s.prices.device
        net = xp.zeros((e, size, size), dtype=dtype, device=dev)
        value = xp.zeros((e, size), dtype=dtype, device=dev)
        bonds = self._bond_holdings()
        if bonds is None:
            return net, value
        rows, _, units, owed, price = bonds
        n = s.ledger.cash.shape[-1]
        cols = xp.asarray(np.where(np.arange(n) < k, np.arange(n), k), device=dev)
        net = net + _place(xp, xp.permute_dims(owed, (0, 2, 1)), rows, cols, size)
        outside = xp.take(s.bonds, rows, axis=1) - xp.sum(owed, axis=1)  # held outside the model
        net = net + _place(xp, outside[:, :, None], rows, xp.asarray([k], device=dev), size)
        value = segment_sum(xp.sum(units * price[:, None, :], axis=-1), cols, size)  # market value
        return net, value

    def _write_down_bonds(self, loss_share: Any, k: int) -> None:
        """Failed issuers' bond face falls to the recovery; their bond asset's price with it."""
        s = self.sheets
        xp = s.xp
        issuers = np.nonzero(s.bond_asset >= 0)[0]
        if issuers.size == 0:
            return
        dev = s.prices.device
        rows = xp.asarray(issuers, device=dev)
        assets = xp.asarray(s.bond_asset[issuers], device=dev)
        lost_face = xp.take(s.bonds, rows, axis=1) * xp.take(loss_share, rows, axis=1)  # (E, B)
        m = s.prices.shape[-1]
        lost_per_asset = segment_sum(lost_face, assets, m)
        fraction = lost_per_asset / xp.where(s.supply > 0.0, s.supply, 1.0)  # (E, M)
        fraction = xp.minimum(fraction, 1.0 - WORTHLESS)
        drop = s.prices * fraction
        s.ledger.book_equity(segment_sum(lost_face, rows, s.bonds.shape[-1]))  # issuers owe less
        s.ledger.book_equity(-(s.holdings @ drop[:, :, None])[:, :, 0])  # holders lose
        s.bonds = s.bonds - segment_sum(lost_face, rows, s.bonds.shape[-1])
        s.prices = s.prices - drop
        s.impairment = s.impairment * (1.0 - fraction)

    def _wipe_out_equity(self, failed_now: Any) -> None:
        """Shares of listed firms that failed this week lose their value for good."""
        s = self.sheets
        xp = s.xp
        listed = [(s.assets.equity_of(s.roster.names[i]), i) for i in s.roster.indices("firm")]
        listed = [(m, i) for m, i in listed if m >= 0]
        if not listed:
            return
        dev = s.prices.device
        cols = xp.asarray(np.array([m for m, _ in listed]), device=dev)
        failed = xp.take(
            failed_now, xp.asarray(np.array([i for _, i in listed]), device=dev), axis=1
        )
        keep = xp.where(failed, WORTHLESS, 1.0)  # (E, L)
        factor = xp.ones_like(s.prices) + segment_sum(keep - 1.0, cols, s.prices.shape[-1])
        new = s.prices * factor
        s.ledger.book_equity((s.holdings @ (new - s.prices)[:, :, None])[:, :, 0])
        s.prices = new
        s.impairment = s.impairment * factor


#: price left to a failed firm's shares, relative to before (kept above 0 for log-price decay)
WORTHLESS = 1e-6


def _place(xp: Any, block: Any, rows: Any, cols: Any, size: int) -> Any:
    """(E, size, size) with ``block`` (E, R, C) added at ``rows`` × ``cols`` (may repeat)."""
    spread = segment_sum(block, cols, size)  # (E, R, size)
    return xp.permute_dims(segment_sum(xp.permute_dims(spread, (0, 2, 1)), rows, size), (0, 2, 1))


def _pad(xp: Any, mask: Any, n: int) -> Any:
    """(E, K) bool mask extended with False to (E, n)."""
    e, k = mask.shape
    return xp.concat([mask, xp.zeros((e, n - k), dtype=xp.bool, device=mask.device)], axis=-1)
