"""Stablecoin runs in full: run speeds, reserve-bank stress, the reserve waterfall, backstops.

:class:`abm.flows.Flows` says how many tokens holders redeem in a week; this module holds the rest
of a run (docs/design.md, "The economy"):

- **Run speeds.** The model's step is a week, the observed runs are measured in days. A run of
  share ``s`` over ``d`` days is read as a constant daily hazard, so over a week of ``D`` open days
  it is ``S = 1 − (1 − s)^(D/d)`` (:func:`weekly_run_share`; :func:`run_share_over` inverts it).
  Tokens redeem seven days a week (the USDC run ran through the weekend of 11–12 March 2023),
  bank deposits five business days. The calibrated episodes, converted:

  ========================  ===================  ==========================================
  episode                   observed             per model week
  ========================  ===================  ==========================================
  USDC, 10–11 Mar 2023      −15% of supply, 24h  0.679 (at a 0.13 depeg; 8% of reserves at
                                                 the failed SVB)
  Terra/Anchor, May 2022    −38% in 3 days       0.672: the fastest sustained token run, the
                                                 cap on weekly redemptions
  SVB, 9 Mar 2023           −24% day one         0.746 of uninsured deposits (the bank-run
                                                 ``w_max`` of :mod:`abm.bank_runs`)
  ========================  ===================  ==========================================

  The redemption sensitivities in ``[stablecoins.behaviour]`` follow: ``k₁ = 0.679 / 0.13`` per
  unit of depeg, ``k₄ = 0.679 / 0.08`` per unit share of reserves at failed banks.
- **Stress at the reserve banks** (:meth:`StablecoinRuns.reserve_bank_stress`): the share of an
  issuer's reserves held as deposits at banks in trouble, each bank weighted by its stress — 1
  once it has failed, otherwise last week's run on it relative to the SVB speed. Deposits are a
  claim on the banks' pool pro rata to their deposit bases (:mod:`abm.ledger`), so an issuer's
  exposure to a bank is its deposits times that bank's share of all deposits.
- **The reserve waterfall** (:meth:`StablecoinRuns.sell_reserves`): after the issuer has drawn its
  bank deposits (:meth:`abm.flows.Flows.draw_deposits`), it sells what it must in the calibrated
  order — Treasury bills (T-bills, reverse repo and government money funds are one market asset,
  ``tbills``, of a quarter's duration), then any longer Treasuries, gold, then bitcoin — each
  tier through the market with price impact (``kernels.firesale``)
  before the next is touched. Secured loans and other investments are illiquid: they are never
  sold, and what they cannot pay shows in the peg (the recoverable value per token).
- **The backstop** (with the market maker of last resort): when a coin's redemptions over 48
  hours (``run_share_over(S, 2, 7)``) pass the trigger (10%, scenario P7), and the central bank
  acts in that world and has capacity left, the run stops after ``backstop_run_stop_days`` days
  of the week (USDC repegged within a day of the 12 March 2023 backstop) and the central bank
  buys the issuer's Treasuries at the market price instead of the market makers.
- **The reserve rule** (GENIUS-Act style, :class:`abm.policy.Policy`): issuers move gold, bitcoin,
  secured loans and other investments into Treasuries, traded with outside investors at market
  prices (no money moves, no equity changes), at once or evenly over a transition.

Its rules in the week (:mod:`abm.rules`), each taking the world state: ``apply_reserve_rule``,
``reserve_bank_stress`` (``flows.reserve_stress``), ``backstop_run`` (rewrites ``flows.due``) and
``sell_reserves`` (adds to ``flows.sold`` and ``flows.proceeds``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_at
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.ledger import BilateralPool
from abm.market_maker import MarketMakerOfLastResort
from abm.policy import Policy
from abm.state import WorldState
from kernels.backend import segment_sum
from kernels.firesale import fire_sale

#: the order in which an issuer sells its marketable reserves (after its bank deposits)
WATERFALL = ("tbills", "treasuries", "gold", "crypto")
#: reserves a GENIUS-style rule does not allow (market assets; loans and other are real assets)
INELIGIBLE = ("gold", "crypto")


def weekly_run_share(share: float, days: float, open_days: float = 7.0) -> float:
    """The share of a run observed over ``days`` days that leaves in a week of ``open_days``.

    A constant daily hazard ``λ = −ln(1 − share)/days`` over ``open_days`` days:
    ``S = 1 − (1 − share)^(open_days/days)``.

    Args:
        share: observed share of supply (or deposits) that left, in [0, 1).
        days: how many days it took.
        open_days: days of the model week the channel is open (7 for tokens, 5 for deposits).
    """
    if not 0.0 <= share < 1.0 or days <= 0.0 or open_days <= 0.0:
        raise ValueError(f"need 0 <= share < 1 and positive days; got {share}, {days}, {open_days}")
    return 1.0 - (1.0 - share) ** (open_days / days)


def run_share_over(weekly: Any, days: float, open_days: float = 7.0) -> Any:
    """The part of a weekly run share ``weekly`` that leaves within ``days`` days (same hazard)."""
    return 1.0 - (1.0 - weekly) ** (days / open_days)


class StablecoinRuns:
    """Reserve-bank stress, the ordered reserve waterfall, the run backstop and the reserve rule.

    Args:
        cal: the calibration.
        sheets: the model's balance sheets.
        facility: the market maker of last resort (:mod:`abm.market_maker`), whose capacity and
            coin flip the stablecoin backstop shares.
        depth: (M,) market depth in units (``abm.market.market_depth``).
        policy: the policy levers.
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        facility: MarketMakerOfLastResort,
        depth: Any,
        policy: Policy,
    ) -> None:
        self.sheets, self.facility, self.depth, self.policy = sheets, facility, depth, policy
        xp = sheets.xp
        roster, table = sheets.roster, sheets.assets
        dev = sheets.prices.device
        self.rows_host = roster.indices("stablecoin")
        self.rows = xp.asarray(self.rows_host, device=dev)
        self.block = slice(*roster.blocks["stablecoin"])  # the same rows as a slice
        self.every_asset = xp.arange(sheets.prices.shape[-1], device=dev)
        self.tiers = [table.index(k) for k in WATERFALL]
        self.treasuries = table.index("tbills")  # reserves are bills (GENIUS Act, MiCA)
        self.ineligible = [table.index(k) for k in INELIGIBLE]
        self.bank_run_max = float(
            cal.model_value("banks.behaviour.uninsured_run_max_share_per_week")
        )
        self.days = float(cal.model_value("stablecoins.behaviour.redemption_days_per_week"))
        c = "regulation.central_bank"
        trigger = policy.backstop_trigger_redemptions_48h
        self.trigger_48h = (
            float(cal.model_value(f"{c}.stablecoin_run_trigger_48h"))
            if trigger is None
            else trigger
        )
        self.stop_days = float(cal.model_value(f"{c}.backstop_run_stop_days"))
        zeros = xp.zeros_like(sheets.ledger.cash)
        self.backstopped = zeros > 1.0  # (E, N) issuers whose run the backstop stopped this week
        self.redemption_share = zeros  # (E, N) this week's redemptions / tokens
        self.last_sold = xp.zeros_like(sheets.prices)  # (E, M) units the waterfall sold
        self.last_proceeds = zeros  # (E, N) cash the waterfall raised
        self.rule_weeks_done = 0

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``peg``, ``tokens_outstanding``, ``redemption_share``, ``stablecoin_backstop``.

        The recoverable value per token, the tokens each issuer owes (USD bn at par), this week's
        redemptions over tokens, and whether the backstop stopped the run.
        """
        return {
            "peg": pegs(self.sheets, books.assets),
            "tokens_outstanding": _tokens(self.sheets),
            "redemption_share": self.redemption_share,
            "stablecoin_backstop": self.backstopped,
        }

    # -- redemptions ------------------------------------------------------------------------------

    def reserve_bank_stress(self, state: WorldState) -> None:
        """(E, N) share of each issuer's reserves at banks in trouble, weighted by their stress.

        With named counterparties (:mod:`abm.exposures`) an issuer's own banks; with pooled
        deposits every bank by its share of the pool.

        A bank's stress is 1 once it has failed, else last week's run on it (withdrawals over
        deposits) relative to the SVB speed ``w_max``, at most 1. Zero for non-issuers. Writes
        ``flows.reserve_stress``.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["deposits"]
        banks = pool.issuers
        withdrawn = xp.take(state.withdrawals, banks, axis=1)  # last week's runs
        run = withdrawn / xp.maximum(pool.face + withdrawn, 1e-12)
        stress = xp.minimum(run / self.bank_run_max, 1.0)
        stress = xp.where(xp.take(state.defaulted, banks, axis=1), 1.0, stress)
        # valued every week, calm or not: zero stress gives exact zeros, and skipping the
        # valuation in calm weeks would cost a host synchronisation to find out that they are
        n = ledger.cash.shape[-1]
        if isinstance(pool, BilateralPool):  # each issuer's deposits at its own banks
            edges = ledger.edges("deposits")
            on_agents = segment_sum(stress, banks, n)
            stressed = segment_sum(edges.amount * xp.take(on_agents, edges.issuer, axis=1),
                                   edges.holder, n)  # fmt: skip
        else:  # pooled deposits: every issuer's at every bank, by the banks' shares
            mean = xp.sum(pool.issuer_shares(xp) * stress, axis=-1)  # (E,) per pooled dollar
            stressed = segment_sum(pool.claims, pool.holders, n) * mean[:, None]
        deposits = stressed * _indicator(s, n, self.rows_host)
        assets = s.total_assets()
        state.flows.reserve_stress = deposits / xp.where(assets > 0.0, assets, 1.0)

    def backstop_run(self, state: WorldState) -> None:
        """Stop runs past the 48-hour trigger where the backstop acts; return the week's due.

        An issuer whose weekly redemptions ``S`` would take more than the trigger in 48 hours
        (``1 − (1 − S)^(2/7)``) has its run cut to the first ``backstop_run_stop_days`` days of the
        week, if the market maker of last resort is on, acts in that world and has capacity left.
        Reads and rewrites ``flows.due``.
        """
        s, facility = self.sheets, self.facility
        xp = s.xp
        due = state.flows.due
        tokens = _tokens(s)
        issuer = tokens > 0.0
        share = xp.where(issuer, due / xp.where(issuer, tokens, 1.0), 0.0)
        share = xp.minimum(share, 1.0)
        self.redemption_share = share
        self.backstopped = xp.zeros_like(issuer)
        if not self.policy.market_maker_of_last_resort:
            return
        room = facility.room(state) > 0.0
        acts = (facility.acts & room)[:, None]
        hit = issuer & acts & (run_share_over(share, 2.0, self.days) > self.trigger_48h)
        self.backstopped = hit
        stopped = run_share_over(share, self.stop_days, self.days)
        self.redemption_share = xp.where(hit, stopped, share)
        state.flows.due = xp.where(hit, stopped * tokens, due)

    # -- the reserve waterfall --------------------------------------------------------------------

    def sell_reserves(self, state: WorldState) -> None:
        """Raise the cash an issuer owes this week, tier by tier of :data:`WATERFALL`.

        Called after the issuer has drawn its bank deposits. Each tier is sold through
        ``kernels.firesale.fire_sale`` (price impact, mid fills) only by issuers whose cash still
        falls short; a backstopped issuer sells its Treasuries to the central bank at the market
        price first, as far as the backstop's capacity reaches. The sales count in the week's
        ``flows.sold`` and ``flows.proceeds``.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = ledger.cash.shape[-1]
        self.last_sold = xp.zeros_like(s.prices)
        self.last_proceeds = xp.zeros_like(ledger.cash)
        need = xp.take(state.flows.due, self.rows, axis=1)  # cash to hold after the sales
        if self.policy.market_maker_of_last_resort:
            self._sell_to_central_bank(state, need)
        for tier in self.tiers:
            cash = xp.take(ledger.cash, self.rows, axis=1)
            if not bool(xp.any(need > cash + 1e-12)):
                break
            holdings = xp.take(s.holdings, self.rows, axis=1) * _columns(s, [tier])
            result = fire_sale(
                holdings,
                s.prices,
                cash,
                xp.zeros_like(cash),
                depth=self.depth,
                cash_needed=need,
                sell_all_on_default=False,
            )
            sold = holdings - result.holdings  # (E, R, M)
            realized = result.proceeds - (sold @ s.prices[:, :, None])[:, :, 0]
            ledger.cash = ledger.cash + segment_sum(result.proceeds, self.rows, n)
            ledger.outsiders.book("market_makers", xp.sum(result.proceeds, axis=-1))
            ledger.book_equity(segment_sum(realized, self.rows, n))
            s.holdings = add_at(xp, s.holdings, self.block, self.every_asset, -sold)
            ledger.book_equity((s.holdings @ (result.prices - s.prices)[:, :, None])[:, :, 0])
            s.prices = result.prices
            self.last_sold = self.last_sold + result.sold
            self.last_proceeds = self.last_proceeds + segment_sum(result.proceeds, self.rows, n)
        state.flows.sold = state.flows.sold + self.last_sold
        state.flows.proceeds = state.flows.proceeds + self.last_proceeds

    def _sell_to_central_bank(self, state: WorldState, need: Any) -> None:
        """Backstopped issuers sell Treasuries to the central bank at the market price."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = ledger.cash.shape[-1]
        hit = xp.take(self.backstopped, self.rows, axis=1)
        cash = xp.take(ledger.cash, self.rows, axis=1)
        price = s.prices[:, self.treasuries]
        held = xp.take(s.holdings, self.rows, axis=1)[:, :, self.treasuries]
        value = xp.where(hit, xp.minimum(xp.maximum(need - cash, 0.0), held * price[:, None]), 0.0)
        room = xp.maximum(self.facility.room(state), 0.0)
        value = value * xp.minimum(1.0, room / xp.maximum(xp.sum(value, axis=-1), 1e-12))[:, None]
        units = value / price[:, None]
        col = _columns(s, [self.treasuries])
        s.holdings = add_at(
            xp, s.holdings, self.block, self.every_asset, -(units[:, :, None] * col)
        )
        ledger.cash = ledger.cash + segment_sum(value, self.rows, n)
        spent = xp.sum(value, axis=-1)
        ledger.outsiders.book("central_bank", spent)
        state.backstop_bought = state.backstop_bought + spent
        self.last_sold = self.last_sold + xp.sum(units, axis=-1)[:, None] * col
        self.last_proceeds = self.last_proceeds + segment_sum(value, self.rows, n)

    # -- the reserve rule -------------------------------------------------------------------------

    def apply_reserve_rule(self, state: WorldState | None = None) -> None:
        """Move this week's part of the ineligible reserves into Treasuries (policy lever).

        With ``stablecoin_reserve_transition_weeks = T``, week k < T moves 1 / (T − k) of what is
        left, so the stock falls evenly to zero; T = 0 moves everything at once. Outside investors
        take the gold, bitcoin and loans and hand over Treasuries of the same market value. Only
        the issuers' own books move (``state`` is not read; the rule also runs once at set-up).
        """
        if not self.policy.stablecoin_reserve_rule:
            return
        weeks = self.policy.stablecoin_reserve_transition_weeks
        if self.rule_weeks_done >= max(weeks, 1):
            return
        part = 1.0 if weeks == 0 else 1.0 / (weeks - self.rule_weeks_done)
        self.rule_weeks_done += 1
        s = self.sheets
        xp = s.xp
        held = xp.take(s.holdings, self.rows, axis=1)
        moved_units = held * _columns(s, self.ineligible) * part  # (E, R, M)
        loans = xp.take(s.real_assets, self.rows, axis=1) * part  # secured loans, other
        value = (moved_units @ s.prices[:, :, None])[:, :, 0] + loans  # (E, R) USD bn
        bought = value[:, :, None] * _columns(s, [self.treasuries]) / s.prices[:, None, :]
        s.holdings = add_at(xp, s.holdings, self.block, self.every_asset, bought - moved_units)
        s.real_assets = s.real_assets - segment_sum(loans, self.rows, s.real_assets.shape[-1])


