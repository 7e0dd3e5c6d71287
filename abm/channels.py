"""Contagion channels as switches, so each one can be turned off for an ablation table.

Each flag names a channel of docs/design.md ("The economy") and is checked where that channel acts,
as the INET Oxford ``resilience`` library does with its ``Contagion Channels`` parameters; turning
one off removes that link of the chain and nothing else:

- ``fire_sales``: forced sales move prices (off: market depth is infinite, sales fill at the
  pre-sale price).
- ``margin_calls``: hedge funds meet margin with procyclical haircuts (off: no margin constraint).
- ``bank_deleveraging``: banks below their CET1 buffer sell toward the target (off: they keep
  their book until they breach the minimum).
- ``fund_redemptions``: investors pull money from losing mutual funds.
- ``bank_runs``: uninsured outside depositors leave distressed banks.
- ``stablecoin_runs``: token holders redeem on depegs and crypto falls.
- ``clearing_losses``: a failed institution's creditors take its losses (off: failures are
  recorded but its debts are carried at face).
- ``retail_panic``: households sell after drawdowns.
- ``reach_for_yield``: pension funds and insurers tilt toward higher spreads.
- ``circular_deals``: a payer short of cash pays its suppliers less along the circular-deal
  network (revenue contagion; off: commitments are settled in full as calibrated).
- ``rating_downgrades``: an issuer downgraded below investment grade forces IG-constrained
  holders to sell its bonds (fallen angels; off: ratings still move, nobody must sell).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Channels:
    """Which contagion channels are on (all by default)."""

    fire_sales: bool = True
    margin_calls: bool = True
    bank_deleveraging: bool = True
    fund_redemptions: bool = True
    bank_runs: bool = True
    stablecoin_runs: bool = True
    clearing_losses: bool = True
    retail_panic: bool = True
    reach_for_yield: bool = True
    circular_deals: bool = True
    rating_downgrades: bool = True

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The channel names, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def only(cls, *names: str) -> Channels:
        """Every channel off except ``names``.

        Raises:
            ValueError: an unknown channel name; the message lists the known ones.
        """
        unknown = sorted(set(names) - set(cls.names()))
        if unknown:
            raise ValueError(
                f"unknown channel(s) {', '.join(unknown)}; channels are {', '.join(cls.names())}"
            )
        return cls(**{name: name in names for name in cls.names()})
