"""Policy levers: the rules the authorities set, as one frozen object per run (DESIGN.md §2.2).

The levers act through the same rules as the rest of the model, never as special cases:

- ``capital_regime``: ``"own"`` keeps each bank's home rules (``[regulation.us]`` for US banks,
  ``[regulation.eu]`` for EU banks); ``"us"`` or ``"eu"`` applies one region's CET1 minimum,
  buffer and target to every bank (the "Europe with higher capital" comparison).
- ``hedge_fund_leverage_cap``: assets / equity a hedge fund may carry (``None``: no cap); above it,
  the fund delevers like a margin call (Thurner, Farmer & Geanakoplos 2012, λ_max).
- ``haircut_floor``: the least repo haircut on any collateral (FSB minimum haircuts), which raises
  hedge funds' margin buffers.
- ``deposit_insurance``: multiplies the uninsured share of deposits; 0 insures everything (no run
  by outside depositors), 1 is today's coverage.
- ``market_maker_of_last_resort``: when the spread on corporate bonds passes a trigger, the
  central bank buys bonds from the market makers until prices are back at the trigger level, up
  to a capacity, and in each world only with a probability that it acts at all (the 2020
  corporate credit facilities; trigger, capacity and probability in ``[regulation.central_bank]``).

- ``spv_consolidation``: sponsors consolidate their data-centre SPVs: the SPV's debt is the
  sponsor's in full (recourse share 1), so the sponsor cures every covenant shortfall while it
  has the cash, instead of the calibrated partial recourse (:mod:`abm.spv`; seed 004: "it is
  entirely unclear who bears responsibility").

- ``abs_share_of_spv_loans``: a market-structure setting carried with the levers so that presets
  and sweeps can set it: the share of the SPVs' bank loans sold into data-centre ABS at the start
  (:mod:`abm.securitisation`; 0 today, the securitisation build-up preset raises it).

Lender of last resort, stablecoin reserve rules and bailouts are further levers for the
scenario work; they are not modelled yet.
"""

from __future__ import annotations

from dataclasses import dataclass

CAPITAL_REGIMES = ("own", "us", "eu")


@dataclass(frozen=True)
class Policy:
    """The policy levers of one run (today's settings by default)."""

    capital_regime: str = "own"
    hedge_fund_leverage_cap: float | None = None
    haircut_floor: float = 0.0
    deposit_insurance: float = 1.0
    market_maker_of_last_resort: bool = False
    spv_consolidation: bool = False
    abs_share_of_spv_loans: float = 0.0

    def __post_init__(self) -> None:
        if self.capital_regime not in CAPITAL_REGIMES:
            raise ValueError(
                f"capital_regime must be one of {', '.join(CAPITAL_REGIMES)}; "
                f"got {self.capital_regime!r}"
            )
        cap = self.hedge_fund_leverage_cap
        if cap is not None and not cap > 1.0:
            raise ValueError(f"hedge_fund_leverage_cap must be above 1 (assets/equity); got {cap}")
        if not 0.0 <= self.haircut_floor < 1.0:
            raise ValueError(f"haircut_floor must lie in [0, 1); got {self.haircut_floor}")
        if not 0.0 <= self.abs_share_of_spv_loans <= 1.0:
            raise ValueError(
                f"abs_share_of_spv_loans must lie in [0, 1]; got {self.abs_share_of_spv_loans}"
            )
        if not 0.0 <= self.deposit_insurance <= 1.0:
            raise ValueError(f"deposit_insurance must lie in [0, 1]; got {self.deposit_insurance}")
