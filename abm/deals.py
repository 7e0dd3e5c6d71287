"""The circular-deal network: purchase commitments among the AI firms, cleared every week.

``[circular_deals.*]`` in ``calibration.toml`` lists who buys from whom (OpenAI → Oracle 300 bn,
OpenAI → Nvidia 350 bn, Microsoft → Nvidia 56 bn a year, ...). This module turns the payment
edges into weekly obligations and clears them like a liability network (issue 4, item 1):

- **Edges.** Kinds ``purchase_commitment``, ``purchase``, ``customer`` and ``partnership`` are
  payments from ``from`` (payer) to ``to`` (supplier). A size in ``USD_bn_per_year`` is paid at
  that rate for one year (the period named is one fiscal year); a size in ``USD_bn`` is paid evenly
  over the term in its period text (``"~5 years"``, ``"4 years"``, ``"2025-2026"``) or else over
  ``[assumptions.deals].contract_years``. Kinds ``investment``, ``equity_stake``, ``warrant``,
  ``equity_stake_and_*`` and ``loan`` are holdings, not payments: they are listed in
  :attr:`CircularDeals.skipped` here, and the equity stakes among firms are marked to market by
  :mod:`abm.stakes`; edges whose ends are not firms (``funds.private_credit``, ``banks``,
  ``markets.ai_spv_debt``) are balance-sheet positions of :mod:`abm.balance_sheets`.
- **Weekly flows, part of the calibrated revenue.** The firms' calibrated revenue and outgoings
  (:mod:`abm.economy`) already contain what the modelled firms pay each other (Nvidia's revenue
  is largely hyperscalers' GPU purchases). The weekly commitment ``c_ij`` is therefore capped so
  that no supplier's committed inflow exceeds its 2025 weekly revenue and no payer's committed
  outflow exceeds its weekly outgoings (2025 costs plus the 2026 capex plan); commitments that
  start in later years (OpenAI's) are scaled down by these caps and enter the DebtRank layer at
  full size. :meth:`CircularDeals.settle` re-routes this part of the flows: the rest of the
  economy returns ``c_ij`` to the payer (it was charged with its outgoings) and takes it back
  from the supplier (it was counted in its revenue), and the payer pays the supplier what the
  clearing allows. When everyone pays in full the week is unchanged; a shortfall stays with the
  payer and is lost by the supplier. Every leg goes through the ledger as income or expense, so
  no money is created and the books balance.
- **Revenue and EBITDA follow the ledger (issue 17).** The firm state the valuation and the
  ratings read (``firms.revenue``, ``firms.ebitda``) moves by what the ledger booked as income
  and expense, the cash rule of the excess below: a supplier's revenue and EBITDA fall by the
  capped part it was due (``counted``, from every payer, failed ones included) but did not
  receive; a payer alive this week that pays less than its capped part keeps the refund of the
  unpaid part in its cash, so that part leaves its costs (its EBITDA rises by it). A payer that
  failed before the week has no costs in :mod:`abm.economy` and no refund here: nothing to undo.
  A payer's failure thus costs its suppliers the capped inflow in revenue and EBITDA from the
  week after it fails (when ``flows.firms_alive`` drops it), as it costs them the cash.
- **Full-size contracts (issue 17).** The commitments also run at their reported size on their
  reported schedules (:mod:`abm.contract_schedule`): what a pair's schedule asks above ``c_ij``
  in week t, the excess ``e_ij(t)``, is new money that the calibrated revenue does not contain.
  Payers owe ``c_ij + e_ij(t)`` and the clearing decides what is paid (pro rata over both
  parts); the capped part is re-routed as above, the excess is a plain payment. The excess a
  supplier receives is added to its revenue and EBITDA in the same week (``firms.revenue`` and
  ``firms.ebitda``, smoothed as :mod:`abm.economy` smooths it), the excess a payer pays is an
  operating cost in its EBITDA, so the valuation and the ratings read both. The coming week's
  excess is written to ``firms.contract_due`` so the payer's financing raises cash for it
  (:meth:`abm.economy.Economy.run_firms`).
- **Arrears.** What a payer leaves unpaid of its excess accumulates (``arrears``); a payer that
  has left excess unpaid ``[assumptions.deals].arrears_default_weeks`` weeks in a row (a month:
  the usual grace before a supplier may terminate and claim) fails (cause ``"arrears"``, the
  failure step clears it); its suppliers lose the revenue. The capped part counts no arrears: it is
  paid as before the full-size contracts, so with no excess the model is unchanged.
- **Claims at failure.** What a payer left unpaid to each supplier (capped and excess, every
  week until it failed, :attr:`CircularDeals.unpaid`) becomes, at the first settlement after
  it fails (the same week for ``arrears``, the next for any other cause), a claim of the
  supplier on it in the ledger's bilateral pool ``trade_claims`` (the supplier's income, the
  payer's expense, in equity, not in revenue or EBITDA). It is debt
  (:data:`abm.claims.DEBT_POOLS`), so the failure clearing (:mod:`abm.failures`) writes it
  down to the payer's recovery rate with its other creditors' claims, pro rata (equal
  seniority, as for any unsecured trade creditor). The claim stays on the books at its
  recovery value.
  The claim is the supplier's asset (in its total assets) and, in the clearing, an edge of the
  liability network like a loan, so a supplier's own creditors see what it recovers.
- **Clearing.** Liabilities ``L_ij = c_ij`` between firms that have not failed (a failed payer
  pays nothing; its suppliers lose the revenue, in cash and in ``firms.revenue``); external
  assets are each firm's cash after the refund, ``max(cash, 0)``;
  ``kernels.clearing.eisenberg_noe`` gives the greatest clearing vector and each payer's payment
  is split over its suppliers pro rata to what it owes them. A payer short of cash thus passes
  its shortfall on to its suppliers, and they to theirs.
- **Revenue contagion.** :meth:`CircularDeals.revenue_contagion` runs linear DebtRank
  (``kernels.debtrank.debtrank``) on the exposure layer ``W_ij`` = remaining committed payments
  from payer j to supplier i (USD bn still to be paid, contract totals less what has been paid),
  against each firm's book equity, for a unit shock to one firm. Its ``loss`` is the induced
  equity loss of the other firms (the shocked firm's own loss is left out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from abm.calibration import Calibration
from abm.contract_schedule import excess_table, load_schedules
from abm.state import FirmState, WorldState
from kernels.backend import segment_sum
from kernels.clearing import eisenberg_noe
from kernels.debtrank import debtrank

PAYMENT_KINDS = ("purchase_commitment", "purchase", "customer", "partnership")
"""Deal kinds that are payments from ``from`` to ``to``; the others are holdings."""


@dataclass(frozen=True)
class Edge:
    """One payment edge between two firms (positions in firm order)."""

    key: str
    payer: int
    supplier: int
    kind: str
    total: float  # USD bn committed over the contract
    weeks: float  # contract length


def contract_weeks(period: str, unit: str, default_weeks: float, weeks_per_year: int) -> float:
    """Term of a commitment from its size's unit and period text."""
    if unit == "USD_bn_per_year":
        return float(weeks_per_year)
    years = re.search(r"(\d+(?:\.\d+)?)\s*years?", period)
    if years:
        return float(years.group(1)) * weeks_per_year
    span = re.search(r"\b(20\d\d)\s*-\s*(20\d\d)\b", period)
    if span:
        return (int(span.group(2)) - int(span.group(1)) + 1) * float(weeks_per_year)
    return default_weeks


