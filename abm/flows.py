"""Weekly flows between savers and the institutions that hold their money.

Before the market clears (docs/design.md, "The week"), each rule says how much cash an institution
must pay out this week; the fire-sale kernel then makes it raise that cash (``cash_needed``), and
after the market has cleared the institution pays what it could:

- **Retail saving** — households save ``saving_flow`` a year from income earned in the rest of
  the economy (split by the wealth groups' saving shares) and put it into bank deposits.
- **Mutual-fund flows** — a piecewise-linear flow–performance relation on the fund's NAV return
  ``r``: investors redeem ``β⁻·max(0, −r)`` of a fund a week and subscribe ``β⁺·max(0, r)``.
  Bond funds' relation is concave (``β⁻ > β⁺``: outflows react more to bad performance than
  inflows to good; Goldstein, Jiang & Ng 2017, JFE 126(3), "Investor flows and fragility in
  corporate bond funds"), equity funds' convex (``β⁺ > β⁻``: money chases the best performers and
  is slow to leave the worst; Chevalier & Ellison 1997, JPE 105(6); Sirri & Tufano 1998, J.
  Finance 53(5), "Costly search and mutual fund flows"). The slopes are ``redemption_elasticity``
  and ``subscription_elasticity`` of ``[funds.mutual_*]``; channel ``fund_redemptions`` switches
  off the outflows only (inflows are no contagion channel).
  Redemptions are paid out of the fund at NAV after the market has cleared (the fire sale raises
  the cash). Subscriptions are paid at once, at NAV, by the fund's shareholders — retail cohorts
  out of their cash, then their bank deposits, outside investors from outside — and the fund buys
  more of what it holds, in proportion, from outside investors at market prices (as far as units
  float outside; the rest stays cash). The return is the fund's performance since its shares were
  last marked to NAV, so flows do not themselves look like gains or losses. Hedge funds' and
  private-credit funds' shares have no weekly flows (lock-ups, notice periods and gates hold
  their investors in); marking them to NAV moves their own named investors' claims.
- **Stablecoin redemptions** — holders redeem
  ``f = f₀ + k₁·max(0, 1 − peg) + k₂·q·max(0, −crypto return) + k₃·max(0, 1 − peer peg)
  + k₄·reserve-bank stress`` of the tokens a week, at most the fastest observed run. A crypto
  crash drives holders out of a coin in proportion to ``q``, the share of its reserves a
  GENIUS-style rule would not allow (gold, bitcoin, secured loans, other investments;
  :func:`abm.stablecoins.ineligible_share`): in the crashes of 2022 holders left the coins with
  risky reserves for the one held in cash and T-bills (Anadu et al. 2023, "Runs and flights to
  safety: are stablecoins the new money market funds?", FRB Boston SRA 23-02: net flows from
  riskier to safer coins on days of crypto-market stress), as prime money
  funds' holders left for government funds in 2008 and 2020
  (``k₁`` and ``k₄`` are fitted to the USDC run of March 2023, −15% of
  supply in 24 hours at a 0.87 low with 8% of reserves at the failed SVB, the cap to Anchor's −38%
  in three days, each converted to a week as :mod:`abm.stablecoins` explains), paid at par from
  reserves while the issuer has cash — first its bank deposits (withdrawn from the banks), then
  Treasuries, gold and bitcoin in that order (:mod:`abm.stablecoins`); the peg is the
  recoverable value per token.

Its rules in the week (:mod:`abm.rules`), each taking the world state: ``draw_credit_lines``,
``save``, ``issue_tokens`` (this week's pegs first), ``redemptions`` (``flows.due``, and the
funds' subscriptions), ``draw_deposits``, ``pay_out`` and ``mark_fund_shares``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_at
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.channels import Channels
from abm.stablecoins import ineligible_share
from abm.stablecoins import pegs as stablecoin_pegs
from abm.state import WorldState
from kernels.backend import segment_sum, to_numpy

#: share of each asset's supply outside investors keep when funds buy: far above the rounding of
#: the holdings' sum (about 1e-13 of supply), so the float left outside stays positive
FLOAT_KEPT = 1e-9


class Flows:
    """Saving, mutual-fund flows and stablecoin redemptions of one model."""

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, channels: Channels | None = None
    ) -> None:
        self.sheets = sheets
        self.channels = channels or Channels()
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
        self.saved = xp.zeros((sheets.prices.shape[0], n), dtype=dtype, device=dev)  # to date
        outflow, inflow = np.zeros(n), np.zeros(n)
        mutual = []
        for sector in ("mutual_bond", "mutual_equity"):
            rows = roster.indices("fund", sector)
            outflow[rows] = float(cal.model_value(f"funds.{sector}.redemption_elasticity"))
            inflow[rows] = float(cal.model_value(f"funds.{sector}.subscription_elasticity"))
            mutual += list(rows)
        if mutual != list(range(mutual[0], mutual[-1] + 1)):
            raise ValueError("bond and equity mutual funds must be adjacent in the roster")
        self.mutual = slice(mutual[0], mutual[-1] + 1)  # the mutual funds' rows, as a slice
        outflow *= self.channels.fund_redemptions  # the contagion channel: money that runs
        self.elasticity = xp.asarray(outflow, dtype=dtype, device=dev)  # β⁻, outflows
        self.inflow_elasticity = xp.asarray(inflow, dtype=dtype, device=dev)  # β⁺, inflows
        b = "stablecoins.behaviour"
        self.f0 = float(cal.model_value(f"{b}.base_redemption_share_per_week"))
        self.k_peg = float(cal.model_value(f"{b}.depeg_sensitivity"))
        self.k_crypto = float(cal.model_value(f"{b}.crypto_drawdown_sensitivity"))
        self.flight_share = float(cal.model_value(f"{b}.flight_to_safety_share"))
        self.k_peer = float(cal.model_value(f"{b}.peer_depeg_sensitivity"))
        self.k_bank = float(cal.model_value(f"{b}.reserve_bank_distress_sensitivity"))
        self.max_share = float(cal.model_value(f"{b}.max_redemption_share_per_week"))
        self.crypto = sheets.assets.index("crypto")
        self.issuance = float(cal.model_value("assumptions.stablecoins.issuance_share_per_week"))
        coins = np.zeros(n)
        coins[roster.indices("stablecoin")] = 1.0
        self.issuer_mask = xp.asarray(coins, dtype=dtype, device=dev)
        self.token_cap = float(cal.model_value("assumptions.stablecoins.market_cap_limit"))
        self.coins = slice(*roster.blocks["stablecoin"])  # the issuers' rows, as a slice
        self.coin_rows = xp.asarray(roster.indices("stablecoin"), device=dev)
        self.bills = sheets.assets.index("tbills")  # new reserves go into bills
        self.bills_column = xp.asarray([self.bills], device=dev)
        issuers = to_numpy(sheets.ledger.pools["bank_loans"].issuers)
        lines = np.isin(issuers, roster.indices("fund", "private_credit"))
        self.lines = xp.asarray(lines, dtype=dtype, device=dev)
        self.last_crypto = sheets.prices[:, self.crypto] * 1.0
        self.last_redemptions = xp.zeros_like(sheets.ledger.cash)
        self.last_subscriptions = xp.zeros_like(sheets.ledger.cash)
        self.asked = xp.zeros_like(sheets.ledger.cash)  # this week's redemptions, as asked
        self.fleeing = xp.zeros_like(sheets.ledger.cash)  # the part the crypto crash drove
        self.flight = xp.zeros_like(sheets.prices[:, 0])  # (E,) to safer coins next week

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``saved`` (retail saving to date), ``redemptions_paid``, ``subscriptions``."""
        return {
            "saved": self.saved,
            "redemptions_paid": self.last_redemptions,
            "subscriptions": self.last_subscriptions,
        }

    def _ineligible(self, assets: Any) -> Any:
        """(E, N) each issuer's share of reserves a reserve rule disallows (0 elsewhere)."""
        n = assets.shape[-1]
        return segment_sum(ineligible_share(self.sheets, self.coins, assets), self.coin_rows, n)

    def _face(self, name: str) -> Any:
        """(E, N) face each agent owes on pool ``name``."""
        return self.sheets.ledger.owed(name)

    def _shares(self) -> Any:
        """(E, N) face of the shares each fund owes: mutual funds' and private funds'."""
        return self._face("fund_shares") + self._face("private_fund_shares")

    def _nav(self, shares: Any = None) -> Any:
        """(E, N) net asset value of fund shares (total assets less debt) for fund issuers.

        ``shares``: :meth:`_shares` where the caller has it already (the shares are not debt).
        """
        s = self.sheets
        shares = self._shares() if shares is None else shares
        debt = s.liabilities() - shares - self._face("pension_claims")
        return s.total_assets() - debt

    def save(self, state: WorldState | None = None) -> None:
        """Households receive their weekly saving from the rest of the economy and deposit it."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        weekly = xp.zeros_like(ledger.cash) + self.saving[None, :]
        self.saved = self.saved + weekly
        income = xp.take(weekly, self.retail, axis=1)
        ledger.pay_outsider(self.retail, "rest_of_economy", -income)
        pool = ledger.pools["deposits"]
        ledger.subscribe("deposits", xp.take(weekly, pool.holders, axis=1))

    def redemptions(self, state: WorldState) -> None:
        """``flows.due``: (E, N) cash fund and stablecoin issuers must pay out this week.

        Mutual funds that gained since the last mark receive their subscriptions now
        (:meth:`subscribe`). Reads the pegs before redemptions (``flows.pegs``), the share of each
        issuer's reserves at banks in trouble (``flows.reserve_stress``, :mod:`abm.stablecoins`;
        none if None) and who has failed (they pay nothing and receive nothing).
        """
        s = self.sheets
        xp = s.xp
        pegs, reserve_stress = state.flows.pegs, state.flows.reserve_stress
        shares = self._shares()  # NAV at the last mark, less what was paid out since
        nav = self._nav(shares)
        fund_return = nav / xp.where(shares > 0.0, shares, 1.0) - 1.0  # performance, not flows
        fund = xp.minimum(self.elasticity * xp.maximum(-fund_return, 0.0), 1.0)
        fund_out = fund * xp.minimum(xp.maximum(nav, 0.0), shares)
        fund_in = xp.minimum(self.inflow_elasticity * xp.maximum(fund_return, 0.0), 1.0)
        self.subscribe(xp.where(state.defaulted, 0.0, fund_in * xp.maximum(nav, 0.0)))
        crypto = s.prices[:, self.crypto]
        crypto_fall = xp.maximum(1.0 - crypto / self.last_crypto, 0.0)[:, None]
        tokens = self._face("tokens")
        issuer = tokens > 0.0
        depeg = xp.where(issuer, xp.maximum(1.0 - pegs, 0.0), 0.0)
        peer = (xp.sum(depeg, axis=-1, keepdims=True) - depeg) * xp.astype(issuer, depeg.dtype)
        ineligible = self._ineligible(s.total_assets())
        fleeing = self.k_crypto * ineligible * crypto_fall
        share = self.f0 + self.k_peg * depeg + fleeing + self.k_peer * peer
        if reserve_stress is not None:
            share = share + self.k_bank * reserve_stress
        coin_out = xp.where(issuer, xp.minimum(share, self.max_share) * tokens, 0.0)
        coin_out = coin_out * float(self.channels.stablecoin_runs)
        self.asked = coin_out
        self.fleeing = coin_out * fleeing / xp.where(share > 0.0, share, 1.0)
        self.last_crypto = crypto * 1.0
        state.flows.due = xp.where(state.defaulted, 0.0, fund_out + coin_out)

    def subscribe(self, wanted: Any) -> None:
        """Shareholders buy ``wanted`` (E, N) USD bn of new fund shares at NAV; the funds invest.

        The fund-share pool's holders pay pro rata to their claims, as they are repaid pro rata
        when the funds redeem: retail cohorts out of their cash (what earlier redemptions paid
        them), then their bank deposits (a cohort pays at most what it has in both), the outside
        holders from outside. Each fund receives its part of what was paid, then buys more of the
        securities it holds, in proportion to their value, from outside investors at market
        prices, as far as units float outside (the rest stays cash). Asset swaps all round: no
        equity changes.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = ledger.cash.shape[-1]
        pool, deposits = ledger.pools["fund_shares"], ledger.pools["deposits"]
        amount = xp.take(wanted, pool.issuers, axis=1)  # (E, I)
        total = xp.sum(amount, axis=-1)
        whole = xp.sum(pool.claims, axis=-1) + pool.outside
        share = total / xp.where(whole > 0.0, whole, 1.0)
        cash = xp.maximum(xp.take(ledger.cash, pool.holders, axis=1), 0.0)
        held = xp.take(segment_sum(deposits.claims, deposits.holders, n), pool.holders, axis=1)
        pay = xp.minimum(pool.claims * share[:, None], cash + xp.maximum(held, 0.0))  # (E, H)
        by_holders, by_outside = xp.sum(pay, axis=-1), pool.outside * share
        received = amount / xp.where(total > 0.0, total, 1.0)[:, None]  # each fund's part
        drawn = segment_sum(xp.maximum(pay - cash, 0.0), pool.holders, n)  # beyond their cash
        ledger.redeem("deposits", xp.take(drawn, deposits.holders, axis=1))
        ledger.lend("fund_shares", received * by_holders[:, None], pay)
        ledger.lend_outside("fund_shares", received * by_outside[:, None])
        paid = segment_sum(received * (by_holders + by_outside)[:, None], pool.issuers, n)
        value = s.holdings[:, self.mutual, :] * s.prices[:, None, :]  # (E, F, M)
        weight = value / xp.maximum(xp.sum(value, axis=-1, keepdims=True), 1e-12)
        spend = weight * paid[:, self.mutual, None]  # (E, F, M) USD bn into each asset
        units = spend / xp.maximum(s.prices, 1e-12)[:, None, :]
        wanted_units = xp.sum(units, axis=1)  # (E, M)
        # outside investors keep a sliver of each asset, so rounding never leaves them short
        floating = xp.maximum(s.outside_units() - FLOAT_KEPT * s.supply, 0.0)
        units = units * xp.minimum(1.0, floating / xp.maximum(wanted_units, 1e-12))[:, None, :]
        spent = xp.sum(units * s.prices[:, None, :], axis=-1)  # (E, F)
        ledger.pay_outsider(xp.arange(self.mutual.start, self.mutual.stop, device=paid.device),
                            "outside_investors", spent, income=False)  # fmt: skip
        cols = xp.arange(s.prices.shape[-1], device=paid.device)
        s.holdings = add_at(xp, s.holdings, self.mutual, cols, units)
        self.last_subscriptions = paid

    def draw_credit_lines(self, state: WorldState | None = None) -> None:
        """Private-credit funds short of cash after lending draw on their bank NAV lines."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["bank_loans"]
        short = xp.maximum(-xp.take(ledger.cash, pool.issuers, axis=1), 0.0)
        ledger.borrow("bank_loans", short * self.lines[None, :])

    def issue_tokens(self, state: WorldState) -> None:
        """Stablecoins grow while the peg holds: outside buyers pay cash for new tokens.

        First the week's pegs before issuance and redemptions (``flows.pegs``).

        New tokens a week are ``g·exp(c)·(1 − S/S_max)`` of supply (g from 2025's net issuance,
        ``c`` crypto sentiment, logistic growth toward a ceiling S_max for all tokens), for
        issuers whose peg is above 0.999, plus the flight to safety: the part of last week's
        redemptions paid for the crypto crash (``flight``, :meth:`pay_out`) goes to the coins on
        peg whose reserves are safer than the riskiest coin's, in proportion to their supply
        times the gap ``max(q) − q``; with no safer coin it leaves the stablecoins. The issuer
        puts the money into Treasuries, the bulk of its reserves, bought from outside investors
        at the market price.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        sentiment = state.sentiment
        assets = s.total_assets()
        pegs = state.flows.pegs = stablecoin_pegs(s, assets)
        pool = ledger.pools["tokens"]
        peg = xp.take(pegs, pool.issuers, axis=1)
        room = xp.maximum(1.0 - xp.sum(pool.face, axis=-1) / self.token_cap, 0.0)  # logistic
        amount = xp.where(peg > 0.999, self.issuance * pool.face, 0.0)
        amount = amount * (xp.exp(sentiment.crypto) * room)[:, None]
        risk = xp.take(self._ineligible(assets), pool.issuers, axis=1)  # (E, I)
        safer = xp.max(risk, axis=-1, keepdims=True) - risk
        weight = xp.where(peg > 0.999, pool.face * safer, 0.0)
        total = xp.sum(weight, axis=-1, keepdims=True)
        amount = amount + self.flight[:, None] * weight / xp.where(total > 0.0, total, 1.0)
        # outside investors pay for the tokens and sell the Treasuries, so no net cash moves:
        # the issuer's tokens and its Treasuries grow together, the outsiders swap one for other
        pool.face = pool.face + amount
        pool.outside = pool.outside + xp.sum(amount, axis=-1)
        value = segment_sum(amount, pool.issuers, ledger.cash.shape[-1])
        units = value[:, self.coins] / s.prices[:, self.bills : self.bills + 1]  # (E, issuers)
        s.holdings = add_at(xp, s.holdings, self.coins, self.bills_column, units[:, :, None])
        self.last_issued = value

    def mark_fund_shares(self, state: WorldState | None = None) -> None:
        """Fund shares are worth the fund's net asset value: mark each fund's face to its NAV.

        Mutual funds' holders (and the outside holders) move pro rata; a hedge or private-credit
        fund's own investors move with it (named in ``private_fund_shares``;
        :meth:`abm.opening_sheets.OpeningSheets.place_fund_investors`). The funds' equity stays
        at zero and the gain or loss is the shareholders'. A fund whose NAV is negative owes
        nothing to its shareholders (limited liability).
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        nav = self._nav()
        for name in ("fund_shares", "private_fund_shares"):
            ledger.revalue_pool(name, xp.take(nav, ledger.pools[name].issuers, axis=1))

    def draw_deposits(self, state: WorldState) -> None:
        """Issuers due to pay more than their cash first withdraw their own bank deposits.

        The first step of a stablecoin's reserve waterfall: deposits at
        banks go before Treasuries, repo, gold, bitcoin and loans, which the fire sale then sells.
        The banks pay out of their cash, so a run on a stablecoin becomes a run on its banks.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["deposits"]
        short = xp.maximum(state.flows.due - xp.maximum(ledger.cash, 0.0), 0.0)
        wanted = xp.take(short * self.issuer_mask, pool.holders, axis=1)
        ledger.redeem("deposits", xp.minimum(wanted, pool.claims))

    def pay_out(self, state: WorldState) -> None:
        """Funds and stablecoin issuers pay what was due, as far as their cash reaches."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        paid = xp.minimum(state.flows.due, xp.maximum(ledger.cash, 0.0))
        for name in ("fund_shares", "tokens"):
            pool = ledger.pools[name]
            ledger.repay(name, xp.take(paid, pool.issuers, axis=1))
        self.last_redemptions = paid
        paid_share = paid / xp.where(self.asked > 0.0, self.asked, 1.0)  # after any backstop
        fled = xp.sum(self.fleeing[:, self.coins] * paid_share[:, self.coins], axis=-1)
        self.flight = self.flight_share * fled
