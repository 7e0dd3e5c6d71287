"""A bank's risk-weighted assets, one agent at a time (abm.constraints.BankCapital)."""

from __future__ import annotations


def reference_rwa(capital, sheets, e: int, i: int) -> float:
    """Bank ``i``'s risk-weighted assets in world ``e`` (USD bn): each security at its Basel
    weight, the rest of the book (claims on the ledger's pools and real assets) at the bank's
    book weight, cash (reserves) at none."""
    weights = sheets.assets.risk_weight
    securities = sum(
        float(sheets.holdings[e, i, m] * sheets.prices[e, m]) * w for m, w in enumerate(weights)
    )
    held, _ = sheets.ledger.positions()
    book = float(held[e, i] + sheets.real_assets[e, i])
    return securities + float(capital.book_weight[e, i]) * book
