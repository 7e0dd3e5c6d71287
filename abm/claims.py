"""Which liabilities are debt: the claims that make their issuer fail when it cannot pay them.

Debt-like liabilities are the face of the debt pools of the ledger plus the bonds a firm issued.
Fund shares and pension claims are the owners' stake and do not make a fund fail; a stablecoin
issuer's tokens show a shortfall in its peg (:mod:`abm.stablecoins`), not as an instant default.
"""

from __future__ import annotations

from typing import Any

from kernels.backend import segment_sum

#: pools whose face is debt: they make their issuer default when it cannot pay
DEBT_POOLS = (
    "deposits", "bank_loans", "private_loans", "interbank", "wholesale", "policies",
    "vendor_financing", "prepaid_capacity",
    "central_bank_loans",  # the lender of last resort's loans (abm.backstops)
    "trade_claims",  # failed payers' unpaid contract payments (abm.deals)
)  # fmt: skip


def debt_owed(sheets: Any) -> Any:
    """(E, N) debt-like liabilities: face of the debt pools plus bonds issued (USD bn).

    One segment sum over the bonds (one entry per agent) and the debt pools' faces laid end to
    end, in :data:`DEBT_POOLS` order: each agent's sum starts from 0.0 with its bonds and adds
    its face on each pool in order, as ``bonds + owed(pool)`` pool by pool does (adding a pool's
    0.0 where the agent owes nothing on it changes no bits), without two (E, N) passes a pool
    (issue 18).
    """
    xp, ledger = sheets.xp, sheets.ledger
    n = ledger.cash.shape[-1]
    pools = [ledger.pools[name] for name in DEBT_POOLS]
    agents = xp.arange(n, dtype=pools[0].issuers.dtype, device=pools[0].issuers.device)
    values = xp.concat([sheets.bonds, *(pool.face for pool in pools)], axis=-1)
    return segment_sum(values, xp.concat([agents, *(pool.issuers for pool in pools)]), n)
