"""A structured log of what happened, found by comparing one step's snapshot with the last.

Every event is a row: ``step``, ``world``, ``agent`` (its key), ``label``, ``family``, ``kind``,
``event``, ``amount_usd_bn``, ``cause`` and a one-line plain-language ``message`` for the classroom
narrative ("Hedge funds #3 sold $4.1bn of assets (deleveraging)."). Detection is vectorized:
boolean masks over (E, N) and ``np.nonzero``; Python touches only the events found, and only
when :meth:`EventLog.frame` writes their messages.

Events (thresholds in :class:`Thresholds`):

- ``default``: an agent failed this step. Amount: its liabilities. Cause, from the rule that
  recorded the failure (``default_cause``, :data:`abm.state.CAUSES`): ``covenant breach`` for a
  data-centre SPV whose collateral fell below its loan-to-value limit or whose rent missed its
  debt service, uncured by its sponsor; ``could not pay its creditors`` when the clearing of
  failures left it short; in the market clearing ``could not pay what was due`` when its cash is
  negative, else ``equity exhausted``; ``contract arrears`` for a payer that left its
  full-size contract payments unpaid four weeks in a row (:mod:`abm.deals`).
- ``fire_sale``: an agent sold assets into the market for more than a threshold and more than
  a share of its total assets (routine weekly selling to pay bills or withdrawals stays out).
  Amount: the proceeds. Cause: ``default sell-off`` (it is defaulted), ``deleveraging`` (the
  proceeds went to repay debt: its liabilities fell, beyond deposit runs and redemptions, by at
  least half of them: bank deleveraging, hedge-fund margin calls) or ``liquidity`` (raising cash
  it had to pay: runs, redemptions, bills).
- ``bank_run``: depositors withdrew more than a share of a bank's total assets in one week.
- ``bond_issue`` and ``credit_drawn``: a tech firm raised more than a threshold in new bonds, or
  drew it on bank credit lines, to cover its funding gap.
- ``depeg``: a stablecoin's recoverable value per token fell below a threshold (0.99) this step.
  Amount: the reserve shortfall (liabilities − assets).
- ``stablecoin_run``: holders asked to redeem more than a share of a coin's supply in one week.
  Amount: the redemptions paid (nothing while the issuer cannot pay); detail: the share asked.
- ``lolr_loan`` and ``bailout``: the central bank lent to a bank short of cash, or the government
  recapitalised a failing systemic bank (amount: the loan or the capital injected).
- ``downgrade`` and ``upgrade``: an agency moved a tech firm's rating (:mod:`abm.ratings`).
  Detail: the new notch. A fall below investment grade (cause ``fell below investment grade``)
  carries as amount the firm's bonds that IG-constrained holders were forced to sell.
- ``warrant_vesting``: a tranche of a warrant vested and was exercised (:mod:`abm.warrants`:
  the holder's GPU deployments and the issuer's share price reached the tranche's targets).
  Amount: the value of the shares the holder received, at the diluted price.
- ``buffer_breach``: a bank's CET1 ratio fell below its buffer (minimum plus the combined buffer:
  payouts stop and lending shrinks). Amount: the capital it is short of the buffer; detail: the
  ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from abm.ratings import LAST_IG, rating_text
from abm.state import CAUSES as STATE_CAUSES

if TYPE_CHECKING:
    from abm.model import Powderkeg

#: Column order of :meth:`EventLog.frame`.
COLUMNS = (
    "step",
    "world",
    "agent",
    "label",
    "family",
    "kind",
    "event",
    "amount_usd_bn",
    "cause",
    "message",
)

EVENTS = (
    "default",
    "fire_sale",
    "bank_run",
    "bond_issue",
    "credit_drawn",
    "depeg",
    "stablecoin_run",
    "lolr_loan",
    "bailout",
    "downgrade",
    "upgrade",
    "buffer_breach",
    "warrant_vesting",
)

CAUSES = (
    "could not pay what was due",
    "equity exhausted",
    "default sell-off",
    "deleveraging",
    "liquidity",
    "uninsured depositors withdrew",
    "funding gap",
    "reserves short of tokens",
    "holders redeemed",
    "solvent but short of cash",
    "capital below the minimum",
    "fell below investment grade",
    "credit metrics changed",
    "covenant breach",
    "could not pay its creditors",
    "capital below its buffer",
    "contract arrears",
    "deployment and share-price targets met",
)
_DEFAULT_SHORT, _DEFAULT_EQUITY, _SALE_DEFAULT, _SALE_DELEVER, _SALE_LIQUIDITY = range(5)
_RUN, _GAP, _RESERVES = 5, 6, 7
_REDEEMED, _ILLIQUID, _UNDERCAPITALISED = 8, 9, 10
_COVENANT, _CLEARING, _BELOW_BUFFER, _ARREARS, _VESTED = 13, 14, 15, 16, 17


@dataclass(frozen=True)
class Thresholds:
    """What is big enough to log.

    Attributes:
        fire_sale_usd_bn: smallest sale proceeds logged (USD bn in a week).
        fire_sale_share: smallest sale logged, as a share of the seller's total assets at the
            start of the week (retail cohorts sell about 0.1% a week in calm weather).
        run_share: smallest weekly deposit withdrawal logged, as a share of the bank's total
            assets (the model's calm-weather outflow is far below 0.1%).
        financing_usd_bn: smallest bond issue or credit drawing logged (USD bn in a week;
            the largest hyperscalers raise a few billion in most weeks of the baseline).
        peg: a stablecoin whose peg falls below this from at or above it is logged.
        redemption_share: smallest weekly redemptions logged, as a share of a coin's supply.
        backstop_usd_bn: smallest central-bank loan or public recapitalisation logged (USD bn).
    """

    fire_sale_usd_bn: float = 0.25
    fire_sale_share: float = 0.01
    run_share: float = 0.005
    financing_usd_bn: float = 5.0
    peg: float = 0.99
    redemption_share: float = 0.05
    backstop_usd_bn: float = 0.1


class EventLog:
    """Events of one model, world by world, found after each step.

    Create it before the first step (it remembers the snapshot it starts from) and call
    :meth:`update` after every step.

    Args:
        model: the model to watch.
        thresholds: what is big enough to log (defaults of :class:`Thresholds`).
    """

    def __init__(self, model: Powderkeg, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        roster = model.roster
        self.names = np.asarray(roster.names, dtype=object)
        self.labels = np.asarray(roster.labels, dtype=object)
        self.family = np.asarray(roster.family, dtype=object)
        self.kind = np.asarray(roster.kind, dtype=object)
        self.blocks = {f: slice(*b) for f, b in roster.blocks.items()}
        self._chunks: list[dict[str, np.ndarray]] = []
        self._remember(model.snapshot)

    def _remember(self, snap: dict[str, np.ndarray]) -> None:
        # copies: the model may reuse its arrays
        self._defaulted = np.array(snap["defaulted"], dtype=bool)
        self._liabilities = np.array(snap["liabilities"], dtype=float)
        self._assets = np.array(snap["total_assets"], dtype=float)
        self._peg = np.array(snap["peg"], dtype=float)
        self._notch = np.array(snap.get("rating_notch", np.full_like(self._peg, -1.0)), float)
        self._cet1 = np.array(snap["cet1_ratio"], dtype=float)

    def _add(
        self,
        step: int,
        event: int,
        world: np.ndarray,
        agent: np.ndarray,
        amount: np.ndarray,
        cause: np.ndarray | int,
        detail: np.ndarray | None = None,
    ) -> None:
        if world.size == 0:
            return
        n = world.size
        self._chunks.append(
            {
                "step": np.full(n, step, dtype=np.int64),
                "world": world.astype(np.int64),
                "agent_row": agent.astype(np.int64),
                "event_code": np.full(n, event, dtype=np.int64),
                "amount": np.asarray(amount, dtype=float),
                "cause_code": np.broadcast_to(np.asarray(cause, dtype=np.int64), (n,)).copy(),
                "detail": np.full(n, np.nan) if detail is None else np.asarray(detail, float),
            }
        )

    def update(self, model: Powderkeg) -> None:
        """Log what changed between the snapshot seen last and the model's current one."""
        snap, t = model.snapshot, self.thresholds
        step = int(model.steps)
        defaulted = np.asarray(snap["defaulted"], dtype=bool)
        cash, liabilities = snap["cash"], snap["liabilities"]
        assets = snap["total_assets"]

        # new defaults
        w, i = np.nonzero(defaulted & ~self._defaulted)
        short = cash[w, i] < 0.0
        rule = snap["default_cause"][w, i]  # the rule that recorded it (abm.state.CAUSES)
        cause = np.where(short, _DEFAULT_SHORT, _DEFAULT_EQUITY)
        cause = np.where(rule == 1 + STATE_CAUSES.index("covenant"), _COVENANT, cause)
        cause = np.where(rule == 1 + STATE_CAUSES.index("clearing"), _CLEARING, cause)
        cause = np.where(rule == 1 + STATE_CAUSES.index("arrears"), _ARREARS, cause)
        self._add(step, 0, w, i, liabilities[w, i], cause)

        # fire sales: why did the seller sell?
        proceeds = snap["sale_proceeds"]
        big = proceeds > np.maximum(t.fire_sale_usd_bn, t.fire_sale_share * self._assets)
        w, i = np.nonzero(big)
        if w.size:
            paid_out = snap["run_withdrawals"][w, i]
            if "redemptions_paid" in snap:
                paid_out = paid_out + snap["redemptions_paid"][w, i]
            repaid = self._liabilities[w, i] - liabilities[w, i] - paid_out
            cause = np.where(
                defaulted[w, i],
                _SALE_DEFAULT,
                np.where(repaid >= 0.5 * proceeds[w, i], _SALE_DELEVER, _SALE_LIQUIDITY),
            )
            self._add(step, 1, w, i, proceeds[w, i], cause)

        # bank runs
        banks = self.blocks["bank"]
        withdrawn = snap["run_withdrawals"][:, banks]
        w, k = np.nonzero(withdrawn > t.run_share * np.maximum(assets[:, banks], 0.0))
        i = k + banks.start
        self._add(step, 2, w, i, withdrawn[w, k], _RUN, snap["cet1_ratio"][w, i])

        # financing of tech firms
        firms = self.blocks["firm"]
        for event, key in ((3, "bonds_issued"), (4, "credit_drawn")):
            raised = snap[key][:, firms]
            w, k = np.nonzero(raised > t.financing_usd_bn)
            self._add(step, event, w, k + firms.start, raised[w, k], _GAP)

        # stablecoins losing their peg
        coins = self.blocks["stablecoin"]
        peg = snap["peg"][:, coins]
        w, k = np.nonzero((peg < t.peg) & (self._peg[:, coins] >= t.peg))
        i = k + coins.start
        shortfall = np.maximum(liabilities[w, i] - assets[w, i], 0.0)
        self._add(step, 5, w, i, shortfall, _RESERVES, peg[w, k])

        if "redemption_share" in snap:  # stablecoin runs and the public backstops
            share = snap["redemption_share"][:, coins]
            w, k = np.nonzero(share > t.redemption_share)
            i = k + coins.start
            self._add(step, 6, w, i, snap["redemptions_paid"][w, i], _REDEEMED, share[w, k])
            for event, key, cause in ((7, "lolr_lent", _ILLIQUID),
                                      (8, "bailout_injection", _UNDERCAPITALISED)):  # fmt: skip
                w, i = np.nonzero(snap[key] > t.backstop_usd_bn)
                self._add(step, event, w, i, snap[key][w, i], cause)

        if "rating_notch" in snap:  # rating changes of tech firms (abm.ratings)
            self._rating_changes(step, snap)

        if "cet1_buffer" in snap:  # banks falling below their capital buffer (abm.bank_earnings)
            ratio, buffer = snap["cet1_ratio"][:, banks], snap["cet1_buffer"][:, banks]
            crossed = (ratio < buffer) & (self._cet1[:, banks] >= buffer) & ~defaulted[:, banks]
            w, k = np.nonzero(crossed)
            i = k + banks.start
            short = (buffer[w, k] - ratio[w, k]) * snap["risk_weighted_assets"][w, i]
            self._add(step, EVENTS.index("buffer_breach"), w, i, short, _BELOW_BUFFER, ratio[w, k])

        if "warrant_shares_received" in snap:  # warrant tranches vesting (abm.warrants)
            received = snap["warrant_shares_received"]
            w, i = np.nonzero(received > 0.0)
            self._add(step, EVENTS.index("warrant_vesting"), w, i, received[w, i], _VESTED)

        self._remember(snap)

    def _rating_changes(self, step: int, snap: dict[str, np.ndarray]) -> None:
        """Downgrades (fallen angels with the forced sales they caused) and upgrades."""
        notch, before = snap["rating_notch"], self._notch
        rated = (notch >= 0.0) & (before >= 0.0)
        for event, moved in (("downgrade", notch > before), ("upgrade", notch < before)):
            w, i = np.nonzero(rated & moved)
            fallen = (before[w, i] <= LAST_IG) & (notch[w, i] > LAST_IG)
            cause = np.where(
                fallen,
                CAUSES.index("fell below investment grade"),
                CAUSES.index("credit metrics changed"),
            )
            sold = snap["fallen_angel_sales"][w, i]
            self._add(step, EVENTS.index(event), w, i, sold, cause, notch[w, i])

    def __len__(self) -> int:
        """Events logged so far."""
        return sum(c["step"].size for c in self._chunks)

    def frame(self) -> pd.DataFrame:
        """All events so far, ordered by step, world and event type (see :data:`COLUMNS`)."""
        if not self._chunks:
            empty = {c: pd.Series(dtype=object) for c in COLUMNS}
            for c in ("step", "world"):
                empty[c] = pd.Series(dtype=np.int64)
            empty["amount_usd_bn"] = pd.Series(dtype=float)
            return pd.DataFrame(empty)
        data = {k: np.concatenate([c[k] for c in self._chunks]) for k in self._chunks[0]}
        order = np.lexsort((data["event_code"], data["world"], data["step"]))
        data = {k: v[order] for k, v in data.items()}
        row = data["agent_row"]
        events = np.asarray(EVENTS, dtype=object)[data["event_code"]]
        causes = np.asarray(CAUSES, dtype=object)[data["cause_code"]]
        labels = self.labels[row]
        frame = pd.DataFrame(
            {
                "step": data["step"],
                "world": data["world"],
                "agent": self.names[row],
                "label": labels,
                "family": self.family[row],
                "kind": self.kind[row],
                "event": events,
                "amount_usd_bn": data["amount"],
                "cause": causes,
            }
        )
        frame["message"] = [
            _message(e, lab, a, c, d)
            for e, lab, a, c, d in zip(
                events, labels, data["amount"], causes, data["detail"], strict=True
            )
        ]
        return frame


def usd(amount_bn: float) -> str:
    """A USD amount given in billions, readable: ``$1.2tn``, ``$4.1bn``, ``$250m``."""
    a = abs(amount_bn)
    sign = "-" if amount_bn < 0 else ""
    if a >= 1000.0:
        return f"{sign}${a / 1000.0:,.1f}tn"
    if a >= 1.0:
        return f"{sign}${a:,.1f}bn"
    return f"{sign}${a * 1000.0:,.0f}m"


def _message(event: str, label: str, amount: float, cause: str, detail: float) -> str:
    """One plain-language line for an event."""
    if event == "default":
        why = {
            CAUSES[_DEFAULT_SHORT]: "it could not pay what was due",
            CAUSES[_COVENANT]: "it breached its loan covenants and its sponsor did not cure them",
            CAUSES[_CLEARING]: "it could not pay its creditors in full once failures were cleared",
            CAUSES[_ARREARS]: "it left its contract payments unpaid for four weeks",
        }.get(cause, "its equity was exhausted")
        return f"{label} defaulted on {usd(amount)} of liabilities: {why}."
    if event == "fire_sale":
        return f"{label} sold {usd(amount)} of assets ({cause})."
    if event == "bank_run":
        return (
            f"Uninsured depositors withdrew {usd(amount)} from {label} in one week "
            f"(CET1 ratio {detail:.1%})."
        )
    if event == "bond_issue":
        return f"{label} issued {usd(amount)} of new bonds to cover its funding gap."
    if event == "credit_drawn":
        return f"{label} drew {usd(amount)} on its bank credit lines to cover its funding gap."
    if event == "stablecoin_run":
        return (
            f"Holders asked to redeem {detail:.0%} of {label}'s supply in one week; "
            f"it paid {usd(amount)}."
        )
    if event == "lolr_loan":
        return f"The central bank lent {usd(amount)} to {label}: {cause}."
    if event == "bailout":
        return f"The government put {usd(amount)} of capital into {label}: {cause}."
    if event == "buffer_breach":
        return (
            f"{label}'s CET1 ratio fell to {detail:.1%}, below its buffer: it is {usd(amount)} "
            "short, stops paying dividends and lends less."
        )
    if event == "warrant_vesting":
        return (
            f"A warrant tranche vested: {label} received {usd(amount)} of shares, "
            "its GPU deployments and the issuer's share price having reached the targets."
        )
    if event in ("downgrade", "upgrade"):
        line = f"{label} {event}d to {rating_text(detail)}"
        if cause == "fell below investment grade":
            return (
                f"{line}, below investment grade: insurers, pension funds and bond funds "
                f"limited to investment grade must sell {usd(amount)} of its bonds."
            )
        return f"{line} as its debt / EBITDA moved."
    return (
        f"{label} lost its peg: each token is now worth ${detail:.3f} "
        f"(reserves {usd(amount)} short of tokens)."
    )


__all__ = ["CAUSES", "COLUMNS", "EVENTS", "EventLog", "Thresholds", "usd"]
