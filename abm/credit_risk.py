"""Credit risk on the banks' loan books to the economy outside the model.

Each bank's real assets (:attr:`abm.balance_sheets.BalanceSheets.real_assets`) hold its loans to
households and firms outside the model, net of their loss allowance, and other assets without
credit risk. The loans are a share of the bank's assets: the region's (FDIC, EBA) unless the bank
has its own (``[banks.us.agents.<name>] loans_share_of_assets``: the six named US banks from
their filings, from 11% of assets at Goldman Sachs to 47% at Wells Fargo; the two US aggregates'
shares exceed their real assets, so all of those are loans). The loans are four books
(:data:`abm.state.LOAN_BOOKS`: mortgages, consumer, corporate, commercial real estate) with the
region's shares (``[banks.credit_risk.<region>]``: Fed H.8 / FDIC for US banks, the EBA Risk
Assessment Report for EU banks). Every week, per bank and book, vectorised over worlds and banks
(:meth:`CreditRisk.step`):

- **Loss rates** (PD × LGD a year) move with the macro state of the bank's region through
  satellite models as in the supervisory stress tests (Fed Supervisory Stress Test Model
  Documentation; ECB BEAST, Budnik et al. 2023, ECB Occasional Paper 312)::

      λ_k = min(λ0_k · exp(β_u,k · (u − u0) + β_p,k · max(0, −ln P_k)), λ_max)

  with u the unemployment rate, u0 its 2025 value (the macro block's anchor), ``P_k`` the
  collateral price index of the book (house prices for mortgages, commercial property prices for
  CRE, none for consumer and corporate loans). The sensitivities are solved from the data: at the
  stress point of the region, the worst quarter of the supervisor's scenario
  (``abm/data/stress_paths.toml``: the Fed's 2026 severely adverse, u +5.5 points, house prices
  −28.5%, CRE −40%; an estimate of the EBA's 2025 adverse for EU banks) the loss rate reaches the
  stressed rate ``λs_k``, of whose log rise a share ``w_k`` comes from unemployment and the rest
  from the collateral price: ``β_u = w·ln(λs/λ0)/Δu``, ``β_p = (1 − w)·ln(λs/λ0)/(−ln(1 −
  fall))``. The stressed rate is solved from the supervisor's published losses of the book over
  the whole horizon (:mod:`abm.stress_losses`): along the scenario's path the satellite loses
  what the supervisor's models lose (the Fed: nine quarters, 2026 results, Table 9).
- **Write-offs** ``W = G·λ/52`` on the gross book G, charged against the allowance.
- **Repayments and new lending.** The book amortises at ``1/L_k`` a year (L the remaining life);
  the rest of the economy pays the principal in cash. Banks lend anew, replacing what was repaid
  and written off, so that the book grows at trend nominal credit growth, potential growth plus
  inflation, plus ``ε`` times the output gap (demand), times a credit-supply factor from capital:
  full at or above the CET1 target, falling linearly to zero growth at the buffer, and below the
  buffer new lending falls short of repayments, down to none at the minimum (deleveraging through
  lending as in the ECB's BEAST). A bank lends only the cash above its liquidity buffer, a share
  of its deposits and wholesale funding (Basel III LCR run-off rates, BCBS 238). A share ``d`` of
  new loans is paid out into deposits at the lending bank, and repayments come out of deposits in
  the same share (McLeay, Radia & Thomas 2014, BoE Quarterly Bulletin Q1: loans create deposits,
  repayments destroy them); the rest moves as cash.
- **Provisions** (IFRS 9 / CECL). The allowance is the lifetime expected loss of the book: the
  loss rate under a forward-looking view for the reasonable and supportable period H (one year;
  FASB ASC 326-20-30-9, IFRS 9.5.5.5) and the through-the-cycle rate λ0 for the rest of the
  life, ``A = G·(λ_f·min(L, H) + λ0·max(L − H, 0))``; the outlook takes a share φ of
  unemployment's latest quarterly trend forward for a year (bounded): on the way up in 2008–09
  the Survey of Professional Forecasters expected about a sixth to two fifths of the latest
  quarter's rise, annualised, over the next year, and none near the peak (φ = 0.3,
  ``outlook_trend_share``); λ_f is the mean rate over that year, with unemployment moving
  linearly to the outlook's. The allowance moves toward that target
  by a quarter's share each week (banks measure and report expected losses quarterly).
  Provisions are write-offs plus the change of the allowance (negative: a release); the bank's
  real assets (net loans) fall by the provision and its equity with them.

Failed banks stand still. :meth:`CreditRisk.charge_off` writes off a share of the gross loans at
once, a credit-loss shock beyond the allowance. Interest on the loans is booked by the banks'
earnings (:mod:`abm.bank_earnings`), which read ``state.banks.loans``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.constraints import BankCapital
from abm.state import LOAN_BOOKS, REGIONS, WorldState
from abm.stress_losses import StressPath, load_stress_paths, stressed_rate
from kernels.backend import segment_sum, to_numpy

#: the credit-risk parameters of each region of abm.state.REGIONS, by calibration node
REGION_NODES = ("banks.credit_risk.us", "banks.credit_risk.eu")
#: the collateral price of each book of LOAN_BOOKS (a MacroState field), None if unsecured
COLLATERAL = ("house_prices", None, None, "cre_prices")
#: weeks of unemployment history the provisioning outlook reads its trend from (a quarter)
TREND_WEEKS = 13


#: points (quarters' midpoints) at which the forecast period's mean loss rate is taken
FORECAST_QUARTERS = 4
#: weeks over which the allowance moves to its target: banks measure and report expected losses
#: each quarter, so a change of outlook reaches the books over about a quarter
ALLOWANCE_WEEKS = 13.0


def stressed_table(
    cal: Calibration, paths: dict[str, StressPath], base: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """(R, K) loss rate a year at each region's stress point, per book.

    Solved (:func:`abm.stress_losses.stressed_rate`) so that the satellite, fed the
    supervisor's scenario path of its region (``paths``), loses the book's ``stress_loss``
    over the horizon: the supervisor's own loss rate of that book.
    """
    table = np.zeros_like(base)
    for r, (region, node) in enumerate(zip(REGIONS, REGION_NODES, strict=True)):
        path = paths[region]
        for k, (book, price) in enumerate(zip(LOAN_BOOKS, COLLATERAL, strict=True)):
            shares = path.stress_shares(price, float(weight[r, k]))
            loss = float(cal.value(f"{node}.{book}.stress_loss"))
            try:
                table[r, k] = stressed_rate(float(base[r, k]), loss, shares, path.horizon_quarters)
            except ValueError as err:
                raise ValueError(f"{node}.{book}.stress_loss: {err}") from None
    return table


class CreditRisk:
    """Write-offs, provisions, repayments and new lending on every bank's loan books (rule).

    Args:
        cal: the calibration (``[banks.credit_risk]`` and its regions and books).
        sheets: the balance sheets.
        capital: the banks' capital rules (bank rows, regions, CET1 thresholds).

    Attributes:
        stressed_rate: (R, K) per region and book, the loss rate a year at the stress point
            (host array; :func:`stressed_table`).
        base_rate, beta_u, beta_p, life: (B, K) per bank and book: the 2025 loss rate a year,
            its sensitivities to unemployment and to the collateral price, the remaining life
            in weeks.
        reference_u, potential: (B,) the 2025 unemployment rate and potential growth a year of
            each bank's region (the macro block's anchors, ``[macro.us]``, ``[macro.euro_area]``).
    """

    def __init__(self, cal: Calibration, sheets: Any, capital: BankCapital) -> None:
        self.sheets, self.capital = sheets, capital
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.banks = capital.banks
        self.weeks = float(cal.weeks_per_year)

        def leaf(path: str) -> float:
            return float(cal.value(path))

        def book_table(key: str) -> np.ndarray:  # (R, K)
            return np.array([[leaf(f"{n}.{b}.{key}") for b in LOAN_BOOKS] for n in REGION_NODES])

        def region_row(key: str) -> np.ndarray:  # (R,)
            return np.array([leaf(f"{n}.{key}") for n in REGION_NODES])

        def per_bank(table: np.ndarray) -> Any:
            return xp.asarray(table[capital.regions], dtype=dtype, device=dev)

        base = book_table("loss_rate")
        weight = book_table("unemployment_weight")
        paths = load_stress_paths()
        self.stressed_rate = stressed_table(cal, paths, base, weight)
        rise = np.log(self.stressed_rate / base)  # (R, K) log multiplier at stress
        du = np.array([paths[region].unemployment_rise for region in REGIONS])[:, None]
        fall = np.zeros_like(base)
        for k, price in enumerate(COLLATERAL):
            if price is not None:
                fall[:, k] = [paths[region].price_fall(price) for region in REGIONS]
        secured = fall > 0.0
        beta_u = np.where(secured, weight, 1.0) * rise / du
        log_fall = -np.log(1.0 - np.where(secured, fall, 0.5))
        beta_p = np.where(secured, (1.0 - weight) * rise / log_fall, 0.0)
        self.base_rate = per_bank(base)
        self.beta_u, self.beta_p = per_bank(beta_u), per_bank(beta_p)
        self.life = per_bank(book_table("life_years") * self.weeks)
        self.shares = per_bank(book_table("share"))
        key = "loans_share_of_assets"
        loans_share = capital.own_or_region(cal, key, region_row(key))
        self.loans_share = xp.asarray(loans_share, dtype=dtype, device=dev)
        macro = [f"macro.{region}" for region in REGIONS]  # the macro block's 2025 anchors
        self.reference_u = per_bank(np.array([leaf(f"{n}.unemployment") for n in macro]))
        self.potential = per_bank(np.array([leaf(f"{n}.potential_growth") for n in macro]))
        c = "banks.credit_risk"
        self.horizon = float(cal.model_value(f"{c}.outlook_years"))  # weeks
        self.outlook_cap = leaf(f"{c}.outlook_max_change")
        self.trend_share = leaf(f"{c}.outlook_trend_share")
        self.max_rate = leaf(f"{c}.max_loss_rate")
        self.gap_elasticity = leaf(f"{c}.credit_gap_elasticity")
        self.liquidity_share = leaf(f"{c}.liquidity_buffer_share")
        self.deposited = leaf(f"{c}.new_loans_deposited_share")
        host_banks = np.asarray(to_numpy(capital.banks))
        minimum = capital.minimum[host_banks]
        buffer, target = capital.buffer[host_banks], capital.target[host_banks]
        bound = np.isfinite(buffer)  # the bank_deleveraging channel off: capital never binds
        self.binding = xp.asarray(bound, device=dev)
        safe_buffer = np.where(bound, buffer, minimum)
        self.minimum = xp.asarray(minimum, dtype=dtype, device=dev)
        self.buffer = xp.asarray(safe_buffer, dtype=dtype, device=dev)
        self.target = xp.asarray(target, dtype=dtype, device=dev)
        deposits = sheets.ledger.pools["deposits"]
        issuers = list(np.asarray(to_numpy(deposits.issuers)))
        self.deposit_slots = xp.asarray(
            np.array([issuers.index(i) for i in host_banks]), device=dev
        )
        self.n_issuers = len(issuers)
        self.u_history: Any = None  # (TREND_WEEKS, E, B) unemployment at each bank, a quarter
        self.pending: Any = None  # charge-offs booked before this week's step
        self.last_week = -1  # the last week the step ran

    # -- the books --------------------------------------------------------------------------

    def opening_books(self) -> tuple[Any, Any]:
        """(E, B, K) gross loans and their allowance at the start.

        Net loans are the region's loan share of each bank's total assets, at most its real
        assets, split by book; the allowance is the books' lifetime expected loss at the 2025
        loss rates, so gross = net + allowance and the real assets stay as they are.
        """
        s = self.sheets
        xp = s.xp
        assets = xp.take(s.total_assets(), self.banks, axis=1)
        real = xp.take(s.real_assets, self.banks, axis=1)
        net = xp.minimum(self.loans_share * assets, xp.maximum(real, 0.0))
        loss = self._lifetime_loss(self.base_rate)  # per unit of gross loans
        gross = net[:, :, None] * self.shares / (1.0 - loss)
        return gross, gross * loss

    def _lifetime_loss(self, outlook_rate: Any) -> Any:
        """(…, B, K) lifetime expected loss per unit of gross loans (CECL / IFRS 9 lifetime).

        The outlook rate for the forecast period, the through-the-cycle (2025) rate for the
        rest of the book's life.
        """
        xp = self.sheets.xp
        near = xp.minimum(self.life, self.horizon) / self.weeks
        far = xp.maximum(self.life - self.horizon, 0.0) / self.weeks
        return outlook_rate * near + self.base_rate * far

    def loss_rates(self, unemployment: Any, house_prices: Any, cre_prices: Any) -> Any:
        """(E, B, K) loss rates a year at each bank's unemployment and prices (E, B).

        The satellite models of the module docstring.
        """
        return self._rates(unemployment, self._collateral_term(house_prices, cre_prices))

    def _collateral_term(self, house_prices: Any, cre_prices: Any) -> Any:
        """(E, B, K) ``β_p · max(0, −ln P)`` of each book at each bank's prices (E, B)."""
        xp = self.sheets.xp
        house = xp.maximum(-xp.log(xp.maximum(house_prices, 1e-6)), 0.0)
        cre = xp.maximum(-xp.log(xp.maximum(cre_prices, 1e-6)), 0.0)
        zero = house * 0.0
        fall = xp.stack([house if p == "house_prices" else cre if p else zero
                         for p in COLLATERAL], axis=-1)  # fmt: skip
        return self.beta_p * fall

    def _rates(self, unemployment: Any, collateral: Any) -> Any:
        """(E, B, K) loss rates a year at unemployment (E, B), given :meth:`_collateral_term`."""
        xp = self.sheets.xp
        du = (unemployment - self.reference_u)[:, :, None]
        rate = self.base_rate * xp.exp(self.beta_u * du + collateral)
        return xp.minimum(rate, self.max_rate)

    def _outlook_unemployment(self, unemployment: Any, week: int) -> Any:
        """(E, B) unemployment a year ahead: a share of the latest quarter's trend, bounded."""
        xp = self.sheets.xp
        if self.u_history is None:  # no trend observed yet
            self.u_history = xp.stack([unemployment] * TREND_WEEKS, axis=0)
        slot = week % TREND_WEEKS
        quarter_ago = self.u_history[slot, ...] * 1.0
        self.u_history[slot, ...] = unemployment
        trend = (unemployment - quarter_ago) * (self.trend_share * self.horizon / TREND_WEEKS)
        step = xp.clip(trend, -self.outlook_cap, self.outlook_cap)
        return xp.maximum(unemployment + step, 0.0)

    def _forecast_rates(self, u: Any, u_outlook: Any, collateral: Any) -> Any:
        """(E, B, K) the mean loss rate a year over the forecast period.

        Unemployment moves linearly from today's to the outlook's over the period and prices
        stay where they are (``collateral``: :meth:`_collateral_term`); the mean is taken at the
        midpoints of its quarters (:data:`FORECAST_QUARTERS`): the loss expected over the year,
        not the rate at its end, which with convex satellites would overstate it.
        """
        total = None
        for q in range(FORECAST_QUARTERS):
            rate = self._rates(u + (u_outlook - u) * ((q + 0.5) / FORECAST_QUARTERS), collateral)
            total = rate if total is None else total + rate
        return total / FORECAST_QUARTERS

    def _capital_factors(self, equity_ratio: Any) -> tuple[Any, Any]:
        """(E, B) credit supply from capital: growth factor in [0, 1] and shrink share in [0, 1].

        Growth is full at the CET1 target and none at the buffer; below the buffer new lending
        falls short of repayments by the shrink share (all of them at the minimum).
        ``equity_ratio`` is CET1 at market value over RWA.
        """
        xp = self.sheets.xp
        span = xp.maximum(self.target - self.buffer, 1e-12)
        grow = xp.clip((equity_ratio - self.buffer) / span, 0.0, 1.0)
        depth = xp.maximum(self.buffer - self.minimum, 1e-12)
        shrink = xp.clip((self.buffer - equity_ratio) / depth, 0.0, 1.0)
        return xp.where(self.binding, grow, 1.0), xp.where(self.binding, shrink, 0.0)

    def _lendable(self, repaid: Any) -> Any:
        """(E, B) most a bank can lend this week: repayments plus its cash above the buffer.

        Net lending N drains ``(1 − d)·N`` of cash (d: the share deposited back) and adds
        ``d·N`` to deposits, so the buffer holds while
        ``N ≤ (cash − b·(deposits + wholesale)) / (1 − d + b·d)``.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        cash = xp.take(ledger.cash, self.banks, axis=1)
        funding = ledger.owed_by("deposits", self.banks) + ledger.owed_by("wholesale", self.banks)
        room = cash - self.liquidity_share * funding
        b, d = self.liquidity_share, self.deposited
        return xp.maximum(repaid + room / (1.0 - d + b * d), 0.0)

    def step(self, state: WorldState) -> None:
        """One week of the loan books (see the module docstring), booked through the ledger."""
        s = self.sheets
        xp, ledger, n = s.xp, s.ledger, s.ledger.cash.shape[-1]
        banks, macro, books = self.banks, state.macro, state.banks
        alive = ~xp.take(state.defaulted, banks, axis=1)  # (E, B)
        live = xp.astype(alive, s.prices.dtype)[:, :, None]
        gross, allowance = books.loans, books.allowance
        u = self.capital.at_banks(macro.unemployment)
        hp, cre = self.capital.at_banks(macro.house_prices), self.capital.at_banks(macro.cre_prices)
        collateral = self._collateral_term(hp, cre)  # once: the week's and the outlook's
        written = gross * self._rates(u, collateral) / self.weeks * live
        gross = gross - written
        repaid = gross / self.life * live
        # new lending: trend nominal growth plus demand, times the supply from capital
        growth = (
            self.potential
            + self.capital.at_banks(macro.inflation)
            + self.gap_elasticity * self.capital.at_banks(macro.output_gap)
        ) / self.weeks
        ratio = xp.take(self.capital.cet1_ratios(*s.assets_and_liabilities()), banks, axis=1)
        grow, shrink = self._capital_factors(ratio)
        g = (xp.maximum(growth, 0.0) * grow + xp.minimum(growth, 0.0))[:, :, None]
        replaced = (repaid + written) * (1.0 - shrink[:, :, None])
        wanted = xp.maximum(replaced + gross * g, 0.0) * live
        total = xp.sum(wanted, axis=-1)
        cap = self._lendable(xp.sum(repaid, axis=-1))
        lent = wanted * (xp.minimum(total, cap) / xp.where(total > 0.0, total, 1.0))[:, :, None]
        gross = gross - repaid + lent
        # provisions: write-offs plus the change of the allowance to its lifetime target
        outlook = self._forecast_rates(u, self._outlook_unemployment(u, state.week), collateral)
        lifetime = gross * self._lifetime_loss(outlook)
        # banks report quarterly: the allowance closes a quarter's share of its gap each week
        target = xp.where(
            alive[:, :, None], allowance + (lifetime - allowance) / ALLOWANCE_WEEKS, allowance
        )
        provision = written + target - allowance
        net_lent = xp.sum(lent - repaid, axis=-1)
        provided = xp.sum(provision, axis=-1)
        s.real_assets = s.real_assets + segment_sum(net_lent - provided, banks, n)
        ledger.book_equity(segment_sum(-provided, banks, n))
        ledger.pay_outsider(banks, "rest_of_economy", net_lent, income=False)
        # new loans are paid out into deposits, repayments are paid out of them
        slots, d = self.deposit_slots, self.deposited
        paid_out = d * xp.sum(lent, axis=-1)
        ledger.lend_outside("deposits", segment_sum(paid_out, slots, self.n_issuers))
        paid_in = d * xp.sum(repaid, axis=-1)
        ledger.withdraw_outside("deposits", segment_sum(paid_in, slots, self.n_issuers))
        extra, extra_by_book = self._take_pending(state)
        books.loans, books.allowance = gross, target
        books.provisions = provided + extra
        books.write_offs = xp.sum(written, axis=-1) + extra
        books.write_offs_by_book = written + extra_by_book
        books.lending = net_lent
        self.last_week = state.week

    def _take_pending(self, state: WorldState) -> tuple[Any, Any]:
        """(E, B) charge-offs booked this week before the step and (E, B, K) by book (0 if none)."""
        pending, self.pending = self.pending, None
        if pending is None or pending[0] != state.week:
            return state.banks.provisions * 0.0, state.banks.loans * 0.0
        return pending[1], pending[2]

    def charge_off(self, state: WorldState, share: Any) -> None:
        """Write off ``share`` (E, B, K) of every gross loan book now, beyond the allowance.

        The loss falls on the bank's real assets and equity at once and counts in this week's
        provisions and write-offs. Failed banks are left as they are.
        """
        s = self.sheets
        xp, n = s.xp, s.ledger.cash.shape[-1]
        books = state.banks
        alive = ~xp.take(state.defaulted, self.banks, axis=1)
        live = xp.astype(alive, s.prices.dtype)[:, :, None]
        lost = books.loans * xp.clip(share, 0.0, 1.0) * live
        loss = xp.sum(lost, axis=-1)
        books.loans = books.loans - lost
        s.real_assets = s.real_assets - segment_sum(loss, self.banks, n)
        s.ledger.book_equity(segment_sum(-loss, self.banks, n))
        books.provisions = books.provisions + loss
        books.write_offs = books.write_offs + loss
        books.write_offs_by_book = books.write_offs_by_book + lost
        if self.last_week != state.week:  # this week's step has yet to run: carry it there
            before, by_book = (0.0, 0.0) if self.pending is None else self.pending[1:]
            self.pending = (state.week, before + loss, by_book + lost)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot, (E, N) on the agent axis (0 for non-banks), USD bn unless noted.

        ``loans_outside``: gross loans to the economy outside the model; ``loan_allowance``:
        their allowance; ``provisions``, ``write_offs``: this week's; ``new_lending``: this
        week's lending net of repayments; ``loan_loss_rate``: this week's write-offs a year over
        gross loans (fraction). By book, (E, R, K) per region of :data:`abm.state.REGIONS` and
        book of :data:`abm.state.LOAN_BOOKS`, summed over the region's banks (failed or not):
        ``loans_by_book`` (gross) and ``write_offs_by_book`` (this week's).
        """
        xp = self.sheets.xp
        state = books.state.banks
        loans = xp.sum(state.loans, axis=-1)
        rate = state.write_offs * self.weeks / xp.where(loans > 0.0, loans, 1.0)
        return {
            "loans_outside": books.per_bank(loans),
            "loan_allowance": books.per_bank(xp.sum(state.allowance, axis=-1)),
            "provisions": books.per_bank(state.provisions),
            "write_offs": books.per_bank(state.write_offs),
            "new_lending": books.per_bank(state.lending),
            "loan_loss_rate": books.per_bank(rate),
            "loans_by_book": self._by_region(state.loans),
            "write_offs_by_book": self._by_region(state.write_offs_by_book),
        }

    def _by_region(self, values: Any) -> Any:
        """(E, R, K) the sum of (E, B, K) ``values`` over each region's banks."""
        xp = self.sheets.xp
        sums = xp.permute_dims(values, (0, 2, 1)) @ self.capital.region_onehot  # (E, K, R)
        return xp.permute_dims(sums, (0, 2, 1))