def pegs(sheets: BalanceSheets, assets: Any) -> Any:
    """(E, N) recoverable value per token for stablecoin issuers (1 elsewhere).

    Args:
        sheets: the balance sheets.
        assets: (E, N) total assets.
    """
    xp = sheets.xp
    tokens = sheets.ledger.pools["tokens"]
    face = segment_sum(tokens.face, tokens.issuers, assets.shape[-1])
    peg = xp.minimum(assets / xp.where(face > 0.0, face, 1.0), 1.0)
    return xp.where(face > 0.0, peg, 1.0)


def ineligible_share(sheets: BalanceSheets, rows: slice, assets: Any) -> Any:
    """(E, C) share of the issuers' assets (``rows``) held in reserves a reserve rule disallows.

    Gold and bitcoin at market value (:data:`INELIGIBLE`) and the real assets (secured loans,
    other investments) over the issuer's total assets (``assets``, (E, N): every agent's, as
    :meth:`~abm.balance_sheets.BalanceSheets.total_assets` gives them); 0 for an issuer with no
    assets. USDC's reserves (T-bills, repo, bank deposits) give 0, Tether's of end-2025 0.26 and
    of March 2022 (commercial paper among other investments) 0.39.
    """
    xp = sheets.xp
    market = _columns(sheets, [sheets.assets.index(k) for k in INELIGIBLE])
    held = (sheets.holdings[:, rows, :] @ (sheets.prices * market)[:, :, None])[:, :, 0]
    risky = held + sheets.real_assets[:, rows]
    total = assets[:, rows]
    return xp.where(total > 0.0, risky / xp.where(total > 0.0, total, 1.0), 0.0)


def _tokens(sheets: BalanceSheets) -> Any:
    """(E, N) tokens each issuer owes (USD bn at par)."""
    return sheets.ledger.owed("tokens")


def _indicator(sheets: BalanceSheets, size: int, where: Any) -> Any:
    """(size,) 1.0 at indices ``where``, 0 elsewhere, in the sheets' dtype and device."""
    values = np.zeros(size)
    values[where] = 1.0
    return sheets.xp.asarray(values, dtype=sheets.prices.dtype, device=sheets.prices.device)


def _columns(sheets: BalanceSheets, assets: list[int]) -> Any:
    """(M,) 1.0 at the market assets ``assets``: selects their columns of the holdings."""
    return _indicator(sheets, sheets.prices.shape[-1], assets)


__all__ = [
    "INELIGIBLE",
    "WATERFALL",
    "StablecoinRuns",
    "ineligible_share",
    "pegs",
    "run_share_over",
    "weekly_run_share",
]
