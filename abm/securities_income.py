"""Funds' and stablecoin issuers' income on their securities and cash, and hedge funds' repo.

Banks have their profit and loss (:mod:`abm.bank_earnings`); the other holders of the market's
assets earn here, each week, through the ledger (every dollar has a payer: docs/design.md, "The
ledger"), in the style of the banks' rule (coupons fixed at the 2025 yields, rates from the macro
state):

- **Treasuries** pay the coupon they were bought at, the US 10-year yield at the start, fixed (as
  the banks' Treasuries do); **bills** pay the US policy rate of the week (bills track it within a
  few basis points). Paid by the public sector.
- **Credit** (IG and HY bonds, leveraged loans, private credit, AI SPV debt, data-centre ABS):
  the start's 10-year yield plus the asset's market spread at the start, fixed, on the units
  issued by borrowers outside the model (the ``outside_units`` of each asset at the start), shared
  by the holders in proportion to the units they hold, and paid by the rest of the economy. The
  bonds the model's own firms issued (the hyperscalers' bonds, the SPVs' Hyperion notes, the labs'
  private debt) already pay their coupons to their holders in the firms' rule
  (:mod:`abm.economy`), so they are not paid twice.
- **Listed equity** issued outside the model (``equity_non_ai``) pays a dividend yield on its
  market value (``[assumptions.income] equity_dividend_yield``: the S&P 500's, about 1.3% in
  2025); the AI firms pay their own dividends to their holders (:mod:`abm.firm_payouts`). A life
  insurer's listed equity is its separate accounts (:mod:`abm.separate_accounts`): the dividends
  accrue to the policyholders, so its policy reserves rise by as much (ASC 944-80).
- **Cash** (money funds, repo, sweep accounts) earns the US policy rate less a margin (money
  funds' expense ratio), paid by the rest of the economy. Deposits at the model's banks earn
  their deposit rate in the banks' rule already.
- **Stablecoin issuers** keep their reserve income, except the share they pass to distributors
  outside the model (``reserve_income_distribution_share``: Circle about 60% to Coinbase and
  others by its 2024 10-K; Tether none), paid to the rest of the economy.
- **Hedge funds' wholesale borrowing** (repo and other secured funding: the ``wholesale`` pool)
  costs the US policy rate plus ``repo_spread``, paid to its holders; their prime-brokerage loans
  (``bank_loans``) float at the policy rate plus ``prime_brokerage_spread`` in the firms' rule.
- **Pension funds' liabilities** accrue at their discount rate: a high-quality corporate bond
  yield (ASC 715-30-35-43), the start's 10-year yield plus the IG spread, fixed. The pension
  claims (households' entitlements) grow by as much, so the funding ratio is not flattered by
  income on the assets alone.

Retail cohorts earn nothing here: their weekly saving (:mod:`abm.flows`) is already out of
household income, investment income included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.state import MacroState, WorldState
from kernels.backend import segment_sum, to_numpy

#: asset classes that pay a credit coupon (yield + spread) to their holders
CREDIT_CLASSES = ("corporate_bond", "loan", "abs")


class SecuritiesIncome:
    """Coupons, dividends and interest of funds and stablecoin issuers (rule ``earn``).

    Args:
        cal: the calibration (``[assumptions.income]``, ``[stablecoins.*]``, ``[markets.*]``).
        sheets: the balance sheets, after securitisation (the SPVs' notes are theirs).
        macro: the macro state at the start (the coupons are fixed at its yields).
    """

    def __init__(self, cal: Calibration, sheets: Any, macro: MacroState) -> None:
        self.sheets = sheets
        xp, roster, table = sheets.xp, sheets.roster, sheets.assets
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        funds = np.asarray(roster.indices("fund"), dtype=int)
        coins = np.asarray(roster.indices("stablecoin"), dtype=int)
        holders = np.concatenate([funds, coins])
        self.holders = xp.asarray(holders, device=dev)
        share = np.zeros(len(holders))
        for k, i in enumerate(holders[len(funds) :]):
            node = f"stablecoins.{roster.names[i]}"
            share[len(funds) + k] = float(cal.value(f"{node}.reserve_income_distribution_share"))
        self.distribution_share = xp.asarray(share, dtype=dtype, device=dev)  # (H,)

        yield0 = macro.yield_10y[:, :1]  # (E, 1) the US 10-year yield at the start, a year
        spread = xp.asarray(np.asarray(table.spread), dtype=dtype, device=dev)  # (M,) a year
        credit = np.isin(np.asarray(table.asset_class), CREDIT_CLASSES)
        self.treasuries, self.bills = table.index("treasuries"), table.index("tbills")
        self.treasury_coupon = yield0[:, 0] * 1.0  # (E,) fixed at the start
        # (E, M) coupon a year per unit of face of the credit issued outside the model
        self.credit_coupon = (yield0 + spread[None, :]) * xp.asarray(credit, dtype=dtype,
                                                                      device=dev)  # fmt: skip
        self.outside_units = self._outside_units(credit)  # (E, M)
        self.equity = table.index("equity_non_ai")  # listed equity issued outside the model
        self.dividend_yield = float(cal.value("assumptions.income.equity_dividend_yield"))
        self.cash_margin = float(cal.value("assumptions.income.cash_rate_margin")) / 1e4
        self.repo_spread = float(cal.value("assumptions.income.repo_spread")) / 1e4

        pension = roster.indices("fund", "pension")
        issuers = to_numpy(sheets.ledger.pools["pension_claims"].issuers).tolist()
        self.pension = xp.asarray(np.asarray(pension, dtype=int), device=dev)
        self.pension_positions = xp.asarray(
            np.asarray([issuers.index(int(i)) for i in pension], dtype=int), device=dev
        )
        ig_spread = float(cal.value("markets.ig_bonds_non_ai.spread")) / 1e4
        self.discount_rate = yield0[:, 0] + ig_spread  # (E,) a year, fixed at the start

        life = roster.indices("fund", "insurer_life")
        policies = to_numpy(sheets.ledger.pools["policies"].issuers).tolist()
        self.life_positions = xp.asarray(
            np.asarray([policies.index(int(i)) for i in life], dtype=int), device=dev
        )
        at = {int(i): k for k, i in enumerate(holders)}
        self.life_holders = xp.asarray(np.asarray([at[int(i)] for i in life], dtype=int),
                                       device=dev)  # fmt: skip
        self.separate_share = float(cal.value("assumptions.funds.insurer_separate_account_share"))

        wholesale = to_numpy(sheets.ledger.pools["wholesale"].issuers)
        hedge = [roster.family[i] == "fund" and roster.kind[i] == "hedge" for i in wholesale]
        self.repo_borrowers = xp.asarray(np.asarray(hedge, dtype=bool), device=dev)  # (I,)
        self.wholesale_issuers = xp.asarray(np.asarray(wholesale, dtype=int), device=dev)

    def _outside_units(self, credit: np.ndarray) -> Any:
        """(E, M) units of each credit asset issued by borrowers outside the model, at the start.

        An asset's supply less the face of the bonds the model's firms issued into it (their
        coupons are paid by the firms' rule); zero for assets that are not credit.
        """
        s = self.sheets
        xp = s.xp
        firms = np.asarray(s.roster.indices("firm"), dtype=int)
        assets = np.asarray(s.bond_asset)[firms]
        has_bonds = xp.asarray(assets >= 0, device=s.prices.device)
        bonds = xp.where(has_bonds, xp.take(s.bonds, xp.asarray(firms, device=s.prices.device),
                                            axis=1), 0.0)  # fmt: skip
        index = xp.asarray(np.maximum(assets, 0), device=s.prices.device)
        issued = segment_sum(bonds, index, s.prices.shape[-1])  # (E, M)
        mask = xp.asarray(credit, device=s.prices.device)
        return xp.where(mask, xp.maximum(s.supply - issued, 0.0), 0.0)

    def earn(self, state: WorldState) -> None:
        """Pay this week's income to funds and issuers; charge hedge funds' repo; accrue pensions.

        Agents that have failed stand still.
        """
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        on = xp.astype(~xp.take(state.defaulted, self.holders, axis=1), s.prices.dtype)
        short = state.macro.policy_rate[:, 0]  # (E,) the US policy rate, a year
        held = xp.take(s.holdings, self.holders, axis=1)  # (E, H, M) units
        week = on / 52.0
        sovereign = (
            held[:, :, self.treasuries] * self.treasury_coupon[:, None]
            + held[:, :, self.bills] * short[:, None]
        ) * week
        supply = xp.where(s.supply > 0.0, s.supply, 1.0)
        per_unit = self.credit_coupon * self.outside_units / supply  # (E, M) a year
        credit = xp.sum(held * per_unit[:, None, :], axis=-1) * week
        value = held[:, :, self.equity] * s.prices[:, self.equity][:, None]
        dividends = value * self.dividend_yield * week
        cash = xp.maximum(xp.take(ledger.cash, self.holders, axis=1), 0.0)
        interest = cash * xp.maximum(short - self.cash_margin, 0.0)[:, None] * week
        ledger.pay_outsider(self.holders, "public_sector", -sovereign)
        ledger.pay_outsider(self.holders, "rest_of_economy", -(credit + dividends + interest))
        income = sovereign + credit + dividends + interest
        ledger.pay_outsider(self.holders, "rest_of_economy", income * self.distribution_share)
        self._pass_to_policyholders(dividends)
        self._charge_repo(state, short)
        self._accrue_pensions(state)

    def _pass_to_policyholders(self, dividends: Any) -> None:
        """Life insurers' policy reserves rise by their separate accounts' dividends."""
        s = self.sheets
        xp = s.xp
        pool = s.ledger.pools["policies"]
        accrued = xp.take(dividends, self.life_holders, axis=1) * self.separate_share
        moved = segment_sum(accrued, self.life_positions, pool.face.shape[-1])
        s.ledger.revalue_pool("policies", pool.face + moved)

    def _charge_repo(self, state: WorldState, short: Any) -> None:
        """Live hedge funds pay the short rate plus the repo spread on their wholesale debt."""
        s = state.sheets
        xp = s.xp
        alive = ~xp.take(state.defaulted, self.wholesale_issuers, axis=1)
        rate = (short[:, None] + self.repo_spread) / 52.0
        s.ledger.pay_interest("wholesale", xp.where(self.repo_borrowers & alive, rate, 0.0))

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
