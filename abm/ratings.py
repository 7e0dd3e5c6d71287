"""Credit ratings that follow credit metrics, and the forced sales of fallen angels.

Rules (issue 4, item 2; docs/design.md, "The economy"):

- **Metric.** Debt / EBITDA, ``x = debt / max(EBITDA, ε)``, capped at :data:`LEVERAGE_CAP` turns
  (a firm without positive EBITDA sits at the cap). Debt is every liability of the firm (bonds,
  bank and private loans, vendor financing, prepaid capacity: gross, as Moody's computes it);
  EBITDA is the model's operating cash flow before interest, annualised. For a firm paying rate
  ``r`` on its debt, interest cover is ``EBITDA / (r·debt) = 1 / (r·x)``, so the one ratio carries
  both leverage and coverage.
- **Anchor.** S&P's corporate methodology maps the financial risk profile — set by debt / EBITDA:
  minimal below 1.5×, modest 1.5–2×, intermediate 2–3×, significant 3–4×, aggressive 4–5×, highly
  leveraged above 5× — together with the business risk profile to an anchor rating (S&P Global
  Ratings, "Corporate Methodology", 19 Nov 2013, and "Corporate Methodology: Ratios and
  Adjustments": the standard-volatility table and the anchor matrix, :data:`ANCHOR`). The model
  reads the anchor as a piecewise-linear function of ``x`` through the middle of each band and
  extends it by :data:`NOTCHES_PER_TURN_BEYOND` notch per turn above 5.5× (the matrix ends at
  "highly leveraged"; the extension is an assumption). Each firm's business-risk row is the one
  whose anchor at its starting ``x`` is closest to its calibrated rating, and the firm keeps the
  difference as its own modifier, so every issuer starts at its calibrated rating.
- **Through the cycle.** Agencies rate on smoothed metrics (several years of history and
  forecasts), so the rating reads an exponential average of ``x`` with a time constant of
  ``[assumptions.ratings].smoothing_weeks``, and the agency reviews each issuer once a quarter
  (after results), moving the rating to where the metric puts it.
- **Fallen angels.** An issuer that falls from BBB− or better to BB+ or worse this review forces
  investment-grade-only holders to sell: a share of each pension fund's, insurer's and bond
  fund's holdings of its bonds (``[assumptions.ratings].ig_constrained_*``; regulatory capital
  for insurers — Ellul, Jotikasthira & Lundblad (2011), "Regulatory pressure and fire sales in the
  corporate bond market", JFE 101(3) — and IG mandates and index exclusion for funds and
  pensions). They sell over ``[assumptions.ratings].fallen_angel_sale_weeks`` weeks after the
  review, an equal fraction of what is left each week, so that the shares are sold by the end
  (a holder sells ``1 − (1 − c)^(1/n)`` of its holdings a week): Ellul, Jotikasthira &
  Lundblad (2011) find the constrained insurers' sales spread over the weeks after the
  downgrade, and Ambrose, Cai & Helwege (2008), "Forced selling of fallen angels", JFI 18(1),
  that regulatory pressure does not bring a wholesale liquidation at the downgrade. The selling
  stops if the issuer is rated investment grade again. The sales go to the market makers at the
  impacted mid price
  (``kernels.impact.impacted_price`` with the asset's depth, ``fill_price``), every holder is
  marked to the new price, and the units sold feed the issuer's spread as selling pressure
  (:meth:`abm.state.WorldState.absorb_selling`). Channel ``rating_downgrades`` switches the sales
  off (ratings are still kept).
- **Counterparty dependence caps upgrades.** An issuer that gets at least
  ``[assumptions.ratings].key_counterparty_share`` of its revenue from one payer under the
  contracts of :mod:`abm.deals` (a "major customer": the 10% of revenue above which US GAAP
  makes a firm name it, ASC 280-10-50-42), read over the same window as the metric (the
  share is averaged like debt / EBITDA, so a contract that just ended still counts while the
  metric still holds its revenue), is not upgraded above that payer's credit: the
  payer's own rating, or ``[assumptions.ratings].unrated_counterparty_rating`` for a payer
  without one (the loss-making AI labs). Downgrades are not held back, and a rating above the
  cap at the review is kept (the cap limits upgrades only). Moody's rated CoreWeave Ba3 in
  May 2025 with its contracted backlog "constrained by significant customer concentration, with
  the top two customers representing 77% of 2024 revenue", and Fitch's BB− named the same
  concentration; S&P's project-finance criteria cap a project that depends on a counterparty it
  cannot replace at that counterparty's credit ("Project Finance Construction And Operations
  Counterparty Methodology", 2014). Without the cap, the model's CoreWeave climbed from BB− to
  BBB− on OpenAI's payments alone and became a fallen angel when they ended (docs/scenarios.md).

Notches run from 0 (AAA) to :data:`CCC` (CCC); investment grade is notch :data:`LAST_IG` (BBB−)
or better. Unrated firms (no listed corporate bond, or ``NR`` in the calibration) carry −1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.deals import CircularDeals
from abm.state import WorldState
from kernels.backend import segment_sum, to_numpy
from kernels.impact import fill_price, impacted_price

SCALE = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
    "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC",
)  # fmt: skip
"""Rating notches, best first; the position is the notch number."""
LAST_IG = SCALE.index("BBB-")
CCC = len(SCALE) - 1

#: middle of each S&P financial-risk band of debt / EBITDA (turns), minimal ... highly leveraged
BAND_MIDDLES = (0.75, 1.75, 2.5, 3.5, 4.5, 5.5)
#: S&P anchor matrix (business risk row x financial risk column) in notches; a split cell
#: ("aaa/aa+") takes its better rating. Rows: excellent, strong, satisfactory, fair, weak,
#: vulnerable.
ANCHOR = np.array(
    [
        [0, 2, 4, 6, 8, 9],
        [2, 4, 6, 8, 10, 11],
        [5, 7, 8, 9, 11, 13],
        [8, 9, 10, 11, 12, 14],
        [10, 10, 11, 12, 13, 14],
        [12, 12, 12, 13, 14, 15],
    ],
    dtype=float,
)
NOTCHES_PER_TURN_BEYOND = 1.0
LEVERAGE_CAP = 15.0  # turns of EBITDA; beyond it the ratio says nothing more
REVIEW_WEEKS = 13  # one review a quarter


def debt_to_ebitda(xp: Any, debt: Any, ebitda: Any) -> Any:
    """Debt / annual EBITDA in turns, :data:`LEVERAGE_CAP` where EBITDA is not positive."""
    ratio = debt / xp.where(ebitda > 0.0, ebitda, 1.0)
    return xp.where(ebitda > 0.0, xp.minimum(ratio, LEVERAGE_CAP), LEVERAGE_CAP)


def anchor_notch(xp: Any, x: Any, rows: Any) -> Any:
    """Anchor notch (float) at debt / EBITDA ``x`` for business-risk ``rows`` (host ints).

    Args:
        xp: the array namespace.
        x: (..., F) debt / EBITDA, turns.
        rows: (F,) host row of :data:`ANCHOR` for each firm.
    """
    table = ANCHOR[np.asarray(rows)]  # (F, 6)
    mids = BAND_MIDDLES
    notch = xp.zeros_like(x) + xp.asarray(table[:, 0], dtype=x.dtype, device=x.device)
    for k in range(len(mids) - 1):
        width = mids[k + 1] - mids[k]
        slope = xp.asarray((table[:, k + 1] - table[:, k]) / width, dtype=x.dtype, device=x.device)
        notch = notch + slope * xp.clip(x - mids[k], 0.0, width)
    return notch + NOTCHES_PER_TURN_BEYOND * xp.maximum(x - mids[-1], 0.0)


def parse_rating(text: str) -> int:
    """Notch of a rating text such as ``"BBB"`` or ``"A+"``; −1 for ``"NR"``.

    Raises:
        ValueError: text that is not on :data:`SCALE` nor ``NR``.
    """
    if text.strip().upper() == "NR":
        return -1
    if text.strip() not in SCALE:
        raise ValueError(f"rating must be one of {', '.join(SCALE)} or NR; got {text!r}")
    return SCALE.index(text.strip())


def rating_text(notch: float) -> str:
    """Rating text of a notch (``"NR"`` below 0)."""
    return "NR" if notch < 0 else SCALE[min(round(notch), CCC)]


class CreditRatings:
    """Each issuer's rating, reviewed quarterly, and the forced sales of fallen angels.

    Args:
        cal: the calibration (firms' ``rating``, ``[assumptions.ratings]``).
        sheets: the balance sheets.
        firm_rows: (F,) host agent rows of the firms.
        leverage0: (E, F) each firm's debt / EBITDA at the start.
        bond_assets: (F,) market index of each firm's bond asset (0 where it has none).
        depth: (M,) market depth in units (``abm.market.market_depth``; infinite without fire
            sales).
        pressure_depth: (M,) depth over which sales press on spreads
            (``abm.market.pressure_depth``).
        forced_sales: whether fallen angels force IG-constrained holders to sell (channel
            ``rating_downgrades``).
        deals: the contracts between firms, whose payments set each issuer's dependence on its
            payers (no cap on upgrades without them).
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        firm_rows: np.ndarray,
        leverage0: Any,
        bond_assets: Any,
        depth: Any,
        pressure_depth: Any,
        forced_sales: bool = True,
        deals: CircularDeals | None = None,
    ) -> None:
        self.sheets, self.depth, self.pressure_depth = sheets, depth, pressure_depth
        self.forced_sales, self.deals = forced_sales, deals
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        roster, table = sheets.roster, sheets.assets
        rows = firm_rows
        names = [roster.names[i] for i in rows]
        start = np.array([parse_rating(str(cal.value(f"firms.{n}.rating"))) for n in names])
        own_bond = np.array(
            [
                any(table.asset_class[m] == "corporate_bond" for m in table.issued_by(n))
                for n in names
            ]
        )
        self.rated = own_bond & (start >= 0)
        x0 = to_numpy(leverage0)[0]  # debt / EBITDA at the start (one transfer)
        anchors = np.stack([anchor_notch(np, x0, np.full(len(rows), r)) for r in range(6)])
        self.rows = np.argmin(np.abs(anchors - start[None, :]), axis=0)  # first (best) on ties
        self.modifier = xp.asarray(
            np.where(self.rated, start - anchors[self.rows, np.arange(len(rows))], 0.0),
            dtype=dtype,
            device=dev,
        )
        self.rated_x = xp.asarray(self.rated, device=dev)
        e = sheets.prices.shape[0]
        self.start = xp.asarray(np.where(self.rated, start, -1.0), dtype=dtype, device=dev)
        self.notch = xp.broadcast_to(self.start, (e, len(rows))) * 1.0
        self.smoothed = xp.broadcast_to(xp.asarray(x0, dtype=dtype, device=dev), (e, len(rows)))
        self.smoothed = self.smoothed * 1.0
        self.smoothing = 1.0 / float(cal.model_value("assumptions.ratings.smoothing_weeks"))
        self.key_share = float(cal.model_value("assumptions.ratings.key_counterparty_share"))
        f = len(rows)
        if deals is not None and deals.enabled and deals.firm is not None:  # the opening shares
            opening = deals.opening_payments()[None, ...]
            self.dependence = self._revenue_shares(opening, deals.firm.revenue)  # (E, F, F)
        else:  # no contracts: no payer's share, no cap
            self.dependence = xp.zeros((e, f, f), dtype=dtype, device=dev)
        unrated = parse_rating(str(cal.value("assumptions.ratings.unrated_counterparty_rating")))
        self.unrated_notch = float(unrated)
        constrained = np.zeros(roster.size)
        for kind in ("pension", "insurer_life", "insurer_pc", "mutual_bond"):
            share = float(cal.model_value(f"assumptions.ratings.ig_constrained_{kind}"))
            constrained[roster.indices("fund", kind)] = share
        self.constrained = xp.asarray(constrained, dtype=dtype, device=dev)
        self.sale_weeks = float(cal.model_value("assumptions.ratings.fallen_angel_sale_weeks"))
        weekly = 1.0 - (1.0 - constrained) ** (1.0 / self.sale_weeks)  # share sold a week
        self.weekly_share = xp.asarray(weekly, dtype=dtype, device=dev)
        self.selling_left = xp.zeros((e, len(rows)), dtype=dtype, device=dev)  # weeks, per issuer
        self.selling_weeks_any = 0.0  # host: weeks in which some world may still sell
        self.bond_assets = bond_assets  # (F,) market index (0 where none)
        self.last_forced = xp.zeros((e, len(rows)), dtype=dtype, device=dev)  # USD bn per issuer
        self.last_forced_by_holder = xp.zeros(sheets.ledger.cash.shape, dtype=dtype, device=dev)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``rating_notch``, ``fallen_angel_sales`` and ``forced_sales``.

        The rating (-1 not rated), fallen angels sold per issuer and forced sales per holder this
        week (USD bn).
        """
        return {
            "rating_notch": books.per_agent(self.notch + 1.0) - 1.0,
            "fallen_angel_sales": books.per_agent(self.last_forced),
            "forced_sales": self.last_forced_by_holder,
        }

    def review(self, state: WorldState) -> None:
        """One week: smooth the metric; on review weeks re-rate; sell fallen angels' bonds.

        Runs after the valuation (:meth:`abm.economy.Economy.revalue`), whose debt / EBITDA of
        each firm it reads (``state.firms.leverage``); firms that had failed when the week began
        keep their rating.
        """
        xp = self.sheets.xp
        firm = state.firms
        active = state.flows.firms_alive
        leverage = firm.leverage  # debt / EBITDA as the valuation just read it
        self.smoothed = self.smoothed + self.smoothing * (leverage - self.smoothed)
        if self.deals is not None:  # each payer's share of each issuer's revenue, averaged
            share = self._revenue_shares(self.deals.last_paid_pairs, firm.revenue)
            self.dependence = self.dependence + self.smoothing * (share - self.dependence)
        self.last_forced = xp.zeros_like(self.last_forced)
        self.last_forced_by_holder = xp.zeros_like(self.last_forced_by_holder)
        if (state.week + 1) % REVIEW_WEEKS == 0:  # reviews after weeks 13, 26, ...
            target = anchor_notch(xp, self.smoothed, self.rows) + self.modifier
            new = xp.where(
                self.rated_x & active, xp.clip(xp.round(target), 0.0, float(CCC)), self.notch
            )
            cap = self.counterparty_cap()
            new = xp.where(new < self.notch, xp.maximum(new, xp.minimum(self.notch, cap)), new)
            fallen = (self.notch <= LAST_IG) & (new > LAST_IG) & self.rated_x
            self.notch = new
            firm.junk = xp.where(self.rated_x, new > LAST_IG, firm.junk)
            self.selling_left = xp.where(fallen, self.sale_weeks, self.selling_left)
            if self.forced_sales and bool(xp.any(fallen)):  # the review's one host read
                self.selling_weeks_any = self.sale_weeks
        if self.selling_weeks_any <= 0.0:  # no world sells: no host read on other weeks
            return
        self.selling_weeks_any -= 1.0
        # a fallen angel rated investment grade again, or failed, is sold no more
        selling = (self.selling_left > 0.0) & firm.junk & active
        self.selling_left = xp.where(selling, self.selling_left - 1.0, 0.0)
        self._sell_fallen_angels(state, selling)

    def _revenue_shares(self, paid: Any, revenue: Any) -> Any:
        """(E, F, F) payer i's payments ``paid`` over supplier j's ``revenue`` (E, F; a week)."""
        xp = self.sheets.xp
        revenue = revenue[:, None, :]
        share = paid / xp.where(revenue > 0.0, revenue, 1.0)
        return xp.where(revenue > 0.0, share, 0.0)

    def counterparty_cap(self) -> Any:
        """(E, F) best notch an upgrade may reach: the worst credit of each issuer's major payers.

        Payer i is major for supplier j when its payments are at least ``key_share`` of j's
        revenue, averaged over the metric's window (``dependence``); its credit is its rating, or
        ``unrated_notch`` where it has none. 0 (AAA, no cap) where an issuer has no major payer.
        """
        xp = self.sheets.xp
        major = self.dependence >= self.key_share  # (E, F, F) payer-major
        credit = xp.where(self.rated_x, self.notch, self.unrated_notch)  # (E, F) payers
        return xp.max(xp.where(major, credit[:, :, None], 0.0), axis=1)

    def _sell_fallen_angels(self, state: WorldState, fallen: Any) -> None:
        """IG-constrained holders sell this week's part of each fallen angel's bonds to dealers."""
        s = self.sheets
        xp, ledger = s.xp, s.ledger
        m = s.prices.shape[-1]
        hit = segment_sum(xp.astype(fallen, s.prices.dtype), self.bond_assets, m) > 0.0  # (E, M)
        hit_x = xp.astype(hit, s.prices.dtype)[:, None, :]
        units = s.holdings * self.weekly_share[None, :, None] * hit_x  # (E, N, M)
        sold = xp.sum(units, axis=1)  # (E, M)
        old = s.prices
        new = impacted_price(old, sold, self.depth)
        fill = fill_price(old, new)
        proceeds = (units @ fill[:, :, None])[:, :, 0]  # (E, N)
        ledger.cash = ledger.cash + proceeds
        ledger.outsiders.book("market_makers", xp.sum(proceeds, axis=-1))
        ledger.book_equity(proceeds - (units @ old[:, :, None])[:, :, 0])
        s.holdings = s.holdings - units
        ledger.book_equity((s.holdings @ (new - old)[:, :, None])[:, :, 0])
        s.prices = new
        self.last_forced_by_holder = proceeds
        self.last_forced = xp.take(sold * fill, self.bond_assets, axis=1) * xp.astype(
            fallen, s.prices.dtype
        )
        state.absorb_selling(sold, self.pressure_depth)