def load_edges(cal: Calibration, firms: list[str]) -> tuple[list[Edge], list[str]]:
    """The payment edges among ``firms`` and the keys of the deals left out (with why)."""
    default = float(cal.model_value("assumptions.deals.contract_years"))
    edges: list[Edge] = []
    skipped: list[str] = []
    for key in cal.children("circular_deals"):
        node = cal.node(f"circular_deals.{key}")
        payer, supplier, kind = node["from"], node["to"], node["kind"]
        if kind not in PAYMENT_KINDS:
            skipped.append(f"{key}: {kind} (a holding, not a payment)")
            continue
        if payer not in firms or supplier not in firms:
            skipped.append(f"{key}: {payer} -> {supplier} is not between firms")
            continue
        size = cal.leaf(f"circular_deals.{key}.size")
        weeks = contract_weeks(str(size.period), size.unit, default, cal.weeks_per_year)
        per_week = float(cal.model_value(f"circular_deals.{key}.size"))
        total = per_week * weeks if size.unit == "USD_bn_per_year" else per_week
        edges.append(Edge(key, firms.index(payer), firms.index(supplier), kind, total, weeks))
    return edges, skipped


class CircularDeals:
    """The commitment network of the firms, settled once a week.

    Attributes:
        edges: the payment edges; ``skipped``: deals not modelled, with the reason.
        weekly: (F, F) host array, ``weekly[i, j]`` what firm i pays firm j a week (capped).
        total: (F, F) host array, contract totals (uncapped, for DebtRank).
        paid_to_date: (E, F, F) what each payer has paid each supplier so far.
        last_committed, last_paid: (E, F) what each firm owed and paid last week.
        last_due, last_received: (E, F) what each firm was owed (capped and excess) and
            received last week.
        enabled: switch for ablation; when off :meth:`settle` does nothing.
        schedules: each edge's full-size schedule (:mod:`abm.contract_schedule`).
        excess_by_week: (T + 1, F, F) the schedules' excess over ``weekly`` for weeks 0 … T
            (:func:`abm.contract_schedule.excess_table`; row T for every later week).
        arrears: (E, F) contract excess each payer has left unpaid so far (USD bn).
        unpaid: (E, F, F) contract payments (capped and excess) payer i has left unpaid to
            supplier j and that are not yet a claim (USD bn).
        claimed: (E, F) payers whose unpaid payments became ``trade_claims`` at their failure.
        last_claims: (E, F) trade claims each supplier acquired last week (USD bn).
        unpaid_weeks: (E, F) consecutive weeks each payer has left excess unpaid.
        last_excess_paid, last_excess_received: (E, F) excess paid and received last week.
        last_paid_pairs: (E, F, F) paid last week by payer i to supplier j, capped and excess
            (USD bn; the rating agency reads each supplier's dependence on its payers from it).
    """

    def __init__(
        self,
        cal: Calibration,
        sheets: BalanceSheets,
        enabled: bool = True,
        firm: FirmState | None = None,
        ebitda_weight: float = 0.0,
    ) -> None:
        self.sheets, self.enabled, self.firm = sheets, enabled, firm
        xp = sheets.xp
        rows = sheets.roster.indices("firm")
        self.firm_names = [sheets.roster.names[i] for i in rows]
        self.edges, self.skipped = load_edges(cal, self.firm_names)
        f = len(rows)
        weekly, total = np.zeros((f, f)), np.zeros((f, f))
        for e in self.edges:
            weekly[e.payer, e.supplier] += e.total / e.weeks
            total[e.payer, e.supplier] += e.total
        revenue, outgoings = np.zeros(f), np.zeros(f)
        for k, name in enumerate(self.firm_names):
            node = f"firms.{name}"
            rev = float(cal.model_value(f"{node}.revenue_2025"))
            ocf = float(cal.model_value(f"{node}.operating_cash_flow_2025"))
            revenue[k] = rev
            outgoings[k] = max(rev - ocf, 0.0) + float(cal.model_value(f"{node}.capex_plan_2026"))
        out, inflow = weekly.sum(axis=1), weekly.sum(axis=0)
        row = np.where(out > outgoings, outgoings / np.where(out > 0, out, 1.0), 1.0)
        col = np.where(inflow > revenue, revenue / np.where(inflow > 0, inflow, 1.0), 1.0)
        self.weekly = weekly * row[:, None] * col[None, :]
        self.total = total
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.firms = xp.asarray(rows, device=dev)
        self._weekly = xp.asarray(self.weekly, dtype=dtype, device=dev)
        self._total = xp.asarray(self.total, dtype=dtype, device=dev)
        worlds = sheets.ledger.cash.shape[0]
        self.paid_to_date = xp.zeros((worlds, f, f), dtype=dtype, device=dev)
        zeros = xp.zeros((worlds, f), dtype=dtype, device=dev)
        self.last_committed = self.last_paid = self.last_due = self.last_received = zeros
        self.last_paid_pairs = self.paid_to_date  # (E, F, F) paid last week, payer i to j
        self.converged = xp.ones((worlds,), dtype=xp.bool, device=dev)
        self.schedules = load_schedules(cal, self.edges, self.firm_names)
        table = excess_table(self.schedules, self.weekly)  # (T + 1, F, F), built once
        self.excess_by_week = xp.asarray(table, dtype=dtype, device=dev)
        self.ebitda_weight = ebitda_weight
        self.arrears_weeks = float(cal.model_value("assumptions.deals.arrears_default_weeks"))
        self.arrears = self.unpaid_weeks = zeros
        self.last_excess_paid = self.last_excess_received = zeros
        self.unpaid = self.paid_to_date * 0.0
        self.claimed = xp.zeros((worlds, f), dtype=xp.bool, device=dev)
        self.last_claims = zeros
        pairs = [p * f + q for p in range(f) for q in range(f) if q != p]  # abm.opening_sheets
        if sheets.ledger.pools["trade_claims"].balance.shape[-1] != len(pairs):
            raise ValueError("trade_claims must link every firm to every other, payer-major")
        self._claim_pairs = xp.asarray(np.array(pairs, dtype=np.int64), device=dev)
        if firm is not None and enabled:
            firm.contract_due = firm.contract_due + xp.sum(self.excess(0), axis=-1)[None, :]

    def opening_payments(self) -> Any:
        """(F, F) payments due in week 0, payer i to supplier j, capped and excess (USD bn)."""
        return self._weekly + self.excess(0)

    def excess(self, week: int) -> Any:
        """(F, F) contract payments due in ``week`` beyond the capped ``weekly`` (USD bn)."""
        return self.excess_by_week[min(week, self.excess_by_week.shape[0] - 1), ...]

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot: ``deals_converged``, whether this week's clearing of commitments converged."""
        return {"deals_converged": self.converged}

    def settle(self, state: WorldState) -> None:
        """Clear this week's commitments and book the payments (after ``Economy.run_firms``).

        Firms that had failed when the week began (``flows.firms_alive``) neither pay nor are paid.
        """
        if not self.enabled:
            return
        s = self.sheets
        xp, ledger, firms = s.xp, s.ledger, self.firms
        on = xp.astype(state.flows.firms_alive, s.prices.dtype)
        pairs = on[:, :, None] * on[:, None, :]
        capped = self._weekly[None, :, :] * pairs  # (E, F, F)
        extra = self.excess(state.week)[None, :, :] * pairs  # new money beyond the caps
        owed = capped + extra
        committed = xp.sum(owed, axis=-1)
        counted = xp.sum(self._weekly, axis=0)[None, :] * on  # counted in suppliers' revenue
        # the rest of the economy hands back what it charged payers and credited suppliers
        ledger.pay_outsider(firms, "rest_of_economy", -xp.sum(capped, axis=-1))
        ledger.pay_outsider(firms, "rest_of_economy", counted)
        external = xp.maximum(xp.take(ledger.cash, firms, axis=1), 0.0)
        result = eisenberg_noe(owed, external)
        share = result.payments / xp.where(committed > 0.0, committed, 1.0)
        paid = owed * share[:, :, None]  # (E, F, F) pro rata to what each supplier is owed
        # one payment per (payer, supplier) pair, booked as expense and income
        f = len(self.firm_names)
        pay_from = xp.asarray(np.repeat(np.arange(f), f), device=firms.device)
        pay_to = xp.asarray(np.tile(np.arange(f), f), device=firms.device)
        amounts = xp.reshape(paid, (paid.shape[0], f * f))
        rows_from = xp.take(firms, pay_from)
        rows_to = xp.take(firms, pay_to)
        ledger.pay(rows_from, rows_to, amounts)
        self.paid_to_date = self.paid_to_date + paid
        self.last_paid_pairs = paid
        self.last_committed, self.last_paid = committed, xp.sum(paid, axis=-1)
        self.last_due, self.last_received = counted + xp.sum(extra, axis=1), xp.sum(paid, axis=1)
        self.converged = result.converged
        paid_extra = extra * share[:, :, None]
        paid_capped = capped * share[:, :, None]
        received = xp.sum(paid_extra, axis=1) - (counted - xp.sum(paid_capped, axis=1))
        spent = xp.sum(paid_extra, axis=-1) - xp.sum(capped - paid_capped, axis=-1)
        self._book_contract_revenue(state, received, spent)
        self.last_excess_received = xp.sum(paid_extra, axis=1)
        self.last_excess_paid = xp.sum(paid_extra, axis=-1)
        self._track_arrears(state, xp.sum(extra - paid_extra, axis=-1), on)
        self.unpaid = self.unpaid + (owed - paid)
        self._claim_unpaid(state)
        if self.firm is not None:
            self.firm.contract_due = xp.sum(self.excess(state.week + 1), axis=-1)[None, :] * on

    def _book_contract_revenue(self, state: WorldState, received: Any, paid: Any) -> None:
        """Move revenue by ``received`` and EBITDA by ``received - paid`` (E, F; USD bn a week).

        ``received`` is the excess received less the capped inflow due but not received;
        ``paid`` is the excess paid less the capped outflow owed but not paid. The payments are
        already in the ledger (income and expense); this updates the firm state the valuation
        and the ratings read, as if :mod:`abm.economy` had counted them.
        """
        firm = state.firms
        firm.revenue = firm.revenue + received
        firm.ebitda = firm.ebitda + self.ebitda_weight * (received - paid)

    def _track_arrears(self, state: WorldState, unpaid: Any, on: Any) -> None:
        """Accumulate unpaid excess; payers ``arrears_weeks`` weeks behind fail (``arrears``)."""
        xp = self.sheets.xp
        behind = unpaid > 1e-9
        self.arrears = self.arrears + unpaid
        self.unpaid_weeks = xp.where(behind, self.unpaid_weeks + 1.0, 0.0)
        default = (self.unpaid_weeks >= self.arrears_weeks) & (on > 0.0)
        n = self.sheets.ledger.cash.shape[-1]
        mask = segment_sum(xp.astype(default, self.sheets.prices.dtype), self.firms, n) > 0.0
        state.fail("arrears", mask)

    def _claim_unpaid(self, state: WorldState) -> None:
        """Payers failed and not yet claimed on: their unpaid payments become trade claims.

        Each supplier's claim on a failed payer is what the payer left unpaid to it (capped and
        excess, USD bn) while alive; it goes into the ledger pool ``trade_claims`` (an income of
        the supplier, an expense of the payer) and shares in the failure clearing's recovery
        with the payer's other creditors (:mod:`abm.failures`, :data:`abm.claims.DEBT_POOLS`).
        """
        xp, ledger = self.sheets.xp, self.sheets.ledger
        failed = xp.take(state.defaulted, self.firms, axis=1) & ~self.claimed
        claim = self.unpaid * xp.astype(failed, self.unpaid.dtype)[:, :, None]  # (E, F, F)
        flat = xp.reshape(claim, (claim.shape[0], claim.shape[1] * claim.shape[2]))
        ledger.accrue("trade_claims", xp.take(flat, self._claim_pairs, axis=1))
        self.unpaid = self.unpaid - claim
        self.claimed = self.claimed | failed
        self.last_claims = xp.sum(claim, axis=1)

    def shortfall(self) -> Any:
        """(E, F) revenue each supplier expected from the network last week but did not get."""
        return self.last_due - self.last_received

    def remaining(self) -> Any:
        """(E, F, F) committed payments still to come, payer i to supplier j (USD bn)."""
        xp = self.sheets.xp
        return xp.maximum(self._total[None, :, :] - self.paid_to_date, 0.0)

    def revenue_contagion(self, firm: str) -> tuple[Any, Any]:
        """Linear DebtRank on the commitment layer for a unit shock to ``firm``.

        The exposure of supplier i to payer j is what j still owes i under its commitments;
        equity is each firm's book equity.

        Returns:
            (E,) equity lost by the other firms (USD bn) and (E, F) each firm's distress.
        """
        s = self.sheets
        xp = s.xp
        k = self.firm_names.index(firm)
        exposures = xp.matrix_transpose(self.remaining())  # W[i, j]: supplier i, payer j
        equity = xp.take(s.equity(), self.firms, axis=1)
        mask = np.zeros(len(self.firm_names))
        mask[k] = 1.0
        shock = xp.asarray(mask, dtype=equity.dtype, device=equity.device) + 0.0 * equity
        result = debtrank(exposures, equity, shock, linear=True)
        own = xp.where(equity[:, k] > 0.0, equity[:, k], 0.0)
        return result.loss - own, result.distress
