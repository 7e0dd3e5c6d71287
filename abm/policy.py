"""Policy levers: the rules the authorities set, as one frozen object per run.

The levers are part of the economy of docs/design.md ("The economy").

The levers act through the same rules as the rest of the model, never as special cases:

- ``hedge_fund_leverage_cap``: assets / equity a hedge fund may carry (``None``: no cap); above it,
  the fund delevers like a margin call (Thurner, Farmer & Geanakoplos 2012, λ_max).
- ``capital_regime``: ``"own"`` keeps each bank's home rules (``[regulation.us]`` for US banks,
  ``[regulation.eu]`` for EU banks); ``"us"`` or ``"eu"`` applies one region's CET1 minimum,
  buffer and target to every bank (the "Europe with higher capital" comparison).
- ``haircut_floor``: the least repo haircut on any collateral (FSB minimum haircuts), which raises
  hedge funds' margin buffers.
- ``deposit_insurance``: multiplies the uninsured share of deposits; 0 insures everything (no run
  by outside depositors), 1 is today's coverage.
- ``market_maker_of_last_resort``: when the spread on corporate bonds passes a trigger, the
  central bank buys investment-grade bonds (never high yield, as the 2020 PMCCF/SMCCF) from the
  market makers until prices are back at the trigger level, up
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
- ``power_delay_weeks``: the data centres still being built at the start wait that many more
  weeks for grid power, so their leases and operation start later
  (:func:`abm.spv.delay_capacity`; the same mechanism as the ``power_delay`` shock, from week 0).
- ``project_pipeline``: the sponsors' new data-centre projects after the start, financed off
  their balance sheets by project debt and developers' equity and leased to them, as a multiple
  of the calibrated pace (``firms.<spv>.pipeline_capex``; :mod:`abm.projects`); 1 by default,
  0 keeps only the SPVs of the start.
- ``abs_share_of_spv_loans``: a market-structure setting carried with the levers so that presets
  and sweeps can set it: the share of the SPVs' bank loans sold into data-centre ABS at the start
  (:mod:`abm.securitisation`; 0 today, the securitisation build-up preset raises it).

- ``named_counterparties``, ``syndicate_size``, ``prime_brokers_per_fund``,
  ``investors_per_fund``, ``stablecoin_deposit_cap``: market structure of the exposure network
  (:mod:`abm.exposures`): whether bank loans, deposits and private funds' shares name their
  counterparties (on by default; off gives the pooled comparison: docs/design.md, "Who is
  exposed to whom"), how many banks share a loan whose lenders are not named, how many prime
  brokers each hedge fund uses, how many institutions of each type own a hedge or
  private-credit fund, and the most of a stablecoin issuer's bank deposits at one bank.
- ``eu_bank_us_ai_exposure_share``: the EU banks' share of every listed AI issuer's bonds
  outstanding at the start (``None``: the calibration's ``banks.eu.us_ai_debt_share``); the
  other holder types keep their shares of ``[bond_holders.shares]`` and what the lever adds or
  takes comes out of or goes to the holders outside the model (:mod:`abm.opening_sheets`; seed
  001's open question).
- ``capex_crowding_out``: the share of an AI capex surprise that displaces other business
  investment, so demand moves by the rest (``None``: the calibration's
  ``macro.links.capex_crowding_out``; :mod:`abm.macro`, the IS curve; seed 002's open question).
- ``policy_spread_response``: how far the central banks cut the policy rate per point of AI
  credit-spread widening above the 2025 level, at once and without the rule's inertia (``None``:
  the calibration's ``macro.links.policy_spread_response``, 0: the plain Taylor rule; 1 is one
  for one as in Taylor 2008 and Cúrdia & Woodford 2010; :mod:`abm.macro`, the policy rule).
- ``policy_equity_response``: how far they cut per unit fall of the listed equities' value below
  2025, at once (the "Fed put"; ``None``: the calibration's
  ``macro.links.policy_equity_response``, 0: no response to the stock market).

**One description per lever.** Each field carries a :class:`Lever` as its metadata: its kind
(on/off, a choice, a number or an integer), allowed range, unit, what ``None`` stands for, the
other names presets use for it (``backstop`` for ``market_maker_of_last_resort``), a one-line
help text and the span of settings worth exploring. :meth:`Policy.levers` lists them in field
order; the presets (:mod:`experiments.scenarios`), the sweeps (:mod:`experiments.sweeps`) and the
app (:mod:`app.levers`) read their rules, units and labels from it, and ``Policy`` itself checks
every value against it, so a lever added here is settable everywhere.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from abm.exposures import ExposureRules

#: The kinds of lever: on/off, one of a few named choices, a real number, a whole number.
KINDS = ("bool", "choice", "number", "integer")
#: How a settings file (TOML has no null) writes ``None``: ``hedge_fund_leverage_cap = "none"``.
NONE_TEXT = "none"
#: Key of a :class:`Policy` field's :class:`Lever` in its ``dataclasses.field`` metadata.
LEVER = "lever"
#: Bank capital rules: each bank's own region's, or the US's or the EU's for every bank.
CAPITAL_REGIMES = ("own", "us", "eu")


@dataclass(frozen=True)
class Lever:
    """What one policy lever is, in which unit, and which values it takes.

    Attributes:
        kind: one of :data:`KINDS`.
        title: a short readable name (the app's label).
        help: what the lever does, in one line.
        unit: the unit of a number (``"assets/equity"``, ``"share"``, ``"bp"``, ``"weeks"``).
        choices: the allowed values of a ``choice``.
        lo: the lower bound of a number or integer.
        hi: the upper bound (``inf``: none).
        brackets: whether the bounds are allowed, as in interval notation: ``"[]"`` both,
            ``"[)"`` ``lo`` but not ``hi``, ``"()"`` neither.
        none_means: what ``None`` stands for (``"no cap"``); empty when ``None`` is not allowed.
        calibrated: the calibration leaf (same unit) whose value ``None`` stands for, if any.
        aliases: other names a settings table may use; the first is the short name the presets
            and the app use (``backstop`` for ``market_maker_of_last_resort``).
        span: the settings worth exploring, (low, high): the app's slider and a sweep's
            range when its file gives none.
        step: the smallest change worth telling apart within ``span`` (the app's slider step).
        name: the :class:`Policy` field (filled in by :meth:`Policy.levers`).
        default: today's setting, the field's default (filled in by :meth:`Policy.levers`).
    """

    kind: str
    title: str
    help: str
    unit: str = ""
    choices: tuple[str, ...] = ()
    lo: float = -math.inf
    hi: float = math.inf
    brackets: str = "[]"
    none_means: str = ""
    calibrated: str = ""
    aliases: tuple[str, ...] = ()
    span: tuple[float, float] | None = None
    step: float | None = None
    name: str = ""
    default: Any = None

    @property
    def nullable(self) -> bool:
        """Whether ``None`` is allowed (it then stands for :attr:`none_means`)."""
        return bool(self.none_means)

    @property
    def key(self) -> str:
        """The short name presets and the app use: the first alias, else the field's name."""
        return self.aliases[0] if self.aliases else self.name

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is a setting of this lever (no conversion: ``1`` is not ``True``)."""
        if value is None:
            return self.nullable
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        number = numbers.Integral if self.kind == "integer" else numbers.Real
        if isinstance(value, bool) or not isinstance(value, number):
            return False
        above = value > self.lo if self.brackets[0] == "(" else value >= self.lo
        below = value < self.hi if self.brackets[1] == ")" else value <= self.hi
        return bool(above and below)

    def allowed(self) -> str:
        """The allowed settings in words, with the unit: ``a number in [0, 1) (share)``."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choices)
        else:
            lo, hi = f"{self.lo:g}", f"{self.hi:g}"
            if math.isinf(self.hi):
                where = f"above {lo}" if self.brackets[0] == "(" else f"from {lo} up"
            else:
                where = f"in {self.brackets[0]}{lo}, {hi}{self.brackets[1]}"
            noun = "an integer" if self.kind == "integer" else "a number"
            text = f"{noun} {where}" + (f" ({self.unit})" if self.unit else "")
        return text + (f", or none ({self.none_means})" if self.nullable else "")

    def check(self, value: Any, key: str = "") -> None:
        """Raise a ValueError naming the lever (or ``key``, as written) unless it allows ``value``.

        Raises:
            ValueError: ``<name> must be <what is allowed>; got <value>``.
        """
        if not self.allows(value):
            raise ValueError(f"{key or self.name} must be {self.allowed()}; got {value!r}")

    def parse(self, value: Any, key: str = "") -> Any:
        """A setting as a settings file writes it (``"none"`` for ``None``), checked.

        Raises:
            ValueError: as :meth:`check`.
        """
        if self.nullable and value == NONE_TEXT:
            value = None
        self.check(value, key)
        return value


def _lever(default: Any, kind: str, title: str, help: str, **rules: Any) -> Any:
    """A :class:`Policy` field: today's setting ``default``, described by its :class:`Lever`."""
    return field(
        default=default, metadata={LEVER: Lever(kind=kind, title=title, help=help, **rules)}
    )


@dataclass(frozen=True)
class Policy:
    """The policy levers of one run (today's settings by default).

    Raises:
        ValueError: a lever outside its allowed values; the message names the field and what
            is allowed (:meth:`Lever.allowed`).
    """

    hedge_fund_leverage_cap: float | None = _lever(
        None,
        "number",
        "Hedge-fund leverage cap",
        "the most assets a hedge fund may carry per unit of equity; above it the fund delevers "
        "like a margin call",
        unit="assets/equity",
        lo=1.0,
        brackets="()",
        none_means="no cap",
        span=(2.0, 10.0),
        step=0.5,
    )
    capital_regime: str = _lever(
        "own",
        "choice",
        "Bank capital rules (own, or US or EU CET1 rules for all)",
        "own: each bank's home CET1 rules; us or eu: that region's minimum, buffer and target "
        "for every bank",
        choices=CAPITAL_REGIMES,
    )
    haircut_floor: float = _lever(
        0.0,
        "number",
        "Repo haircut floor",
        "the least haircut on any repo collateral (FSB minimum haircuts), raising hedge funds' "
        "margin buffers",
        unit="share",
        lo=0.0,
        hi=1.0,
        brackets="[)",
        span=(0.0, 0.5),
        step=0.05,
    )
    deposit_insurance: float = _lever(
        1.0,
        "number",
        "Uninsured deposits",
        "multiplies the uninsured share of deposits: 0 insures them all (no run by outside "
        "depositors), 1 is today's coverage",
        unit="× today",
        lo=0.0,
        hi=1.0,
        span=(0.0, 1.0),
        step=0.1,
    )
    market_maker_of_last_resort: bool = _lever(
        False,
        "bool",
        "Backstop: market maker of last resort",
        "the central bank buys investment-grade corporate bonds when their spread passes a "
        "trigger, and a stablecoin's Treasuries when a run on it does (2020 credit facilities; "
        "USDC, March 2023)",
        aliases=("backstop",),
    )
    backstop_trigger_ig_oas_bp: float | None = _lever(
        None,
        "number",
        "Backstop trigger: IG spread",
        "the investment-grade corporate bond spread at which the backstop starts buying bonds",
        unit="bp",
        lo=0.0,
        hi=10_000.0,
        none_means="the calibrated trigger",
        calibrated="regulation.central_bank.market_maker_trigger_ig_oas",
        span=(100.0, 1000.0),
        step=25.0,
    )
    backstop_trigger_redemptions_48h: float | None = _lever(
        None,
        "number",
        "Backstop trigger: stablecoin run",
        "redemptions over 48 hours, as a share of a stablecoin's tokens, at which the backstop "
        "buys the issuer's Treasuries",
        unit="share of tokens",
        lo=0.0,
        hi=1.0,
        none_means="the calibrated trigger",
        calibrated="regulation.central_bank.stablecoin_run_trigger_48h",
        span=(0.01, 0.5),
        step=0.01,
    )
    backstop_capacity_gdp_share: float | None = _lever(
        None,
        "number",
        "Backstop capacity",
        "the most the backstop buys in all, limited by what the public purse can carry",
        unit="share of US GDP",
        lo=0.0,
        hi=1.0,
        none_means="the calibrated capacity",
        calibrated="regulation.central_bank.market_maker_capacity_share_gdp",
        span=(0.01, 0.2),
        step=0.01,
    )
    stablecoin_reserve_rule: bool = _lever(
        False,
        "bool",
        "Stablecoin reserve rule (cash and T-bills, 1:1)",
        "GENIUS-Act-style: reserves only in cash, bank deposits and short Treasuries, at least "
        "one to one",
    )
    stablecoin_reserve_transition_weeks: int = _lever(
        0,
        "integer",
        "Reserve rule transition",
        "issuers move their reserves into Treasuries at once (0) or evenly over this many weeks",
        unit="weeks",
        lo=0,
        hi=520,
        span=(0, 156),
        step=1,
    )
    lender_of_last_resort: bool = _lever(
        False,
        "bool",
        "Lender of last resort (loans to solvent banks)",
        "the central bank lends cash to solvent banks short of it, against collateral at a "
        "haircut (Bagehot 1873)",
    )
    bailouts: bool = _lever(
        False,
        "bool",
        "Bailouts (recapitalise systemic banks)",
        "the government recapitalises a systemic bank that fails; the public cost is recorded",
    )
    spv_consolidation: bool = _lever(
        False,
        "bool",
        "SPV consolidation (sponsors carry SPV debt)",
        "sponsors carry their data-centre SPVs' debt in full and cure every covenant shortfall "
        "while they have the cash",
    )
    power_delay_weeks: int = _lever(
        0,
        "integer",
        "Power delay of new data centres",
        "data centres still being built at the start wait this many more weeks for grid "
        "power: their full lease and operation start later (market structure)",
        unit="weeks",
        lo=0,
        hi=260,
        span=(0, 156),
        step=4,
    )
    abs_share_of_spv_loans: float = _lever(
        0.0,
        "number",
        "Securitised SPV loans",
        "the share of the SPVs' bank loans sold into data-centre ABS at the start (market "
        "structure)",
        unit="share",
        lo=0.0,
        hi=1.0,
        aliases=("abs_share_of_ai_debt",),
        span=(0.0, 1.0),
        step=0.05,
    )
    project_pipeline: float = _lever(
        1.0,
        "number",
        "New data-centre projects",
        "the sponsors' new off-balance-sheet data-centre projects after the start, as a "
        "multiple of their calibrated pace (0: only the SPVs of the start; market structure)",
        unit="× calibrated pace",
        lo=0.0,
        hi=5.0,
        span=(0.0, 2.0),
        step=0.25,
    )
    named_counterparties: bool = _lever(
        True,
        "bool",
        "Named counterparties (loans, deposits, fund shares)",
        "bank loans, deposits and private funds' shares name their lenders, banks and "
        "investors, so a default hits its own lenders, a run drains the bank the money is in "
        "and a fund's loss falls on its own investors; off: every holder owns a pro-rata share "
        "of the whole pool (market structure)",
    )
    syndicate_size: int = _lever(
        5,
        "integer",
        "Banks per loan syndicate",
        "how many banks share a loan whose lenders are not named in deal reports, and each "
        "private-credit fund's credit line (market structure)",
        unit="banks",
        lo=1,
        hi=56,
        span=(1, 12),
        step=1,
    )
    prime_brokers_per_fund: int = _lever(
        2,
        "integer",
        "Prime brokers per hedge fund",
        "how many prime brokers each hedge fund borrows from: one concentrates a fund's failure "
        "on one bank (market structure)",
        unit="brokers",
        lo=1,
        hi=9,
        span=(1, 6),
        step=1,
    )
    investors_per_fund: int = _lever(
        3,
        "integer",
        "Institutional investors per private fund",
        "how many pension funds (and as many life and P&C insurers) own shares of each hedge "
        "fund and private-credit fund: one concentrates a fund's loss on one institution "
        "(market structure)",
        unit="institutions",
        lo=1,
        hi=10,
        span=(1, 6),
        step=1,
    )
    stablecoin_deposit_cap: float = _lever(
        0.25,
        "number",
        "Stablecoin deposits at one bank (cap)",
        "the most of a stablecoin issuer's bank deposits that one bank may hold: 1 puts them all "
        "at one bank, as USDC's cash was concentrated at a few banks such as SVB in March 2023",
        unit="share",
        lo=0.0,
        hi=1.0,
        brackets="(]",
        span=(0.125, 1.0),
        step=0.125,
    )
    eu_bank_us_ai_exposure_share: float | None = _lever(
        None,
        "number",
        "EU banks' US AI exposure",
        "the EU banks' share of every listed AI issuer's bonds at the start, part of the rest "
        "of the world's ~29%: how exposed Europe's banks are is an open question (seed 001)",
        unit="share of the AI bonds",
        lo=0.0,
        hi=0.1,
        none_means="the calibrated share",
        calibrated="banks.eu.us_ai_debt_share",
        span=(0.005, 0.05),
        step=0.005,
    )
    capex_crowding_out: float | None = _lever(
        None,
        "number",
        "AI capex crowding out other investment",
        "the share of a change in AI capex offset by other business investment (rates, power "
        "and skilled labour bid up or freed): demand moves by the rest (economy)",
        unit="share",
        lo=0.0,
        hi=1.0,
        none_means="the calibrated share",
        calibrated="macro.links.capex_crowding_out",
        span=(0.0, 0.6),
        step=0.05,
    )
    policy_spread_response: float | None = _lever(
        None,
        "number",
        "Central bank's response to credit spreads",
        "how many points the central banks cut the policy rate at once per point the AI "
        "issuers' credit spreads widen above 2025 (spread-adjusted Taylor rule; 0: the plain "
        "rule, which answers only the output gap and inflation, with inertia)",
        unit="ratio",
        lo=0.0,
        hi=2.0,
        none_means="the calibrated response",
        calibrated="macro.links.policy_spread_response",
        span=(0.0, 1.5),
        step=0.25,
    )
    policy_equity_response: float | None = _lever(
        None,
        "number",
        "Central bank's response to a stock-market fall",
        "how many points the central banks cut the policy rate at once per 100% fall of the "
        "listed equities' value below 2025 (0.04: 1.2 pt for a 30% fall; 0: no Fed put)",
        unit="ratio",
        lo=0.0,
        hi=0.2,
        none_means="the calibrated response",
        calibrated="macro.links.policy_equity_response",
        span=(0.0, 0.1),
        step=0.01,
    )

    def exposure_rules(self) -> ExposureRules:
        """The market-structure levers that shape who lends to whom (:mod:`abm.exposures`)."""
        return ExposureRules(
            self.named_counterparties,
            self.syndicate_size,
            self.prime_brokers_per_fund,
            self.stablecoin_deposit_cap,
            self.eu_bank_us_ai_exposure_share,
            self.investors_per_fund,
        )

    def __post_init__(self) -> None:
        for lever in self.levers():
            lever.check(getattr(self, lever.name))

    @classmethod
    def levers(cls) -> tuple[Lever, ...]:
        """Every lever's description, in field order, with its name and today's setting."""
        return _levers(cls)

    @classmethod
    def keys(cls) -> Mapping[str, Lever]:
        """Every name a settings table may use, field names and aliases, with its lever."""
        return _keys(cls)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Policy:
        """The policy a settings table describes (a preset's ``[policy]``), today's elsewhere.

        Keys are field names or aliases (:meth:`keys`); a key that names a lever already set
        wins over the earlier one, as a preset's ``[compare]`` overrides its ``[policy]``.
        ``"none"`` stands for ``None`` (TOML has no null).

        Raises:
            ValueError: an unknown key (the message lists the allowed ones), or a value the
                lever does not allow (the message names the key as written and what is
                allowed).
        """
        keys = cls.keys()
        values: dict[str, Any] = {}
        for key, value in settings.items():
            lever = keys.get(key)
            if lever is None:
                raise ValueError(f"unknown policy key {key!r}; allowed: {', '.join(keys)}")
            values[lever.name] = lever.parse(value, key)
        return cls(**values)


@functools.cache
def _levers(cls: type[Policy]) -> tuple[Lever, ...]:
    return tuple(replace(f.metadata[LEVER], name=f.name, default=f.default) for f in fields(cls))


@functools.cache
def _keys(cls: type[Policy]) -> Mapping[str, Lever]:
    return MappingProxyType(
        {name: lever for lever in _levers(cls) for name in (lever.name, *lever.aliases)}
    )


__all__ = ["CAPITAL_REGIMES", "KINDS", "LEVER", "NONE_TEXT", "Lever", "Policy"]
