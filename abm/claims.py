"""Which liabilities are debt: the claims that make their issuer fail when it cannot pay them.

Debt-like liabilities are the face of the debt pools of the ledger plus the bonds a firm issued.
Fund shares and pension claims are the owners' stake and do not make a fund fail; a stablecoin
issuer's tokens show a shortfall in its peg (:mod:`abm.stablecoins`), not as an instant default.
"""

from __future__ import annotations

from typing import Any

#: pools whose face is debt: they make their issuer default when it cannot pay
DEBT_POOLS = (
    "deposits", "bank_loans", "private_loans", "interbank", "wholesale", "policies",
    "vendor_financing", "prepaid_capacity",
    "central_bank_loans",  # the lender of last resort's loans (abm.backstops)
    "trade_claims",  # failed payers' unpaid contract payments (abm.deals)
)  # fmt: skip


def debt_owed(sheets: Any) -> Any:
    """(E, N) debt-like liabilities: face of the debt pools plus bonds issued (USD bn)."""
    owed = sheets.bonds * 1.0
    for name in DEBT_POOLS:
        owed = owed + sheets.ledger.owed(name)
    return owed
