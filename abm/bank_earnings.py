"""Banks' profit and loss every week: interest, fees, costs, provisions, taxes and payouts.

A bank is also a business (docs/design.md, "The economy"). Each week, per bank, through the
ledger (so every dollar has a payer and a payee), the ECB's BEAST (Budnik et al. 2023, ECB
Occasional Paper 2023/312: net interest income by instrument, fees, costs, provisions, taxes,
dividends) in small:

- **Interest income**: loans to the economy outside the model (``state.banks.loans`` net of their
  allowance) at ``reference + margin``, where the reference rate is a share ``φ`` at the policy
  rate (floating loans reprice at once) and the rest at a slowly repricing fixed rate that follows
  the 10-year yield with the book's average life; the rest of the real assets and the reserves
  (cash) earn the policy rate (interest on reserves; the ECB's deposit facility); Treasuries and
  non-AI bonds pay the coupon they were bought at (the 2025 yields: fixed, so rising rates squeeze
  the margin as in 2022–23). The loans to the AI complex and to funds (``bank_loans``) and the AI
  bonds already pay their interest in the firms' rules (:mod:`abm.economy`).
- **Hedges**: receive-fixed interest-rate swaps on a share ``h`` of the deposits at the start
  (the notional then stays: contracts), bought by the banks whose deposits do not follow the rate
  so that a fall of the rate does not empty their margin (the structural hedge: Drechsler, Savov
  & Schnabl 2021, J. Finance 76(3); the euro-area banks' disclosures of 2023–24). The bank
  receives the fixed book's coupon (a ladder that rolls as the fixed-rate loans reprice) and pays
  the policy rate, to dealers outside the model; like the loans, the swaps are not marked to
  market (a cash-flow hedge's reserve is filtered out of CET1: CRR Art. 33(1)(a)).
- **Interest expense**: deposits at ``max(β·i, 0)`` (the deposit beta: Drechsler, Savov &
  Schnabl 2017, QJE 132(4), 1819–1876; banks do not charge their depositors when the policy rate
  is negative: euro-area deposit rates stayed at about zero while the ECB's deposit facility rate
  was negative, June 2014 to July 2022, down to −0.5%; Heider, Saidi & Schepens 2019, RFS 32(10),
  3728–3761); wholesale funding at ``i + s`` with the spread ``s = s₀ + s₁·d`` rising with the
  bank's capital shortfall ``d = max(0, 1 − CET1/target)`` (bank CDS in 2008–09); interbank at
  ``i``; the lender of last resort at ``i`` plus its penalty.
- **Fees** in proportion to assets and **operating costs** at the cost–income ratio of the start,
  kept as a share of assets (FDIC Quarterly Banking Profile 2025; EBA Risk Dashboard 2025; the two
  investment banks have their own fee income and cost–income ratio).
- **Provisions** come from the loan books (:mod:`abm.credit_risk`, already booked there); they
  enter net income and the tax here.
- **Taxes** at the effective rate on positive pre-tax profit (no loss carry-forward), paid to
  the public sector.
- **Payouts** (dividends and buybacks) to shareholders outside the model: a dividend share of
  positive net income, scaled from nothing at the capital buffer to all of it at the CET1 target
  (the maximum distributable amount: CRD Art. 141, the Fed's stress capital buffer rule), and
  buybacks of the capital above the target, a quarter's worth a week; nothing below the buffer.
  All of it at most ``c`` times the bank's net income over the past year
  (``[banks.earnings] payout_income_cap``): a bank whose risk-weighted assets shrink in a
  recession does not hand the capital they free back while it earns little or loses. The Fed's
  limit of 2020–21 capped dividends and buybacks at the average net income of the four preceding
  quarters; the ECB asked the euro-area banks to pay nothing in 2020 and at most 15% of their
  2019–20 profits in 2021 (ECB/2020/19, ECB/2020/62); and banks stop buying back when they lose
  money (the US banks' buybacks fell to almost nothing in 2009).

The loan margin of each region is set at the start so that net interest income over total assets
equals the data (``[banks.earnings.*] net_interest_income_share``), given the rates, the books and
the funding mix; the document reports what the model then measures beside the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.claims import debt_owed
from abm.constraints import BankCapital
from abm.ledger import BilateralPool
from abm.state import MacroState, WorldState
from kernels.backend import segment_sum, segment_sum_at, to_numpy

#: the earnings parameters of each region of abm.state.REGIONS, by calibration node
REGION_NODES = ("banks.earnings.us", "banks.earnings.eu")
#: weeks over which the banks buy back their capital above the target (a quarter)
BUYBACK_WEEKS = 13.0
#: weeks over which net income is averaged for the return on equity (a quarter)
ROE_WEEKS = 13.0
#: mean age (weeks) of the past year's net income that caps payouts: an exponential average with
#: the mean age of the four preceding quarters' average in the Fed's limit of 2020-21
PAYOUT_INCOME_WEEKS = 26.0
#: horizon of the earnings measure of interest-rate risk, weeks (BCBS 368: 12 months)
EAR_WEEKS = 52


class RunningMean:
    """An exponential average of a weekly (E, B) quantity with mean age ``weeks``.

    Until enough weeks have passed it is the average of the weeks seen so far (the weights are
    divided by their sum), so the first week's value is the mean at once.
    """

    def __init__(self, zeros: Any, weeks: float) -> None:
        self.weeks = weeks
        self.total = zeros
        self.weight = 0.0  # the weight of the weeks seen so far

    def add(self, value: Any) -> None:
        """Take this week's ``value`` (E, B) into the average."""
        self.total = self.total + (value - self.total) / self.weeks
        self.weight = self.weight + (1.0 - self.weight) / self.weeks

    def mean(self) -> Any:
        """(E, B) the average now."""
        return self.total / max(self.weight, 1.0 / self.weeks)


