"""Retail savers' behaviour: they chase the boom (FOMO) and flee the bust (panic).

Households hold AI equity and crypto beside their deposits; each week every cohort moves toward a
target share that rises with sentiment and, past its drawdown threshold, sells into the market
(docs/design.md, "The economy").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import add_at, columns, denominator_floor, itemsize, world_chunks
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.channels import Channels
from abm.state import WorldState
from kernels.backend import segment_sum


class RetailBehaviour:
    """How retail cohorts chase the boom and flee the bust.

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
        self.block = slice(*roster.blocks["retail"])  # the same rows as a slice: views, no copies
        table = sheets.assets
        ai = [m for m, c in enumerate(table.asset_class) if c == "equity" and table.issuer[m]]
        crypto = table.index("crypto")
        self.ai_mask = xp.asarray(np.isin(np.arange(table.size), ai), dtype=dtype, device=dev)
        self.crypto_mask = xp.asarray(np.arange(table.size) == crypto, dtype=dtype, device=dev)
        #: the K assets cohorts trade (AI equities, then crypto) and the target each follows
        self.traded = xp.asarray([*ai, crypto], device=dev)
        self.target_of = xp.asarray([0] * len(ai) + [1], device=dev)
        b = "assumptions.retail_behaviour"
        self.phi = float(cal.model_value("retail.fomo_sensitivity"))
        self.speed = float(cal.model_value(f"{b}.adjustment_per_week"))
        self.panic_sale = float(cal.model_value(f"{b}.panic_sale_per_week"))
        self.herding = float(cal.model_value(f"{b}.herding"))
        median = float(cal.model_value("retail.panic_drawdown_threshold"))
        spread = float(cal.model_value(f"{b}.panic_threshold_spread"))
        grid = (np.arange(len(rows)) + 0.5) / len(rows)  # cohorts' quantiles, no randomness
        self.threshold = xp.asarray(median + spread * (2.0 * grid - 1.0), dtype=dtype, device=dev)
        pool = sheets.ledger.pools["deposits"]
        deposits = segment_sum(pool.claims, pool.holders, sheets.ledger.cash.shape[-1])
        securities, current = [], []
        for worlds in self._chunks():
            value = self._value(worlds)
            securities.append(xp.sum(value, axis=-1))
            current.append(self._current(value))
        liquid = xp.concat(securities) + xp.take(deposits, self.rows, axis=1) + 1e-12
        current = xp.concat(current)
        self.ai_share0 = current[..., 0] / liquid
        self.crypto_share0 = current[..., 1] / liquid
        self.peak_ai = xp.ones_like(sheets.prices[:, 0])
        self.panicking = xp.zeros_like(self.threshold[None, :]) > 1.0

    def _chunks(self) -> list[slice]:
        """Chunks of worlds whose (W, R, M) value of the cohorts' securities fits the budget."""
        s = self.sheets
        per_world = self.rows.shape[0] * s.prices.shape[-1]
        return world_chunks(s.prices.shape[0], per_world * itemsize(s.xp, s.prices.dtype), s.xp)

    def _value(self, worlds: slice) -> Any:
        """(W, R, M) market value of the cohorts' securities in the chunk ``worlds``, USD bn."""
        s = self.sheets
        return s.holdings[worlds, self.block, :] * s.prices[worlds, None, :]

    def _current(self, value: Any) -> Any:
        """(W, R, 2) what each cohort holds in AI equity and in crypto, from its (W, R, M) value."""
        xp = self.sheets.xp
        return xp.stack(
            [xp.sum(value * mask, axis=-1) for mask in (self.ai_mask, self.crypto_mask)], axis=-1
        )

    def act(self, state: WorldState) -> None:
        """Buy toward FOMO targets; ``flows.panic_sales``: cash panicking cohorts must raise.

        Worlds are independent here: the purchases are computed and booked a chunk of worlds at
        a time (:func:`abm.arrays.world_chunks`), so no (E, R, M) temporary is ever whole.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        n = ledger.cash.shape[-1]
        sentiment = state.sentiment
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
        pool = ledger.pools["deposits"]
        deposits = xp.take(segment_sum(pool.claims, pool.holders, n), self.rows, axis=1)
        price = xp.maximum(xp.take(s.prices, self.traded, axis=1), 1e-12)  # (E, K)
        # units outside sellers still have; a world whose funds bought more than the float after
        # inflows (abm/flows.py) has none left, never a negative room
        outside = xp.maximum(s.outside_units(), 0.0)
        securities, spent = [], []
        for w in self._chunks():
            value = self._value(w)  # (W, R, M)
            securities.append(xp.sum(value, axis=-1))
            liquid = securities[-1] + deposits[w, ...] + 1e-12
            current = self._current(value)  # (W, R, 2) held in AI equity and in crypto
            gap = xp.stack([t[w, ...] * liquid for t in targets], axis=-1) - current
            buy = xp.where(calm[w, :, None], xp.maximum(self.speed * gap, 0.0), 0.0)  # (W, R, 2)
            spend = buy[..., 0] + buy[..., 1]
            # each target's purchase is spread over its assets in proportion to what is held
            weights = xp.take(value, self.traded, axis=2) / xp.take(
                xp.maximum(current, 1e-12), self.target_of, axis=2
            )  # (W, R, K)
            del value  # the largest temporary: free it before the purchases are built
            bought = xp.take(buy, self.target_of, axis=2) * weights / price[w, None, :]
            scale = xp.minimum(1.0, deposits[w, ...] / xp.maximum(spend, 1e-12))
            spend, bought = spend * scale, bought * scale[:, :, None]
            wanted = columns(xp, outside[w, ...], self.traded, xp.sum(bought, axis=1))  # (W, M)
            floor = denominator_floor(xp, wanted.dtype)
            room = xp.minimum(1.0, xp.min(outside[w, ...] / xp.maximum(wanted, floor), axis=-1))
            spent.append(spend * room[:, None])
            add_at(xp, s.holdings[w, ...], self.block, self.traded, bought * room[:, None, None])
        spend, securities = xp.concat(spent), xp.concat(securities)
        ledger.redeem("deposits", xp.take(segment_sum(spend, self.rows, n), pool.holders, axis=1))
        ledger.pay_outsider(self.rows, "outside_investors", spend, income=False)
        sell = xp.where(self.panicking, self.panic_sale * securities, 0.0)
        cash = xp.maximum(xp.take(ledger.cash, self.rows, axis=1), 0.0)
        # the kernel's need is the cash to hold at the end: keep what is there and add the sale
        state.flows.panic_sales = segment_sum(
            xp.where(self.panicking, cash + sell, 0.0), self.rows, n
        )


#: weekly exponent on the recent high: log-peak halves its excess over the price in 26 weeks
PEAK_MEMORY = 0.5 ** (1.0 / 26.0)
