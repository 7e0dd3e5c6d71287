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
  corporate credit facilities); when a stablecoin's redemptions over 48 hours pass a second
  trigger, the same facility buys the issuer's Treasuries at the market price (no fire-sale
  impact) and the run stops within days, as USDC's did after the backstop of 12 March 2023
  (:mod:`abm.stablecoins`). ``backstop_trigger_ig_oas_bp``, ``backstop_trigger_redemptions_48h``
  and ``backstop_capacity_gdp_share`` override the calibration's trigger values and capacity
  (``[regulation.central_bank]``; ``None`` keeps them).
- ``stablecoin_reserve_rule``: a GENIUS-Act-style rule — reserves only in cash, bank deposits and
  short Treasuries, at least one to one. Issuers sell gold and bitcoin and run off secured loans and
  other investments into Treasuries, at once (``stablecoin_reserve_transition_weeks = 0``) or
  evenly over a transition of that many weeks. The one-to-one part holds already: both calibrated
  issuers start with reserves above their tokens.
- ``lender_of_last_resort``: the central bank lends cash to banks that are solvent but short of
  cash (Bagehot 1873), against their securities and loans at a haircut, up to a capacity and with
  a probability that it opens the window at all (:mod:`abm.backstops`).
- ``bailouts``: a systemic bank that fails is recapitalised by the government instead; the
  public cost is recorded per world (:mod:`abm.backstops`).

- ``spv_consolidation``: sponsors consolidate their data-centre SPVs: the SPV's debt is the
  sponsor's in full (recourse share 1), so the sponsor cures every covenant shortfall while it
  has the cash, instead of the calibrated partial recourse (:mod:`abm.spv`; seed 004: "it is
  entirely unclear who bears responsibility").
- ``abs_share_of_spv_loans``: a market-structure setting carried with the levers so that presets
  and sweeps can set it: the share of the SPVs' bank loans sold into data-centre ABS at the start
  (:mod:`abm.securitisation`; 0 today, the securitisation build-up preset raises it).
"""

from __future__ import annotations

from dataclasses import dataclass

CAPITAL_REGIMES = ("own", "us", "eu")


@dataclass(frozen=True)
class Policy:
    """The policy levers of one run (today's settings by default).

    Raises:
        ValueError: a lever outside its allowed values; the message names the field.
    """

    capital_regime: str = "own"
    hedge_fund_leverage_cap: float | None = None
    haircut_floor: float = 0.0
    deposit_insurance: float = 1.0
    market_maker_of_last_resort: bool = False
    backstop_trigger_ig_oas_bp: float | None = None
    backstop_trigger_redemptions_48h: float | None = None
    backstop_capacity_gdp_share: float | None = None
    stablecoin_reserve_rule: bool = False
    stablecoin_reserve_transition_weeks: int = 0
    lender_of_last_resort: bool = False
    bailouts: bool = False
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
        for name in ("market_maker_of_last_resort", "stablecoin_reserve_rule",
                     "lender_of_last_resort", "bailouts", "spv_consolidation"):  # fmt: skip
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false; got {getattr(self, name)!r}")
        _check_range("backstop_trigger_ig_oas_bp", self.backstop_trigger_ig_oas_bp, 0.0, 10_000.0)
        _check_range(
            "backstop_trigger_redemptions_48h", self.backstop_trigger_redemptions_48h, 0.0, 1.0
        )
        _check_range("backstop_capacity_gdp_share", self.backstop_capacity_gdp_share, 0.0, 1.0)
        weeks = self.stablecoin_reserve_transition_weeks
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 0 <= weeks <= 520:
            raise ValueError(
                "stablecoin_reserve_transition_weeks must be an integer from 0 to 520; "
                f"got {weeks!r}"
            )


def _check_range(name: str, value: float | None, lo: float, hi: float) -> None:
    """``value`` is None or a number in [lo, hi], else a ValueError naming ``name``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValueError(f"{name} must be None or a number from {lo} to {hi}; got {value!r}")
