"""Weekly flows between savers and the institutions that hold their money.

Before the market clears (DESIGN.md §2.4 item 4), each rule says how much cash an institution
must pay out this week; the fire-sale kernel then makes it raise that cash (``cash_needed``), and
after the market has cleared the institution pays what it could:

- **Retail saving** — households save ``saving_flow`` a year from income earned in the rest of
  the economy (split by the wealth groups' saving shares) and put it into bank deposits.
- **Mutual-fund redemptions** — investors redeem ``elasticity × max(0, −NAV return)`` of a fund
  each week (flow–performance: money leaves funds that lose; the INET Oxford asset manager rule
  in notes/model-sheet.md), paid out of the fund at NAV. The return is the fund's performance
  since its shares were last marked to NAV, so paying out redemptions does not itself look like
  a loss.
- **Stablecoin redemptions** — holders redeem
  ``f = f₀ + k₁·max(0, 1 − peg) + k₂·max(0, −crypto return) + k₃·max(0, 1 − peer peg)
  + k₄·reserve-bank stress`` of the tokens a week, at most the fastest observed run
  (notes/model-sheet.md; ``k₁`` and ``k₄`` are fitted to the USDC run of March 2023, −15% of
  supply in 24 hours at a 0.87 low with 8% of reserves at the failed SVB, the cap to Anchor's −38%
  in three days, each converted to a week as :mod:`abm.stablecoins` explains), paid at par from
  reserves while the issuer has cash — first its bank deposits (withdrawn from the banks), then
  Treasuries, gold and bitcoin in that order (:mod:`abm.stablecoins`); the peg is the
  recoverable value per token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.channels import Channels
from kernels.backend import segment_sum


class Flows:
    """Saving, fund redemptions and stablecoin redemptions of one model."""

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
        elasticity = np.zeros(n)
        for sector in ("mutual_bond", "mutual_equity"):
            rows = roster.indices("fund", sector)
            elasticity[rows] = float(cal.model_value(f"funds.{sector}.redemption_elasticity"))
        elasticity *= self.channels.fund_redemptions
        self.elasticity = xp.asarray(elasticity, dtype=dtype, device=dev)
        b = "stablecoins.behaviour"
        self.f0 = float(cal.model_value(f"{b}.base_redemption_share_per_week"))
        self.k_peg = float(cal.model_value(f"{b}.depeg_sensitivity"))
        self.k_crypto = float(cal.model_value(f"{b}.crypto_drawdown_sensitivity"))
        self.k_peer = float(cal.model_value(f"{b}.peer_depeg_sensitivity"))
        self.k_bank = float(cal.model_value(f"{b}.reserve_bank_distress_sensitivity"))
        self.max_share = float(cal.model_value(f"{b}.max_redemption_share_per_week"))
        self.crypto = sheets.assets.index("crypto")
        self.issuance = float(cal.model_value("assumptions.stablecoins.issuance_share_per_week"))
        coins = np.zeros(n)
        coins[roster.indices("stablecoin")] = 1.0
        self.issuer_mask = xp.asarray(coins, dtype=dtype, device=dev)
        self.token_cap = float(cal.model_value("assumptions.stablecoins.market_cap_limit"))
        treasuries = np.zeros(sheets.assets.size)
        treasuries[sheets.assets.index("treasuries")] = 1.0
        self.treasuries = xp.asarray(treasuries, dtype=dtype, device=dev)
        from kernels.backend import to_numpy

        issuers = to_numpy(sheets.ledger.pools["bank_loans"].issuers)
        lines = np.isin(issuers, roster.indices("fund", "private_credit"))
        self.lines = xp.asarray(lines, dtype=dtype, device=dev)
        self.last_crypto = sheets.prices[:, self.crypto] * 1.0
        self.last_redemptions = xp.zeros_like(sheets.ledger.cash)

    def _face(self, name: str) -> Any:
        """(E, N) face each agent owes on pool ``name``."""
        return self.sheets.ledger.owed(name)

    def _nav(self) -> Any:
        """(E, N) net asset value of fund shares (total assets less debt) for fund issuers."""
        s = self.sheets
        debt = s.liabilities() - self._face("fund_shares") - self._face("pension_claims")
        return s.total_assets() - debt

    def save(self) -> None:
        """Households receive their weekly saving from the rest of the economy and deposit it."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        weekly = xp.zeros_like(ledger.cash) + self.saving[None, :]
        self.saved = self.saved + weekly
        income = xp.take(weekly, self.retail, axis=1)
        ledger.pay_outsider(self.retail, "rest_of_economy", -income)
        pool = ledger.pools["deposits"]
        ledger.subscribe("deposits", xp.take(weekly, pool.holders, axis=1))

    def redemptions(self, pegs: Any, defaulted: Any, reserve_stress: Any = None) -> Any:
        """(E, N) cash fund and stablecoin issuers must pay out this week.

        Args:
            pegs: (E, N) recoverable value per token (1 for non-issuers).
            defaulted: (E, N) bool, agents that have failed (they pay nothing).
            reserve_stress: (E, N) share of each issuer's reserves at banks in trouble
                (:meth:`abm.stablecoins.StablecoinRuns.reserve_bank_stress`); None: no stress.
        """
        s = self.sheets
        xp = s.xp
        nav = self._nav()
        shares = self._face("fund_shares")  # NAV at the last mark, less what was paid out since
        fund_return = nav / xp.where(shares > 0.0, shares, 1.0) - 1.0  # performance, not flows
        fund = xp.minimum(self.elasticity * xp.maximum(-fund_return, 0.0), 1.0)
        fund_out = fund * xp.minimum(xp.maximum(nav, 0.0), shares)
        crypto = s.prices[:, self.crypto]
        crypto_fall = xp.maximum(1.0 - crypto / self.last_crypto, 0.0)[:, None]
        tokens = self._face("tokens")
        issuer = tokens > 0.0
        depeg = xp.where(issuer, xp.maximum(1.0 - pegs, 0.0), 0.0)
        peer = (xp.sum(depeg, axis=-1, keepdims=True) - depeg) * issuer
        share = self.f0 + self.k_peg * depeg + self.k_crypto * crypto_fall + self.k_peer * peer
        if reserve_stress is not None:
            share = share + self.k_bank * reserve_stress
        coin_out = xp.where(issuer, xp.minimum(share, self.max_share) * tokens, 0.0)
        coin_out = coin_out * self.channels.stablecoin_runs
        self.last_crypto = crypto * 1.0
        return xp.where(defaulted, 0.0, fund_out + coin_out)

    def draw_credit_lines(self) -> None:
        """Private-credit funds short of cash after lending draw on their bank NAV lines."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["bank_loans"]
        short = xp.maximum(-xp.take(ledger.cash, pool.issuers, axis=1), 0.0)
        ledger.borrow("bank_loans", short * self.lines[None, :])

    def issue_tokens(self, sentiment: Any, pegs: Any) -> None:
        """Stablecoins grow while the peg holds: outside buyers pay cash for new tokens.

        New tokens a week are ``g·exp(c)·(1 − S/S_max)`` of supply (g from 2025's net issuance,
        ``c`` crypto sentiment, logistic growth toward a ceiling S_max for all tokens), for
        issuers whose peg is above 0.999; the issuer puts the money into
        Treasuries, the bulk of its reserves, bought from outside investors at the market price.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["tokens"]
        peg = xp.take(pegs, pool.issuers, axis=1)
        room = xp.maximum(1.0 - xp.sum(pool.face, axis=-1) / self.token_cap, 0.0)  # logistic
        amount = xp.where(peg > 0.999, self.issuance * pool.face, 0.0)
        amount = amount * (xp.exp(sentiment.crypto) * room)[:, None]
        # outside investors pay for the tokens and sell the Treasuries, so no net cash moves:
        # the issuer's tokens and its Treasuries grow together, the outsiders swap one for other
        pool.face = pool.face + amount
        pool.outside = pool.outside + xp.sum(amount, axis=-1)
        value = segment_sum(amount, pool.issuers, ledger.cash.shape[-1])
        s.holdings = s.holdings + value[:, :, None] * self.treasuries / s.prices[:, None, :]
        self.last_issued = value

    def mark_fund_shares(self) -> None:
        """Fund shares are worth the fund's net asset value: mark each fund's face to its NAV.

        Holders' claims (and the outside holders') move pro rata; the funds' equity stays at zero
        and the gain or loss is the shareholders'. A fund whose NAV is negative owes nothing to
        its shareholders (limited liability).
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["fund_shares"]
        ledger.revalue_pool("fund_shares", xp.take(self._nav(), pool.issuers, axis=1))

    def draw_deposits(self, due: Any) -> None:
        """Issuers due to pay more than their cash first withdraw their own bank deposits.

        The first step of a stablecoin's reserve waterfall (notes/model-sheet.md): deposits at
        banks go before Treasuries, repo, gold, bitcoin and loans, which the fire sale then sells.
        The banks pay out of their cash, so a run on a stablecoin becomes a run on its banks.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        pool = ledger.pools["deposits"]
        short = xp.maximum(due - xp.maximum(ledger.cash, 0.0), 0.0)
        wanted = xp.take(short * self.issuer_mask, pool.holders, axis=1)
        ledger.redeem("deposits", xp.minimum(wanted, pool.claims))

    def pay_out(self, due: Any) -> None:
        """Funds and stablecoin issuers pay what was due, as far as their cash reaches."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        paid = xp.minimum(due, xp.maximum(ledger.cash, 0.0))
        for name in ("fund_shares", "tokens"):
            pool = ledger.pools[name]
            ledger.repay(name, xp.take(paid, pool.issuers, axis=1))
        self.last_redemptions = paid


class RetailBehaviour:
    """How retail cohorts chase the boom and flee the bust (notes/model-sheet.md, retail).

    - **FOMO**: a cohort's target share of AI equity and of crypto in its liquid wealth is its
      starting share times ``exp(φ·h)`` (``exp(φ·c)`` for crypto); each week it closes a fraction
      of the gap, buying from outside sellers at the market price with its deposits.
    - **Panic**: every cohort has a drawdown threshold (the fall of AI equity from its recent
      high, a high that fades with a half-life of 26 weeks), spread evenly around the median
      (heterogeneous, so the aggregate response is smooth) and lowered in proportion to the share
      of cohorts already panicking, at most by the herding factor (Granovetter 1978). A cohort
      past its threshold sells a share of its securities each week through the market (a
      liquidity need in the fire sale).
    """

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, channels: Channels | None = None
    ) -> None:
        self.sheets = sheets
        self.channels = channels or Channels()
        xp = sheets.xp
        roster = sheets.roster
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        rows = roster.indices("retail")
        self.rows = xp.asarray(rows, device=dev)
        table = sheets.assets
        ai = [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]]
        self.ai_mask = xp.asarray(np.isin(np.arange(table.size), ai), dtype=dtype, device=dev)
        self.crypto_mask = xp.asarray(
            np.arange(table.size) == table.index("crypto"), dtype=dtype, device=dev
        )
        b = "assumptions.retail_behaviour"
        self.phi = float(cal.model_value("retail.fomo_sensitivity"))
        self.speed = float(cal.model_value(f"{b}.adjustment_per_week"))
        self.panic_sale = float(cal.model_value(f"{b}.panic_sale_per_week"))
        self.herding = float(cal.model_value(f"{b}.herding"))
        median = float(cal.model_value("retail.panic_drawdown_threshold"))
        spread = float(cal.model_value(f"{b}.panic_threshold_spread"))
        grid = (np.arange(len(rows)) + 0.5) / len(rows)  # cohorts' quantiles, no randomness
        self.threshold = xp.asarray(median + spread * (2.0 * grid - 1.0), dtype=dtype, device=dev)
        holdings = xp.take(sheets.holdings, self.rows, axis=1)
        value = holdings * sheets.prices[:, None, :]
        liquid = self._liquid(value)
        self.ai_share0 = xp.sum(value * self.ai_mask, axis=-1) / liquid
        self.crypto_share0 = xp.sum(value * self.crypto_mask, axis=-1) / liquid
        self.peak_ai = xp.ones_like(sheets.prices[:, 0])
        self.panicking = xp.zeros_like(self.threshold[None, :]) > 1.0

    def _liquid(self, value: Any) -> Any:
        """(E, R) securities plus deposits of each cohort."""
        s = self.sheets
        xp = s.xp
        pool = s.ledger.pools["deposits"]
        deposits = segment_sum(pool.claims, pool.holders, s.ledger.cash.shape[-1])
        return xp.sum(value, axis=-1) + xp.take(deposits, self.rows, axis=1) + 1e-12

    def act(self, sentiment: Any) -> Any:
        """Buy toward FOMO targets; return (E, N) cash panicking cohorts must raise by selling."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        holdings = xp.take(s.holdings, self.rows, axis=1)
        value = holdings * s.prices[:, None, :]
        liquid = self._liquid(value)
        ai_index = xp.sum(s.prices * self.ai_mask, axis=-1) / xp.sum(self.ai_mask)
        # the reference high fades with a half-life of half a year (log-price memory)
        self.peak_ai = ai_index * xp.maximum(self.peak_ai / ai_index, 1.0) ** PEAK_MEMORY
        drawdown = 1.0 - ai_index / self.peak_ai
        crowd = xp.mean(xp.astype(self.panicking, s.prices.dtype), axis=-1, keepdims=True)
        threshold = self.threshold[None, :] * (1.0 - self.herding * crowd)
        self.panicking = (drawdown[:, None] > threshold) & self.channels.retail_panic
        calm = ~self.panicking
        targets = (
            self.ai_share0 * xp.exp(self.phi * sentiment.ai)[:, None],
            self.crypto_share0 * xp.exp(self.phi * sentiment.crypto)[:, None],
        )
        spend = xp.zeros_like(liquid)
        bought = xp.zeros_like(holdings)
        for target, mask in zip(targets, (self.ai_mask, self.crypto_mask), strict=True):
            current = xp.sum(value * mask, axis=-1)
            buy = xp.where(calm, xp.maximum(self.speed * (target * liquid - current), 0.0), 0.0)
            weights = value * mask / xp.maximum(current, 1e-12)[:, :, None]
            bought = bought + buy[:, :, None] * weights / xp.maximum(s.prices, 1e-12)[:, None, :]
            spend = spend + buy
        pool = ledger.pools["deposits"]
        deposits = xp.take(
            segment_sum(pool.claims, pool.holders, ledger.cash.shape[-1]), self.rows, axis=1
        )
        scale = xp.minimum(1.0, deposits / xp.maximum(spend, 1e-12))
        spend, bought = spend * scale, bought * scale[:, :, None]
        outside = s.outside_units()
        room = xp.minimum(1.0, xp.min(outside / xp.maximum(xp.sum(bought, axis=1), 1e-12), axis=-1))
        spend, bought = spend * room[:, None], bought * room[:, None, None]
        n = ledger.cash.shape[-1]
        ledger.redeem("deposits", xp.take(segment_sum(spend, self.rows, n), pool.holders, axis=1))
        ledger.pay_outsider(self.rows, "outside_investors", spend, income=False)
        s.holdings = s.holdings + _rows(xp, s.holdings, self.rows, bought)
        sell = xp.where(self.panicking, self.panic_sale * xp.sum(value, axis=-1), 0.0)
        cash = xp.maximum(xp.take(ledger.cash, self.rows, axis=1), 0.0)
        # the kernel's need is the cash to hold at the end: keep what is there and add the sale
        return segment_sum(xp.where(self.panicking, cash + sell, 0.0), self.rows, n)


