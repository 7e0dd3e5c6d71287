"""Runs on banks by uninsured depositors and by wholesale creditors outside the model.

Outside creditors judge a bank by its own condition, as they see it (Cipriani, Eisenbach &
Kovner 2024, "Tracing Bank Runs in Real Time", NY Fed Staff Report 1104: the banks run on in
March 2023 had uninsured deposits, unrealised securities losses and weak stock returns). Each
week, per bank, the distress

    d = (max(0, 1 − CET1_market / minimum) + a_loss · clip(L − L_region, 0, 1)) · (1 + a_peer · F)

adds three signals (``[banks.liquidity]``):

- **Market-value capital**: CET1 at market value, with the unrealised losses on securities held
  to maturity that regulatory capital leaves out (:meth:`abm.constraints.BankCapital.htm_addback`),
  against the regulatory CET1 minimum (4.5%): SVB's depositors saw the HTM losses that its CET1
  ratio did not show, and that left its capital at market value about nil (about 15 bn of
  unrealised losses on held-to-maturity securities against about 16 bn of equity at the end of
  2022, SVB Financial Group's 2022 annual report as widely reported; not re-read here).
  Depositors ask whether a bank would be solvent at market value, not whether it meets its own
  capital target: in 2008 the largest US banks gained deposits while their capital fell (Bank of
  America about +90 bn and JPMorgan +60 bn in the third quarter; a WSJ chart via Reuters, 16 Oct
  2008, secondary), and the banks run on (IndyMac, Washington Mutual, Wachovia) were those that
  lost money faster than their peers, the loss signal below. Measured against the CET1 target
  (US 13.4%, EU 16.3%; until 2026-12-07) the signal ran the largest US banks at up to 7% of their
  deposits a week in the tail of ``severe_ai_bust`` while their capital still met its buffer.
- **Recent losses** ``L``: net income (``state.banks.net_income``, written by the earnings rule
  earlier in the week) averaged over a quarter, annualised, when negative, over equity, beyond
  the region's banks' losses over their equity taken together. Depositors compare a bank with
  its peers: a loss that every bank reports tells them about the economy, not about their bank,
  and in 2007-09 deposits flowed into the banking system and from the weaker banks to the
  stronger ones (Acharya & Mora 2015, "A Crisis of Banks as Liquidity Providers", J. Finance
  70(1)). SVB's loss of 8 March 2023 was its own.
- **Failures of similar banks** ``F``: the share of the bank's region's banking assets (at the
  start) in banks that have failed and were not rescued. It amplifies a bank's own weakness and
  does not create one: in March 2023 the runs that followed SVB hit banks with uninsured
  deposits and unrealised losses (Cipriani et al.), not sound ones. (Added rather than
  multiplied, a failure of thin banks pushed every sound peer past the calm point, and the
  whole region failed within a quarter after a 15% fall of Treasury prices.)

**Deposits.** Uninsured depositors leave at a weekly share ``w = w_max · ramp(d; θ, σ) + shock`` of
the bank's uninsured deposits, where ``ramp`` is the logistic ``1 / (1 + exp(−(d − θ)/σ))`` rescaled
so that it is 0 up to a calm point ``θ − 2σ`` (0.3: a bank whose market-value capital is above
70% of the minimum, 3.15% of RWA, and that loses no faster than its peers keeps its depositors)
and tends to 1 (``[banks.behaviour]``). ``w_max`` = 0.746 is
SVB's 24% on its first day as a constant daily hazard over the five business days of a model week,
``1 − (1 − 0.24)^5`` (:func:`abm.stablecoins.weekly_run_share`): an SVB-like bank (uninsured share
0.9, market-value capital wiped out, ``d`` ≈ 1) loses 0.74 × 0.9 = 0.67 of its deposits in its first
week, 0.21 a day at the same hazard, about SVB's 24% on 9 March 2023 (its 81% over two days, with
the 100 bn queued for 10 March, was faster still). ``shock`` is :attr:`BankRuns.outflow_shock`, an
extra share that scenario shocks set. The share of deposits that is uninsured comes from the banks'
data, times the ``deposit_insurance`` lever (0 insures everything). The uninsured deposits are a
stock that the run depletes (:meth:`BankRuns.uninsured_classes`): insured depositors do not run, so
a bank run on for weeks loses at most its uninsured deposits and keeps its insured ones (SVB's
depositors asked for 81% of its deposits in two days: nearly all its uninsured ones). Deposits that
arrive later come at the data's uninsured share; deposits that leave otherwise take the bank's
present mix. With named counterparties (:mod:`abm.exposures`) the run drains the bank that holds the
deposits: it pays them out pro rata to all its depositors, those outside the model and the retail
cohorts and stablecoin issuers whose money is there, who receive the cash; with pooled deposits the
depositors outside the model leave.

**Flight to quality.** Runners move part of their money to banks nobody runs from, the same week: a
share ``q`` (``[banks.behaviour] run_redeposit_share``) of what each of the model's depositors (the
retail cohorts, the stablecoin issuers) is paid out goes back into its deposits at its own calm
banks, in proportion to what it holds there (none where it holds nothing at a calm bank), and ``q``
of what the depositors outside the model take from a region's banks goes to that region's calm
banks in proportion to their deposits; the rest stays cash or leaves the banking system
(money-market funds, Treasury bills). The money that arrives is uninsured. In the week of the runs
of March 2023 the small US banks lost 107.8 bn of deposits while the 25 largest gained 119.8 bn
(H.8, week to 15 March, not seasonally adjusted) and money-market funds about 120 bn (ICI); in
2007–09 deposits flowed from weaker banks to stronger ones (Acharya & Mora 2015).

**Wholesale funding.** A share ``v = v_max · ramp(d; θ_w, σ_w)`` of each bank's wholesale face
held outside the model is not rolled over this week; wholesale creditors run earlier than
depositors (``θ_w`` < ``θ``: Huang & Ratnovski 2011, J. Financial Intermediation 20(2)) and at
most ``v_max`` = 0.2 a week, the short-term half of banks' non-deposit debt leaving about as fast
as Bear Stearns' repo lenders in March 2008 (FCIC 2011, ch. 15). Hedge funds' borrowing in the
same pool is left alone.

**Aggregates of many banks.** Two US agents stand for many banks each (the large regionals ranked
7 to 25, the community banks and credit unions), and a run on an aggregate is the runs on its
weakest members, not a run on all of them at its average distress. An aggregate's uninsured
deposits are spread over :data:`MEMBER_CLASSES` classes of members, a twentieth each at the
start; a class's distress is the aggregate's ``d`` times its multiplier, the mean of
``exp(σ z − σ²/2)`` (z standard normal, mean 1) over the class's slice of z
(:func:`member_distress_scale`), and each class runs and is depleted by the rule above on its
own. At a moderate ``d`` the worst members lose their uninsured deposits within weeks and the
run stops there, while the sound majority keeps theirs; at an extreme ``d`` most classes run.
``σ`` (``[banks.us.agents.<name>] member_distress_dispersion``) comes from the banks that failed
in 2009–11 (297 bn of assets, nearly all small banks, a few percent of the assets outside the
largest banks): they lost about 30% of their assets (their equity and the deposit insurer's cost
of 21–25% of their assets) when the industry lost about 4% (net charge-offs of about 6.3% of
loans over 2008–10), about eight times the average; a lognormal with σ = 1.4 puts the mean of
its worst 5% at 8.1 times its mean. A named bank (no dispersion) has every class at 1: the rule
above. Arrivals are spread over the classes equally, departures other than the run take each
class's present share. The aggregates' wholesale funding (mostly Federal Home Loan Bank
advances) runs on the aggregate's own ``d``: the home-loan banks lent more to their members in
trouble, not less (SVB, Signature and First Republic raised their advances by 37–50% in the
first two weeks of March 2023, GAO-24-106957).

A bank pays both runs in cash; its cash may turn negative, and the fire sale then makes it sell
until it is not, unless the lender of last resort lends it the cash first (:mod:`abm.backstops`).
``state.withdrawals`` records the depositors' run. Channel ``bank_runs`` switches both runs off.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from abm.calibration import Calibration
from abm.claims import debt_owed
from abm.constraints import BankCapital
from abm.ledger import BilateralPool, Ledger
from abm.policy import Policy
from abm.state import REGIONS, WorldState
from kernels.backend import segment_sum, to_numpy

#: below ``θ − CALM_WIDTHS·σ`` (and at no distress) nobody runs: 0.3 for deposits and wholesale
#: funding: market-value capital at 70% of the CET1 minimum, at a bank losing no more than its peers
CALM_WIDTHS = 2.0

#: classes of members an aggregate bank's uninsured deposits are spread over, of equal shares at
#: the start: a twentieth each, so the worst class is the worst 5% of the members
MEMBER_CLASSES = 20


def member_distress_scale(dispersion: np.ndarray, classes: int = MEMBER_CLASSES) -> np.ndarray:
    """(B, K) host: each class's distress over its bank's, for banks of ``dispersion`` σ (B,).

    Members' distress is the bank's times ``exp(σ z − σ²/2)``, z standard normal (mean 1). Class
    k holds the members between the k/K and (k+1)/K quantiles of z, and its multiplier is that
    slice's mean, ``K·(Φ(z_{k+1} − σ) − Φ(z_k − σ))``, so the classes' mean is exactly 1 and the
    worst class is the last. A bank with σ = 0 (one bank, not an aggregate) has every class at 1.
    """
    normal = NormalDist()
    cuts = [normal.inv_cdf(k / classes) for k in range(1, classes)]
    scale = np.ones((len(dispersion), classes))
    for b, sigma in enumerate(np.asarray(dispersion, dtype=float)):
        if sigma > 0.0:
            below = np.array([0.0, *(normal.cdf(z - sigma) for z in cuts), 1.0])
            scale[b] = classes * np.diff(below)
    return scale


def ramp(xp: Any, distress: Any, threshold: float, width: float) -> Any:
    """The logistic ``1/(1 + exp(−(d − θ)/σ))`` rescaled to 0 at the calm point and 1 at d → ∞.

    The calm point is ``d₀ = max(0, θ − 2σ)`` (:data:`CALM_WIDTHS`): below it the share is 0.
    """
    calm = 1.0 / (1.0 + math.exp(min(threshold / width, CALM_WIDTHS)))  # the logistic at d₀
    panic = 1.0 / (1.0 + xp.exp(-(distress - threshold) / width))
    return xp.maximum(panic - calm, 0.0) / (1.0 - calm)


def pay_out_deposits(ledger: Ledger, run: Any) -> None:
    """Banks pay ``run`` (E, B) USD bn of deposits out in cash to the depositors who leave.

    With named deposits (:class:`abm.ledger.BilateralPool`) each bank pays all its own
    depositors pro rata: those outside the model and the retail cohorts and stablecoin issuers
    whose money is there, who receive the cash. With pooled deposits the depositors outside the
    model leave (the savers in the model own a share of every bank and do not run).
    """
    if isinstance(ledger.pools["deposits"], BilateralPool):
        ledger.repay("deposits", run)
    else:
        ledger.withdraw_outside("deposits", run)


class BankRuns:
    """The weekly run of outside depositors and wholesale creditors on banks in distress (rule).

    Attributes:
        outflow_shock: (E, B) extra weekly share of uninsured deposits that leaves whatever the
            bank's condition (0 normally; scenario shocks set it).
        uninsured_share: (B,) share of each bank's deposits that is uninsured, from the data.
        member_scale: (B, K) each member class's distress over its bank's (1 for a named bank).
        uninsured_by_class: (E, B, K) USD bn of uninsured deposits of each member class after
            last week's run (:attr:`uninsured` is their sum).
        income_rate: (E, B) net income a year, averaged over ``loss_window_weeks``.
        distress: (E, B) this week's distress ``d``.
        last_runoff: (E, N) wholesale funding not rolled over this week (USD bn).
        redeposits: (E, B) USD bn of this week's runners deposited again at each calm bank.
    """

    def __init__(
        self,
        cal: Calibration,
        capital: BankCapital,
        bank_params: dict,
        policy: Policy,
        enabled: bool = True,
    ) -> None:
        sheets = capital.sheets
        xp = sheets.xp
        dtype, dev = sheets.prices.dtype, sheets.prices.device
        self.capital = capital
        self.enabled = enabled
        self.uninsured_share = xp.asarray(
            bank_params["uninsured_share"] * policy.deposit_insurance, dtype=dtype, device=dev
        )
        b, q = "banks.behaviour", "banks.liquidity"
        self.run_max = float(cal.model_value(f"{b}.uninsured_run_max_share_per_week"))
        self.run_threshold = float(cal.model_value(f"{b}.run_distress_threshold"))
        self.run_width = float(cal.model_value(f"{b}.run_distress_width"))
        self.loss_weight = float(cal.model_value(f"{q}.run_loss_weight"))
        self.peer_weight = float(cal.model_value(f"{q}.run_peer_failure_weight"))
        self.loss_weeks = float(cal.model_value(f"{q}.loss_window_weeks"))
        self.wholesale_max = float(cal.model_value(f"{q}.wholesale_run_max_share_per_week"))
        self.wholesale_threshold = float(cal.model_value(f"{q}.wholesale_run_distress_threshold"))
        self.wholesale_width = float(cal.model_value(f"{q}.wholesale_run_distress_width"))
        self.redeposit_share = float(cal.model_value(f"{b}.run_redeposit_share"))
        dispersion = capital.own_or_region(
            cal, "member_distress_dispersion", np.zeros(len(REGIONS))
        )
        self.member_scale = xp.asarray(member_distress_scale(dispersion), dtype=dtype, device=dev)
        # each bank's weight in its region's banking assets at the start, as (B, R) columns
        size = np.asarray(to_numpy(sheets.total_assets()))[0, np.asarray(to_numpy(capital.banks))]
        onehot = np.eye(len(REGIONS))[capital.regions]
        weights = onehot * (size / np.maximum(onehot.T @ size, 1e-12)[capital.regions])[:, None]
        self.region_weights = xp.asarray(weights, dtype=dtype, device=dev)
        zeros = xp.take(sheets.ledger.cash, capital.banks, axis=1) * 0.0
        self.outflow_shock = zeros * 1.0
        self.income_rate = zeros * 1.0
        self.distress = zeros * 1.0
        self.last_runoff = sheets.ledger.cash * 0.0
        self.redeposits = zeros * 1.0
        face = sheets.ledger.pools["deposits"].face
        each = xp.ones_like(self.member_scale) / self.member_scale.shape[-1]  # (B, K) 1/K each
        self.uninsured_by_class = (face * self.uninsured_share)[:, :, None] * each
        self.face_after_run = face * 1.0  # (E, B) USD bn of deposits after last week's run

    @property
    def uninsured(self) -> Any:
        """(E, B) USD bn of uninsured deposits after last week's run, all classes together."""
        return self.capital.sheets.xp.sum(self.uninsured_by_class, axis=-1)

    def report(self, books: Any) -> dict[str, Any]:
        """Snapshot, per bank on the agent axis (E, N).

        ``run_distress``: this week's distress ``d``; ``wholesale_runoff``: the wholesale funding
        not rolled over this week (USD bn); ``run_redeposits``: the runners' deposits each calm
        bank received this week (USD bn).
        """
        return {
            "run_distress": books.per_bank(self.distress),
            "wholesale_runoff": self.last_runoff,
            "run_redeposits": books.per_bank(self.redeposits),
        }

    def measure_distress(self, state: WorldState) -> Any:
        """(E, B) each bank's distress ``d`` as outside creditors see it (module docstring).

        Updates the quarter's average of net income with this week's.
        """
        s = state.sheets
        xp = s.xp
        cap = self.capital
        banks = cap.banks
        assets, debt = s.total_assets(), debt_owed(s)
        market = xp.take(cap.cet1_ratios(assets, debt), banks, axis=1)
        shortfall = xp.maximum(1.0 - market / cap.cet1_minimum, 0.0)
        self.income_rate = (
            self.income_rate + (52.0 * state.banks.net_income - self.income_rate) / self.loss_weeks
        )
        equity = xp.take(assets - debt, banks, axis=1)
        failed = xp.astype(xp.take(state.defaulted, banks, axis=1), assets.dtype)
        losing = xp.maximum(-self.income_rate, 0.0)
        losses = xp.where(equity > 0.0, losing / xp.where(equity > 0.0, equity, 1.0), 1.0)
        losses = xp.where(losing > 0.0, losses, 0.0)  # a bank that is not losing: no signal
        # against the peers: the region's alive banks' losses over their equity, all together
        live = 1.0 - failed
        region_loss = (losing * live) @ self.capital.region_onehot
        region_equity = (xp.maximum(equity, 0.0) * live) @ self.capital.region_onehot
        typical = region_loss / xp.where(region_equity > 0.0, region_equity, 1.0)
        losses = xp.clip(losses - self.capital.at_banks(typical), 0.0, 1.0)
        peers = self.capital.at_banks(failed @ self.region_weights)  # (E, B)
        return (shortfall + self.loss_weight * losses) * (1.0 + self.peer_weight * peers)

    def uninsured_classes(self, face: Any) -> Any:
        """(E, B, K) USD bn of uninsured deposits per member class now, before this week's run.

        Deposits that came in since last week's run are uninsured at the bank's data share,
        spread over the classes equally; deposits that went out other than by the run take each
        class's present share of the bank's deposits. Their sum never exceeds the deposits.
        """
        xp = self.capital.sheets.xp
        held = self.face_after_run
        change = (face - held)[:, :, None]
        mix = self.uninsured_by_class / xp.where(held > 0.0, held, 1.0)[:, :, None]
        arriving = self.uninsured_share[:, None] / self.member_scale.shape[-1]  # (B, 1)
        moved = xp.where(change > 0.0, arriving, mix) * change
        classes = xp.maximum(self.uninsured_by_class + moved, 0.0)
        total, cap = xp.sum(classes, axis=-1), xp.maximum(face, 0.0)
        over = xp.where(total > cap, cap / xp.where(total > 0.0, total, 1.0), 1.0)
        return classes * over[:, :, None]

    def _outside_share(self, deposits: Any) -> Any:
        """(E, B) share of each bank's deposits held by depositors outside the model.

        With pooled deposits the run is paid to them alone (:func:`pay_out_deposits`): 1.
        """
        if not isinstance(deposits, BilateralPool):
            return 1.0
        xp = self.capital.sheets.xp
        face = deposits.face
        return deposits.outside_face / xp.where(face > 0.0, face, 1.0)

    def redeposit(self, ledger: Ledger, fled: Any, paid: Any, calm: Any) -> Any:
        """Deposit ``q`` of the runners' money again at calm banks; (E, B) USD bn each received.

        ``fled`` (E, B): the deposits outside depositors took from each bank this week; ``paid``
        (E, N): the cash each of the model's agents was paid by the run; ``calm`` (E, B): the
        alive banks nobody runs from (module docstring, "Flight to quality").
        """
        xp = ledger.xp
        cap = self.capital
        deposits = ledger.pools["deposits"]
        face = deposits.face * 1.0
        if isinstance(deposits, BilateralPool):
            got = xp.take(xp.maximum(paid, 0.0), deposits.holders, axis=1)
            ledger.subscribe("deposits", self.redeposit_share * got, only=calm)
        weight = xp.where(calm, xp.maximum(face, 0.0), 0.0)
        region_weight = cap.at_banks(weight @ cap.region_onehot)
        region_fled = cap.at_banks(fled @ cap.region_onehot)
        share = weight / xp.where(region_weight > 0.0, region_weight, 1.0)
        ledger.lend_outside("deposits", self.redeposit_share * region_fled * share)
        return deposits.face - face

    def step(self, state: WorldState) -> None:
        """Depositors and wholesale creditors leave distressed banks, paid in cash.

        ``state.withdrawals`` records the depositors' run, :attr:`last_runoff` the wholesale one.
        """
        s = state.sheets
        xp, ledger = s.xp, s.ledger
        banks = self.capital.banks
        n = ledger.cash.shape[-1]
        self.distress = self.measure_distress(state)
        alive = ~xp.take(state.defaulted, banks, axis=1) & self.enabled
        classes = self.distress[:, :, None] * self.member_scale  # (E, B, K)
        share = self.run_max * ramp(xp, classes, self.run_threshold, self.run_width)
        share = xp.clip(share + self.outflow_shock[:, :, None], 0.0, 1.0)
        deposits = ledger.pools["deposits"]
        uninsured = self.uninsured_classes(deposits.face)
        run_by_class = xp.where(alive[:, :, None], uninsured * share, 0.0)
        run = xp.sum(run_by_class, axis=-1)
        fled = run * self._outside_share(deposits)
        before = ledger.cash
        pay_out_deposits(ledger, run)
        state.withdrawals = before - ledger.cash
        calm = alive & (xp.max(share, axis=-1) <= 0.0)
        self.redeposits = self.redeposit(ledger, fled, -state.withdrawals, calm)
        arrived = self.redeposits[:, :, None] / self.member_scale.shape[-1]  # equally to each
        self.uninsured_by_class = uninsured - run_by_class + arrived
        self.face_after_run = deposits.face * 1.0
        runoff = self.wholesale_max * ramp(
            xp, self.distress, self.wholesale_threshold, self.wholesale_width
        )
        runoff = segment_sum(xp.where(alive, runoff, 0.0), banks, n)  # 0 for hedge funds
        wholesale = ledger.pools["wholesale"]
        before = ledger.cash
        ledger.withdraw_outside(
            "wholesale", wholesale.face * xp.take(runoff, wholesale.issuers, axis=1)
        )
        self.last_runoff = before - ledger.cash
