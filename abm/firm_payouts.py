"""The listed tech firms' shareholder payouts: dividends and share buybacks, paid weekly.

Each listed firm pays its shareholders at its 2025 run rate (``[firms.<name>]``
``dividends_2025`` and ``buybacks_2025``, USD bn a year from its filings: Microsoft 24.1 and
18.4, Alphabet 10.0 and 45.4, Meta 5.3 and 26.3, Nvidia 1.0 and 40.1; Amazon pays neither).
Dividends go to the shareholders in proportion to the units they hold, as the firms' coupons do
(:mod:`abm.economy`): funds, banks and savers in the model receive their part and the shareholders
outside the model (``outside_investors``) the rest; the firm's cash and equity fall together.
The two differ in how firmly they are paid (Brav, Graham, Harvey & Michaely 2005, "Payout
policy in the 21st century", JFE 77(3): managers treat the dividend as a commitment they would
pass up investment rather than cut, and make repurchases out of the cash left after investment):

- **Dividends** are paid every week, before the firm finances its capex, unless the firm is in
  distress: rated below investment grade (:mod:`abm.ratings`) or unable to fund last week's
  capex (``Economy.last_capex_cut``). Distressed firms cut their dividends (DeAngelo & DeAngelo
  1990, "Dividend policy and financial distress", JF 45(5): nearly all of the troubled NYSE
  firms they follow cut their dividends). A firm that cannot fund the dividend borrows for it
  like any other payment.
- **Buybacks** are paid after capex out of the cash above the firm's buffer only, at most the
  run rate, and never in distress: a firm never borrows to buy back its shares, so buybacks
  stop first when capex eats the free cash flow. Bought-back shares are retired from the
  outside investors' float (the listed equity asset's supply falls by the units bought).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.arrays import columns
from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from kernels.backend import segment_sum


class ShareholderPayouts:
    """Dividends and buybacks of the listed firms (see the module docstring).

    Args:
        cal: the calibration (``[firms.<name>]`` ``dividends_2025``, ``buybacks_2025``).
        sheets: the balance sheets.
        firms: (F,) device array of the firms' global rows.
        share_asset: (F,) market index of each firm's listed equity (0 where none).
        listed: (F,) bool, the firm's shares are listed.
    """

    def __init__(
        self, cal: Calibration, sheets: BalanceSheets, firms: Any, share_asset: Any, listed: Any
    ) -> None:
        self.sheets = sheets
        self.firms, self.share_asset, self.listed = firms, share_asset, listed
        names = [sheets.roster.names[i] for i in sheets.roster.indices("firm")]

        def weekly(key: str) -> Any:
            rates = [
                float(cal.model_value(f"firms.{n}.{key}")) if key in cal.node(f"firms.{n}") else 0.0
                for n in names
            ]
            s = sheets  # model_value gives USD bn a week
            return s.xp.asarray(np.array(rates), dtype=s.prices.dtype, device=s.prices.device)

        self.dividend_rate = weekly("dividends_2025")  # (F,) USD bn a week
        self.buyback_rate = weekly("buybacks_2025")
        zeros = self.dividend_rate[None, :] * 0.0 + 0.0 * sheets.prices[:, :1]  # (E, F)
        self.last_dividends = zeros
        self.last_buybacks = zeros

    def pay_dividends(self, on: Any, distressed: Any) -> Any:
        """Pay this week's dividends (E, F) USD bn to the shareholders; none in distress.

        Args:
            on: (E, F) 1.0 for firms that have not failed.
            distressed: (E, F) bool, the firm cuts its dividend.
        """
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        paid = xp.where(distressed | ~self.listed, 0.0, self.dividend_rate[None, :] * on)
        per_asset = segment_sum(paid, self.share_asset, s.prices.shape[-1])  # (E, M)
        received = s.paid_to_holders(per_asset)  # (E, N) the model's holders
        moved = received - columns(xp, ledger.cash, self.firms, paid)
        ledger.cash = ledger.cash + moved
        ledger.book_equity(moved)
        outside = xp.sum(paid, axis=-1) - xp.sum(received, axis=-1)
        ledger.outsiders.book("outside_investors", -outside)
        self.last_dividends = paid
        return paid

    def buy_back(self, on: Any, spare: Any, distressed: Any) -> Any:
        """Buy back shares out of ``spare`` (E, F) cash above the buffer, at most the run rate.

        The firm pays outside investors and retires the units it bought (price from the
        market), never more than the outside investors hold. Returns (E, F) USD bn paid.
        """
        s = self.sheets
        xp = s.xp
        wanted = xp.minimum(self.buyback_rate[None, :] * on, xp.maximum(spare, 0.0))
        price = xp.take(s.prices, self.share_asset, axis=1)  # (E, F)
        supply = xp.take(s.supply, self.share_asset, axis=1)
        held = xp.take(xp.sum(s.holdings, axis=1), self.share_asset, axis=1)  # model-held units
        float_value = xp.maximum(supply - held, 0.0) * price  # what outside investors hold
        paid = xp.where(distressed | ~self.listed, 0.0, xp.minimum(wanted, float_value))
        units = paid / xp.maximum(price, 1e-12)
        s.supply = s.supply - segment_sum(units, self.share_asset, s.supply.shape[-1])
        s.ledger.pay_outsider(self.firms, "outside_investors", paid)
        self.last_buybacks = paid
        return paid

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: each firm's dividends and buybacks this week (USD bn)."""
        return {
            "dividends_paid": books.per_agent(self.last_dividends),
            "buybacks_paid": books.per_agent(self.last_buybacks),
        }