#: weekly exponent on the recent high: log-peak halves its excess over the price in 26 weeks
PEAK_MEMORY = 0.5 ** (1.0 / 26.0)


def _rows(xp: Any, like: Any, rows: Any, values: Any) -> Any:
    """(E, N, M) zeros like ``like`` with ``values`` (E, R, M) added at agent rows ``rows``."""
    moved = xp.permute_dims(values, (0, 2, 1))  # (E, M, R)
    return xp.permute_dims(segment_sum(moved, rows, like.shape[1]), (0, 2, 1))


class YieldChasing:
    """Pension funds and insurers tilt their bond sleeve toward what pays more (reach for yield).

    The sleeve is Treasuries, non-AI IG bonds, each AI issuer's bonds and high yield. Target
    weights are the starting weights times ``exp(θ·(y_k − ȳ))``, normalised, where ``y_k`` is the
    asset's credit spread now — its starting spread plus the widening its price implies,
    ``Δs = −ln(P)/D`` — and ``ȳ`` the sleeve's weighted spread; each week a fund closes a fraction
    of the gap (notes/model-sheet.md, pensions; the seeds' "reach for yield", mechanism M03). Trades
    are with investors outside the model at market prices and finance each other, so no cash
    moves on net.
    """

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, channels: Channels | None = None
    ) -> None:
        self.sheets = sheets
        self.channels = channels or Channels()
        xp = sheets.xp
        roster, table = sheets.roster, sheets.assets
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        rows = [
            i for s in ("pension", "insurer_life", "insurer_pc") for i in roster.indices("fund", s)
        ]
        self.rows = xp.asarray(np.array(rows), device=dev)
        # insurers rebalance at the pension funds' speed (the calibration gives one value)
        self.speed = float(cal.model_value("funds.pension.rebalancing_speed_per_week"))
        self.theta = float(cal.value("funds.pension.yield_chasing_sensitivity"))
        sleeve = [
            table.index("treasuries"),
            table.index("ig_bonds_non_ai"),
            table.index("hy_loans"),
        ]
        sleeve += [
            m for m, c in enumerate(table.asset_class) if c == "corporate_bond" and table.issuer[m]
        ]
        self.sleeve = xp.asarray(np.array(sleeve), device=dev)
        spread = np.array([table.spread[m] for m in sleeve])
        for k, m in enumerate(sleeve):
            issuer = table.issuer[m]
            if issuer is not None and "bond_spread" in cal.node(f"firms.{issuer}"):
                spread[k] = float(cal.value(f"firms.{issuer}.bond_spread")) / 1e4
        self.spread0 = xp.asarray(spread, dtype=dtype, device=dev)
        self.duration = xp.asarray(
            np.maximum(np.array([table.duration[m] for m in sleeve]) / 52.0, 0.25),
            dtype=dtype,
            device=dev,
        )
        value = self._sleeve_values()
        self.weights0 = value / xp.maximum(xp.sum(value, axis=-1, keepdims=True), 1e-12)

    def _sleeve_values(self) -> Any:
        s = self.sheets
        xp = s.xp
        units = xp.take(xp.take(s.holdings, self.rows, axis=1), self.sleeve, axis=2)
        return units * xp.take(s.prices, self.sleeve, axis=1)[:, None, :]

    def rebalance(self) -> None:
        """One week of tilting toward higher spreads, traded with outsiders at market prices."""
        if not self.channels.reach_for_yield:
            return
        s = self.sheets
        xp = s.xp
        price = xp.take(s.prices, self.sleeve, axis=1)  # (E, F)
        spread = self.spread0 - xp.log(xp.maximum(price, 1e-12)) / self.duration
        value = self._sleeve_values()  # (E, P, F)
        total = xp.sum(value, axis=-1, keepdims=True)
        mean = xp.sum(self.weights0 * spread[:, None, :], axis=-1, keepdims=True)
        tilt = self.weights0 * xp.exp(self.theta * (spread[:, None, :] - mean))
        target = tilt / xp.maximum(xp.sum(tilt, axis=-1, keepdims=True), 1e-12) * total
        trade = self.speed * (target - value)  # + buy, - sell (USD bn)
        outside = xp.take(s.outside_units(), self.sleeve, axis=1) * price  # what outsiders hold
        buys = xp.sum(xp.maximum(trade, 0.0), axis=1)  # (E, F)
        fill = xp.minimum(1.0, outside / xp.maximum(buys, 1e-12))  # outsiders cannot sell more
        trade = xp.where(trade > 0.0, trade * fill[:, None, :], trade)
        net = xp.sum(trade, axis=-1, keepdims=True)  # keep it self-financing: scale the sells
        sells = xp.sum(xp.minimum(trade, 0.0), axis=-1, keepdims=True)
        trade = xp.where(trade < 0.0, trade * (1.0 - net / xp.minimum(sells, -1e-12)), trade)
        units = trade / xp.maximum(price, 1e-12)[:, None, :]  # (E, P, F)
        m, n = s.prices.shape[-1], s.ledger.cash.shape[-1]
        per_asset = xp.permute_dims(segment_sum(units, self.sleeve, m), (0, 2, 1))  # (E, M, P)
        s.holdings = s.holdings + xp.permute_dims(segment_sum(per_asset, self.rows, n), (0, 2, 1))
