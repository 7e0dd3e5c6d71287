"""Securitisation of data-centre SPV loans into ABS sold to insurers and bond funds.

The banks that lent to the SPVs (JPMorgan-led construction loans for Stargate and Abilene, the
GPU loan for Colossus 2) can originate to distribute: they sell part of the loans into
asset-backed securities, and the loans' risk moves to the ABS buyers (seed 004: securitisation
"not yet on a large scale"; seed 000: tranching; BofA, Aug 2025: ~USD 49 bn of data-centre loans
securitised). :func:`securitise` does this at the start of a run for a share of every SPV's bank
loans (the ``abs_share_of_spv_loans`` setting, carried by :class:`abm.policy.Policy`):

- the SPV issues that amount as notes of the ``dc_abs`` market (its bond asset from then on),
  so the model's bond rules apply to them: coupons at the SPV's spread paid to the holders, and in
  a default the notes are written down to the recovery and the ``dc_abs`` price falls by the
  lost share of its supply (:mod:`abm.failures`);
- the buyers are the ABS investors the calibration already has — life insurers and bond mutual
  funds, in proportion to the ``dc_abs`` they hold — paying from their cash at par;
- the SPV repays the same amount of its bank loans, so the banks swap the loans for cash.

Nothing is created: the SPV's debt only changes form, the buyers and the banks swap assets at
par. The notes are a pass-through: every holder of ``dc_abs`` shares an SPV's loss pro rata
(senior and junior tranches are not told apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from abm.balance_sheets import BalanceSheets
from kernels.backend import segment_sum, to_numpy

#: the ABS investors that buy the new notes
BUYERS = ("insurer_life", "mutual_bond")


def securitise(sheets: BalanceSheets, share: float) -> float:
    """Sell ``share`` of every SPV's bank loans into ``dc_abs`` notes; return USD bn sold.

    Raises:
        ValueError: ``share`` outside [0, 1].
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"abs_share_of_spv_loans must lie in [0, 1]; got {share}")
    roster = sheets.roster
    spvs = np.array([i for i in roster.indices("firm") if roster.kind[i] == "spv"])
    if share == 0.0 or spvs.size == 0:
        return 0.0
    xp, ledger = sheets.xp, sheets.ledger
    dtype, dev = sheets.prices.dtype, sheets.prices.device
    n = roster.size
    m = sheets.assets.index("dc_abs")
    pool = ledger.pools["bank_loans"]
    rows = xp.asarray(spvs, device=dev)
    owed = xp.take(ledger.owed("bank_loans"), rows, axis=1)  # (E, S)
    sold = owed * share
    borrowers = np.nonzero(to_numpy(owed[0, ...]) > 0.0)[0]
    if borrowers.size and (sheets.bond_asset[spvs[borrowers]] >= 0).any():
        raise ValueError("an SPV with bank loans already has a bond asset; cannot securitise")
    sheets.bond_asset[spvs[borrowers]] = m
    total = xp.sum(sold, axis=-1)  # (E,)
    buyers = np.concatenate([roster.indices("fund", kind) for kind in BUYERS])
    buyer_rows = xp.asarray(buyers, device=dev)
    held = to_numpy(xp.take(sheets.holdings[0, :, m], buyer_rows))
    weights = xp.asarray(held / held.sum(), dtype=dtype, device=dev)
    cost = total[:, None] * weights[None, :]  # (E, B) at par, price 1 at the start
    cash = xp.take(ledger.cash, buyer_rows, axis=1)
    if bool(xp.any(cost > cash)):
        raise ValueError("the ABS buyers' cash does not cover the notes")
    price = sheets.prices[:, m]
    units = (
        xp.zeros_like(sheets.holdings[:, :, m]) + segment_sum(cost, buyer_rows, n) / price[:, None]
    )
    unit = _unit(sheets, m)  # (M,) 1 at dc_abs
    sheets.holdings = sheets.holdings + units[:, :, None] * unit
    sheets.supply = sheets.supply + (total / price)[:, None] * unit
    sheets.bonds = sheets.bonds + segment_sum(sold, rows, n)
    # buyers pay the SPVs pro rata to what each sells; each SPV repays its bank loans with it
    to_spv = sold / xp.where(total > 0.0, total, 1.0)[:, None]  # (E, S) share of the notes
    for b, buyer in enumerate(buyers):
        ledger.pay(
            xp.asarray(np.full(spvs.size, buyer), device=dev), rows,
            cost[:, b : b + 1] * to_spv, income=False,
        )  # fmt: skip
    ledger.repay("bank_loans", xp.take(segment_sum(sold, rows, n), pool.issuers, axis=1))
    return float(to_numpy(total)[0])


def _unit(sheets: BalanceSheets, m: int) -> Any:
    """(M,) indicator of market ``m``."""
    mask = np.zeros(sheets.assets.size)
    mask[m] = 1.0
    return sheets.xp.asarray(mask, dtype=sheets.prices.dtype, device=sheets.prices.device)
