"""Funds' and stablecoin issuers' income on their securities and cash, and hedge funds' repo.

Banks have their profit and loss (:mod:`abm.bank_earnings`); the other holders of the market's
assets earn here, each week, through the ledger (every dollar has a payer: docs/design.md, "The
ledger"), in the style of the banks' rule (coupons fixed at the 2025 yields, rates from the macro
state). The rates a year are in ``[assumptions.income]`` unless named otherwise:

- **Treasuries** pay the coupon they were bought at, the US 10-year yield at the start, fixed (as
  the banks' Treasuries do); **bills** pay the US policy rate of the week (bills track it within a
  few basis points). Paid by the public sector.
- **Credit** (IG and HY bonds, leveraged loans, private credit, AI SPV debt, data-centre ABS):
  the start's 10-year yield plus the asset's market spread at the start, fixed, on the units
  issued by borrowers outside the model (the ``issued_outside`` of each asset at the start), shared
  by the holders in proportion to the units they hold, and paid by the rest of the economy. The
  bonds the model's own firms issued (the hyperscalers' bonds, the SPVs' Hyperion notes, the labs'
  private debt) already pay their coupons to their holders in the firms' rule
  (:mod:`abm.economy`), so they are not paid twice.
- **Listed equity** issued outside the model (``equity_non_ai``) pays ``equity_dividend_yield``
  on its market value (the S&P 500's, about 1.3% in 2025); the AI firms pay their own dividends
  to their holders (:mod:`abm.firm_payouts`). A life insurer's listed equity is its separate
  accounts (:mod:`abm.separate_accounts`): the dividends on the accounts' units accrue to the
  policyholders, so its policy reserves rise by as much (ASC 944-80).
- **Other assets** of pension funds and insurers (the illiquid remainder of their allocation:
  claims on the sponsor, mortgages, real estate, alternatives) return ``other_asset_return``,
  paid in cash by the rest of the economy (sponsors' contributions, rents, mortgage interest).
- **Cash** (money funds, repo, sweep accounts) earns the US policy rate less ``cash_rate_margin``
  (money funds' expense ratio), paid by the rest of the economy. Deposits at the model's banks
  earn their deposit rate in the banks' rule already.
- **Stablecoin issuers** keep their reserve income, except the share they pass to distributors
  outside the model (``[stablecoins.<coin>] reserve_income_distribution_share``: Circle about
  60% to Coinbase and others by its 2024 10-K; Tether none), paid to the rest of the economy.
- **Hedge funds' wholesale borrowing** (repo and other secured funding: the ``wholesale`` pool)
  costs the US policy rate plus ``repo_spread``, paid to its holders; their prime-brokerage loans
  (``bank_loans``) float at the policy rate plus ``prime_brokerage_spread`` in the firms' rule
  (:meth:`abm.economy.Economy.loan_rates`, which the banks' rule reads too).
- **Pension funds' liabilities** accrue at their discount rate: a high-quality corporate bond
  yield (ASC 715-30-35-43), the start's 10-year yield plus the IG spread, fixed. The pension
  claims (households' entitlements) grow by as much, so the funding ratio is not flattered by
  income on the assets alone.

Retail cohorts earn nothing here: their weekly saving (:mod:`abm.flows`) is already out of
household income, investment income included. Agents that have failed stand still.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.bank_earnings import pay_on_pool
from abm.calibration import Calibration
from abm.separate_accounts import SeparateAccounts
from abm.state import MacroState, WorldState
from kernels.backend import segment_sum, to_numpy

#: asset classes that pay a credit coupon (yield + spread) to their holders
CREDIT_CLASSES = ("corporate_bond", "loan", "abs")
#: fund kinds whose illiquid other assets (real assets on the sheet) earn ``other_asset_return``
OTHER_ASSET_KINDS = ("pension", "insurer_life", "insurer_pc")


class SecuritiesIncome:
    """Coupons, dividends and interest of funds and stablecoin issuers (rule ``earn``).

    Attributes:
        holders: (H,) the earning agents' rows: funds, then stablecoin issuers.
        distribution_share: (H,) share of its income each holder passes outside the model.
        treasury_coupon: (E,) the Treasuries' coupon a year (the 10-year yield at the start).
        credit_coupon: (E, M) coupon a year per unit of the credit issued outside the model.
        issued_outside: (E, M) units of each credit asset issued outside the model.
        discount_rate: (E,) the pension funds' discount rate a year.

    Args:
        cal: the calibration (``[assumptions.income]``, ``[stablecoins.*]``, ``[markets.*]``).
        sheets: the balance sheets, after securitisation (the SPVs' notes are theirs).
        macro: the macro state at the start (the coupons are fixed at its yields).
        accounts: the life insurers' separate accounts (whose dividends are the policyholders').
    """

    def __init__(
        self, cal: Calibration, sheets: Any, macro: MacroState, accounts: SeparateAccounts
    ) -> None:
        self.sheets, self.accounts = sheets, accounts
        xp, roster, table = sheets.xp, sheets.roster, sheets.assets
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        funds = np.asarray(roster.indices("fund"), dtype=int)
        coins = np.asarray(roster.indices("stablecoin"), dtype=int)
        holders = np.concatenate([funds, coins])
        self.holders = xp.asarray(holders, device=dev)
        share = np.zeros(len(holders))
        for k, i in enumerate(coins):
            node = f"stablecoins.{roster.names[i]}"
            share[len(funds) + k] = float(cal.value(f"{node}.reserve_income_distribution_share"))
        self.distribution_share = xp.asarray(share, dtype=dtype, device=dev)
        earns_other = [roster.kind[i] in OTHER_ASSET_KINDS for i in holders]
        self.earns_other = xp.asarray(np.asarray(earns_other, dtype=bool), device=dev)  # (H,)

        yield0 = macro.yield_10y[:, :1]  # (E, 1) the US 10-year yield at the start, a year
        spread = xp.asarray(np.asarray(table.spread), dtype=dtype, device=dev)  # (M,) a year
        credit = np.isin(np.asarray(table.asset_class), CREDIT_CLASSES)
        is_credit = xp.asarray(credit, dtype=dtype, device=dev)
        self.treasuries, self.bills = table.index("treasuries"), table.index("tbills")
        self.equity = table.index("equity_non_ai")  # listed equity issued outside the model
        self.treasury_coupon = yield0[:, 0] * 1.0  # fixed at the start
        self.credit_coupon = (yield0 + spread[None, :]) * is_credit[None, :]
        self.issued_outside = self._issued_outside(credit)
        self.dividend_yield = float(cal.model_value("assumptions.income.equity_dividend_yield"))
        self.other_return = float(cal.model_value("assumptions.income.other_asset_return"))
        self.cash_margin = float(cal.model_value("assumptions.income.cash_rate_margin"))
        self.repo_spread = float(cal.model_value("assumptions.income.repo_spread"))

        pension = roster.indices("fund", "pension")
        issuers = to_numpy(sheets.ledger.pools["pension_claims"].issuers).tolist()
        self.pension = xp.asarray(np.asarray(pension, dtype=int), device=dev)
        self.pension_positions = xp.asarray(
            np.asarray([issuers.index(int(i)) for i in pension], dtype=int), device=dev
        )
        ig_spread = float(cal.model_value("markets.ig_bonds_non_ai.spread"))
        self.discount_rate = yield0[:, 0] + ig_spread
        self.hedge = xp.asarray(np.asarray(roster.indices("fund", "hedge"), dtype=int), device=dev)
        equities = to_numpy(accounts.equities).tolist()
        self.account_equity = equities.index(self.equity)  # equity_non_ai in the accounts' axis

    def _issued_outside(self, credit: np.ndarray) -> Any:
        """(E, M) units of each credit asset issued by borrowers outside the model, at the start.

        An asset's supply less the face of the bonds the model's firms issued into it (their
        coupons are paid by the firms' rule); zero for assets that are not credit.
        """
        s = self.sheets
        xp, dev = s.xp, s.prices.device
        firms = np.asarray(s.roster.indices("firm"), dtype=int)
        assets = np.asarray(s.bond_asset)[firms]
        has_bonds = xp.asarray(assets >= 0, device=dev)
        bonds = xp.where(has_bonds, xp.take(s.bonds, xp.asarray(firms, device=dev), axis=1), 0.0)
        index = xp.asarray(np.maximum(assets, 0), device=dev)
        issued = segment_sum(bonds, index, s.supply.shape[-1])  # (E, M)
        return xp.where(xp.asarray(credit, device=dev), xp.maximum(s.supply - issued, 0.0), 0.0)

    def income(self, state: WorldState) -> dict[str, Any]:
        """This week's income of each holder by source, (E, H) USD bn (before distribution).

        ``treasuries`` and ``bills`` (paid by the public sector), ``credit``, ``dividends``,
        ``other`` and ``cash`` (paid by the rest of the economy); zero for failed holders.
        """
        s = state.sheets
        xp = s.xp
        on = xp.astype(~xp.take(state.defaulted, self.holders, axis=1), s.prices.dtype)
        short = state.macro.policy_rate[:, :1]  # (E, 1) the US policy rate, a year
        held = xp.take(s.holdings, self.holders, axis=1)  # (E, H, M) units
        week = on / 52.0
        per_unit = (
            self.credit_coupon * self.issued_outside / xp.where(s.supply > 0.0, s.supply, 1.0)
        )
        value = held[:, :, self.equity] * s.prices[:, self.equity][:, None]
        real = xp.where(self.earns_other, xp.take(s.real_assets, self.holders, axis=1), 0.0)
        cash = xp.maximum(xp.take(s.ledger.cash, self.holders, axis=1), 0.0)
        return {
            "treasuries": held[:, :, self.treasuries] * self.treasury_coupon[:, None] * week,
            "bills": held[:, :, self.bills] * short * week,
            "credit": xp.sum(held * per_unit[:, None, :], axis=-1) * week,
            "dividends": value * self.dividend_yield * on,
            "other": real * self.other_return * on,
            "cash": cash * xp.maximum(short - self.cash_margin, 0.0) * week,
        }

    def earn(self, state: WorldState) -> None:
        """Pay funds and issuers this week's income; charge hedge funds' repo; accrue pensions."""
        ledger = state.sheets.ledger
        parts = self.income(state)
        sovereign = parts["treasuries"] + parts["bills"]
        outside = parts["credit"] + parts["dividends"] + parts["other"] + parts["cash"]
        ledger.pay_outsider(self.holders, "public_sector", -sovereign)
        ledger.pay_outsider(self.holders, "rest_of_economy", -outside)
        passed = (sovereign + outside) * self.distribution_share
        ledger.pay_outsider(self.holders, "rest_of_economy", passed)
        self._pass_to_policyholders(state)
        self._charge_repo(state)
        self._accrue_pensions(state)

    def _pass_to_policyholders(self, state: WorldState) -> None:
        """Live life insurers' policy reserves rise by their separate accounts' dividends."""
        s, accounts = state.sheets, self.accounts
        xp = s.xp
        units = accounts.units[:, :, self.account_equity]  # (E, I) equity_non_ai in the accounts
        alive = xp.astype(~xp.take(state.defaulted, accounts.rows, axis=1), s.prices.dtype)
        accrued = units * s.prices[:, self.equity][:, None] * self.dividend_yield * alive
        pool = s.ledger.pools["policies"]
        moved = segment_sum(accrued, accounts.positions, pool.face.shape[-1])
        s.ledger.revalue_pool("policies", pool.face + moved)

    def _charge_repo(self, state: WorldState) -> None:
        """Live hedge funds pay the short rate plus the repo spread on their wholesale debt."""
        xp = state.xp
        alive = xp.astype(~xp.take(state.defaulted, self.hedge, axis=1), state.sheets.prices.dtype)
        rate = (state.macro.policy_rate[:, :1] + self.repo_spread) / 52.0 * alive
        pay_on_pool(state.sheets.ledger, "wholesale", self.hedge, rate)

    def _accrue_pensions(self, state: WorldState) -> None:
        """Live pension funds' claims grow at the discount rate (interest cost, ASC 715)."""
        s = state.sheets
        xp = s.xp
        pool = s.ledger.pools["pension_claims"]
        alive = xp.astype(~xp.take(state.defaulted, self.pension, axis=1), s.prices.dtype)
        face = xp.take(pool.face, self.pension_positions, axis=1)
        accrued = face * self.discount_rate[:, None] / 52.0 * alive
        moved = segment_sum(accrued, self.pension_positions, pool.face.shape[-1])
        s.ledger.revalue_pool("pension_claims", pool.face + moved)