def pay_on_pool(ledger: Any, pool: str, payers: Any, rate: Any) -> None:
    """Agents ``payers`` (P,) pay ``rate`` (E, P) this week on what they owe on ``pool``.

    The pool's holders receive it pro rata (:meth:`abm.ledger.Ledger.pay_interest`); the pool's
    other issuers pay nothing here.
    """
    ledger.pay_interest(pool, segment_sum_at(rate, payers, ledger.pools[pool].issuers))


class BankEarnings:
    """Interest, fees, costs, taxes and payouts of every bank (rule ``book``).

    Args:
        cal: the calibration (``[banks.earnings.us]``, ``[banks.earnings.eu]``).
        sheets: the balance sheets.
        capital: the banks' capital rules (thresholds, regions, risk densities).
        capital_regime: the policy's capital regime (``"own"``, ``"us"``, ``"eu"``): whose CET1
            buffer restricts payouts.
        macro: the macro state at the start (the rates the loan margin is set at).
        net_loans: (E, B, K) the loan books at the start, net of their allowance.
        economy: the firms' operations, whose rates the AI loans and bonds pay the banks
            (counted when the margin is set, paid by the firms' rule).
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: Any,
        capital: BankCapital,
        capital_regime: str,
        macro: MacroState,
        net_loans: Any,
        economy: Any,
    ) -> None:
        self.sheets, self.capital = sheets, capital
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        table = sheets.assets
        self.banks = capital.banks
        self.is_bank = xp.asarray(capital.is_bank, device=dev)
        self.treasuries = table.index("treasuries")
        self.bonds = table.index("ig_bonds_non_ai")

        def per_region(key: str) -> np.ndarray:
            return np.array([float(cal.value(f"{node}.{key}")) for node in REGION_NODES])

        def per_bank(values: np.ndarray) -> Any:
            return xp.asarray(values[capital.regions], dtype=dtype, device=dev)

        def own_or_region(key: str) -> Any:
            values = capital.own_or_region(cal, key, per_region(key))
            return xp.asarray(values, dtype=dtype, device=dev)

        self.deposit_beta = per_bank(per_region("deposit_beta"))
        # the receive-fixed swaps' notional (E, B), USD bn: a share of the deposits at the start
        self.hedge_notional = self._owed("deposits") * per_bank(per_region("deposit_hedge_share"))
        self.floating = per_bank(per_region("floating_loan_share"))
        self.repricing_weeks = per_bank(per_region("loan_repricing_years") * 52.0)
        self.fee_rate = own_or_region("fee_income_share")  # a year, of total assets
        self.tax_rate = per_bank(per_region("tax_rate"))
        self.dividend_share = per_bank(per_region("dividend_payout_share"))
        self.payout_cap = float(cal.value("banks.earnings.payout_income_cap"))
        self.spread0 = per_bank(per_region("wholesale_spread"))
        self.spread_slope = float(cal.value("banks.earnings.wholesale_spread_per_shortfall"))
        self.lender_penalty = float(cal.value("banks.earnings.lender_of_last_resort_penalty"))
        regions = ("us", "eu") if capital_regime == "own" else (capital_regime,) * 2
        buffers = np.array([float(cal.value(f"regulation.{r}.cet1_buffer")) for r in regions])
        self.cet1_buffer = per_bank(buffers)
        rate0 = self.capital.at_banks(macro.policy_rate)  # (E, B) a year
        yield0 = self.capital.at_banks(macro.yield_10y)
        self.fixed_rate = yield0 * 1.0  # the fixed-rate loans' average coupon, repricing slowly
        self.treasury_coupon = yield0 * 1.0  # securities keep the coupon they were bought at
        self.bond_coupon = yield0 + float(cal.value("markets.ig_bonds_non_ai.spread")) / 1e4
        self.margin = rate0 * 0.0
        nii_share = per_region("net_interest_income_share")
        start = self._components(rate0, net_loans, self.spread0 + rate0 * 0.0)
        paid_by_firms = self._paid_by_firms(economy, macro.policy_rate[:, 0])
        weekly = sum(start.values()) + paid_by_firms
        assets = xp.take(sheets.total_assets(), self.banks, axis=1)
        loans = xp.sum(net_loans, axis=-1)
        self.margin = per_bank(self._solve_margin(weekly, assets, loans, nii_share))
        # operating costs a year per dollar of assets: the cost-income ratio at the start
        start = self._components(rate0, net_loans, self.spread0 + rate0 * 0.0)
        nii0 = 52.0 * (sum(start.values()) + paid_by_firms) / assets
        self.cost_rate = own_or_region("cost_income_ratio") * (nii0 + self.fee_rate)
        # net income a year over the last quarter (the return on equity), and a week over the
        # past year (the payout cap)
        self.income_rate = RunningMean(rate0 * 0.0, ROE_WEEKS)
        self.year_income = RunningMean(rate0 * 0.0, PAYOUT_INCOME_WEEKS)

    def _paid_by_firms(self, economy: Any, short_rate: Any) -> Any:
        """(E, B) interest the firms' rule pays the banks a week at the start (USD bn).

        The loans to the AI complex and to funds (``bank_loans``: with named counterparties
        each bank at its own borrowers' rates, else at the pool's average), and the AI issuers'
        bonds at the IG coupon.
        """
        s = self.sheets
        xp = s.xp
        pool = s.ledger.pools["bank_loans"]
        rate = economy.loan_rates(short_rate)
        if isinstance(pool, BilateralPool):  # each bank earns its own borrowers' rates
            n = s.ledger.cash.shape[-1]
            on_agents = segment_sum(rate, pool.issuers, n)  # (E, N) each borrower's rate
            edges = s.ledger.edges("bank_loans")
            earned = edges.amount * xp.take(on_agents, edges.issuer, axis=1)
            loans = xp.take(segment_sum(earned, edges.holder, n), self.banks, axis=1)
        else:  # a pro-rata share of every loan: the pool's average rate
            whole = xp.sum(pool.claims, axis=-1) + pool.outside
            paid = xp.sum(pool.face * rate, axis=-1) / xp.where(whole > 0.0, whole, 1.0)
            loans = self._owned("bank_loans") * paid[:, None]
        table = s.assets
        ai_bonds = [m for m, c in enumerate(table.asset_class) if c == "corporate_bond"
                    and table.issuer[m]]  # fmt: skip
        held = xp.take(s.holdings, self.banks, axis=1)
        value = xp.sum(xp.take(held, xp.asarray(ai_bonds, device=held.device), axis=2), axis=-1)
        return loans + value * self.bond_coupon / 52.0

    def _solve_margin(
        self, weekly: Any, assets: Any, loans: Any, nii_share: np.ndarray
    ) -> np.ndarray:
        """(R,) loan margin a year that makes each region's net interest income / assets the data.

        ``weekly`` is the banks' net interest this week without a margin, at the start's rates.
        """
        weekly = np.asarray(to_numpy(weekly))[0]
        assets = np.asarray(to_numpy(assets))[0]
        loans = np.asarray(to_numpy(loans))[0]
        margin = np.zeros(len(REGION_NODES))
        for r in range(len(REGION_NODES)):
            mine = self.capital.regions == r
            if mine.any():
                gap = nii_share[r] * assets[mine].sum() - 52.0 * weekly[mine].sum()
                margin[r] = gap / max(loans[mine].sum(), 1e-12)
        return margin

    def _components(
        self, rate: Any, net_loans: Any, spread: Any, fixed_rate: Any = None
    ) -> dict[str, Any]:
        """This week's interest of each bank by instrument, (E, B) USD bn (expenses negative).

        Args:
            rate: (E, B) the policy rate at each bank's region, a year.
            net_loans: (E, B, K) loans to the economy outside the model, net of allowance.
            spread: (E, B) the wholesale spread, a year.
            fixed_rate: (E, B) the fixed-rate loans' average coupon, a year (``None``: the book's
                coupon now).
        """
        s = self.sheets
        xp = s.xp
        fixed = self.fixed_rate if fixed_rate is None else fixed_rate
        loans = xp.sum(net_loans, axis=-1)
        other = xp.take(s.real_assets, self.banks, axis=1) - loans
        reference = self.floating * rate + (1.0 - self.floating) * fixed
        held = xp.take(s.holdings, self.banks, axis=1)
        cash = xp.maximum(xp.take(s.ledger.cash, self.banks, axis=1), 0.0)
        week = 1.0 / 52.0
        return {
            "loans": loans * (reference + self.margin) * week,
            "hedges": self.hedge_notional * (fixed - rate) * week,
            "other": other * rate * week,
            "bonds": held[:, :, self.bonds] * self.bond_coupon * week,
            "reserves": cash * rate * week,
            "treasuries": held[:, :, self.treasuries] * self.treasury_coupon * week,
            "deposits": -self._owed("deposits") * self._deposit_rate(rate) * week,
            "wholesale": -self._owed("wholesale") * (rate + spread) * week,
            "interbank": (self._owned("interbank") - self._owed("interbank")) * rate * week,
            "central_bank_loans": -self._owed("central_bank_loans")
            * (rate + self.lender_penalty)
            * week,
        }

    def _deposit_rate(self, rate: Any) -> Any:
        """(E, B) the rate the banks pay on deposits, a year: ``β·i``, never below zero.

        When the policy rate ``rate`` is negative, deposit rates stay at zero rather than
        follow it (module docstring: Heider, Saidi & Schepens 2019).
        """
        return self.sheets.xp.maximum(self.deposit_beta * rate, 0.0)

    def _funding_spread(self, ratio: Any) -> Any:
        """(E, B) the wholesale spread ``s₀ + s₁·max(0, 1 − CET1/target)`` at CET1 ``ratio``."""
        xp = self.sheets.xp
        return self.spread0 + self.spread_slope * xp.maximum(
            1.0 - ratio / self.capital.cet1_target, 0.0
        )

    def net_interest_ahead(
        self, state: WorldState, economy: Any, shift: float, weeks: int = EAR_WEEKS
    ) -> Any:
        """(E, B) each bank's net interest income over the next ``weeks`` if every rate moves now.

        The supervisors' earnings measure of interest-rate risk in the banking book (BCBS 368,
        April 2016, "Interest rate risk in the banking book": the change of net interest income
        over 12 months; EBA/GL/2022/14; the banks' own "earnings at risk" tables): the balance sheet
        is held as it is and the policy rate and the 10-year yield move by ``shift`` (a fraction
        a year) at once and stay there. The floating loans, the other real assets, reserves,
        deposits (at the beta), wholesale funding, interbank claims, the swaps' floating leg
        and the margin loans to hedge funds reprice at once; the fixed-rate loans' coupon (and
        the swaps' fixed leg) moves towards the shifted yield at the book's repricing speed
        (:meth:`book`), so over ``H`` weeks it averages
        ``y + (c − y)·k(1 − kᴴ)/(H(1 − k))`` with ``k = 1 − 1/n`` for ``n`` repricing weeks;
        Treasuries and bonds keep their coupons. ``shift = 0`` gives the base the change is
        measured against; the rates are not floored (a shift of a point meets no lower bound at
        the 2025 rates). USD bn over the horizon; the banks' own rules (:meth:`book`) are not
        run and nothing is booked.
        """
        xp = state.xp
        rate = self.capital.at_banks(state.macro.policy_rate) + shift
        target = self.capital.at_banks(state.macro.yield_10y) + shift
        keep = 1.0 - 1.0 / self.repricing_weeks
        settle = keep * (1.0 - keep**weeks) / (weeks * (1.0 - keep))
        fixed = target + (self.fixed_rate - target) * settle  # the coupon's mean over the weeks
        s = state.sheets
        all_assets, all_debt = s.total_assets(), debt_owed(s)
        regulatory = self.capital.cet1_ratios(all_assets, all_debt, self.capital.htm_addback(state))
        spread = self._funding_spread(xp.take(regulatory, self.banks, axis=1))
        net_loans = state.banks.loans - state.banks.allowance
        weekly = sum(self._components(rate, net_loans, spread, fixed).values())
        from_firms = self._paid_by_firms(economy, state.macro.policy_rate[:, 0] + shift)
        on = xp.astype(~xp.take(state.defaulted, self.banks, axis=1), rate.dtype)
        return weeks * (weekly + from_firms) * on

    def _owed(self, pool: str) -> Any:
        """(E, B) face each bank owes on ``pool``."""
        return self.sheets.ledger.owed_by(pool, self.banks)

    def _owned(self, pool: str) -> Any:
        """(E, B) claims each bank holds on ``pool``."""
        return self.sheets.ledger.held_by(pool, self.banks)

    def book(self, state: WorldState) -> None:
        """Pay this week's interest, fees, costs and taxes; pay out dividends and buybacks.

        Banks that have failed stand still. Interest on the ledger's pools goes to their holders
        (depositors, other banks, the central bank, wholesale creditors outside the model); the
        rest is paid by or to the outsider on the other side: the rest of the economy (loans,
        bonds, fees, costs), the central bank (reserves), the public sector (Treasury coupons,
        taxes) and shareholders outside the model (payouts).
        """
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        banks = self.banks
        on = xp.astype(~xp.take(state.defaulted, banks, axis=1), s.prices.dtype)
        rate = self.capital.at_banks(state.macro.policy_rate)
        self.fixed_rate = (
            self.fixed_rate
            + (self.capital.at_banks(state.macro.yield_10y) - self.fixed_rate)
            / self.repricing_weeks
        )
        all_assets, all_debt = s.total_assets(), debt_owed(s)
        assets = xp.take(all_assets, banks, axis=1)
        density = self.capital.density(all_assets)  # once: the ratio and the buybacks
        addback = self.capital.htm_addback(state)
        regulatory = self.capital.cet1_ratios(all_assets, all_debt, addback, density)
        ratio = xp.take(regulatory, banks, axis=1)
        spread = self._funding_spread(ratio)
        net_loans = state.banks.loans - state.banks.allowance
        parts = {k: v * on for k, v in self._components(rate, net_loans, spread).items()}
        outside = parts["loans"] + parts["hedges"] + parts["other"] + parts["bonds"]
        ledger.pay_outsider(banks, "rest_of_economy", -outside)
        ledger.pay_outsider(banks, "central_bank", -parts["reserves"])
        ledger.pay_outsider(banks, "public_sector", -parts["treasuries"])
        week = on / 52.0
        self._pay_pool(state, "deposits", self._deposit_rate(rate) * week)
        self._pay_pool(state, "wholesale", (rate + spread) * week)
        self._pay_pool(state, "interbank", rate * week)
        self._pay_pool(state, "central_bank_loans", (rate + self.lender_penalty) * week)
        paid_by_firms = xp.take(state.flows.interest_received, banks, axis=1)
        net_interest = sum(parts.values()) + paid_by_firms * on  # booked by the firms' rule
        fees = self.fee_rate * assets / 52.0 * on
        costs = self.cost_rate * assets / 52.0 * on
        ledger.pay_outsider(banks, "rest_of_economy", costs - fees)
        pretax = net_interest + fees - costs - state.banks.provisions * on
        tax = self.tax_rate * xp.maximum(pretax, 0.0)
        ledger.pay_outsider(banks, "public_sector", tax)
        net_income = pretax - tax
        self.year_income.add(net_income)
        rwa = xp.take(all_assets * density, banks, axis=1)
        payouts = self._payouts(net_income, rwa, ratio) * on
        ledger.pay_outsider(banks, "outside_investors", payouts)
        self.income_rate.add(52.0 * net_income)
        b = state.banks
        b.net_interest, b.net_income = net_interest, net_income
        b.payouts, b.funding_spread = payouts, spread

    def _pay_pool(self, state: WorldState, pool: str, bank_rate: Any) -> None:
        """Banks pay ``bank_rate`` (E, B) this week on what they owe on ``pool`` to its holders.

        Other issuers of the pool (hedge funds' wholesale borrowing) pay nothing here.
        """
        pay_on_pool(state.sheets.ledger, pool, self.banks, bank_rate)

    def _payouts(self, net_income: Any, rwa: Any, ratio: Any) -> Any:
        """(E, B) dividends and buybacks this week, restricted below the target (the MDA).

        Buybacks return the capital above the CET1 target (``ratio`` over the bank's
        risk-weighted assets ``rwa``, both (E, B)) over :data:`BUYBACK_WEEKS`. The whole is at
        most :attr:`payout_cap` times the week's net income averaged over the past year
        (:data:`PAYOUT_INCOME_WEEKS`; nothing after a year of losses) and the bank's cash.
        """
        xp = self.sheets.xp
        cap = self.capital
        target = cap.cet1_target
        room = xp.clip((ratio - self.cet1_buffer) / (target - self.cet1_buffer), 0.0, 1.0)
        dividends = self.dividend_share * xp.maximum(net_income, 0.0) * room
        buybacks = xp.maximum((ratio - target) * rwa, 0.0) / BUYBACK_WEEKS
        limit = self.payout_cap * xp.maximum(self.year_income.mean(), 0.0)
        cash = xp.maximum(xp.take(self.sheets.ledger.cash, self.banks, axis=1), 0.0)
        return xp.minimum(xp.minimum(dividends + buybacks, limit), cash)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot, per bank on the agent axis (E, N), USD bn this week unless noted.

        ``net_interest_income``, ``net_income``, ``bank_payouts``, ``funding_spread`` (a year),
        ``return_on_equity`` (net income a year, averaged over a quarter, over equity; 0 where
        equity is not positive), ``risk_weighted_assets`` and each bank's ``cet1_buffer`` (the
        CET1 ratio below which payouts stop).
        """
        state = books.state
        b = state.banks
        xp = state.xp
        equity = xp.take(books.assets - books.liabilities, self.banks, axis=1)
        income = self.income_rate.mean()
        roe = xp.where(equity > 0.0, income / xp.where(equity > 0.0, equity, 1.0), 0.0)
        return {
            "risk_weighted_assets": xp.where(
                self.is_bank, books.assets * self.capital.density(books.assets), 0.0
            ),
            "cet1_buffer": books.per_bank(self.cet1_buffer + 0.0 * equity),
            "net_interest_income": books.per_bank(b.net_interest),
            "net_income": books.per_bank(b.net_income),
            "bank_payouts": books.per_bank(b.payouts),
            "funding_spread": books.per_bank(b.funding_spread),
            "return_on_equity": books.per_bank(roe),
        }
